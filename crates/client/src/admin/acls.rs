//! ACL calls: CreateAcls, DescribeAcls and DeleteAcls, with Kafka's ACL
//! types (`ResourcePattern`, `AccessControlEntry`, `AclBinding` and their
//! filters) and their `toString` texts, which tools print. It must never
//! decide whether an ACL grants anything; brokers do.

use std::fmt;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};

use super::str_bytes;
use crate::client::{KafkaClient, Route};
use crate::error::ClientError;

macro_rules! kafka_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The wire code.
            pub fn code(self) -> i8 {
                match self {
                    $($name::$variant => $code),*
                }
            }

            /// The value of a wire code (`None` for codes this client does not know).
            pub fn from_code(code: i8) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// Kafka's name (`TOPIC`, `LITERAL`, `DESCRIBE_CONFIGS`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            /// Parses Kafka's name, ignoring case and `-`/`_` differences
            /// (`describe-configs`, `DescribeConfigs` and `DESCRIBE_CONFIGS` alike).
            pub fn parse(text: &str) -> Option<Self> {
                let wanted: String = text
                    .chars()
                    .filter(|c| *c != '_' && *c != '-')
                    .flat_map(char::to_lowercase)
                    .collect();
                Self::ALL.iter().copied().find(|v| {
                    let name: String = v
                        .name()
                        .chars()
                        .filter(|c| *c != '_')
                        .flat_map(char::to_lowercase)
                        .collect();
                    name == wanted
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

kafka_enum!(
    /// Kafka's `ResourceType`.
    ResourceType {
        Any = 1 => "ANY",
        Topic = 2 => "TOPIC",
        Group = 3 => "GROUP",
        Cluster = 4 => "CLUSTER",
        TransactionalId = 5 => "TRANSACTIONAL_ID",
        DelegationToken = 6 => "DELEGATION_TOKEN",
        User = 7 => "USER",
    }
);

kafka_enum!(
    /// Kafka's `PatternType`: LITERAL and PREFIXED for ACLs; ANY and MATCH
    /// only in filters.
    PatternType {
        Any = 1 => "ANY",
        Match = 2 => "MATCH",
        Literal = 3 => "LITERAL",
        Prefixed = 4 => "PREFIXED",
    }
);

kafka_enum!(
    /// Kafka's `AclOperation` (ANY only in filters).
    AclOperation {
        Any = 1 => "ANY",
        All = 2 => "ALL",
        Read = 3 => "READ",
        Write = 4 => "WRITE",
        Create = 5 => "CREATE",
        Delete = 6 => "DELETE",
        Alter = 7 => "ALTER",
        Describe = 8 => "DESCRIBE",
        ClusterAction = 9 => "CLUSTER_ACTION",
        DescribeConfigs = 10 => "DESCRIBE_CONFIGS",
        AlterConfigs = 11 => "ALTER_CONFIGS",
        IdempotentWrite = 12 => "IDEMPOTENT_WRITE",
        CreateTokens = 13 => "CREATE_TOKENS",
        DescribeTokens = 14 => "DESCRIBE_TOKENS",
    }
);

kafka_enum!(
    /// Kafka's `AclPermissionType` (ANY only in filters).
    AclPermissionType {
        Any = 1 => "ANY",
        Deny = 2 => "DENY",
        Allow = 3 => "ALLOW",
    }
);

/// The name of the one CLUSTER resource.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// A resource pattern: what an ACL applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourcePattern {
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern_type: PatternType,
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type, self.name, self.pattern_type
        )
    }
}

/// Who may (or may not) do what from where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessControlEntry {
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission_type: AclPermissionType,
}

impl fmt::Display for AccessControlEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal, self.host, self.operation, self.permission_type
        )
    }
}

/// One ACL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclBinding {
    pub pattern: ResourcePattern,
    pub entry: AccessControlEntry,
}

/// Selects resource patterns; `name: None` matches any name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourcePatternFilter {
    pub resource_type: ResourceType,
    pub name: Option<String>,
    pub pattern_type: PatternType,
}

impl ResourcePatternFilter {
    /// Every resource pattern.
    pub fn any() -> Self {
        ResourcePatternFilter {
            resource_type: ResourceType::Any,
            name: None,
            pattern_type: PatternType::Any,
        }
    }
}

impl fmt::Display for ResourcePatternFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type,
            self.name.as_deref().unwrap_or("<any>"),
            self.pattern_type
        )
    }
}

impl From<&ResourcePattern> for ResourcePatternFilter {
    fn from(p: &ResourcePattern) -> Self {
        ResourcePatternFilter {
            resource_type: p.resource_type,
            name: Some(p.name.clone()),
            pattern_type: p.pattern_type,
        }
    }
}

/// Selects access control entries; `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessControlEntryFilter {
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission_type: AclPermissionType,
}

impl AccessControlEntryFilter {
    /// Every entry.
    pub fn any() -> Self {
        AccessControlEntryFilter {
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission_type: AclPermissionType::Any,
        }
    }
}

impl From<&AccessControlEntry> for AccessControlEntryFilter {
    fn from(e: &AccessControlEntry) -> Self {
        AccessControlEntryFilter {
            principal: Some(e.principal.clone()),
            host: Some(e.host.clone()),
            operation: e.operation,
            permission_type: e.permission_type,
        }
    }
}

/// Selects ACLs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclBindingFilter {
    pub pattern: ResourcePatternFilter,
    pub entry: AccessControlEntryFilter,
}

impl AclBindingFilter {
    /// Every ACL.
    pub fn any() -> Self {
        AclBindingFilter {
            pattern: ResourcePatternFilter::any(),
            entry: AccessControlEntryFilter::any(),
        }
    }
}

/// A binding from wire codes; unknown codes are an error (a broker newer
/// than this client).
#[allow(clippy::too_many_arguments)]
fn binding_from_wire(
    resource_type: i8,
    name: &str,
    pattern_type: i8,
    principal: &str,
    host: &str,
    operation: i8,
    permission_type: i8,
) -> Result<AclBinding, ClientError> {
    let unknown = |what: &str, code: i8| {
        ClientError::InvalidArgument(format!("the broker sent an unknown ACL {what} code {code}"))
    };
    Ok(AclBinding {
        pattern: ResourcePattern {
            resource_type: ResourceType::from_code(resource_type)
                .ok_or_else(|| unknown("resource type", resource_type))?,
            name: name.to_string(),
            pattern_type: PatternType::from_code(pattern_type)
                .ok_or_else(|| unknown("pattern type", pattern_type))?,
        },
        entry: AccessControlEntry {
            principal: principal.to_string(),
            host: host.to_string(),
            operation: AclOperation::from_code(operation)
                .ok_or_else(|| unknown("operation", operation))?,
            permission_type: AclPermissionType::from_code(permission_type)
                .ok_or_else(|| unknown("permission type", permission_type))?,
        },
    })
}

impl KafkaClient {
    /// Creates ACLs. Returns one result per binding, in order.
    pub async fn create_acls(
        &self,
        bindings: &[AclBinding],
    ) -> Result<Vec<Result<(), ClientError>>, ClientError> {
        let response = self
            .call("createAcls", &Route::Any, |_version| {
                CreateAclsRequest::default().with_creations(
                    bindings
                        .iter()
                        .map(|b| {
                            AclCreation::default()
                                .with_resource_type(b.pattern.resource_type.code())
                                .with_resource_name(str_bytes(&b.pattern.name))
                                .with_resource_pattern_type(b.pattern.pattern_type.code())
                                .with_principal(str_bytes(&b.entry.principal))
                                .with_host(str_bytes(&b.entry.host))
                                .with_operation(b.entry.operation.code())
                                .with_permission_type(b.entry.permission_type.code())
                        })
                        .collect(),
                )
            })
            .await?
            .body;
        if response.results.len() != bindings.len() {
            return Err(ClientError::InvalidArgument(format!(
                "the broker answered {} results for {} ACL creations",
                response.results.len(),
                bindings.len()
            )));
        }
        Ok(response
            .results
            .iter()
            .map(|r| ClientError::check(r.error_code, r.error_message.as_deref()))
            .collect())
    }

    /// The ACLs a filter selects.
    pub async fn describe_acls(
        &self,
        filter: &AclBindingFilter,
    ) -> Result<Vec<AclBinding>, ClientError> {
        let response = self
            .call("describeAcls", &Route::Any, |_version| {
                DescribeAclsRequest::default()
                    .with_resource_type_filter(filter.pattern.resource_type.code())
                    .with_resource_name_filter(filter.pattern.name.as_deref().map(str_bytes))
                    .with_pattern_type_filter(filter.pattern.pattern_type.code())
                    .with_principal_filter(filter.entry.principal.as_deref().map(str_bytes))
                    .with_host_filter(filter.entry.host.as_deref().map(str_bytes))
                    .with_operation(filter.entry.operation.code())
                    .with_permission_type(filter.entry.permission_type.code())
            })
            .await?
            .body;
        ClientError::check(response.error_code, response.error_message.as_deref())?;
        let mut out = Vec::new();
        for resource in &response.resources {
            for acl in &resource.acls {
                out.push(binding_from_wire(
                    resource.resource_type,
                    resource.resource_name.as_str(),
                    resource.pattern_type,
                    acl.principal.as_str(),
                    acl.host.as_str(),
                    acl.operation,
                    acl.permission_type,
                )?);
            }
        }
        Ok(out)
    }

    /// Deletes the ACLs each filter selects. Returns, per filter in order,
    /// the deleted ACLs or the filter's error.
    pub async fn delete_acls(
        &self,
        filters: &[AclBindingFilter],
    ) -> Result<Vec<Result<Vec<AclBinding>, ClientError>>, ClientError> {
        let response = self
            .call("deleteAcls", &Route::Any, |_version| {
                DeleteAclsRequest::default().with_filters(
                    filters
                        .iter()
                        .map(|f| {
                            DeleteAclsFilter::default()
                                .with_resource_type_filter(f.pattern.resource_type.code())
                                .with_resource_name_filter(f.pattern.name.as_deref().map(str_bytes))
                                .with_pattern_type_filter(f.pattern.pattern_type.code())
                                .with_principal_filter(f.entry.principal.as_deref().map(str_bytes))
                                .with_host_filter(f.entry.host.as_deref().map(str_bytes))
                                .with_operation(f.entry.operation.code())
                                .with_permission_type(f.entry.permission_type.code())
                        })
                        .collect(),
                )
            })
            .await?
            .body;
        if response.filter_results.len() != filters.len() {
            return Err(ClientError::InvalidArgument(format!(
                "the broker answered {} results for {} ACL filters",
                response.filter_results.len(),
                filters.len()
            )));
        }
        Ok(response
            .filter_results
            .iter()
            .map(|r| {
                ClientError::check(r.error_code, r.error_message.as_deref())?;
                r.matching_acls
                    .iter()
                    .map(|m| {
                        ClientError::check(m.error_code, m.error_message.as_deref())?;
                        binding_from_wire(
                            m.resource_type,
                            m.resource_name.as_str(),
                            m.pattern_type,
                            m.principal.as_str(),
                            m.host.as_str(),
                            m.operation,
                            m.permission_type,
                        )
                    })
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_kafkas() {
        let pattern = ResourcePattern {
            resource_type: ResourceType::Topic,
            name: "t".into(),
            pattern_type: PatternType::Literal,
        };
        assert_eq!(
            pattern.to_string(),
            "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)"
        );
        let entry = AccessControlEntry {
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::DescribeConfigs,
            permission_type: AclPermissionType::Allow,
        };
        assert_eq!(
            entry.to_string(),
            "(principal=User:alice, host=*, operation=DESCRIBE_CONFIGS, permissionType=ALLOW)"
        );
        let filter = ResourcePatternFilter {
            resource_type: ResourceType::Group,
            name: None,
            pattern_type: PatternType::Match,
        };
        assert_eq!(
            filter.to_string(),
            "ResourcePattern(resourceType=GROUP, name=<any>, patternType=MATCH)"
        );
    }

    #[test]
    fn names_parse_loosely_and_codes_round_trip() {
        assert_eq!(
            AclOperation::parse("DescribeConfigs"),
            Some(AclOperation::DescribeConfigs)
        );
        assert_eq!(
            AclOperation::parse("idempotent-write"),
            Some(AclOperation::IdempotentWrite)
        );
        assert_eq!(AclOperation::parse("Read"), Some(AclOperation::Read));
        assert_eq!(AclOperation::parse("nope"), None);
        assert_eq!(PatternType::parse("prefixed"), Some(PatternType::Prefixed));
        for op in AclOperation::ALL {
            assert_eq!(AclOperation::from_code(op.code()), Some(*op));
        }
        assert_eq!(ResourceType::from_code(0), None);
    }
}
