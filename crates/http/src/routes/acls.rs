//! `/clusters/{id}/acls` and `acls:batch`: search, create and delete ACLs
//! through DescribeAcls, CreateAcls and DeleteAcls, so the broker's
//! authorizer and gate decide (DESCRIBE or ALTER on the cluster; without
//! an authorizer, SECURITY_DISABLED, a 400 as in Confluent's REST).
//! Confluent's enum names in queries and bodies, its checks and messages.
//! Must never store or match an ACL itself.

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::StrBytes;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, Params, PathOf, expect_response};
use crate::caller::RestCall;
use crate::envelope::{ListMetadata, ResourceMetadata, list_type};
use crate::error::ErrorBody;
use crate::{AppState, RestError};

/// Defines one of Confluent's ACL enums: its JSON names, in the order of
/// Kafka's wire codes (UNKNOWN = 0, ANY = 1, ...), and the class name its
/// query errors give.
macro_rules! acl_enum {
    ($(#[$doc:meta])* $name:ident, $class:literal { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),*
        }

        impl $name {
            const ALL: &'static [$name] = &[$($name::$variant),*];

            /// Confluent's (and Kafka's) name.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            /// Kafka's wire code: the position in the list.
            pub fn code(self) -> i8 {
                self as i8
            }

            /// The value of a wire code; codes Confluent does not name are UNKNOWN.
            pub fn from_code(code: i8) -> Self {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.code() == code)
                    .unwrap_or(Self::ALL[0])
            }

            /// A query parameter's value, any case; an unknown name is a
            /// 404, as Confluent's parameter conversion answers.
            fn parse_query(text: Option<&str>, default: Self) -> Result<Self, RestError> {
                let Some(text) = text else { return Ok(default) };
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.name().eq_ignore_ascii_case(text))
                    .ok_or_else(|| {
                        RestError::not_found(format!(
                            "The valid values for {} do not include '{text}'",
                            $class
                        ))
                    })
            }
        }
    };
}

acl_enum!(
    /// What an ACL applies to.
    AclResourceType, "ResourceType" {
        Unknown = "UNKNOWN",
        Any = "ANY",
        Topic = "TOPIC",
        Group = "GROUP",
        Cluster = "CLUSTER",
        TransactionalId = "TRANSACTIONAL_ID",
        DelegationToken = "DELEGATION_TOKEN",
    }
);

acl_enum!(
    /// How an ACL's resource name matches: LITERAL and PREFIXED in ACLs;
    /// ANY and MATCH only in filters.
    AclPatternType, "PatternType" {
        Unknown = "UNKNOWN",
        Any = "ANY",
        Match = "MATCH",
        Literal = "LITERAL",
        Prefixed = "PREFIXED",
    }
);

acl_enum!(
    /// What an ACL allows or denies.
    AclOperation, "Operation" {
        Unknown = "UNKNOWN",
        Any = "ANY",
        All = "ALL",
        Read = "READ",
        Write = "WRITE",
        Create = "CREATE",
        Delete = "DELETE",
        Alter = "ALTER",
        Describe = "DESCRIBE",
        ClusterAction = "CLUSTER_ACTION",
        DescribeConfigs = "DESCRIBE_CONFIGS",
        AlterConfigs = "ALTER_CONFIGS",
        IdempotentWrite = "IDEMPOTENT_WRITE",
    }
);

acl_enum!(
    /// Whether an ACL allows or denies.
    AclPermission, "Permission" {
        Unknown = "UNKNOWN",
        Any = "ANY",
        Deny = "DENY",
        Allow = "ALLOW",
    }
);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AclData {
    pub kind: String,
    pub metadata: ResourceMetadata,
    pub cluster_id: String,
    pub resource_type: AclResourceType,
    pub resource_name: String,
    pub pattern_type: AclPatternType,
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}
list_type!(AclDataList, AclData);

/// The body of `DELETE /acls`: the ACLs deleted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeleteAclsResponseData {
    pub data: Vec<AclData>,
}

/// The body of `POST /acls`, and each item of `acls:batch`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateAclRequestData {
    pub resource_type: AclResourceType,
    pub resource_name: String,
    pub pattern_type: AclPatternType,
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

/// The body of `POST /acls:batch`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateAclRequestDataList {
    pub data: Vec<CreateAclRequestData>,
}

/// The filter of `GET /acls`: every field optional (ANY).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AclSearchQuery {
    #[param(value_type = Option<AclResourceType>)]
    pub resource_type: Option<String>,
    pub resource_name: Option<String>,
    #[param(value_type = Option<AclPatternType>)]
    pub pattern_type: Option<String>,
    pub principal: Option<String>,
    pub host: Option<String>,
    #[param(value_type = Option<AclOperation>)]
    pub operation: Option<String>,
    #[param(value_type = Option<AclPermission>)]
    pub permission: Option<String>,
}

/// The filter of `DELETE /acls`: the types must be named, so that an empty
/// query never deletes every ACL.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AclDeleteQuery {
    #[param(value_type = AclResourceType, required = true)]
    pub resource_type: Option<String>,
    pub resource_name: Option<String>,
    #[param(value_type = AclPatternType, required = true)]
    pub pattern_type: Option<String>,
    pub principal: Option<String>,
    pub host: Option<String>,
    #[param(value_type = AclOperation, required = true)]
    pub operation: Option<String>,
    #[param(value_type = AclPermission, required = true)]
    pub permission: Option<String>,
}

/// An ACL or a filter of them, in Confluent's terms; empty strings match
/// any name, principal or host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Acl {
    pub resource_type: AclResourceType,
    pub resource_name: String,
    pub pattern_type: AclPatternType,
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_acls, create_acl, delete_acls))
        .routes(routes!(create_acls))
}

fn bad_request(message: impl Into<String>) -> RestError {
    RestError::new(StatusCode::BAD_REQUEST, 400, message)
}

/// Java's `URLEncoder` form encoding, which Confluent's links use.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Acl {
    /// The search or create query naming exactly this ACL (or filter).
    fn url(&self, rc: &RestCall) -> String {
        format!(
            "{}/acls?resource_type={}&resource_name={}&pattern_type={}&principal={}&host={}&operation={}&permission={}",
            rc.cluster_url,
            self.resource_type.name(),
            form_encode(&self.resource_name),
            self.pattern_type.name(),
            form_encode(&self.principal),
            form_encode(&self.host),
            self.operation.name(),
            self.permission.name(),
        )
    }

    fn data(self, rc: &RestCall) -> AclData {
        AclData {
            kind: "KafkaAcl".into(),
            metadata: ResourceMetadata {
                self_url: self.url(rc),
                resource_name: None,
            },
            cluster_id: rc.cluster_id.clone(),
            resource_type: self.resource_type,
            resource_name: self.resource_name,
            pattern_type: self.pattern_type,
            principal: self.principal,
            host: self.host,
            operation: self.operation,
            permission: self.permission,
        }
    }

    /// A 400 naming the first enum that is UNKNOWN (`suffix` ends the message).
    fn check_known(&self, suffix: &str) -> Result<(), RestError> {
        let unknown = [
            (
                "resource_type",
                self.resource_type == AclResourceType::Unknown,
            ),
            ("pattern_type", self.pattern_type == AclPatternType::Unknown),
            ("operation", self.operation == AclOperation::Unknown),
            ("permission", self.permission == AclPermission::Unknown),
        ];
        match unknown.iter().find(|(_, u)| *u) {
            Some((field, _)) => Err(bad_request(format!("{field} cannot be {suffix}"))),
            None => Ok(()),
        }
    }

    fn of_request(r: CreateAclRequestData) -> Acl {
        Acl {
            resource_type: r.resource_type,
            resource_name: r.resource_name,
            pattern_type: r.pattern_type,
            principal: r.principal,
            host: r.host,
            operation: r.operation,
            permission: r.permission,
        }
    }

    /// Confluent's checks of an ACL to create: concrete types only.
    fn check_creatable(&self) -> Result<(), RestError> {
        if matches!(
            self.resource_type,
            AclResourceType::Any | AclResourceType::Unknown
        ) {
            return Err(bad_request("resource_type cannot be ANY"));
        }
        if matches!(
            self.pattern_type,
            AclPatternType::Any | AclPatternType::Match | AclPatternType::Unknown
        ) {
            return Err(bad_request(format!(
                "pattern_type cannot be {}",
                self.pattern_type.name()
            )));
        }
        if matches!(self.operation, AclOperation::Any | AclOperation::Unknown) {
            return Err(bad_request("operation cannot be ANY"));
        }
        if matches!(self.permission, AclPermission::Any | AclPermission::Unknown) {
            return Err(bad_request("permission cannot be ANY"));
        }
        Ok(())
    }

    fn creation(&self) -> AclCreation {
        let mut c = AclCreation::default();
        c.resource_type = self.resource_type.code();
        c.resource_name = str_bytes(&self.resource_name);
        c.resource_pattern_type = self.pattern_type.code();
        c.principal = str_bytes(&self.principal);
        c.host = str_bytes(&self.host);
        c.operation = self.operation.code();
        c.permission_type = self.permission.code();
        c
    }
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// An empty filter string matches anything: null on the wire.
fn any_if_empty(s: &str) -> Option<StrBytes> {
    (!s.is_empty()).then(|| str_bytes(s))
}

/// The enums of a filter's query parameters: absent ones are ANY for a
/// search and UNKNOWN (refused) for a delete.
fn query_types(
    resource_type: Option<&str>,
    pattern_type: Option<&str>,
    operation: Option<&str>,
    permission: Option<&str>,
    absent_is_any: bool,
) -> Result<(AclResourceType, AclPatternType, AclOperation, AclPermission), RestError> {
    let (rt, pt, op, perm) = if absent_is_any {
        (
            AclResourceType::Any,
            AclPatternType::Any,
            AclOperation::Any,
            AclPermission::Any,
        )
    } else {
        (
            AclResourceType::Unknown,
            AclPatternType::Unknown,
            AclOperation::Unknown,
            AclPermission::Unknown,
        )
    };
    Ok((
        AclResourceType::parse_query(resource_type, rt)?,
        AclPatternType::parse_query(pattern_type, pt)?,
        AclOperation::parse_query(operation, op)?,
        AclPermission::parse_query(permission, perm)?,
    ))
}

impl AclSearchQuery {
    fn filter(self) -> Result<Acl, RestError> {
        let (resource_type, pattern_type, operation, permission) = query_types(
            self.resource_type.as_deref(),
            self.pattern_type.as_deref(),
            self.operation.as_deref(),
            self.permission.as_deref(),
            true,
        )?;
        Ok(Acl {
            resource_type,
            resource_name: self.resource_name.unwrap_or_default(),
            pattern_type,
            principal: self.principal.unwrap_or_default(),
            host: self.host.unwrap_or_default(),
            operation,
            permission,
        })
    }
}

impl AclDeleteQuery {
    fn filter(self) -> Result<Acl, RestError> {
        let (resource_type, pattern_type, operation, permission) = query_types(
            self.resource_type.as_deref(),
            self.pattern_type.as_deref(),
            self.operation.as_deref(),
            self.permission.as_deref(),
            false,
        )?;
        Ok(Acl {
            resource_type,
            resource_name: self.resource_name.unwrap_or_default(),
            pattern_type,
            principal: self.principal.unwrap_or_default(),
            host: self.host.unwrap_or_default(),
            operation,
            permission,
        })
    }
}

/// Creates `acls` with one CreateAcls; the first refusal is the answer.
async fn create(rc: &RestCall, acls: &[Acl]) -> Result<(), RestError> {
    let mut req = CreateAclsRequest::default();
    req.creations = acls.iter().map(Acl::creation).collect();
    let resp = expect_response!(rc.kafka(req, 3).await?, CreateAcls);
    match resp.results.iter().find(|r| r.error_code != 0) {
        Some(r) => Err(RestError::kafka(r.error_code, r.error_message.as_deref())),
        None => Ok(()),
    }
}

#[utoipa::path(get, path = "/clusters/{cluster_id}/acls", tag = "ACL",
    params(("cluster_id" = String, Path), AclSearchQuery),
    responses((status = 200, body = AclDataList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn search_acls(
    rc: RestCall,
    PathOf(cluster_id): PathOf<String>,
    Params(q): Params<AclSearchQuery>,
) -> Result<Json<AclDataList>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let filter = q.filter()?;
    filter.check_known("UNKNOWN")?;
    let mut req = DescribeAclsRequest::default();
    req.resource_type_filter = filter.resource_type.code();
    req.resource_name_filter = any_if_empty(&filter.resource_name);
    req.pattern_type_filter = filter.pattern_type.code();
    req.principal_filter = any_if_empty(&filter.principal);
    req.host_filter = any_if_empty(&filter.host);
    req.operation = filter.operation.code();
    req.permission_type = filter.permission.code();
    let resp = expect_response!(rc.kafka(req, 3).await?, DescribeAcls);
    if resp.error_code != 0 {
        return Err(RestError::kafka(
            resp.error_code,
            resp.error_message.as_deref(),
        ));
    }
    let mut acls: Vec<Acl> = resp
        .resources
        .iter()
        .flat_map(|r| {
            r.acls.iter().map(|a| Acl {
                resource_type: AclResourceType::from_code(r.resource_type),
                resource_name: r.resource_name.to_string(),
                pattern_type: AclPatternType::from_code(r.pattern_type),
                principal: a.principal.to_string(),
                host: a.host.to_string(),
                operation: AclOperation::from_code(a.operation),
                permission: AclPermission::from_code(a.permission_type),
            })
        })
        .collect();
    acls.sort();
    Ok(Json(AclDataList {
        kind: "KafkaAclList".into(),
        metadata: ListMetadata::of(filter.url(&rc)),
        data: acls.into_iter().map(|a| a.data(&rc)).collect(),
    }))
}

#[utoipa::path(post, path = "/clusters/{cluster_id}/acls", tag = "ACL",
    params(("cluster_id" = String, Path)),
    request_body = CreateAclRequestData,
    responses((status = 201), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_acl(
    rc: RestCall,
    PathOf(cluster_id): PathOf<String>,
    Body(body): Body<CreateAclRequestData>,
) -> Result<(StatusCode, [(axum::http::HeaderName, String); 1]), RestError> {
    rc.check_cluster(&cluster_id)?;
    let acl = Acl::of_request(body);
    acl.check_creatable()?;
    create(&rc, std::slice::from_ref(&acl)).await?;
    Ok((StatusCode::CREATED, [(LOCATION, acl.url(&rc))]))
}

#[utoipa::path(post, path = "/clusters/{cluster_id}/acls:batch", tag = "ACL",
    params(("cluster_id" = String, Path)),
    request_body = CreateAclRequestDataList,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_acls(
    rc: RestCall,
    PathOf(cluster_id): PathOf<String>,
    Body(body): Body<CreateAclRequestDataList>,
) -> Result<StatusCode, RestError> {
    rc.check_cluster(&cluster_id)?;
    let acls: Vec<Acl> = body.data.into_iter().map(Acl::of_request).collect();
    for acl in &acls {
        acl.check_creatable()?;
    }
    if !acls.is_empty() {
        create(&rc, &acls).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/clusters/{cluster_id}/acls", tag = "ACL",
    params(("cluster_id" = String, Path), AclDeleteQuery),
    responses((status = 200, body = DeleteAclsResponseData), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn delete_acls(
    rc: RestCall,
    PathOf(cluster_id): PathOf<String>,
    Params(q): Params<AclDeleteQuery>,
) -> Result<Json<DeleteAclsResponseData>, RestError> {
    rc.check_cluster(&cluster_id)?;
    let filter = q.filter()?;
    filter.check_known("unspecified or UNKNOWN")?;
    let mut f = DeleteAclsFilter::default();
    f.resource_type_filter = filter.resource_type.code();
    f.resource_name_filter = any_if_empty(&filter.resource_name);
    f.pattern_type_filter = filter.pattern_type.code();
    f.principal_filter = any_if_empty(&filter.principal);
    f.host_filter = any_if_empty(&filter.host);
    f.operation = filter.operation.code();
    f.permission_type = filter.permission.code();
    let mut req = DeleteAclsRequest::default();
    req.filters = vec![f];
    let resp = expect_response!(rc.kafka(req, 3).await?, DeleteAcls);
    let result = resp
        .filter_results
        .into_iter()
        .next()
        .ok_or_else(|| RestError::internal("no result for the ACL filter"))?;
    if result.error_code != 0 {
        return Err(RestError::kafka(
            result.error_code,
            result.error_message.as_deref(),
        ));
    }
    let mut deleted: Vec<Acl> = result
        .matching_acls
        .iter()
        .filter(|m| m.error_code == 0)
        .map(|m| Acl {
            resource_type: AclResourceType::from_code(m.resource_type),
            resource_name: m.resource_name.to_string(),
            pattern_type: AclPatternType::from_code(m.pattern_type),
            principal: m.principal.to_string(),
            host: m.host.to_string(),
            operation: AclOperation::from_code(m.operation),
            permission: AclPermission::from_code(m.permission_type),
        })
        .collect();
    deleted.sort();
    Ok(Json(DeleteAclsResponseData {
        data: deleted.into_iter().map(|a| a.data(&rc)).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_are_their_json_and_codes_are_kafkas() {
        for v in AclOperation::ALL {
            let json = serde_json::to_string(v).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", v.name()));
            assert_eq!(AclOperation::from_code(v.code()), *v);
        }
        assert_eq!(AclResourceType::Topic.code(), 2);
        assert_eq!(AclResourceType::Cluster.code(), 4);
        assert_eq!(AclPatternType::Literal.code(), 3);
        assert_eq!(AclPatternType::Prefixed.code(), 4);
        assert_eq!(AclOperation::Describe.code(), 8);
        assert_eq!(AclOperation::IdempotentWrite.code(), 12);
        assert_eq!(AclPermission::Allow.code(), 3);
        // Kafka's USER resources and token operations are not Confluent's.
        assert_eq!(AclResourceType::from_code(7), AclResourceType::Unknown);
        assert_eq!(AclOperation::from_code(13), AclOperation::Unknown);
    }

    #[test]
    fn query_enums_ignore_case_and_unknown_names_are_404() {
        assert_eq!(
            AclResourceType::parse_query(Some("topic"), AclResourceType::Any).ok(),
            Some(AclResourceType::Topic)
        );
        assert_eq!(
            AclPatternType::parse_query(None, AclPatternType::Any).ok(),
            Some(AclPatternType::Any)
        );
        let e = AclResourceType::parse_query(Some("teapot"), AclResourceType::Any).err();
        assert!(e.is_some_and(|e| e.status == StatusCode::NOT_FOUND
            && e.body.message == "The valid values for ResourceType do not include 'teapot'"));
    }

    fn acl(rt: AclResourceType, pt: AclPatternType) -> Acl {
        Acl {
            resource_type: rt,
            resource_name: "t".into(),
            pattern_type: pt,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermission::Allow,
        }
    }

    #[test]
    fn only_concrete_acls_can_be_created() {
        assert!(
            acl(AclResourceType::Topic, AclPatternType::Literal)
                .check_creatable()
                .is_ok()
        );
        let e = acl(AclResourceType::Any, AclPatternType::Literal).check_creatable();
        assert!(e.is_err_and(|e| e.status == StatusCode::BAD_REQUEST && e.body.error_code == 400));
        let e = acl(AclResourceType::Topic, AclPatternType::Match).check_creatable();
        assert!(e.is_err_and(|e| e.body.message == "pattern_type cannot be MATCH"));
    }

    #[test]
    fn a_delete_filter_must_name_its_types() {
        let q = AclDeleteQuery {
            resource_type: None,
            resource_name: None,
            pattern_type: Some("ANY".into()),
            principal: None,
            host: None,
            operation: Some("ANY".into()),
            permission: Some("any".into()),
        };
        let e = q
            .filter()
            .and_then(|f| f.check_known("unspecified or UNKNOWN"));
        assert!(
            e.is_err_and(|e| e.body.message == "resource_type cannot be unspecified or UNKNOWN")
        );
    }

    #[test]
    fn links_encode_values_as_forms_do() {
        assert_eq!(form_encode("User:alice"), "User%3Aalice");
        assert_eq!(form_encode("*"), "*");
        assert_eq!(form_encode("a b/é"), "a+b%2F%C3%A9");
    }
}
