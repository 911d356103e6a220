//! The link engine keeps sensitive link configs sealed in the metadata store:
//! on create, on alter, and for links stored in clear before sealing existed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use strait_client::admin::acls::AclBindingFilter;
use strait_log::LogError;
use strait_metadata::{
    AclBinding, EmbeddedStore, LinkRecord, MetadataStore, OffsetRecord, PartitionKey, TopicRecord,
};
use strait_protocol::admin::{AlterClusterLinkConfigsRequest, CreateClusterLinkRequest};

use crate::local::{BoxFuture, LocalAclError, LocalCluster, LocalClusterError};
use crate::secrets::{LinkSecretKey, is_sealed};
use crate::{LinkEngine, config};

const PASSWORD: &str = "pa55-w0rd-at-rest";

/// A cluster with a metadata store and nothing else.
pub(super) struct StoreOnly(pub(super) Arc<dyn MetadataStore>);

impl LocalCluster for StoreOnly {
    fn cluster_id(&self) -> String {
        "local".into()
    }
    fn store(&self) -> Arc<dyn MetadataStore> {
        self.0.clone()
    }
    fn default_replication_factor(&self) -> i16 {
        1
    }
    fn open_topic(&self, _: &TopicRecord) -> Result<(), LocalClusterError> {
        Err(LocalClusterError::Log(LogError::Closed))
    }
    fn grow_topic(&self, _: &TopicRecord) -> Result<(), LocalClusterError> {
        Err(LocalClusterError::Log(LogError::Closed))
    }
    fn reconfigure_topic(&self, _: &TopicRecord) {}
    fn log_end_offset(&self, _: &str, _: i32) -> Option<i64> {
        None
    }
    fn log_start_offset(&self, _: &str, _: i32) -> Option<i64> {
        None
    }
    fn stored_batches(
        &self,
        _: &str,
        _: i32,
        _: i64,
        _: i64,
    ) -> Result<Vec<strait_log::StoredBatch>, LogError> {
        Err(LogError::Closed)
    }
    fn mirror_append(&self, _: &str, _: i32, _: &[u8]) -> Result<i64, LogError> {
        Err(LogError::Closed)
    }
    fn validate_topic_configs(
        &self,
        _: &BTreeMap<String, String>,
    ) -> Result<(), LocalClusterError> {
        Ok(())
    }
    fn commit_offsets_if_inactive(
        &self,
        _: String,
        _: Vec<(PartitionKey, OffsetRecord)>,
    ) -> BoxFuture<Result<bool, LocalClusterError>> {
        Box::pin(async { Ok(false) })
    }
    fn advance_log_start(&self, _: &str, _: i32, _: i64) -> Result<(), LogError> {
        Err(LogError::Closed)
    }
    fn reset_empty_to(&self, _: &str, _: i32, _: i64) -> Result<(), LogError> {
        Err(LogError::Closed)
    }
    fn acls(&self, _: &[AclBindingFilter]) -> Result<Vec<AclBinding>, LocalAclError> {
        Err(LocalAclError::NoAuthorizer)
    }
    fn create_acls(&self, _: Vec<AclBinding>) -> Result<(), LocalAclError> {
        Err(LocalAclError::NoAuthorizer)
    }
    fn delete_acls(&self, _: &[AclBinding]) -> Result<usize, LocalAclError> {
        Err(LocalAclError::NoAuthorizer)
    }
}

pub(super) fn key() -> Arc<LinkSecretKey> {
    Arc::new(LinkSecretKey::from_bytes(&[42u8; 32]).unwrap())
}

fn file_holds(path: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn jaas(password: &str) -> String {
    format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"link\" password=\"{password}\";"
    )
}

#[tokio::test]
async fn created_and_altered_links_store_no_password_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.redb");
    let store: Arc<dyn MetadataStore> = Arc::new(EmbeddedStore::open(&path).unwrap());
    let engine = LinkEngine::start(Arc::new(StoreOnly(store.clone())), key());
    let configs: BTreeMap<String, String> = [
        ("bootstrap.servers", "127.0.0.1:1".to_string()),
        ("security.protocol", "SASL_PLAINTEXT".to_string()),
        ("sasl.mechanism", "PLAIN".to_string()),
        ("sasl.jaas.config", jaas(PASSWORD)),
        ("ssl.key.password", format!("{PASSWORD}-key")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let error = engine
        .create_link(CreateClusterLinkRequest {
            link_name: "l".into(),
            cluster_id: Some("source".into()),
            configs: configs.clone(),
            validate_only: false,
            validate_link: false,
        })
        .await;
    assert!(error.error_message.is_none(), "{error:?}");
    let stored = store.link("l").unwrap();
    assert!(is_sealed(&stored.configs["sasl.jaas.config"]));
    assert!(is_sealed(&stored.configs["ssl.key.password"]));
    assert_eq!(stored.configs["bootstrap.servers"], "127.0.0.1:1");
    assert!(!format!("{stored:?}").contains(PASSWORD));
    assert!(
        !file_holds(&path, PASSWORD),
        "the redb file holds the password"
    );
    // The engine opens them again for the client, and only there.
    assert_eq!(key().open_all(&stored.configs).unwrap(), configs);
    // Describe withholds them.
    let described =
        engine.describe_link_configs(strait_protocol::admin::DescribeClusterLinkConfigsRequest {
            link_name: "l".into(),
        });
    let jaas_entry = described
        .configs
        .iter()
        .find(|c| c.name == "sasl.jaas.config")
        .unwrap();
    assert_eq!(
        (jaas_entry.value.as_deref(), jaas_entry.sensitive),
        (None, true)
    );

    let new_password = "n3w-pa55-after-alter";
    let error = engine
        .alter_link_configs(AlterClusterLinkConfigsRequest {
            link_name: "l".into(),
            set: [("sasl.jaas.config".to_string(), jaas(new_password))].into(),
            delete: vec![],
            validate_only: false,
        })
        .await;
    assert!(error.error_message.is_none(), "{error:?}");
    let stored = store.link("l").unwrap();
    assert!(is_sealed(&stored.configs["sasl.jaas.config"]));
    assert_eq!(
        key()
            .open("sasl.jaas.config", &stored.configs["sasl.jaas.config"])
            .unwrap(),
        jaas(new_password)
    );
    assert!(!file_holds(&path, new_password));
}

#[tokio::test]
async fn links_stored_in_clear_load_and_get_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.redb");
    let store: Arc<dyn MetadataStore> = Arc::new(EmbeddedStore::open(&path).unwrap());
    let configs: BTreeMap<String, String> = [
        ("bootstrap.servers".to_string(), "127.0.0.1:1".to_string()),
        ("sasl.jaas.config".to_string(), jaas(PASSWORD)),
    ]
    .into();
    store
        .create_link(LinkRecord {
            name: "old".into(),
            id: uuid::Uuid::new_v4(),
            source_cluster_id: Some("source".into()),
            configs: configs.clone(),
            created_ms: 0,
        })
        .unwrap();
    let engine = LinkEngine::start(Arc::new(StoreOnly(store.clone())), key());
    let stored = store.link("old").unwrap();
    assert!(is_sealed(&stored.configs["sasl.jaas.config"]));
    assert_eq!(key().open_all(&stored.configs).unwrap(), configs);
    // Still described as a set, sensitive config.
    let described = config::describe(&stored.configs);
    assert!(
        described
            .iter()
            .any(|(k, v, sensitive, set)| k == "sasl.jaas.config"
                && v.is_none()
                && *sensitive
                && *set)
    );
    drop(engine);
}

#[tokio::test]
async fn acl_sync_conflicts_are_refused_at_create_and_alter() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MetadataStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("meta.redb")).unwrap());
    let engine = LinkEngine::start(Arc::new(StoreOnly(store.clone())), key());
    let filters = r#"{"aclFilters":[{"resourceFilter":{"resourceType":"any","patternType":"any"},"accessFilter":{"operation":"any","permissionType":"any"}}]}"#;
    let create = |pairs: &[(&str, &str)]| CreateClusterLinkRequest {
        link_name: "l".into(),
        cluster_id: Some("source".into()),
        configs: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        validate_only: false,
        validate_link: false,
    };
    let refused = engine
        .create_link(create(&[
            ("bootstrap.servers", "127.0.0.1:1"),
            ("acl.sync.enable", "true"),
        ]))
        .await;
    assert_eq!(
        refused.error_message.as_deref(),
        Some(config::ACL_SYNC_WITHOUT_FILTERS)
    );
    let refused = engine
        .create_link(create(&[
            ("bootstrap.servers", "127.0.0.1:1"),
            ("acl.sync.enable", "true"),
            ("acl.filters", filters),
            ("cluster.link.prefix", "west."),
        ]))
        .await;
    assert_eq!(
        refused.error_message.as_deref(),
        Some(config::ACL_SYNC_WITH_PREFIX)
    );
    let created = engine
        .create_link(create(&[
            ("bootstrap.servers", "127.0.0.1:1"),
            ("cluster.link.prefix", "west."),
        ]))
        .await;
    assert!(created.error_message.is_none(), "{created:?}");
    let refused = engine
        .alter_link_configs(AlterClusterLinkConfigsRequest {
            link_name: "l".into(),
            set: [
                ("acl.sync.enable".to_string(), "true".to_string()),
                ("acl.filters".to_string(), filters.to_string()),
            ]
            .into(),
            delete: vec![],
            validate_only: false,
        })
        .await;
    assert_eq!(
        refused.error_message.as_deref(),
        Some(config::ACL_SYNC_WITH_PREFIX)
    );
    assert!(
        !store
            .link("l")
            .unwrap()
            .configs
            .contains_key("acl.sync.enable")
    );
}
