//! ACL vocabulary as Kafka's wire and tools spell it: the numeric codes of
//! resource types, pattern types, operations and permissions (and their
//! filter values ANY and MATCH), Kafka's names for them, binding filters
//! (`AclBindingFilter`) and the validation CreateAcls applies. Pure
//! functions over [`AclBinding`]; it must never read ACLs from anywhere or
//! decide an authorization (that is [`super::Authorizer`]).

use strait_metadata::{AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType};

/// The only name a CLUSTER resource can have.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// The resource name, host and principal name that match everything.
pub const WILDCARD: &str = "*";
/// The principal that matches every user.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

/// Wire code of the filter value ANY (resource type, pattern type, operation
/// and permission alike).
pub const ANY: i8 = 1;
/// Wire code of the pattern filter MATCH.
pub const MATCH: i8 = 2;

pub fn resource_type_from_code(code: i8) -> Option<AclResourceType> {
    use AclResourceType::*;
    [
        Topic,
        Group,
        Cluster,
        TransactionalId,
        DelegationToken,
        User,
    ]
    .into_iter()
    .find(|t| *t as i8 == code)
}

pub fn pattern_type_from_code(code: i8) -> Option<AclPatternType> {
    [AclPatternType::Literal, AclPatternType::Prefixed]
        .into_iter()
        .find(|t| *t as i8 == code)
}

/// Every operation an ACL can name, in code order.
pub const OPERATIONS: [AclOperation; 13] = {
    use AclOperation::*;
    [
        All,
        Read,
        Write,
        Create,
        Delete,
        Alter,
        Describe,
        ClusterAction,
        DescribeConfigs,
        AlterConfigs,
        IdempotentWrite,
        CreateTokens,
        DescribeTokens,
    ]
};

pub fn operation_from_code(code: i8) -> Option<AclOperation> {
    OPERATIONS.into_iter().find(|o| *o as i8 == code)
}

pub fn permission_from_code(code: i8) -> Option<AclPermission> {
    [AclPermission::Deny, AclPermission::Allow]
        .into_iter()
        .find(|p| *p as i8 == code)
}

pub fn resource_type_name(t: AclResourceType) -> &'static str {
    match t {
        AclResourceType::Topic => "TOPIC",
        AclResourceType::Group => "GROUP",
        AclResourceType::Cluster => "CLUSTER",
        AclResourceType::TransactionalId => "TRANSACTIONAL_ID",
        AclResourceType::DelegationToken => "DELEGATION_TOKEN",
        AclResourceType::User => "USER",
    }
}

pub fn pattern_type_name(t: AclPatternType) -> &'static str {
    match t {
        AclPatternType::Literal => "LITERAL",
        AclPatternType::Prefixed => "PREFIXED",
    }
}

pub fn operation_name(o: AclOperation) -> &'static str {
    use AclOperation::*;
    match o {
        All => "ALL",
        Read => "READ",
        Write => "WRITE",
        Create => "CREATE",
        Delete => "DELETE",
        Alter => "ALTER",
        Describe => "DESCRIBE",
        ClusterAction => "CLUSTER_ACTION",
        DescribeConfigs => "DESCRIBE_CONFIGS",
        AlterConfigs => "ALTER_CONFIGS",
        IdempotentWrite => "IDEMPOTENT_WRITE",
        CreateTokens => "CREATE_TOKENS",
        DescribeTokens => "DESCRIBE_TOKENS",
    }
}

pub fn permission_name(p: AclPermission) -> &'static str {
    match p {
        AclPermission::Allow => "ALLOW",
        AclPermission::Deny => "DENY",
    }
}

/// Kafka's authorized-operations bit field: bit `code` set for each operation.
pub fn operation_bits<'a>(ops: impl IntoIterator<Item = &'a AclOperation>) -> i32 {
    ops.into_iter()
        .fold(0i32, |bits, op| bits | (1i32 << (*op as i8)))
}

/// The operations that make sense on a resource type (Kafka's
/// `AclEntry.supportedOperations`), used for authorized-operations bit fields.
pub fn supported_operations(t: AclResourceType) -> &'static [AclOperation] {
    use AclOperation::*;
    match t {
        AclResourceType::Topic => &[
            Read,
            Write,
            Create,
            Describe,
            Delete,
            Alter,
            DescribeConfigs,
            AlterConfigs,
        ],
        AclResourceType::Group => &[Read, Describe, Delete, DescribeConfigs, AlterConfigs],
        AclResourceType::Cluster => &[
            Create,
            ClusterAction,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
            Alter,
            Describe,
        ],
        AclResourceType::TransactionalId => &[Describe, Write],
        AclResourceType::DelegationToken => &[Describe],
        AclResourceType::User => &[CreateTokens, DescribeTokens],
    }
}

/// Whether an ALLOW ACL for `granted` also allows `wanted`: ALL allows
/// everything, READ/WRITE/DELETE/ALTER imply DESCRIBE and ALTER_CONFIGS
/// implies DESCRIBE_CONFIGS (Kafka's rule; it never applies to DENY ACLs).
pub fn allow_covers(granted: AclOperation, wanted: AclOperation) -> bool {
    use AclOperation::*;
    granted == All
        || granted == wanted
        || (wanted == Describe && matches!(granted, Read | Write | Delete | Alter))
        || (wanted == DescribeConfigs && granted == AlterConfigs)
}

/// Whether a DENY ACL for `denied` denies `wanted`: only the operation itself
/// or ALL.
pub fn deny_covers(denied: AclOperation, wanted: AclOperation) -> bool {
    denied == AclOperation::All || denied == wanted
}

/// How a filter selects resource patterns by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternFilter {
    /// Any pattern type; the name (if given) must be equal.
    Any,
    /// Every pattern that would match the name: the literal name, the
    /// literal wildcard and prefixes of it.
    Match,
    /// Exactly this pattern type; the name (if given) must be equal.
    Exactly(AclPatternType),
}

/// Kafka's `AclBindingFilter`: `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: Option<AclResourceType>,
    pub name: Option<String>,
    pub pattern: PatternFilter,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<AclOperation>,
    pub permission: Option<AclPermission>,
}

impl AclFilter {
    /// The filter that matches every ACL.
    pub fn any() -> Self {
        AclFilter {
            resource_type: None,
            name: None,
            pattern: PatternFilter::Any,
            principal: None,
            host: None,
            operation: None,
            permission: None,
        }
    }

    /// Builds a filter from wire codes; the error is Kafka's message.
    #[allow(clippy::too_many_arguments)]
    pub fn from_wire(
        resource_type: i8,
        name: Option<&str>,
        pattern_type: i8,
        principal: Option<&str>,
        host: Option<&str>,
        operation: i8,
        permission: i8,
    ) -> Result<Self, String> {
        let resource_type = match resource_type {
            ANY => None,
            code => Some(resource_type_from_code(code).ok_or("Unknown patternFilter.")?),
        };
        let pattern = match pattern_type {
            ANY => PatternFilter::Any,
            MATCH => PatternFilter::Match,
            code => PatternFilter::Exactly(
                pattern_type_from_code(code).ok_or("Unknown patternFilter.")?,
            ),
        };
        let operation = match operation {
            ANY => None,
            code => Some(operation_from_code(code).ok_or("Unknown entryFilter.")?),
        };
        let permission = match permission {
            ANY => None,
            code => Some(permission_from_code(code).ok_or("Unknown entryFilter.")?),
        };
        Ok(AclFilter {
            resource_type,
            name: name.map(str::to_string),
            pattern,
            principal: principal.map(str::to_string),
            host: host.map(str::to_string),
            operation,
            permission,
        })
    }

    /// Kafka's `AclBindingFilter.matches`.
    pub fn matches(&self, acl: &AclBinding) -> bool {
        if self.resource_type.is_some_and(|t| t != acl.resource_type) {
            return false;
        }
        if let PatternFilter::Exactly(p) = self.pattern
            && p != acl.pattern_type
        {
            return false;
        }
        if let Some(name) = &self.name {
            let name_matches = match self.pattern {
                PatternFilter::Any | PatternFilter::Exactly(_) => *name == acl.resource_name,
                PatternFilter::Match => match acl.pattern_type {
                    AclPatternType::Literal => {
                        *name == acl.resource_name || acl.resource_name == WILDCARD
                    }
                    AclPatternType::Prefixed => name.starts_with(&acl.resource_name),
                },
            };
            if !name_matches {
                return false;
            }
        }
        self.principal.as_ref().is_none_or(|p| *p == acl.principal)
            && self.host.as_ref().is_none_or(|h| *h == acl.host)
            && self.operation.is_none_or(|o| o == acl.operation)
            && self.permission.is_none_or(|p| p == acl.permission)
    }
}

/// Builds a binding from CreateAcls wire fields, with Kafka's validation
/// (the error is Kafka's INVALID_REQUEST message).
pub fn binding_from_wire(
    resource_type: i8,
    name: &str,
    pattern_type: i8,
    principal: &str,
    host: &str,
    operation: i8,
    permission: i8,
) -> Result<AclBinding, String> {
    let resource_type = resource_type_from_code(resource_type)
        .ok_or_else(|| format!("Invalid resourceType {}", code_label(resource_type)))?;
    let pattern_type = pattern_type_from_code(pattern_type)
        .ok_or_else(|| format!("Invalid patternType {}", code_label(pattern_type)))?;
    let operation = operation_from_code(operation)
        .ok_or_else(|| format!("Invalid operation {}", code_label(operation)))?;
    let permission = permission_from_code(permission)
        .ok_or_else(|| format!("Invalid permissionType {}", code_label(permission)))?;
    if resource_type == AclResourceType::Cluster && name != CLUSTER_NAME {
        return Err(format!(
            "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
        ));
    }
    if name.is_empty() {
        return Err("Invalid empty resource name".to_string());
    }
    parse_principal(principal)?;
    Ok(AclBinding {
        resource_type,
        resource_name: name.to_string(),
        pattern_type,
        principal: principal.to_string(),
        host: host.to_string(),
        operation,
        permission,
    })
}

fn code_label(code: i8) -> &'static str {
    match code {
        ANY => "ANY",
        _ => "UNKNOWN",
    }
}

/// Splits `Type:name` (Kafka's `SecurityUtils.parseKafkaPrincipal`).
pub fn parse_principal(principal: &str) -> Result<(&str, &str), String> {
    principal.split_once(':').ok_or_else(|| {
        format!("expected a string in format principalType:principalName but got {principal}")
    })
}

/// Kafka's text of a binding, for logs.
pub fn describe_binding(acl: &AclBinding) -> String {
    format!(
        "(pattern=ResourcePattern(resourceType={}, name={}, patternType={}), entry=(principal={}, host={}, operation={}, permissionType={}))",
        resource_type_name(acl.resource_type),
        acl.resource_name,
        pattern_type_name(acl.pattern_type),
        acl.principal,
        acl.host,
        operation_name(acl.operation),
        permission_name(acl.permission)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(name: &str, pattern: AclPatternType) -> AclBinding {
        AclBinding {
            resource_type: AclResourceType::Topic,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermission::Allow,
        }
    }

    #[test]
    fn codes_round_trip() {
        for o in OPERATIONS {
            assert_eq!(operation_from_code(o as i8), Some(o));
        }
        assert_eq!(operation_from_code(ANY), None);
        assert_eq!(resource_type_from_code(2), Some(AclResourceType::Topic));
        assert_eq!(resource_type_from_code(0), None);
        assert_eq!(pattern_type_from_code(4), Some(AclPatternType::Prefixed));
        assert_eq!(permission_from_code(3), Some(AclPermission::Allow));
    }

    #[test]
    fn filters_match_as_kafka() {
        let lit = acl("orders", AclPatternType::Literal);
        let pre = acl("ord", AclPatternType::Prefixed);
        let star = acl("*", AclPatternType::Literal);
        let by_name = |pattern, name: &str| AclFilter {
            resource_type: Some(AclResourceType::Topic),
            name: Some(name.into()),
            pattern,
            ..AclFilter::any()
        };
        // ANY: the exact name, any pattern type.
        let f = by_name(PatternFilter::Any, "orders");
        assert!(f.matches(&lit) && !f.matches(&pre) && !f.matches(&star));
        // MATCH: everything that applies to the name.
        let f = by_name(PatternFilter::Match, "orders");
        assert!(f.matches(&lit) && f.matches(&pre) && f.matches(&star));
        // Exactly: the pattern type and the name.
        let f = by_name(PatternFilter::Exactly(AclPatternType::Prefixed), "ord");
        assert!(!f.matches(&lit) && f.matches(&pre));
        assert!(AclFilter::any().matches(&lit));
        let f = AclFilter {
            principal: Some("User:bob".into()),
            ..AclFilter::any()
        };
        assert!(!f.matches(&lit));
    }

    #[test]
    fn creation_is_validated() {
        let ok = binding_from_wire(2, "t", 3, "User:alice", "*", 3, 3);
        assert!(ok.is_ok());
        assert_eq!(
            binding_from_wire(4, "other", 3, "User:a", "*", 7, 3),
            Err("The only valid name for the CLUSTER resource is kafka-cluster".to_string())
        );
        assert!(binding_from_wire(2, "", 3, "User:a", "*", 3, 3).is_err());
        assert!(binding_from_wire(1, "t", 3, "User:a", "*", 3, 3).is_err());
        assert!(binding_from_wire(2, "t", 2, "User:a", "*", 3, 3).is_err());
        assert!(binding_from_wire(2, "t", 3, "User:a", "*", 1, 3).is_err());
        assert!(binding_from_wire(2, "t", 3, "alice", "*", 3, 3).is_err());
    }

    #[test]
    fn implied_operations() {
        use AclOperation::*;
        for op in [Read, Write, Delete, Alter] {
            assert!(allow_covers(op, Describe));
            assert!(!deny_covers(op, Describe));
        }
        assert!(allow_covers(AlterConfigs, DescribeConfigs));
        assert!(!allow_covers(Create, Describe));
        assert!(!allow_covers(Read, Write));
        assert!(allow_covers(All, IdempotentWrite));
        assert!(deny_covers(All, Read));
    }
}
