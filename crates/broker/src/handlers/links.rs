//! Strait's admin APIs for cluster links and mirror topics: each request is
//! handed to the link engine and its answer encoded. Topic-changing requests
//! take the broker's admin lock so they never race topic creation.

use std::sync::Arc;

use bytes::BytesMut;
use kafka_protocol::error::ResponseError;
use strait_protocol::admin::*;

use crate::server::ConnectionContext;
use crate::state::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    frame: AdminFrame,
    ctx: &ConnectionContext,
) -> Result<BytesMut, AdminCodecError> {
    let id = frame.correlation_id;
    let session = crate::authz::Session::of(ctx);
    if let Some(denied) =
        crate::authz::admin::check(broker.authorizer.as_ref(), &session, &frame.request)
    {
        return encode_admin_response(id, &denied);
    }
    let Some(engine) = broker.links.get().cloned() else {
        let e = AdminError::new(
            ResponseError::CoordinatorNotAvailable.code(),
            "the link engine is starting",
        );
        return encode_admin_response(id, &e);
    };
    match frame.request {
        AdminRequest::CreateClusterLink(r) => {
            encode_admin_response(id, &engine.create_link(r).await)
        }
        AdminRequest::ListClusterLinks(r) => encode_admin_response(id, &engine.list_links(r)),
        AdminRequest::DeleteClusterLink(r) => {
            encode_admin_response(id, &engine.delete_link(r).await)
        }
        AdminRequest::DescribeClusterLinkConfigs(r) => {
            encode_admin_response(id, &engine.describe_link_configs(r))
        }
        AdminRequest::AlterClusterLinkConfigs(r) => {
            encode_admin_response(id, &engine.alter_link_configs(r).await)
        }
        AdminRequest::CreateMirrorTopic(r) => {
            let _guard = broker.admin.lock().await;
            encode_admin_response(id, &engine.create_mirror(r).await)
        }
        AdminRequest::ListMirrors(r) => encode_admin_response(id, &engine.list_mirrors(r)),
        AdminRequest::DescribeMirrors(r) => encode_admin_response(id, &engine.describe_mirrors(r)),
        AdminRequest::AlterMirrors(r) => encode_admin_response(id, &engine.alter_mirrors(r).await),
    }
}
