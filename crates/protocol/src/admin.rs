//! Strait's own admin messages for cluster links and mirror topics.
//!
//! Apache Kafka has no wire messages for links, so Strait defines its own API
//! keys above Kafka's range. A request is a Kafka v1 request header (api key,
//! version, correlation id, client id) followed by a JSON document; a response
//! is the correlation id followed by a JSON document. Every response carries a
//! Kafka error code and message. This module owns those shapes and their
//! encoding; it must never decide what a request does.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The admin APIs, by key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
pub enum AdminApi {
    CreateClusterLink = 32001,
    ListClusterLinks = 32002,
    DeleteClusterLink = 32003,
    DescribeClusterLinkConfigs = 32004,
    AlterClusterLinkConfigs = 32005,
    CreateMirrorTopic = 32006,
    ListMirrors = 32007,
    DescribeMirrors = 32008,
    AlterMirrors = 32009,
    VerifyMirrors = 32010,
}

impl AdminApi {
    pub const ALL: [AdminApi; 10] = [
        AdminApi::CreateClusterLink,
        AdminApi::ListClusterLinks,
        AdminApi::DeleteClusterLink,
        AdminApi::DescribeClusterLinkConfigs,
        AdminApi::AlterClusterLinkConfigs,
        AdminApi::CreateMirrorTopic,
        AdminApi::ListMirrors,
        AdminApi::DescribeMirrors,
        AdminApi::AlterMirrors,
        AdminApi::VerifyMirrors,
    ];

    pub fn from_key(key: i16) -> Option<AdminApi> {
        Self::ALL.into_iter().find(|a| *a as i16 == key)
    }

    /// Only version 0 exists so far.
    pub const MAX_VERSION: i16 = 0;
}

/// Confluent's error codes for cluster links, used so that tools written for
/// Confluent decode them the same way.
pub const CLUSTER_LINK_NOT_FOUND: i16 = 10000;
pub const CLUSTER_LINK_EXISTS: i16 = 10001;
pub const CLUSTER_LINK_IN_USE: i16 = 10002;
pub const INVALID_CLUSTER_LINK: i16 = 10003;
pub const CLUSTER_LINK_PAUSED: i16 = 10011;

/// The error part of every admin response: a Kafka error code (0 = none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminError {
    pub error_code: i16,
    #[serde(default)]
    pub error_message: Option<String>,
}

impl AdminError {
    pub fn none() -> Self {
        Self::default()
    }
    pub fn new(code: i16, message: impl Into<String>) -> Self {
        AdminError {
            error_code: code,
            error_message: Some(message.into()),
        }
    }
    pub fn is_error(&self) -> bool {
        self.error_code != 0
    }
}

/// `Debug` shows config names only: values may be passwords.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateClusterLinkRequest {
    pub link_name: String,
    #[serde(default)]
    pub cluster_id: Option<String>,
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
    #[serde(default)]
    pub validate_only: bool,
    /// Whether to check that the source is reachable (false with --exclude-validate-link).
    #[serde(default = "yes")]
    pub validate_link: bool,
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for CreateClusterLinkRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateClusterLinkRequest")
            .field("link_name", &self.link_name)
            .field("cluster_id", &self.cluster_id)
            .field("config_names", &self.configs.keys().collect::<Vec<_>>())
            .field("validate_only", &self.validate_only)
            .field("validate_link", &self.validate_link)
            .finish()
    }
}

impl std::fmt::Debug for AlterClusterLinkConfigsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlterClusterLinkConfigsRequest")
            .field("link_name", &self.link_name)
            .field("set_names", &self.set.keys().collect::<Vec<_>>())
            .field("delete", &self.delete)
            .field("validate_only", &self.validate_only)
            .finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListClusterLinksRequest {
    #[serde(default)]
    pub link_name: Option<String>,
    #[serde(default)]
    pub include_topics: bool,
}

/// Status of one of a link's background tasks (config sync, offset sync, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkTaskStatus {
    pub task: String,
    pub state: String,
    #[serde(default)]
    pub last_success_ms: Option<i64>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub last_error_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterLinkListing {
    pub link_name: String,
    pub link_id: String,
    #[serde(default)]
    pub remote_cluster_id: Option<String>,
    pub local_cluster_id: String,
    pub remote_cluster_available: bool,
    pub link_state: String,
    #[serde(default)]
    pub link_error: Option<String>,
    #[serde(default)]
    pub topics: Option<Vec<String>>,
    #[serde(default)]
    pub tasks: Vec<LinkTaskStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListClusterLinksResponse {
    #[serde(flatten)]
    pub error: AdminError,
    #[serde(default)]
    pub links: Vec<ClusterLinkListing>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteClusterLinkRequest {
    pub link_name: String,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub validate_only: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeClusterLinkConfigsRequest {
    pub link_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkConfigEntry {
    pub name: String,
    /// None for sensitive values: they are never sent back.
    pub value: Option<String>,
    pub sensitive: bool,
    pub read_only: bool,
    /// DYNAMIC_CLUSTER_LINK_CONFIG or DEFAULT_CONFIG.
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeClusterLinkConfigsResponse {
    #[serde(flatten)]
    pub error: AdminError,
    #[serde(default)]
    pub configs: Vec<LinkConfigEntry>,
}

/// `Debug` shows config names only: values may be passwords.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterClusterLinkConfigsRequest {
    pub link_name: String,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub delete: Vec<String>,
    #[serde(default)]
    pub validate_only: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateMirrorTopicRequest {
    pub mirror_topic: String,
    pub link_name: String,
    #[serde(default)]
    pub source_topic: Option<String>,
    #[serde(default)]
    pub replication_factor: Option<i16>,
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
    #[serde(default)]
    pub validate_only: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMirrorsRequest {
    #[serde(default)]
    pub link_name: Option<String>,
    #[serde(default)]
    pub include_stopped: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMirrorsResponse {
    #[serde(flatten)]
    pub error: AdminError,
    #[serde(default)]
    pub topics: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeMirrorsRequest {
    #[serde(default)]
    pub link_name: Option<String>,
    /// None = every mirror (of the link, if given).
    #[serde(default)]
    pub topics: Option<Vec<String>>,
    #[serde(default)]
    pub include_stopped: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorPartitionDescription {
    pub partition: i32,
    pub state: String,
    pub dest_log_end_offset: i64,
    pub last_fetch_source_high_watermark: i64,
    pub lag: i64,
    pub time_since_last_fetch_ms: i64,
    /// Continuous verification's last run, present only when the mirror's
    /// link sets `mirror.verification.interval.ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<MirrorPartitionVerificationStatus>,
}

/// A mirror partition's last continuous verification run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorPartitionVerificationStatus {
    /// The last offset found equal to the source (-1: none yet).
    pub last_verified_offset: i64,
    /// `PENDING` (no run yet), `OK`, `MISMATCH` or `ERROR`.
    pub result: String,
    #[serde(default)]
    pub first_different_offset: Option<i64>,
    /// Why it mismatched or could not compare.
    #[serde(default)]
    pub reason: Option<String>,
    /// Wall-clock ms of the last run (0: none yet).
    pub verified_time_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorDescription {
    pub mirror_topic: String,
    pub source_topic: String,
    pub link_name: String,
    pub link_id: String,
    pub state: String,
    pub state_time_ms: i64,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub partitions: Vec<MirrorPartitionDescription>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeMirrorsResponse {
    #[serde(flatten)]
    pub error: AdminError,
    #[serde(default)]
    pub mirrors: Vec<MirrorDescription>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MirrorOp {
    Pause,
    Unpause,
    Promote,
    Failover,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterMirrorsRequest {
    pub op: MirrorOp,
    pub topics: Vec<String>,
    #[serde(default)]
    pub validate_only: bool,
    /// When set, every topic must be a mirror of this link (the REST API
    /// names the link in its path).
    #[serde(default)]
    pub link_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorOpResult {
    pub topic: String,
    #[serde(flatten)]
    pub error: AdminError,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterMirrorsResponse {
    #[serde(flatten)]
    pub error: AdminError,
    #[serde(default)]
    pub results: Vec<MirrorOpResult>,
}

/// Compares mirror partitions with their source, batch by batch, over the
/// offsets both hold (Strait's own; no peer has it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyMirrorsRequest {
    pub topics: Vec<String>,
    /// When set, every topic must be a mirror of this link.
    #[serde(default)]
    pub link_name: Option<String>,
}

/// The outcome of verifying one mirror partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VerifyResult {
    /// Every batch of the range is the source's: same offsets, record
    /// count and CRC, and the mirror's bytes match that CRC.
    Ok,
    /// Some batch differs; `first_different_offset` says where.
    Mismatch,
}

impl VerifyResult {
    /// The name on the wire, in tool output and in REST: `OK`, `MISMATCH`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyResult::Ok => "OK",
            VerifyResult::Mismatch => "MISMATCH",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorPartitionVerification {
    pub topic: String,
    pub partition: i32,
    /// The offsets compared, `[verified_from, verified_to)`; empty when both
    /// are equal (the two sides hold no offset in common).
    pub verified_from: i64,
    pub verified_to: i64,
    /// Batches found equal.
    pub batches: u64,
    pub result: VerifyResult,
    #[serde(default)]
    pub first_different_offset: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyMirrorsResponse {
    #[serde(flatten)]
    pub error: AdminError,
    #[serde(default)]
    pub partitions: Vec<MirrorPartitionVerification>,
}

/// Responses that carry nothing but the error.
pub type EmptyResponse = AdminError;

/// A decoded admin request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRequest {
    CreateClusterLink(CreateClusterLinkRequest),
    ListClusterLinks(ListClusterLinksRequest),
    DeleteClusterLink(DeleteClusterLinkRequest),
    DescribeClusterLinkConfigs(DescribeClusterLinkConfigsRequest),
    AlterClusterLinkConfigs(AlterClusterLinkConfigsRequest),
    CreateMirrorTopic(CreateMirrorTopicRequest),
    ListMirrors(ListMirrorsRequest),
    DescribeMirrors(DescribeMirrorsRequest),
    AlterMirrors(AlterMirrorsRequest),
    VerifyMirrors(VerifyMirrorsRequest),
}

/// An admin request with its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminFrame {
    pub api: AdminApi,
    pub version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    pub request: AdminRequest,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminCodecError {
    #[error("admin frame is truncated")]
    Truncated,
    #[error("unknown admin api key {0}")]
    UnknownApi(i16),
    #[error("admin api {api:?} version {version} is not supported")]
    UnsupportedVersion {
        api: AdminApi,
        version: i16,
        correlation_id: i32,
    },
    #[error("malformed admin request body: {0}")]
    Body(String),
}

/// Whether a raw api key belongs to the admin range.
pub fn is_admin_key(key: i16) -> bool {
    AdminApi::from_key(key).is_some()
}

fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AdminCodecError> {
    serde_json::from_slice(bytes).map_err(|e| AdminCodecError::Body(e.to_string()))
}

/// Decodes an admin request frame (header + JSON body).
pub fn decode_admin_request(frame: Bytes) -> Result<AdminFrame, AdminCodecError> {
    let mut buf = frame;
    if buf.remaining() < 10 {
        return Err(AdminCodecError::Truncated);
    }
    let key = buf.get_i16();
    let version = buf.get_i16();
    let correlation_id = buf.get_i32();
    let api = AdminApi::from_key(key).ok_or(AdminCodecError::UnknownApi(key))?;
    let id_len = buf.get_i16();
    let client_id = if id_len < 0 {
        None
    } else {
        let n = id_len as usize;
        if buf.remaining() < n {
            return Err(AdminCodecError::Truncated);
        }
        let raw = buf.split_to(n);
        Some(String::from_utf8_lossy(&raw).into_owned())
    };
    if !(0..=AdminApi::MAX_VERSION).contains(&version) {
        return Err(AdminCodecError::UnsupportedVersion {
            api,
            version,
            correlation_id,
        });
    }
    let body = &buf[..];
    let request = match api {
        AdminApi::CreateClusterLink => AdminRequest::CreateClusterLink(json(body)?),
        AdminApi::ListClusterLinks => AdminRequest::ListClusterLinks(json(body)?),
        AdminApi::DeleteClusterLink => AdminRequest::DeleteClusterLink(json(body)?),
        AdminApi::DescribeClusterLinkConfigs => {
            AdminRequest::DescribeClusterLinkConfigs(json(body)?)
        }
        AdminApi::AlterClusterLinkConfigs => AdminRequest::AlterClusterLinkConfigs(json(body)?),
        AdminApi::CreateMirrorTopic => AdminRequest::CreateMirrorTopic(json(body)?),
        AdminApi::ListMirrors => AdminRequest::ListMirrors(json(body)?),
        AdminApi::DescribeMirrors => AdminRequest::DescribeMirrors(json(body)?),
        AdminApi::AlterMirrors => AdminRequest::AlterMirrors(json(body)?),
        AdminApi::VerifyMirrors => AdminRequest::VerifyMirrors(json(body)?),
    };
    Ok(AdminFrame {
        api,
        version,
        correlation_id,
        client_id,
        request,
    })
}

/// Encodes an admin request frame body (without the 4-byte size prefix).
pub fn encode_admin_request<T: Serialize>(
    api: AdminApi,
    correlation_id: i32,
    client_id: Option<&str>,
    body: &T,
) -> Result<BytesMut, AdminCodecError> {
    let mut buf = BytesMut::new();
    buf.put_i16(api as i16);
    buf.put_i16(0);
    buf.put_i32(correlation_id);
    match client_id {
        Some(id) => {
            let bytes = id.as_bytes();
            let len = i16::try_from(bytes.len())
                .map_err(|_| AdminCodecError::Body("client id too long".into()))?;
            buf.put_i16(len);
            buf.put_slice(bytes);
        }
        None => buf.put_i16(-1),
    }
    let json = serde_json::to_vec(body).map_err(|e| AdminCodecError::Body(e.to_string()))?;
    buf.put_slice(&json);
    Ok(buf)
}

/// Encodes an admin response frame body: correlation id + JSON.
pub fn encode_admin_response<T: Serialize>(
    correlation_id: i32,
    body: &T,
) -> Result<BytesMut, AdminCodecError> {
    let mut buf = BytesMut::new();
    buf.put_i32(correlation_id);
    let json = serde_json::to_vec(body).map_err(|e| AdminCodecError::Body(e.to_string()))?;
    buf.put_slice(&json);
    Ok(buf)
}

/// Decodes an admin response frame body into (correlation id, body).
pub fn decode_admin_response<T: DeserializeOwned>(
    frame: &[u8],
) -> Result<(i32, T), AdminCodecError> {
    if frame.len() < 4 {
        return Err(AdminCodecError::Truncated);
    }
    let correlation_id = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
    Ok((correlation_id, json(&frame[4..])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let req = CreateClusterLinkRequest {
            link_name: "l".into(),
            cluster_id: Some("abc".into()),
            configs: BTreeMap::from([("bootstrap.servers".into(), "h:1".into())]),
            validate_only: false,
            validate_link: true,
        };
        let buf = encode_admin_request(AdminApi::CreateClusterLink, 7, Some("cli"), &req).unwrap();
        let frame = decode_admin_request(buf.freeze()).unwrap();
        assert_eq!(frame.correlation_id, 7);
        assert_eq!(frame.client_id.as_deref(), Some("cli"));
        assert_eq!(frame.request, AdminRequest::CreateClusterLink(req));
    }

    #[test]
    fn verify_round_trip() {
        let req = VerifyMirrorsRequest {
            topics: vec!["t".into()],
            link_name: Some("l".into()),
        };
        let buf = encode_admin_request(AdminApi::VerifyMirrors, 3, None, &req).unwrap();
        assert_eq!(&buf[..2], &32010i16.to_be_bytes());
        let frame = decode_admin_request(buf.freeze()).unwrap();
        assert_eq!(frame.request, AdminRequest::VerifyMirrors(req));
        let resp = VerifyMirrorsResponse {
            error: AdminError::none(),
            partitions: vec![MirrorPartitionVerification {
                topic: "t".into(),
                partition: 0,
                verified_from: 0,
                verified_to: 10,
                batches: 2,
                result: VerifyResult::Mismatch,
                first_different_offset: Some(5),
                reason: Some("crc".into()),
            }],
        };
        let buf = encode_admin_response(4, &resp).unwrap();
        assert!(
            std::str::from_utf8(&buf[4..])
                .unwrap()
                .contains("\"MISMATCH\"")
        );
        let (_, back): (i32, VerifyMirrorsResponse) = decode_admin_response(&buf).unwrap();
        assert_eq!(back, resp);
    }

    #[test]
    fn response_round_trip_and_errors() {
        let resp = ListMirrorsResponse {
            error: AdminError::new(3, "nope"),
            topics: vec!["a".into()],
        };
        let buf = encode_admin_response(9, &resp).unwrap();
        let (c, back): (i32, ListMirrorsResponse) = decode_admin_response(&buf).unwrap();
        assert_eq!((c, back), (9, resp));
        let mut bad = encode_admin_request(
            AdminApi::ListMirrors,
            1,
            None,
            &ListMirrorsRequest::default(),
        )
        .unwrap();
        bad.truncate(bad.len() - 2);
        assert!(matches!(
            decode_admin_request(bad.freeze()),
            Err(AdminCodecError::Body(_))
        ));
        assert!(matches!(
            decode_admin_request(Bytes::from_static(b"\x7d\x01")),
            Err(AdminCodecError::Truncated)
        ));
    }
}
