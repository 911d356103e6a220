//! EtcdStore against a real etcd (Debian's etcd-server, /usr/bin/etcd)
//! started on free loopback ports with its own data dir, stopped by PID.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code states expectations by panicking

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strait_metadata::{
    AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType, EtcdError,
    EtcdSettings, EtcdStore, LinkRecord, MetadataError, MetadataStore, MirrorRecord, MirrorState,
    OffsetRecord, PartitionKey, RegistrationError, ScramCredential, TopicRecord,
};

/// One etcd member on 127.0.0.1.
struct Etcd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn etcd_binary() -> PathBuf {
    std::env::var_os("STRAIT_ETCD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/etcd"))
}

impl Etcd {
    fn start() -> Etcd {
        let mut etcd = Etcd {
            child: None,
            dir: tempfile::tempdir().unwrap(),
            client_port: free_port(),
            peer_port: free_port(),
        };
        etcd.launch();
        etcd
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn launch(&mut self) {
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::File::create(self.dir.path().join("etcd.log")).unwrap();
        let child = Command::new(etcd_binary())
            .args(["--name", "t"])
            .arg("--data-dir")
            .arg(data_dir(self.dir.path()))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("t={peer}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start /usr/bin/etcd (Debian package etcd-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.client_port)).is_err() {
            assert!(Instant::now() < deadline, "etcd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// kill -9, by PID.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    fn settings(&self, prefix: &str) -> EtcdSettings {
        EtcdSettings::new(&self.endpoint(), Some(prefix)).unwrap()
    }
}

fn data_dir(root: &Path) -> PathBuf {
    root.join("data")
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn topic(name: &str, partitions: u32) -> TopicRecord {
    TopicRecord {
        name: name.into(),
        id: uuid::Uuid::new_v4(),
        partitions,
        replication_factor: 1,
        configs: BTreeMap::from([("retention.ms".into(), "1000".into())]),
        created_ms: 1,
    }
}

fn offset(o: i64) -> OffsetRecord {
    OffsetRecord {
        offset: o,
        leader_epoch: -1,
        metadata: Some("m".into()),
        commit_ms: 5,
    }
}

fn link(name: &str) -> LinkRecord {
    LinkRecord {
        name: name.into(),
        id: uuid::Uuid::new_v4(),
        source_cluster_id: Some("src".into()),
        configs: BTreeMap::from([("bootstrap.servers".into(), "h:1".into())]),
        created_ms: 1,
    }
}

fn mirror(topic: &str, link: &str) -> MirrorRecord {
    MirrorRecord {
        topic: topic.into(),
        link: link.into(),
        source_topic: topic.into(),
        source_topic_id: None,
        state: MirrorState::Active,
        state_time_ms: 2,
        reason: None,
        last_source_offsets: vec![4, 5],
        local_overrides: vec![],
    }
}

fn acl(name: &str, op: AclOperation) -> AclBinding {
    AclBinding {
        resource_type: AclResourceType::Topic,
        resource_name: name.into(),
        pattern_type: AclPatternType::Literal,
        principal: "User:alice".into(),
        host: "*".into(),
        operation: op,
        permission: AclPermission::Allow,
    }
}

fn cred(n: u8) -> ScramCredential {
    ScramCredential {
        salt: vec![n; 16],
        stored_key: vec![n + 1; 32],
        server_key: vec![n + 2; 32],
        iterations: 4096,
    }
}

/// Polls `done` for up to 10 s.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_kind_of_metadata_is_kept_in_etcd() {
    let etcd = Etcd::start();
    let settings = etcd.settings("/t1");
    let cluster_id;
    {
        let s = EtcdStore::open(&settings, true).unwrap();
        cluster_id = s.cluster_id();
        assert_eq!(cluster_id.len(), 22);
        // Topics.
        s.create_topic(topic("a", 3)).unwrap();
        s.create_topic(topic("b", 1)).unwrap();
        assert!(matches!(
            s.create_topic(topic("a", 1)),
            Err(MetadataError::TopicExists(_))
        ));
        let mut b = s.topic("b").unwrap();
        b.partitions = 4;
        s.update_topic(b).unwrap();
        assert!(matches!(
            s.update_topic(topic("nope", 1)),
            Err(MetadataError::UnknownTopic(_))
        ));
        // Configs.
        s.set_broker_configs(BTreeMap::from([("log.retention.ms".into(), "5".into())]))
            .unwrap();
        // Group offsets and state.
        s.commit_offsets(
            "g",
            vec![
                (PartitionKey::new("a", 0), offset(10)),
                (PartitionKey::new("b", 1), offset(7)),
            ],
        )
        .unwrap();
        s.commit_offsets("g", vec![(PartitionKey::new("b", 2), offset(8))])
            .unwrap();
        s.commit_offsets("h", vec![(PartitionKey::new("b", 0), offset(1))])
            .unwrap();
        s.delete_offsets("h", &[PartitionKey::new("b", 0)]).unwrap();
        s.set_group_state("g", Some(b"state".to_vec())).unwrap();
        s.set_group_state("only-state", Some(b"x".to_vec()))
            .unwrap();
        s.commit_offsets("gone", vec![(PartitionKey::new("a", 1), offset(1))])
            .unwrap();
        s.delete_group("gone").unwrap();
        // Transactions.
        s.set_txn_state("app/1", Some(b"one".to_vec())).unwrap();
        s.set_txn_state("x", Some(b"two".to_vec())).unwrap();
        s.set_txn_state("x", None).unwrap();
        // SCRAM.
        s.set_scram_credential("alice", "SCRAM-SHA-256", Some(cred(1)))
            .unwrap();
        s.set_scram_credential("alice", "SCRAM-SHA-512", Some(cred(2)))
            .unwrap();
        s.set_scram_credential("bob", "SCRAM-SHA-256", Some(cred(3)))
            .unwrap();
        s.set_scram_credential("bob", "SCRAM-SHA-256", None)
            .unwrap();
        // Producer ids.
        assert_eq!(s.allocate_producer_ids(1000).unwrap(), 0);
        assert_eq!(s.allocate_producer_ids(1000).unwrap(), 1000);
        // Links and mirrors.
        assert!(matches!(
            s.create_mirror_topic(topic("m", 2), mirror("m", "l")),
            Err(MetadataError::UnknownLink(_))
        ));
        s.create_link(link("l")).unwrap();
        assert!(matches!(
            s.create_link(link("l")),
            Err(MetadataError::LinkExists(_))
        ));
        s.create_mirror_topic(topic("m", 2), mirror("m", "l"))
            .unwrap();
        let mut l = s.link("l").unwrap();
        l.configs.insert("k".into(), "v".into());
        s.update_link(l).unwrap();
        s.create_link(link("l2")).unwrap();
        s.create_topic(topic("m2", 1)).unwrap();
        s.put_mirror(mirror("m2", "l2")).unwrap();
        // ACLs.
        s.create_acls(vec![
            acl("a", AclOperation::Read),
            acl("a", AclOperation::Write),
        ])
        .unwrap();
        s.create_acls(vec![
            acl("a", AclOperation::Read),
            acl("b", AclOperation::Read),
        ])
        .unwrap();
        assert_eq!(s.acls().len(), 3);
    }
    // A new store instance on the same prefix reads it all back from etcd.
    let s = EtcdStore::open(&settings, false).unwrap();
    assert_eq!(s.cluster_id(), cluster_id);
    let names: Vec<String> = s.topics().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["a", "b", "m", "m2"]);
    assert_eq!(s.topic("b").unwrap().partitions, 4);
    assert_eq!(s.broker_configs()["log.retention.ms"], "5");
    let g = s.group_offsets("g");
    assert_eq!(g.len(), 3);
    assert_eq!(g[&PartitionKey::new("b", 2)], offset(8));
    assert!(s.group_offsets("h").is_empty());
    assert_eq!(s.groups(), ["g", "only-state"]);
    assert_eq!(s.group_state("g").unwrap(), b"state");
    assert_eq!(s.txn_states(), vec![("app/1".to_string(), b"one".to_vec())]);
    assert!(s.txn_state("x").is_none());
    assert_eq!(s.scram_users(), ["alice"]);
    assert_eq!(s.scram_credentials("alice")["SCRAM-SHA-512"], cred(2));
    assert_eq!(s.allocate_producer_ids(10).unwrap(), 2000);
    assert_eq!(s.link("l").unwrap().configs["k"], "v");
    assert_eq!(s.links().len(), 2);
    assert_eq!(s.mirror("m").unwrap(), mirror("m", "l"));
    assert_eq!(s.mirrors().len(), 2);
    assert_eq!(s.acls().len(), 3);

    // Cascades: a deleted topic takes its offsets and mirror record; a
    // deleted link takes its mirrors' records, not their topics.
    s.delete_topic("a").unwrap();
    assert!(matches!(
        s.delete_topic("a"),
        Err(MetadataError::UnknownTopic(_))
    ));
    assert_eq!(s.group_offsets("g").len(), 2);
    s.delete_link("l").unwrap();
    assert!(s.mirror("m").is_none() && s.topic("m").is_some());
    assert!(matches!(
        s.delete_link("l"),
        Err(MetadataError::UnknownLink(_))
    ));
    let gone = s.delete_acls(&|a| a.resource_name == "a").unwrap();
    assert_eq!(gone.len(), 2);
    drop(s);
    let s = EtcdStore::open(&settings, false).unwrap();
    assert!(s.topic("a").is_none());
    assert_eq!(s.group_offsets("g").len(), 2);
    assert_eq!(s.mirrors().len(), 1);
    assert_eq!(s.acls(), vec![acl("b", AclOperation::Read)]);
}

#[test]
fn an_empty_prefix_is_refused_unless_a_cluster_may_be_created() {
    let etcd = Etcd::start();
    let e = EtcdStore::open(&etcd.settings("/empty"), false)
        .err()
        .unwrap();
    assert!(matches!(e, EtcdError::NoCluster { .. }), "{e}");
    // Two prefixes are two clusters.
    let a = EtcdStore::open(&etcd.settings("/a"), true).unwrap();
    let b = EtcdStore::open(&etcd.settings("/b"), true).unwrap();
    assert_ne!(a.cluster_id(), b.cluster_id());
    // "/a" and "/ab" do not overlap.
    let ab = EtcdStore::open(&etcd.settings("/ab"), true).unwrap();
    a.create_topic(topic("t", 1)).unwrap();
    ab.create_topic(topic("t", 1)).unwrap();
}

#[test]
fn unreachable_etcd_fails_open_within_a_few_seconds() {
    let port = free_port();
    let settings = EtcdSettings::new(&format!("http://127.0.0.1:{port}"), None).unwrap();
    let started = Instant::now();
    let e = EtcdStore::open(&settings, true).err().unwrap();
    assert!(matches!(e, EtcdError::Unreachable(_)), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(e.to_string().contains(&port.to_string()), "{e}");
}

#[test]
fn settings_are_checked() {
    assert!(EtcdSettings::new("127.0.0.1:2379", None).is_err());
    assert!(EtcdSettings::new("https://127.0.0.1:2379", None).is_err());
    assert!(EtcdSettings::new("http://127.0.0.1:x", None).is_err());
    assert!(EtcdSettings::new("", None).is_err());
    assert!(EtcdSettings::new("http://h:1", Some("strait")).is_err());
    assert!(EtcdSettings::new("http://h:1", Some("/")).is_err());
    let s = EtcdSettings::new("http://a:1, http://b:2/", Some("/x/")).unwrap();
    assert_eq!(s.endpoints, ["http://a:1", "http://b:2"]);
    assert_eq!(s.prefix, "/x");
    assert_eq!(
        EtcdSettings::new("http://a:1", None).unwrap().prefix,
        "/strait"
    );
}

#[test]
fn racing_stores_create_each_name_once_and_never_share_producer_ids() {
    let etcd = Etcd::start();
    let settings = etcd.settings("/race");
    let a = Arc::new(EtcdStore::open(&settings, true).unwrap());
    let b = Arc::new(EtcdStore::open(&settings, true).unwrap());
    assert_eq!(a.cluster_id(), b.cluster_id(), "one cluster id per prefix");
    let mut handles = Vec::new();
    for (i, store) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        handles.push(std::thread::spawn(move || {
            let mut won = (0, 0);
            let mut blocks = Vec::new();
            for n in 0..10 {
                if store.create_topic(topic(&format!("t{n}"), 1)).is_ok() {
                    won.0 += 1;
                }
                match store.create_link(link(&format!("l{n}"))) {
                    Ok(()) => won.1 += 1,
                    Err(MetadataError::LinkExists(_)) => {}
                    Err(e) => panic!("{e}"),
                }
                blocks.push(store.allocate_producer_ids(100 + i as i64).unwrap());
            }
            (won, blocks, i as i64)
        }));
    }
    let mut topics_won = 0;
    let mut links_won = 0;
    let mut blocks = Vec::new();
    for h in handles {
        let ((t, l), firsts, i) = h.join().unwrap();
        topics_won += t;
        links_won += l;
        blocks.extend(firsts.into_iter().map(|f| (f, f + 100 + i)));
    }
    assert_eq!(topics_won, 10, "each topic created exactly once");
    assert_eq!(links_won, 10, "each link created exactly once");
    blocks.sort();
    for pair in blocks.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping blocks {pair:?}");
    }
    eventually("both stores to agree", || {
        a.topics().len() == 10 && b.topics().len() == 10 && b.links().len() == 10
    });
}

#[test]
fn a_second_store_follows_changes_through_the_watch() {
    let etcd = Etcd::start();
    let settings = etcd.settings("/watch");
    let a = EtcdStore::open(&settings, true).unwrap();
    let b = EtcdStore::open(&settings, false).unwrap();
    a.create_topic(topic("w", 2)).unwrap();
    a.commit_offsets("g", vec![(PartitionKey::new("w", 0), offset(3))])
        .unwrap();
    a.create_acls(vec![acl("w", AclOperation::Read)]).unwrap();
    eventually("b to see a's topic, offsets and ACL", || {
        b.topic("w").is_some() && b.group_offsets("g").len() == 1 && b.acls().len() == 1
    });
    a.delete_topic("w").unwrap();
    eventually("b to see the deletion", || {
        b.topic("w").is_none() && b.group_offsets("g").is_empty()
    });
    // b computes from what it followed: its read-modify-write keeps a's change.
    a.commit_offsets("h", vec![(PartitionKey::new("x", 0), offset(1))])
        .unwrap();
    b.commit_offsets("h", vec![(PartitionKey::new("x", 1), offset(2))])
        .unwrap();
    assert_eq!(b.group_offsets("h").len(), 2);
    eventually("a to see b's merge", || a.group_offsets("h").len() == 2);
}

#[test]
fn writes_fail_while_etcd_is_down_and_work_again_after_a_restart() {
    let mut etcd = Etcd::start();
    let settings = etcd.settings("/restart");
    let a = EtcdStore::open(&settings, true).unwrap();
    let b = EtcdStore::open(&settings, false).unwrap();
    a.create_topic(topic("before", 1)).unwrap();
    eventually("b to follow", || b.topic("before").is_some());

    etcd.kill();
    // Reads keep being served from the local copy.
    assert!(a.topic("before").is_some() && b.topic("before").is_some());
    let started = Instant::now();
    let e = a.create_topic(topic("during", 1)).unwrap_err();
    assert!(matches!(e, MetadataError::Unavailable(_)), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(e.to_string().contains(&etcd.endpoint()), "{e}");

    etcd.launch();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match a.create_topic(topic("after", 1)) {
            Ok(()) => break,
            Err(MetadataError::Unavailable(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            Err(e) => panic!("{e}"),
        }
    }
    // The watch of the other store reconnected too.
    eventually("b to follow after the restart", || {
        b.topic("after").is_some()
    });
    assert!(b.topic("during").is_none());
    // And a restarted etcd kept what it had acknowledged.
    etcd.restart();
    let c = EtcdStore::open(&settings, false).unwrap();
    assert!(c.topic("before").is_some() && c.topic("after").is_some());
}

#[test]
fn broker_registration_is_exclusive_and_comes_back_after_losing_its_lease() {
    let etcd = Etcd::start();
    let settings = etcd.settings("/reg");
    let a = EtcdStore::open(&settings, true).unwrap();
    let b = EtcdStore::open(&settings, false).unwrap();
    let listeners = vec!["PLAINTEXT://127.0.0.1:9092".to_string()];
    let reg = a.register_broker(1, &listeners).unwrap();
    assert_eq!(reg.key(), "/reg/brokers/1");

    // The same node id, and another node id, are refused while it lives
    // (after waiting out the lease TTL in case it were a dead broker's).
    let started = Instant::now();
    let e = b.register_broker(1, &listeners).err().unwrap();
    assert!(matches!(e, RegistrationError::NodeIdTaken { .. }), "{e}");
    assert!(e.to_string().contains("127.0.0.1:9092"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let e = b.register_broker(2, &listeners).err().unwrap();
    assert!(matches!(e, RegistrationError::PrefixTaken { .. }), "{e}");
    assert!(
        e.to_string().contains("one broker per metadata prefix"),
        "{e}"
    );

    // Revoking the lease from outside: the broker registers again.
    let endpoint = etcd.endpoint();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key_lease = |rt: &tokio::runtime::Runtime| {
        let endpoint = endpoint.clone();
        rt.block_on(async move {
            let mut c = etcd_client::Client::connect([endpoint], None)
                .await
                .unwrap();
            let got = c.get("/reg/brokers/1", None).await.unwrap();
            got.kvs().first().map(|kv| kv.lease())
        })
    };
    let first = key_lease(&rt).unwrap();
    let revoke = |rt: &tokio::runtime::Runtime, lease: i64| {
        let endpoint = endpoint.clone();
        rt.block_on(async move {
            let mut c = etcd_client::Client::connect([endpoint], None)
                .await
                .unwrap();
            c.lease_revoke(lease).await.unwrap();
        })
    };
    revoke(&rt, first);
    eventually("the registration to come back under a new lease", || {
        key_lease(&rt).is_some_and(|l| l != first)
    });

    // Revoked again, and another broker takes the node id first: fenced.
    let second = key_lease(&rt).unwrap();
    revoke(&rt, second);
    let taker = b.register_broker(1, &listeners).unwrap();
    let reason = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), reg.fenced())
            .await
            .expect("fenced")
    });
    assert!(reason.contains("node.id 1"), "{reason}");

    // Deregistering frees the prefix at once.
    taker.deregister().unwrap();
    let c = a.register_broker(3, &listeners).unwrap();
    c.deregister().unwrap();
}

#[test]
fn a_registration_survives_an_etcd_restart() {
    let mut etcd = Etcd::start();
    let settings = etcd.settings("/reg2");
    let a = EtcdStore::open(&settings, true).unwrap();
    let reg = a
        .register_broker(1, &["PLAINTEXT://127.0.0.1:1".to_string()])
        .unwrap();
    etcd.restart();
    std::thread::sleep(Duration::from_secs(8));
    // Still registered: another broker is refused.
    let b = EtcdStore::open(&settings, false).unwrap();
    let e = b
        .register_broker(1, &["PLAINTEXT://127.0.0.1:2".to_string()])
        .err()
        .unwrap();
    assert!(matches!(e, RegistrationError::NodeIdTaken { .. }), "{e}");
    drop(reg);
}

#[test]
fn a_request_etcd_refuses_is_a_storage_error_not_unavailable() {
    let etcd = Etcd::start();
    let s = EtcdStore::open(&etcd.settings("/big"), true).unwrap();
    // etcd refuses requests over --max-request-bytes (1.5 MiB by default):
    // retrying would not help, so it is not reported as etcd being down.
    let mut t = topic("big", 1);
    t.configs.insert("x".into(), "v".repeat(1_800_000));
    let e = s.create_topic(t).unwrap_err();
    assert!(matches!(e, MetadataError::Storage(_)), "{e}");
    assert!(e.to_string().contains("request is too large"), "{e}");
    assert!(s.topic("big").is_none());
    s.create_topic(topic("small", 1)).unwrap();
}

#[test]
fn deletions_cascading_over_many_keys_fit_etcd_transaction_limits() {
    let etcd = Etcd::start();
    let s = EtcdStore::open(&etcd.settings("/many"), true).unwrap();
    // etcd caps a transaction at 128 operations: 250 groups' offsets and
    // 250 mirrors go in batches, the topic and the link last.
    s.create_topic(topic("t", 1)).unwrap();
    s.create_topic(topic("kept", 1)).unwrap();
    for g in 0..250 {
        s.commit_offsets(
            &format!("g{g}"),
            vec![
                (PartitionKey::new("t", 0), offset(g)),
                (PartitionKey::new("kept", 0), offset(g)),
            ],
        )
        .unwrap();
    }
    s.delete_topic("t").unwrap();
    assert!(s.topic("t").is_none());
    assert_eq!(s.groups().len(), 250);
    assert!(s.groups().iter().all(|g| s.group_offsets(g).len() == 1));

    s.create_link(link("l")).unwrap();
    for m in 0..250 {
        let name = format!("m{m}");
        s.create_mirror_topic(topic(&name, 1), mirror(&name, "l"))
            .unwrap();
    }
    s.delete_link("l").unwrap();
    assert!(s.link("l").is_none() && s.mirrors().is_empty());
    let reopened = EtcdStore::open(&etcd.settings("/many"), false).unwrap();
    assert!(reopened.mirrors().is_empty() && reopened.topic("m249").is_some());
    assert_eq!(reopened.group_offsets("g7").len(), 1);
}
