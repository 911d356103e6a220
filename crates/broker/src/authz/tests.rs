//! Unit tests of the authorizer's matching semantics against Kafka's rules.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use strait_metadata::{
    AclBinding, AclOperation as Op, AclPatternType, AclPermission, AclResourceType as Rt,
    EmbeddedStore, MetadataStore,
};

use super::acl::{AclFilter, PatternFilter};
use super::{Authorizer, Session};

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn MetadataStore>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn MetadataStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("meta.redb")).expect("store"));
    Fixture { _dir: dir, store }
}

fn authorizer(f: &Fixture, super_users: &[&str], allow_if_no_acl: bool) -> Authorizer {
    Authorizer::new(
        super_users
            .iter()
            .map(|s| s.to_string())
            .collect::<HashSet<_>>(),
        allow_if_no_acl,
        f.store.clone(),
    )
}

#[allow(clippy::too_many_arguments)]
fn binding(
    rt: Rt,
    name: &str,
    pattern: AclPatternType,
    principal: &str,
    host: &str,
    op: Op,
    permission: AclPermission,
) -> AclBinding {
    AclBinding {
        resource_type: rt,
        resource_name: name.into(),
        pattern_type: pattern,
        principal: principal.into(),
        host: host.into(),
        operation: op,
        permission,
    }
}

fn allow(rt: Rt, name: &str, pattern: AclPatternType, principal: &str, op: Op) -> AclBinding {
    binding(rt, name, pattern, principal, "*", op, AclPermission::Allow)
}

fn deny(rt: Rt, name: &str, pattern: AclPatternType, principal: &str, op: Op) -> AclBinding {
    binding(rt, name, pattern, principal, "*", op, AclPermission::Deny)
}

const LIT: AclPatternType = AclPatternType::Literal;
const PRE: AclPatternType = AclPatternType::Prefixed;

fn alice() -> Session {
    Session::new("User:alice", "10.0.0.1")
}

fn bob() -> Session {
    Session::new("User:bob", "10.0.0.2")
}

#[test]
fn literal_acls_match_only_their_name() {
    let f = fixture();
    let a = authorizer(&f, &[], false);
    a.create_acls(vec![allow(
        Rt::Topic,
        "orders",
        LIT,
        "User:alice",
        Op::Read,
    )])
    .expect("create");
    assert!(a.authorize(&alice(), Op::Read, Rt::Topic, "orders"));
    assert!(!a.authorize(&alice(), Op::Read, Rt::Topic, "orders2"));
    assert!(!a.authorize(&alice(), Op::Read, Rt::Topic, "order"));
    assert!(!a.authorize(&alice(), Op::Write, Rt::Topic, "orders"));
    assert!(!a.authorize(&bob(), Op::Read, Rt::Topic, "orders"));
    assert!(
        !a.authorize(&alice(), Op::Read, Rt::Group, "orders"),
        "other resource types are not covered"
    );
}

#[test]
fn prefixed_acls_match_names_starting_with_them() {
    let f = fixture();
    let a = authorizer(&f, &[], false);
    a.create_acls(vec![allow(Rt::Topic, "app-", PRE, "User:alice", Op::Write)])
        .expect("create");
    assert!(a.authorize(&alice(), Op::Write, Rt::Topic, "app-"));
    assert!(a.authorize(&alice(), Op::Write, Rt::Topic, "app-orders"));
    assert!(!a.authorize(&alice(), Op::Write, Rt::Topic, "app"));
    assert!(!a.authorize(&alice(), Op::Write, Rt::Topic, "other-app-x"));
    // Multi-byte names are cut on character boundaries.
    a.create_acls(vec![allow(Rt::Group, "gé", PRE, "User:alice", Op::Read)])
        .expect("create");
    assert!(a.authorize(&alice(), Op::Read, Rt::Group, "gé-1"));
    assert!(!a.authorize(&alice(), Op::Read, Rt::Group, "g"));
}

#[test]
fn wildcard_resource_principal_and_host() {
    let f = fixture();
    let a = authorizer(&f, &[], false);
    a.create_acls(vec![
        allow(Rt::Topic, "*", LIT, "User:alice", Op::Read),
        allow(Rt::Group, "g", LIT, "User:*", Op::Read),
        binding(
            Rt::Topic,
            "hosted",
            LIT,
            "User:bob",
            "10.0.0.9",
            Op::Write,
            AclPermission::Allow,
        ),
    ])
    .expect("create");
    assert!(a.authorize(&alice(), Op::Read, Rt::Topic, "anything"));
    assert!(a.authorize(&alice(), Op::Read, Rt::Topic, "*"));
    assert!(!a.authorize(&bob(), Op::Read, Rt::Topic, "anything"));
    assert!(a.authorize(&bob(), Op::Read, Rt::Group, "g"));
    assert!(a.authorize(&alice(), Op::Read, Rt::Group, "g"));
    assert!(
        !a.authorize(&bob(), Op::Write, Rt::Topic, "hosted"),
        "wrong host"
    );
    assert!(a.authorize(
        &Session::new("User:bob", "10.0.0.9"),
        Op::Write,
        Rt::Topic,
        "hosted"
    ));
}

#[test]
fn deny_wins_over_allow() {
    let f = fixture();
    let a = authorizer(&f, &[], false);
    a.create_acls(vec![
        allow(Rt::Topic, "*", LIT, "User:*", Op::All),
        deny(Rt::Topic, "secret", PRE, "User:alice", Op::Write),
        deny(Rt::Topic, "locked", LIT, "User:*", Op::All),
    ])
    .expect("create");
    assert!(a.authorize(&alice(), Op::Write, Rt::Topic, "public"));
    assert!(!a.authorize(&alice(), Op::Write, Rt::Topic, "secret-1"));
    assert!(a.authorize(&alice(), Op::Read, Rt::Topic, "secret-1"));
    assert!(a.authorize(&bob(), Op::Write, Rt::Topic, "secret-1"));
    assert!(!a.authorize(&bob(), Op::Read, Rt::Topic, "locked"));
    // A DENY on WRITE does not deny DESCRIBE (implication is for ALLOW only).
    assert!(a.authorize(&alice(), Op::Describe, Rt::Topic, "secret-1"));
}

#[test]
fn implied_operations() {
    let f = fixture();
    let a = authorizer(&f, &[], false);
    a.create_acls(vec![
        allow(Rt::Topic, "r", LIT, "User:alice", Op::Read),
        allow(Rt::Topic, "w", LIT, "User:alice", Op::Write),
        allow(Rt::Topic, "d", LIT, "User:alice", Op::Delete),
        allow(Rt::Topic, "a", LIT, "User:alice", Op::Alter),
        allow(Rt::Topic, "c", LIT, "User:alice", Op::Create),
        allow(Rt::Topic, "ac", LIT, "User:alice", Op::AlterConfigs),
        allow(Rt::Topic, "all", LIT, "User:alice", Op::All),
    ])
    .expect("create");
    for t in ["r", "w", "d", "a", "all"] {
        assert!(a.authorize(&alice(), Op::Describe, Rt::Topic, t), "{t}");
    }
    assert!(!a.authorize(&alice(), Op::Describe, Rt::Topic, "c"));
    assert!(a.authorize(&alice(), Op::DescribeConfigs, Rt::Topic, "ac"));
    assert!(!a.authorize(&alice(), Op::DescribeConfigs, Rt::Topic, "a"));
    assert!(!a.authorize(&alice(), Op::Write, Rt::Topic, "r"));
    for op in [
        Op::Read,
        Op::Write,
        Op::Create,
        Op::Delete,
        Op::AlterConfigs,
    ] {
        assert!(a.authorize(&alice(), op, Rt::Topic, "all"));
    }
}

#[test]
fn super_users_are_allowed_everything() {
    let f = fixture();
    let a = authorizer(&f, &["User:admin", "User:ops"], false);
    a.create_acls(vec![deny(Rt::Topic, "*", LIT, "User:*", Op::All)])
        .expect("create");
    let admin = Session::new("User:admin", "1.2.3.4");
    assert!(a.authorize(&admin, Op::Write, Rt::Topic, "t"));
    assert!(a.authorize_cluster(&admin, Op::Alter));
    assert!(!a.authorize(&alice(), Op::Write, Rt::Topic, "t"));
}

#[test]
fn no_acl_found_default() {
    let f = fixture();
    let closed = authorizer(&f, &[], false);
    assert!(!closed.authorize(&alice(), Op::Read, Rt::Topic, "t"));
    let open = authorizer(&f, &[], true);
    assert!(open.authorize(&alice(), Op::Read, Rt::Topic, "t"));
    // Once a resource has any ACL (for anyone), the default no longer applies.
    open.create_acls(vec![allow(Rt::Topic, "t", LIT, "User:bob", Op::Read)])
        .expect("create");
    assert!(!open.authorize(&alice(), Op::Read, Rt::Topic, "t"));
    assert!(open.authorize(&alice(), Op::Read, Rt::Topic, "u"));
    // A prefixed or wildcard ACL counts as an ACL of the resource too.
    open.create_acls(vec![allow(Rt::Topic, "u", PRE, "User:bob", Op::Read)])
        .expect("create");
    assert!(!open.authorize(&alice(), Op::Read, Rt::Topic, "u1"));
}

#[test]
fn authorize_by_resource_type_for_idempotent_write() {
    let f = fixture();
    let a = authorizer(&f, &[], false);
    assert!(!a.authorize_by_resource_type(&alice(), Op::Write, Rt::Topic));
    a.create_acls(vec![allow(Rt::Topic, "t1", LIT, "User:alice", Op::Write)])
        .expect("create");
    assert!(a.authorize_by_resource_type(&alice(), Op::Write, Rt::Topic));
    assert!(!a.authorize_by_resource_type(&bob(), Op::Write, Rt::Topic));
    // A literal allow dominated by a prefixed deny does not count.
    a.create_acls(vec![deny(Rt::Topic, "t", PRE, "User:alice", Op::Write)])
        .expect("create");
    assert!(!a.authorize_by_resource_type(&alice(), Op::Write, Rt::Topic));
    // A wildcard deny denies every resource.
    a.create_acls(vec![
        allow(Rt::Topic, "x", PRE, "User:bob", Op::Write),
        deny(Rt::Topic, "*", LIT, "User:bob", Op::All),
    ])
    .expect("create");
    assert!(!a.authorize_by_resource_type(&bob(), Op::Write, Rt::Topic));
}

#[test]
fn authorized_operations_bit_field() {
    let f = fixture();
    let a = authorizer(&f, &[], false);
    a.create_acls(vec![allow(Rt::Topic, "t", LIT, "User:alice", Op::Read)])
        .expect("create");
    let bits = a.authorized_operations(&alice(), Rt::Topic, "t");
    assert_eq!(
        bits,
        (1 << 3) | (1 << 8),
        "READ and the DESCRIBE it implies"
    );
    assert_eq!(a.authorized_operations(&bob(), Rt::Topic, "t"), 0);
}

#[test]
fn acls_are_described_and_deleted_by_filter_and_survive_restart() {
    let f = fixture();
    {
        let a = authorizer(&f, &[], false);
        a.create_acls(vec![
            allow(Rt::Topic, "t", LIT, "User:alice", Op::Read),
            allow(Rt::Topic, "t", PRE, "User:alice", Op::Read),
            allow(Rt::Group, "g", LIT, "User:alice", Op::Read),
        ])
        .expect("create");
        let topics = AclFilter {
            resource_type: Some(Rt::Topic),
            ..AclFilter::any()
        };
        assert_eq!(a.acls(&topics).len(), 2);
        let literal_t = AclFilter {
            resource_type: Some(Rt::Topic),
            name: Some("t".into()),
            pattern: PatternFilter::Exactly(LIT),
            ..AclFilter::any()
        };
        let removed = a
            .delete_acls(&[literal_t.clone(), literal_t])
            .expect("delete");
        assert_eq!(removed.len(), 2);
        assert_eq!(removed[0].len(), 1);
        assert_eq!(
            removed[0], removed[1],
            "each filter reports what it matched"
        );
        assert!(!a.authorize(&alice(), Op::Read, Rt::Topic, "x"));
        assert!(
            a.authorize(&alice(), Op::Read, Rt::Topic, "t"),
            "prefixed stays"
        );
    }
    let reopened = Authorizer::open(
        &BTreeMap::from([(
            "authorizer.class.name".to_string(),
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer".to_string(),
        )]),
        f.store.clone(),
    );
    let Ok(Some(a)) = reopened else {
        panic!("authorizer not opened: {reopened:?}")
    };
    assert_eq!(a.acls(&AclFilter::any()).len(), 2);
}

#[test]
fn configuration() {
    let f = fixture();
    let props = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert!(matches!(
        Authorizer::open(&props(&[]), f.store.clone()),
        Ok(None)
    ));
    assert!(
        Authorizer::open(
            &props(&[("authorizer.class.name", "com.example.Custom")]),
            f.store.clone()
        )
        .is_err()
    );
    let a = Authorizer::open(
        &props(&[
            (
                "authorizer.class.name",
                "kafka.security.authorizer.AclAuthorizer",
            ),
            ("super.users", "User:admin; User:CN=ops,O=Acme ;"),
            ("allow.everyone.if.no.acl.found", "true"),
        ]),
        f.store.clone(),
    );
    let Ok(Some(a)) = a else {
        panic!("authorizer not opened")
    };
    assert!(a.is_super_user(&Session::new("User:admin", "h")));
    assert!(a.is_super_user(&Session::new("User:CN=ops,O=Acme", "h")));
    assert!(a.authorize(&alice(), Op::Read, Rt::Topic, "no-acls"));
    assert!(
        Authorizer::open(
            &props(&[
                (
                    "authorizer.class.name",
                    "kafka.security.authorizer.AclAuthorizer"
                ),
                ("super.users", "admin"),
            ]),
            f.store.clone()
        )
        .is_err()
    );
}
