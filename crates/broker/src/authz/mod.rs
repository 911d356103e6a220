//! Authorization: Kafka's ACL authorizer (AclAuthorizer/StandardAuthorizer
//! semantics) and the checks each API makes before its handler runs.
//!
//! It owns who may do what: ACLs are read from metadata into an in-memory
//! cache; a principal (`User:alice`) from a host is allowed an operation on a
//! resource when an ALLOW ACL matches (literal name, the `*` wildcard or a
//! prefix; `User:*`; host `*` or the exact address; implied operations) and
//! no DENY ACL does. `super.users` are allowed everything;
//! `allow.everyone.if.no.acl.found` decides for resources without any ACL.
//! Without `authorizer.class.name` there is no authorizer and everything is
//! allowed, as in Kafka.
//!
//! It must never change what a handler does for an authorized request, never
//! persist ACLs anywhere but the metadata store, and never grant an operation
//! a DENY ACL covers (to anyone but a super user).

pub mod acl;
pub mod admin;
pub mod gate;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use strait_metadata::{
    AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType, MetadataError,
    MetadataStore,
};

use self::acl::{AclFilter, WILDCARD, WILDCARD_PRINCIPAL, allow_covers, deny_covers};
use crate::config::ConfigError;
use crate::server::ConnectionContext;

/// The `authorizer.class.name` values that turn the ACL authorizer on:
/// Kafka's ZooKeeper-era and KRaft authorizers, which behave alike.
pub const AUTHORIZER_CLASS_NAMES: [&str; 2] = [
    "kafka.security.authorizer.AclAuthorizer",
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
];

/// Who is asking, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `Type:name`, e.g. `User:alice` or `User:ANONYMOUS`.
    pub principal: String,
    /// The client's IP address as text.
    pub host: String,
}

impl Session {
    pub fn new(principal: impl Into<String>, host: impl Into<String>) -> Self {
        Session {
            principal: principal.into(),
            host: host.into(),
        }
    }

    /// The session of a connection: its authenticated principal and peer address.
    pub fn of(ctx: &ConnectionContext) -> Self {
        Session::new(ctx.principal.clone(), ctx.peer.ip().to_string())
    }
}

/// One access control entry of a cached ACL.
#[derive(Debug, Clone)]
struct Entry {
    principal: String,
    host: String,
    operation: AclOperation,
    permission: AclPermission,
}

/// The ACLs of one resource type, indexed by name.
#[derive(Debug, Default)]
struct TypeAcls {
    literal: HashMap<String, Vec<Entry>>,
    prefixed: HashMap<String, Vec<Entry>>,
}

/// An immutable snapshot of every ACL, replaced whole after each change.
#[derive(Debug, Default)]
struct AclCache {
    by_type: HashMap<AclResourceType, TypeAcls>,
    all: Vec<AclBinding>,
}

impl AclCache {
    fn build(mut acls: Vec<AclBinding>) -> Self {
        acls.sort();
        let mut cache = AclCache::default();
        for a in &acls {
            let t = cache.by_type.entry(a.resource_type).or_default();
            let map = match a.pattern_type {
                AclPatternType::Literal => &mut t.literal,
                AclPatternType::Prefixed => &mut t.prefixed,
            };
            map.entry(a.resource_name.clone()).or_default().push(Entry {
                principal: a.principal.clone(),
                host: a.host.clone(),
                operation: a.operation,
                permission: a.permission,
            });
        }
        cache.all = acls;
        cache
    }

    /// Every entry whose resource pattern matches `name`.
    fn entries_for<'a>(&'a self, t: AclResourceType, name: &'a str) -> Vec<&'a [Entry]> {
        let Some(acls) = self.by_type.get(&t) else {
            return Vec::new();
        };
        let mut out: Vec<&[Entry]> = Vec::new();
        if let Some(e) = acls.literal.get(name) {
            out.push(e);
        }
        if name != WILDCARD
            && let Some(e) = acls.literal.get(WILDCARD)
        {
            out.push(e);
        }
        if !acls.prefixed.is_empty() {
            let ends = name
                .char_indices()
                .map(|(i, _)| i)
                .skip(1)
                .chain(std::iter::once(name.len()));
            for end in ends {
                if let Some(e) = name.get(..end).and_then(|p| acls.prefixed.get(p)) {
                    out.push(e);
                }
            }
        }
        out
    }
}

/// Kafka's ACL authorizer over the metadata store.
pub struct Authorizer {
    super_users: HashSet<String>,
    allow_if_no_acl: bool,
    store: Arc<dyn MetadataStore>,
    cache: RwLock<Arc<AclCache>>,
    /// Serializes ACL changes so that the cache follows the store in order.
    changes: Mutex<()>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("super_users", &self.super_users)
            .field("allow_if_no_acl", &self.allow_if_no_acl)
            .finish_non_exhaustive()
    }
}

/// The authorizer settings of server.properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// The `authorizer.class.name` given.
    pub class_name: String,
    /// `super.users`: principals separated by semicolons.
    pub super_users: HashSet<String>,
    /// `allow.everyone.if.no.acl.found` (default false).
    pub allow_if_no_acl: bool,
}

impl AuthorizerConfig {
    /// The settings the properties ask for: `None` without
    /// `authorizer.class.name` (no authorizer: everything is allowed).
    pub fn from_properties(
        properties: &BTreeMap<String, String>,
    ) -> Result<Option<AuthorizerConfig>, ConfigError> {
        let invalid = |key: &str, value: &str, reason: String| ConfigError::Invalid {
            key: key.to_string(),
            value: value.to_string(),
            reason,
        };
        let class = properties
            .get("authorizer.class.name")
            .map(|s| s.trim())
            .unwrap_or("");
        if class.is_empty() {
            return Ok(None);
        }
        if !AUTHORIZER_CLASS_NAMES.contains(&class) {
            return Err(invalid(
                "authorizer.class.name",
                class,
                format!(
                    "Strait provides {} (both are Kafka's ACL authorizer)",
                    AUTHORIZER_CLASS_NAMES.join(" and ")
                ),
            ));
        }
        let mut super_users = HashSet::new();
        if let Some(list) = properties.get("super.users") {
            for p in list.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                acl::parse_principal(p).map_err(|e| invalid("super.users", list, e))?;
                super_users.insert(p.to_string());
            }
        }
        // Kafka reads the flag with Boolean.parseBoolean: anything but "true" is false.
        let allow_if_no_acl = properties
            .get("allow.everyone.if.no.acl.found")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        Ok(Some(AuthorizerConfig {
            class_name: class.to_string(),
            super_users,
            allow_if_no_acl,
        }))
    }
}

impl Authorizer {
    /// The authorizer the broker configuration asks for: `None` without
    /// `authorizer.class.name` (everything is allowed).
    pub fn open(
        properties: &BTreeMap<String, String>,
        store: Arc<dyn MetadataStore>,
    ) -> Result<Option<Authorizer>, ConfigError> {
        let Some(config) = AuthorizerConfig::from_properties(properties)? else {
            return Ok(None);
        };
        let authorizer = Authorizer::new(config.super_users, config.allow_if_no_acl, store);
        tracing::info!(
            "authorizer {}: {} ACL(s), super.users={:?}, allow.everyone.if.no.acl.found={}",
            config.class_name,
            authorizer.snapshot().all.len(),
            authorizer.super_users,
            authorizer.allow_if_no_acl,
        );
        Ok(Some(authorizer))
    }

    pub fn new(
        super_users: HashSet<String>,
        allow_if_no_acl: bool,
        store: Arc<dyn MetadataStore>,
    ) -> Self {
        let cache = AclCache::build(store.acls());
        Authorizer {
            super_users,
            allow_if_no_acl,
            store,
            cache: RwLock::new(Arc::new(cache)),
            changes: Mutex::new(()),
        }
    }

    fn snapshot(&self) -> Arc<AclCache> {
        // The cache is only ever replaced whole, so a poisoned lock still
        // holds a consistent snapshot.
        self.cache.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn reload(&self) {
        let cache = Arc::new(AclCache::build(self.store.acls()));
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = cache;
    }

    pub fn is_super_user(&self, session: &Session) -> bool {
        self.super_users.contains(&session.principal)
    }

    /// Whether `session` may perform `operation` on the resource `name` of
    /// type `resource_type` (a literal resource, as requests name them).
    pub fn authorize(
        &self,
        session: &Session,
        operation: AclOperation,
        resource_type: AclResourceType,
        name: &str,
    ) -> bool {
        if self.is_super_user(session) {
            return true;
        }
        let cache = self.snapshot();
        let mut has_resource_acls = false;
        let mut allowed = false;
        for entries in cache.entries_for(resource_type, name) {
            has_resource_acls |= !entries.is_empty();
            for e in entries {
                if e.principal != session.principal && e.principal != WILDCARD_PRINCIPAL {
                    continue;
                }
                if e.host != WILDCARD && e.host != session.host {
                    continue;
                }
                match e.permission {
                    AclPermission::Deny if deny_covers(e.operation, operation) => {
                        tracing::debug!(
                            "Principal = {} is Denied operation = {} from host = {} on resource = {}:{name} (DENY ACL)",
                            session.principal,
                            acl::operation_name(operation),
                            session.host,
                            acl::resource_type_name(resource_type),
                        );
                        return false;
                    }
                    AclPermission::Allow if allow_covers(e.operation, operation) => allowed = true,
                    _ => {}
                }
            }
        }
        let result = allowed || (!has_resource_acls && self.allow_if_no_acl);
        if !result {
            tracing::debug!(
                "Principal = {} is Denied operation = {} from host = {} on resource = {}:{name}",
                session.principal,
                acl::operation_name(operation),
                session.host,
                acl::resource_type_name(resource_type),
            );
        }
        result
    }

    /// `operation` on the cluster resource.
    pub fn authorize_cluster(&self, session: &Session, operation: AclOperation) -> bool {
        self.authorize(
            session,
            operation,
            AclResourceType::Cluster,
            acl::CLUSTER_NAME,
        )
    }

    /// Whether `session` may perform `operation` on at least one resource of
    /// the type (Kafka's `authorizeByResourceType`; e.g. WRITE on any topic
    /// stands for IDEMPOTENT_WRITE).
    pub fn authorize_by_resource_type(
        &self,
        session: &Session,
        operation: AclOperation,
        resource_type: AclResourceType,
    ) -> bool {
        // A made-up name: super users, a wildcard ALLOW or "no ACLs and
        // allow.everyone.if.no.acl.found" answer here.
        if self.authorize(session, operation, resource_type, "hardcode") {
            return true;
        }
        let cache = self.snapshot();
        let mut deny_literal: HashSet<&str> = HashSet::new();
        let mut deny_prefixed: HashSet<&str> = HashSet::new();
        let mut allow: Vec<(&str, AclPatternType)> = Vec::new();
        for a in cache
            .all
            .iter()
            .filter(|a| a.resource_type == resource_type)
        {
            if a.host != WILDCARD && a.host != session.host {
                continue;
            }
            if a.principal != session.principal && a.principal != WILDCARD_PRINCIPAL {
                continue;
            }
            if a.operation != operation && a.operation != AclOperation::All {
                continue;
            }
            match (a.permission, a.pattern_type) {
                (AclPermission::Deny, AclPatternType::Literal) if a.resource_name == WILDCARD => {
                    return false;
                }
                (AclPermission::Deny, AclPatternType::Literal) => {
                    deny_literal.insert(&a.resource_name);
                }
                (AclPermission::Deny, AclPatternType::Prefixed) => {
                    deny_prefixed.insert(&a.resource_name);
                }
                (AclPermission::Allow, AclPatternType::Literal) if a.resource_name == WILDCARD => {
                    return true;
                }
                (AclPermission::Allow, pattern) => allow.push((&a.resource_name, pattern)),
            }
        }
        allow.into_iter().any(|(name, pattern)| {
            if pattern == AclPatternType::Literal && deny_literal.contains(name) {
                return false;
            }
            let dominated = name
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .any(|end| name.get(..end).is_some_and(|p| deny_prefixed.contains(p)));
            !dominated
        })
    }

    /// Kafka's authorized-operations bit field of a resource: bit `code` set
    /// for each supported operation the session may perform.
    pub fn authorized_operations(
        &self,
        session: &Session,
        resource_type: AclResourceType,
        name: &str,
    ) -> i32 {
        acl::operation_bits(
            acl::supported_operations(resource_type)
                .iter()
                .filter(|op| self.authorize(session, **op, resource_type, name)),
        )
    }

    /// The ACLs a filter selects, sorted.
    pub fn acls(&self, filter: &AclFilter) -> Vec<AclBinding> {
        self.snapshot()
            .all
            .iter()
            .filter(|a| filter.matches(a))
            .cloned()
            .collect()
    }

    /// Stores new ACLs (blocking: writes metadata durably).
    pub fn create_acls(&self, acls: Vec<AclBinding>) -> Result<(), MetadataError> {
        let _serial = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        for a in &acls {
            tracing::info!("adding ACL {}", acl::describe_binding(a));
        }
        let outcome = self.store.create_acls(acls);
        self.reload();
        outcome
    }

    /// Removes every ACL matching any of the filters, atomically (blocking).
    /// Returns, per filter, the removed ACLs it matched.
    pub fn delete_acls(
        &self,
        filters: &[AclFilter],
    ) -> Result<Vec<Vec<AclBinding>>, MetadataError> {
        let _serial = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = self
            .store
            .delete_acls(&|a| filters.iter().any(|f| f.matches(a)));
        self.reload();
        let removed = outcome?;
        for a in &removed {
            tracing::info!("removed ACL {}", acl::describe_binding(a));
        }
        Ok(filters
            .iter()
            .map(|f| removed.iter().filter(|a| f.matches(a)).cloned().collect())
            .collect())
    }
}

#[cfg(test)]
mod tests;
