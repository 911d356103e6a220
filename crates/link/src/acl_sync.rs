//! ACL sync over a cluster link (`acl.sync.enable`, `acl.sync.ms`,
//! `acl.filters`): every period the link describes the source's ACLs that
//! match its filters, then on this cluster creates the ones missing and
//! deletes the ones that match the filters but no longer exist on the source.
//!
//! It owns the translation of `acl.filters` into Kafka binding filters and of
//! source ACLs into stored ACLs, and the set difference between the two
//! sides. It must never touch ACLs outside the link's filters, never change
//! anything when the source could not be read completely, and never reach
//! this cluster's ACLs except through [`crate::LocalCluster`] (the broker's
//! authorizer).

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use strait_client::ClientError;
use strait_client::admin::acls as wire;
use strait_client::admin::acls::{
    AccessControlEntryFilter, AclBindingFilter, ResourcePatternFilter,
};
use strait_metadata::{AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType};

use crate::engine::{LinkEngine, LinkRuntime};
use crate::error::LinkError;
use crate::filters::{AclFilter, AclFilters};

/// One `acl.filters` entry as Kafka's `AclBindingFilter`.
pub fn binding_filter(f: &AclFilter) -> Result<AclBindingFilter, LinkError> {
    let bad = |field: &'static str, value: &str| LinkError::UnknownAclFilterValue {
        field,
        value: value.to_string(),
    };
    Ok(AclBindingFilter {
        pattern: ResourcePatternFilter {
            resource_type: wire::ResourceType::parse(&f.resource_type)
                .ok_or_else(|| bad("resourceType", &f.resource_type))?,
            name: f.name.clone(),
            pattern_type: wire::PatternType::parse(&f.pattern_type)
                .ok_or_else(|| bad("patternType", &f.pattern_type))?,
        },
        entry: AccessControlEntryFilter {
            principal: f.principal.clone(),
            host: f.host.clone(),
            operation: wire::AclOperation::parse(&f.operation)
                .ok_or_else(|| bad("operation", &f.operation))?,
            permission_type: wire::AclPermissionType::parse(&f.permission_type)
                .ok_or_else(|| bad("permissionType", &f.permission_type))?,
        },
    })
}

/// Every filter of `acl.filters` as Kafka's `AclBindingFilter`.
pub fn binding_filters(filters: &AclFilters) -> Result<Vec<AclBindingFilter>, LinkError> {
    filters.0.iter().map(binding_filter).collect()
}

/// A source ACL as this cluster stores it; `None` for values an ACL cannot
/// hold (the filter-only ANY and MATCH, which a broker never returns).
pub fn stored_binding(b: &wire::AclBinding) -> Option<AclBinding> {
    let resource_type = match b.pattern.resource_type {
        wire::ResourceType::Any => return None,
        wire::ResourceType::Topic => AclResourceType::Topic,
        wire::ResourceType::Group => AclResourceType::Group,
        wire::ResourceType::Cluster => AclResourceType::Cluster,
        wire::ResourceType::TransactionalId => AclResourceType::TransactionalId,
        wire::ResourceType::DelegationToken => AclResourceType::DelegationToken,
        wire::ResourceType::User => AclResourceType::User,
    };
    let pattern_type = match b.pattern.pattern_type {
        wire::PatternType::Any | wire::PatternType::Match => return None,
        wire::PatternType::Literal => AclPatternType::Literal,
        wire::PatternType::Prefixed => AclPatternType::Prefixed,
    };
    let operation = match b.entry.operation {
        wire::AclOperation::Any => return None,
        wire::AclOperation::All => AclOperation::All,
        wire::AclOperation::Read => AclOperation::Read,
        wire::AclOperation::Write => AclOperation::Write,
        wire::AclOperation::Create => AclOperation::Create,
        wire::AclOperation::Delete => AclOperation::Delete,
        wire::AclOperation::Alter => AclOperation::Alter,
        wire::AclOperation::Describe => AclOperation::Describe,
        wire::AclOperation::ClusterAction => AclOperation::ClusterAction,
        wire::AclOperation::DescribeConfigs => AclOperation::DescribeConfigs,
        wire::AclOperation::AlterConfigs => AclOperation::AlterConfigs,
        wire::AclOperation::IdempotentWrite => AclOperation::IdempotentWrite,
        wire::AclOperation::CreateTokens => AclOperation::CreateTokens,
        wire::AclOperation::DescribeTokens => AclOperation::DescribeTokens,
    };
    let permission = match b.entry.permission_type {
        wire::AclPermissionType::Any => return None,
        wire::AclPermissionType::Allow => AclPermission::Allow,
        wire::AclPermissionType::Deny => AclPermission::Deny,
    };
    if b.pattern.name.is_empty() || !b.entry.principal.contains(':') {
        return None;
    }
    Some(AclBinding {
        resource_type,
        resource_name: b.pattern.name.clone(),
        pattern_type,
        principal: b.entry.principal.clone(),
        host: b.entry.host.clone(),
        operation,
        permission,
    })
}

/// What one pass changes on this cluster.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AclChanges {
    /// On the source, missing here.
    pub create: Vec<AclBinding>,
    /// Here and selected by the filters, gone from the source.
    pub delete: Vec<AclBinding>,
}

impl AclChanges {
    /// `source` is the union of the source ACLs the filters select,
    /// `destination` the same for this cluster.
    pub fn between(source: &BTreeSet<AclBinding>, destination: &BTreeSet<AclBinding>) -> Self {
        AclChanges {
            create: source.difference(destination).cloned().collect(),
            delete: destination.difference(source).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.delete.is_empty()
    }
}

/// What is recorded when the source refuses or fails DescribeAcls.
fn source_failure(e: ClientError) -> LinkError {
    match e.server_error() {
        Some(ResponseError::ClusterAuthorizationFailed) => LinkError::SourceAclsDenied,
        Some(ResponseError::SecurityDisabled) => LinkError::SourceAclsNoAuthorizer(e),
        _ => LinkError::SourceAcls(e),
    }
}

/// The union of the source ACLs the filters select. Any failure fails the
/// whole read, so that a partial view never causes deletions.
async fn source_acls(
    link: &LinkRuntime,
    filters: &[AclBindingFilter],
) -> Result<BTreeSet<AclBinding>, LinkError> {
    let client = link
        .client()
        .await
        .map_err(LinkError::SourceAclsUnreachable)?;
    let mut out = BTreeSet::new();
    for filter in filters {
        let found = client.describe_acls(filter).await.map_err(source_failure)?;
        for binding in &found {
            match stored_binding(binding) {
                Some(b) => {
                    out.insert(b);
                }
                None => tracing::warn!(
                    "link {}: ignoring source ACL {} {} that cannot be stored",
                    link.name(),
                    binding.pattern,
                    binding.entry
                ),
            }
        }
    }
    Ok(out)
}

/// One pass of ACL sync for `link`. This cluster's ACLs are read first, so
/// a destination without an authorizer is reported as such whatever the
/// source answers.
pub async fn sync_acls(engine: &Arc<LinkEngine>, link: &Arc<LinkRuntime>) -> Result<(), LinkError> {
    let settings = link.settings();
    if settings.acl_filters.0.is_empty() {
        return Err(LinkError::AclSyncWithoutFilters);
    }
    let filters = binding_filters(&settings.acl_filters)?;
    let local = engine.local().clone();
    let here: BTreeSet<AclBinding> = {
        let local = local.clone();
        let filters = filters.clone();
        tokio::task::spawn_blocking(move || local.acls(&filters))
            .await
            .map_err(LinkError::AclSyncTask)??
            .into_iter()
            .collect()
    };
    let source = source_acls(link, &filters).await?;
    let changes = AclChanges::between(&source, &here);
    if changes.is_empty() {
        return Ok(());
    }
    let name = link.name();
    tokio::task::spawn_blocking(move || -> Result<(), LinkError> {
        if !changes.create.is_empty() {
            local.create_acls(changes.create.clone())?;
        }
        let removed = if changes.delete.is_empty() {
            0
        } else {
            local.delete_acls(&changes.delete)?
        };
        tracing::info!(
            "link {name}: ACL sync created {} and deleted {removed} ACL(s)",
            changes.create.len()
        );
        Ok(())
    })
    .await
    .map_err(LinkError::AclSyncTask)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(name: &str, principal: &str, op: AclOperation) -> AclBinding {
        AclBinding {
            resource_type: AclResourceType::Topic,
            resource_name: name.into(),
            pattern_type: AclPatternType::Literal,
            principal: principal.into(),
            host: "*".into(),
            operation: op,
            permission: AclPermission::Allow,
        }
    }

    #[test]
    fn changes_create_missing_and_delete_gone() {
        let a = acl("t", "User:a", AclOperation::Read);
        let b = acl("t", "User:b", AclOperation::Read);
        let c = acl("u", "User:a", AclOperation::Write);
        let source: BTreeSet<_> = [a.clone(), b.clone()].into();
        let here: BTreeSet<_> = [b.clone(), c.clone()].into();
        let changes = AclChanges::between(&source, &here);
        assert_eq!(changes.create, vec![a.clone()]);
        assert_eq!(changes.delete, vec![c]);
        assert!(AclChanges::between(&source, &source).is_empty());
        // An empty source (everything deleted there) empties the filtered set here.
        let changes = AclChanges::between(&BTreeSet::new(), &source);
        assert_eq!(changes.delete, vec![a, b]);
        assert!(changes.create.is_empty());
    }

    #[test]
    fn filters_become_kafka_binding_filters() {
        let filters = AclFilters::parse(
            r#"{"aclFilters":[
                {"resourceFilter":{"resourceType":"topic","name":"app-","patternType":"prefixed"},
                 "accessFilter":{"principal":"User:bob","host":"*","operation":"read","permissionType":"allow"}},
                {"resourceFilter":{"resourceType":"any","patternType":"any"},
                 "accessFilter":{"operation":"describe_configs","permissionType":"any"}}]}"#,
        )
        .unwrap();
        let out = binding_filters(&filters).unwrap();
        assert_eq!(out[0].pattern.resource_type, wire::ResourceType::Topic);
        assert_eq!(out[0].pattern.name.as_deref(), Some("app-"));
        assert_eq!(out[0].pattern.pattern_type, wire::PatternType::Prefixed);
        assert_eq!(out[0].entry.principal.as_deref(), Some("User:bob"));
        assert_eq!(out[0].entry.operation, wire::AclOperation::Read);
        assert_eq!(out[0].entry.permission_type, wire::AclPermissionType::Allow);
        assert_eq!(out[1].pattern, ResourcePatternFilter::any());
        assert_eq!(out[1].entry.principal, None);
        assert_eq!(out[1].entry.operation, wire::AclOperation::DescribeConfigs);
        assert_eq!(out[1].entry.permission_type, wire::AclPermissionType::Any);
    }

    #[test]
    fn source_bindings_convert_and_filter_values_are_refused() {
        let mut b = wire::AclBinding {
            pattern: wire::ResourcePattern {
                resource_type: wire::ResourceType::Group,
                name: "g".into(),
                pattern_type: wire::PatternType::Prefixed,
            },
            entry: wire::AccessControlEntry {
                principal: "User:alice".into(),
                host: "10.0.0.1".into(),
                operation: wire::AclOperation::Describe,
                permission_type: wire::AclPermissionType::Deny,
            },
        };
        let stored = stored_binding(&b).unwrap();
        assert_eq!(stored.resource_type, AclResourceType::Group);
        assert_eq!(stored.pattern_type, AclPatternType::Prefixed);
        assert_eq!(stored.operation, AclOperation::Describe);
        assert_eq!(stored.permission, AclPermission::Deny);
        assert_eq!(stored.host, "10.0.0.1");
        // Every operation's code is the stored enum's code.
        for op in wire::AclOperation::ALL.iter().copied() {
            b.entry.operation = op;
            match stored_binding(&b) {
                Some(s) => assert_eq!(s.operation as i8, op.code()),
                None => assert_eq!(op, wire::AclOperation::Any),
            }
        }
        b.entry.operation = wire::AclOperation::Read;
        b.pattern.pattern_type = wire::PatternType::Match;
        assert_eq!(stored_binding(&b), None);
        b.pattern.pattern_type = wire::PatternType::Literal;
        b.entry.principal = "alice".into();
        assert_eq!(stored_binding(&b), None);
    }

    #[test]
    fn a_refused_describe_gets_confluents_message() {
        let denied =
            ClientError::from_code(ResponseError::ClusterAuthorizationFailed.code(), None).unwrap();
        assert_eq!(
            source_failure(denied).to_string(),
            crate::error::SOURCE_DESCRIBE_DENIED
        );
        let disabled =
            ClientError::from_code(ResponseError::SecurityDisabled.code(), None).unwrap();
        assert!(
            source_failure(disabled)
                .to_string()
                .contains("no authorizer")
        );
    }
}
