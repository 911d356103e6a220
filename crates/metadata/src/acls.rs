//! The ACL records kept in metadata: one [`AclBinding`] per (resource
//! pattern, principal, host, operation, permission), as Kafka's
//! `AclBinding`. Plain data with serde; the enum discriminants are Kafka's
//! wire codes. It must never decide whether an ACL grants anything: matching
//! belongs to the broker's authorizer.

use serde::{Deserialize, Serialize};

/// The kind of resource an ACL protects (Kafka's `ResourceType`, without
/// the UNKNOWN and ANY filter values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(i8)]
pub enum AclResourceType {
    Topic = 2,
    Group = 3,
    Cluster = 4,
    TransactionalId = 5,
    DelegationToken = 6,
    User = 7,
}

/// How an ACL's resource name is matched (Kafka's `PatternType`, without
/// the UNKNOWN, ANY and MATCH filter values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(i8)]
pub enum AclPatternType {
    /// The name as written; `*` stands for every resource of the type.
    Literal = 3,
    /// Every resource whose name starts with the pattern's name.
    Prefixed = 4,
}

/// An operation an ACL allows or denies (Kafka's `AclOperation`, without
/// the UNKNOWN and ANY filter values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(i8)]
pub enum AclOperation {
    All = 2,
    Read = 3,
    Write = 4,
    Create = 5,
    Delete = 6,
    Alter = 7,
    Describe = 8,
    ClusterAction = 9,
    DescribeConfigs = 10,
    AlterConfigs = 11,
    IdempotentWrite = 12,
    CreateTokens = 13,
    DescribeTokens = 14,
}

/// Whether an ACL allows or denies (Kafka's `AclPermissionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(i8)]
pub enum AclPermission {
    Deny = 2,
    Allow = 3,
}

/// One ACL: a resource pattern and an access control entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    pub resource_type: AclResourceType,
    pub resource_name: String,
    pub pattern_type: AclPatternType,
    /// `Type:name`, e.g. `User:alice` or `User:*`.
    pub principal: String,
    /// An IP address, or `*` for every host.
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}
