//! Checks of Strait's admin messages for cluster links and mirror topics, as
//! Confluent's reference states them: creating, altering and deleting links,
//! creating mirrors and pausing, resuming, promoting or failing them over
//! need ALTER on the cluster; listing and describing links and mirrors,
//! describing link configs and verifying mirrors against their source
//! (Strait's own, read-only) need DESCRIBE on the cluster. Must never run a
//! link operation itself.

use kafka_protocol::error::ResponseError;
use strait_metadata::AclOperation;
use strait_protocol::admin::{AdminError, AdminRequest};

use super::{Authorizer, Session};

/// The cluster operation an admin request needs.
pub fn required_operation(request: &AdminRequest) -> AclOperation {
    match request {
        AdminRequest::CreateClusterLink(_)
        | AdminRequest::DeleteClusterLink(_)
        | AdminRequest::AlterClusterLinkConfigs(_)
        | AdminRequest::CreateMirrorTopic(_)
        | AdminRequest::AlterMirrors(_) => AclOperation::Alter,
        AdminRequest::ListClusterLinks(_)
        | AdminRequest::DescribeClusterLinkConfigs(_)
        | AdminRequest::ListMirrors(_)
        | AdminRequest::DescribeMirrors(_)
        | AdminRequest::VerifyMirrors(_) => AclOperation::Describe,
    }
}

/// `Some(error)` when the session may not make the request; no authorizer
/// allows everything.
pub fn check(
    authorizer: Option<&Authorizer>,
    session: &Session,
    request: &AdminRequest,
) -> Option<AdminError> {
    let authorizer = authorizer?;
    if authorizer.authorize_cluster(session, required_operation(request)) {
        return None;
    }
    Some(AdminError::new(
        ResponseError::ClusterAuthorizationFailed.code(),
        "Cluster authorization failed.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use strait_protocol::admin::{
        AlterMirrorsRequest, CreateClusterLinkRequest, ListClusterLinksRequest, MirrorOp,
    };

    #[test]
    fn operations_follow_the_reference() {
        assert_eq!(
            required_operation(&AdminRequest::CreateClusterLink(
                CreateClusterLinkRequest::default()
            )),
            AclOperation::Alter
        );
        assert_eq!(
            required_operation(&AdminRequest::AlterMirrors(AlterMirrorsRequest {
                op: MirrorOp::Promote,
                topics: vec![],
                validate_only: false,
                link_name: None,
            })),
            AclOperation::Alter
        );
        assert_eq!(
            required_operation(&AdminRequest::VerifyMirrors(
                strait_protocol::admin::VerifyMirrorsRequest::default()
            )),
            AclOperation::Describe
        );
        assert_eq!(
            required_operation(&AdminRequest::ListClusterLinks(
                ListClusterLinksRequest::default()
            )),
            AclOperation::Describe
        );
        let session = Session::new("User:alice", "127.0.0.1");
        let request = AdminRequest::ListClusterLinks(ListClusterLinksRequest::default());
        assert_eq!(check(None, &session, &request), None, "no authorizer");
    }
}
