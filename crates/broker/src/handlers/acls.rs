//! CreateAcls, DescribeAcls and DeleteAcls: translations between the wire
//! messages and the broker's [`crate::authz::Authorizer`]. Who may call them
//! (ALTER / DESCRIBE on the cluster) is checked before, by the authorization
//! gate. Without an authorizer they answer SECURITY_DISABLED, as Kafka does.
//! Must never store or match ACLs itself.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use strait_metadata::{AclBinding, MetadataError};

use super::str_bytes;
use crate::authz::acl::{AclFilter, binding_from_wire};
use crate::errors;
use crate::state::Broker;

const SECURITY_DISABLED: ResponseError = ResponseError::SecurityDisabled;

/// Runs a blocking ACL change on the broker's authorizer.
async fn with_authorizer<T: Send + 'static>(
    broker: &Arc<Broker>,
    f: impl FnOnce(&crate::authz::Authorizer) -> Result<T, MetadataError> + Send + 'static,
) -> Result<T, (ResponseError, String)> {
    let b = broker.clone();
    tokio::task::spawn_blocking(move || match b.authorizer.as_ref() {
        Some(a) => f(a).map_err(|e| errors::metadata_failure(&e)),
        None => Err((
            SECURITY_DISABLED,
            "No Authorizer is configured.".to_string(),
        )),
    })
    .await
    .unwrap_or_else(|e| Err((ResponseError::UnknownServerError, e.to_string())))
}

pub async fn create(broker: &Arc<Broker>, req: CreateAclsRequest) -> CreateAclsResponse {
    let mut resp = CreateAclsResponse::default();
    let parsed: Vec<Result<AclBinding, String>> = req
        .creations
        .iter()
        .map(|c| {
            binding_from_wire(
                c.resource_type,
                c.resource_name.as_str(),
                c.resource_pattern_type,
                c.principal.as_str(),
                c.host.as_str(),
                c.operation,
                c.permission_type,
            )
        })
        .collect();
    let valid: Vec<AclBinding> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let stored = if broker.authorizer.is_none() {
        Err((
            SECURITY_DISABLED,
            "No Authorizer is configured.".to_string(),
        ))
    } else if valid.is_empty() {
        Ok(())
    } else {
        with_authorizer(broker, move |a| a.create_acls(valid)).await
    };
    resp.results = parsed
        .into_iter()
        .map(|p| {
            let mut r = AclCreationResult::default();
            let outcome = match (&stored, p) {
                (Err((code, message)), _) => Some((*code, message.clone())),
                (Ok(()), Err(message)) => Some((ResponseError::InvalidRequest, message)),
                (Ok(()), Ok(_)) => None,
            };
            if let Some((code, message)) = outcome {
                r.error_code = code.code();
                r.error_message = Some(str_bytes(message));
            }
            r
        })
        .collect();
    resp
}

fn filter_of(
    resource_type: i8,
    name: Option<&str>,
    pattern_type: i8,
    principal: Option<&str>,
    host: Option<&str>,
    operation: i8,
    permission: i8,
) -> Result<AclFilter, String> {
    AclFilter::from_wire(
        resource_type,
        name,
        pattern_type,
        principal,
        host,
        operation,
        permission,
    )
}

pub fn describe(broker: &Broker, req: DescribeAclsRequest) -> DescribeAclsResponse {
    let mut resp = DescribeAclsResponse::default();
    let Some(authorizer) = broker.authorizer.as_ref() else {
        resp.error_code = SECURITY_DISABLED.code();
        resp.error_message = Some(str_bytes("No Authorizer is configured on the broker"));
        return resp;
    };
    let filter = match filter_of(
        req.resource_type_filter,
        req.resource_name_filter.as_deref(),
        req.pattern_type_filter,
        req.principal_filter.as_deref(),
        req.host_filter.as_deref(),
        req.operation,
        req.permission_type,
    ) {
        Ok(f) => f,
        Err(message) => {
            resp.error_code = ResponseError::InvalidRequest.code();
            resp.error_message = Some(str_bytes(message));
            return resp;
        }
    };
    // ACLs come sorted, so each resource pattern's entries are adjacent.
    for acl in authorizer.acls(&filter) {
        let mut entry = AclDescription::default();
        entry.principal = str_bytes(acl.principal.clone());
        entry.host = str_bytes(acl.host.clone());
        entry.operation = acl.operation as i8;
        entry.permission_type = acl.permission as i8;
        match resp.resources.last_mut() {
            Some(r)
                if r.resource_type == acl.resource_type as i8
                    && r.resource_name.as_str() == acl.resource_name
                    && r.pattern_type == acl.pattern_type as i8 =>
            {
                r.acls.push(entry)
            }
            _ => {
                let mut r = DescribeAclsResource::default();
                r.resource_type = acl.resource_type as i8;
                r.resource_name = str_bytes(acl.resource_name);
                r.pattern_type = acl.pattern_type as i8;
                r.acls.push(entry);
                resp.resources.push(r);
            }
        }
    }
    resp
}

pub async fn delete(broker: &Arc<Broker>, req: DeleteAclsRequest) -> DeleteAclsResponse {
    let mut resp = DeleteAclsResponse::default();
    let parsed: Vec<Result<AclFilter, String>> = req
        .filters
        .iter()
        .map(|f| {
            filter_of(
                f.resource_type_filter,
                f.resource_name_filter.as_deref(),
                f.pattern_type_filter,
                f.principal_filter.as_deref(),
                f.host_filter.as_deref(),
                f.operation,
                f.permission_type,
            )
        })
        .collect();
    let valid: Vec<AclFilter> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let removed = if broker.authorizer.is_none() {
        Err((
            SECURITY_DISABLED,
            "No Authorizer is configured.".to_string(),
        ))
    } else if valid.is_empty() {
        Ok(Vec::new())
    } else {
        with_authorizer(broker, move |a| a.delete_acls(&valid)).await
    };
    let mut removed_per_filter = match &removed {
        Ok(lists) => lists.clone().into_iter(),
        Err(_) => Vec::new().into_iter(),
    };
    resp.filter_results = parsed
        .into_iter()
        .map(|p| {
            let mut r = DeleteAclsFilterResult::default();
            match (&removed, p) {
                (Err((code, message)), _) => {
                    r.error_code = code.code();
                    r.error_message = Some(str_bytes(message.clone()));
                }
                (Ok(_), Err(message)) => {
                    r.error_code = ResponseError::InvalidRequest.code();
                    r.error_message = Some(str_bytes(message));
                }
                (Ok(_), Ok(_)) => {
                    r.matching_acls = removed_per_filter
                        .next()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|acl| {
                            let mut m = DeleteAclsMatchingAcl::default();
                            m.resource_type = acl.resource_type as i8;
                            m.resource_name = str_bytes(acl.resource_name);
                            m.pattern_type = acl.pattern_type as i8;
                            m.principal = str_bytes(acl.principal);
                            m.host = str_bytes(acl.host);
                            m.operation = acl.operation as i8;
                            m.permission_type = acl.permission as i8;
                            m
                        })
                        .collect();
                }
            }
            r
        })
        .collect();
    resp
}
