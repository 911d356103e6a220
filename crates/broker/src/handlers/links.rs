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
    let session = crate::authz::Session::of(ctx);
    let answer = answer(broker, &session, frame.request).await;
    encode_admin_response(frame.correlation_id, &answer)
}

/// The answer of one admin request, whichever front door it came through.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum AdminAnswer {
    Error(AdminError),
    Links(ListClusterLinksResponse),
    LinkConfigs(DescribeClusterLinkConfigsResponse),
    MirrorNames(ListMirrorsResponse),
    Mirrors(DescribeMirrorsResponse),
    Altered(AlterMirrorsResponse),
    Verified(VerifyMirrorsResponse),
}

impl AdminAnswer {
    /// The answer's error (code 0 when there is none).
    pub fn error(&self) -> &AdminError {
        match self {
            AdminAnswer::Error(e) => e,
            AdminAnswer::Links(r) => &r.error,
            AdminAnswer::LinkConfigs(r) => &r.error,
            AdminAnswer::MirrorNames(r) => &r.error,
            AdminAnswer::Mirrors(r) => &r.error,
            AdminAnswer::Altered(r) => &r.error,
            AdminAnswer::Verified(r) => &r.error,
        }
    }
}

/// Runs one admin request for `session`: authorized, then handed to the
/// link engine.
pub async fn answer(
    broker: &Arc<Broker>,
    session: &crate::authz::Session,
    request: AdminRequest,
) -> AdminAnswer {
    if let Some(denied) = crate::authz::admin::check(broker.authorizer.as_ref(), session, &request)
    {
        return AdminAnswer::Error(denied);
    }
    let Some(engine) = broker.links.get().cloned() else {
        return AdminAnswer::Error(AdminError::new(
            ResponseError::CoordinatorNotAvailable.code(),
            "the link engine is starting",
        ));
    };
    match request {
        AdminRequest::CreateClusterLink(r) => AdminAnswer::Error(engine.create_link(r).await),
        AdminRequest::ListClusterLinks(r) => AdminAnswer::Links(engine.list_links(r)),
        AdminRequest::DeleteClusterLink(r) => AdminAnswer::Error(engine.delete_link(r).await),
        AdminRequest::DescribeClusterLinkConfigs(r) => {
            AdminAnswer::LinkConfigs(engine.describe_link_configs(r))
        }
        AdminRequest::AlterClusterLinkConfigs(r) => {
            AdminAnswer::Error(engine.alter_link_configs(r).await)
        }
        AdminRequest::CreateMirrorTopic(r) => {
            let _guard = broker.admin.lock().await;
            AdminAnswer::Error(engine.create_mirror(r).await)
        }
        AdminRequest::ListMirrors(r) => AdminAnswer::MirrorNames(engine.list_mirrors(r)),
        AdminRequest::DescribeMirrors(r) => AdminAnswer::Mirrors(engine.describe_mirrors(r)),
        AdminRequest::AlterMirrors(r) => AdminAnswer::Altered(engine.alter_mirrors(r).await),
        AdminRequest::VerifyMirrors(r) => AdminAnswer::Verified(engine.verify_mirrors(r).await),
    }
}
