//! Request decoding and response encoding over `kafka-protocol`'s generated
//! messages. Owns the header rules (which header version goes with which API
//! version); must never handle a request.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::versions;

/// A request whose header and body were decoded.
#[derive(Debug)]
pub struct DecodedRequest {
    pub header: RequestHeader,
    pub api_key: ApiKey,
    pub body: RequestKind,
}

impl DecodedRequest {
    pub fn version(&self) -> i16 {
        self.header.request_api_version
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("request too short to hold a header")]
    Truncated,
    #[error("unknown api key {api_key}")]
    UnknownApiKey { api_key: i16 },
    /// The header decoded but this API version is not served. ApiVersions
    /// answers these with UNSUPPORTED_VERSION; other APIs cannot be answered
    /// in a version the client did not ask for.
    #[error("api {api_key:?} version {} is not supported", header.request_api_version)]
    UnsupportedVersion {
        api_key: ApiKey,
        header: RequestHeader,
    },
    #[error("malformed {api_key:?} v{version} request: {reason}")]
    Malformed {
        api_key: ApiKey,
        version: i16,
        correlation_id: Option<i32>,
        reason: String,
    },
    #[error("{0}")]
    Admin(crate::admin::AdminCodecError),
    #[error("could not encode {api_key:?} v{version} response: {reason}")]
    Encode {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
}

/// A request frame: a Kafka API or one of Strait's admin APIs.
#[derive(Debug)]
pub enum Incoming {
    Kafka(Box<DecodedRequest>),
    Admin(crate::admin::AdminFrame),
}

/// Decodes one frame, routing Strait's admin keys to their own codec.
pub fn decode_incoming(frame: Bytes) -> Result<Incoming, ProtocolError> {
    if frame.len() >= 2 && crate::admin::is_admin_key(i16::from_be_bytes([frame[0], frame[1]])) {
        return crate::admin::decode_admin_request(frame)
            .map(Incoming::Admin)
            .map_err(ProtocolError::Admin);
    }
    decode_request(frame).map(|r| Incoming::Kafka(Box::new(r)))
}

/// Decodes one frame's bytes into a typed request.
pub fn decode_request(frame: Bytes) -> Result<DecodedRequest, ProtocolError> {
    if frame.len() < 8 {
        return Err(ProtocolError::Truncated);
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let api_key =
        ApiKey::try_from(raw_key).map_err(|_| ProtocolError::UnknownApiKey { api_key: raw_key })?;
    let correlation_id = Some(i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]));
    let malformed = |reason: String| ProtocolError::Malformed {
        api_key,
        version,
        correlation_id,
        reason,
    };
    let mut buf = frame;
    let header_version = api_key.request_header_version(version);
    let header =
        RequestHeader::decode(&mut buf, header_version).map_err(|e| malformed(e.to_string()))?;
    if !versions::serves(api_key, version) {
        return Err(ProtocolError::UnsupportedVersion { api_key, header });
    }
    let body =
        RequestKind::decode(api_key, &mut buf, version).map_err(|e| malformed(e.to_string()))?;
    // Bytes after the body are ignored, as Kafka's request parser does:
    // clients may send fields of a newer schema revision.
    Ok(DecodedRequest {
        header,
        api_key,
        body,
    })
}

/// Encodes a response (header + body) for a request of `api_key`/`version`.
pub fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<BytesMut, ProtocolError> {
    let mut buf = BytesMut::with_capacity(64);
    encode_header(&mut buf, api_key, version, correlation_id)?;
    body.encode(&mut buf, version)
        .map_err(|e| encode_error(api_key, version, e))?;
    Ok(buf)
}

/// Encodes a response frame body like [`encode_response`], as chunks: the
/// record sets of a Fetch response are referenced, not copied, so a fetch
/// moves segment bytes to the socket without an extra copy.
pub fn encode_response_chunks(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<Vec<Bytes>, ProtocolError> {
    let ResponseKind::Fetch(fetch) = body else {
        return encode_response(api_key, version, correlation_id, body).map(|b| vec![b.freeze()]);
    };
    let shared = fetch
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter())
        .filter_map(|p| p.records.clone())
        .collect();
    let mut buf = crate::chunked::ChunkedFrame::new(shared);
    encode_header(&mut buf, api_key, version, correlation_id)?;
    fetch
        .encode(&mut buf, version)
        .map_err(|e| encode_error(api_key, version, e))?;
    Ok(buf.into_chunks())
}

/// The response header of `api_key`/`version`.
fn encode_header<B: kafka_protocol::protocol::buf::ByteBufMut>(
    buf: &mut B,
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
) -> Result<(), ProtocolError> {
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    header
        .encode(buf, api_key.response_header_version(version))
        .map_err(|e| encode_error(api_key, version, e))
}

fn encode_error(api_key: ApiKey, version: i16, e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::Encode {
        api_key,
        version,
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
    use kafka_protocol::protocol::{StrBytes, encode_request_header_into_buffer};

    fn frame(api: ApiKey, version: i16, body: &impl Encodable) -> Bytes {
        let mut buf = BytesMut::new();
        let mut h = RequestHeader::default();
        h.request_api_key = api as i16;
        h.request_api_version = version;
        h.correlation_id = 42;
        h.client_id = Some(StrBytes::from_static_str("t"));
        encode_request_header_into_buffer(&mut buf, &h).unwrap();
        body.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn decodes_api_versions() {
        let f = frame(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
        let req = decode_request(f).unwrap();
        assert_eq!(req.api_key, ApiKey::ApiVersions);
        assert_eq!(req.header.correlation_id, 42);
        assert!(matches!(req.body, RequestKind::ApiVersions(_)));
    }

    #[test]
    fn rejects_unknown_key_and_truncation_but_ignores_trailing_bytes() {
        let mut f =
            BytesMut::from(&frame(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())[..]);
        f[0] = 0x03;
        f[1] = 0xE7; // 999
        assert!(matches!(
            decode_request(f.freeze()),
            Err(ProtocolError::UnknownApiKey { api_key: 999 })
        ));
        assert!(matches!(
            decode_request(Bytes::from_static(b"\0\x12")),
            Err(ProtocolError::Truncated)
        ));
        let mut f =
            BytesMut::from(&frame(ApiKey::ApiVersions, 1, &ApiVersionsRequest::default())[..]);
        f.extend_from_slice(b"junk");
        assert!(decode_request(f.freeze()).is_ok());
        let mut f = BytesMut::from(
            &frame(
                ApiKey::Metadata,
                9,
                &kafka_protocol::messages::MetadataRequest::default(),
            )[..],
        );
        f.truncate(f.len() - 2);
        assert!(matches!(
            decode_request(f.freeze()),
            Err(ProtocolError::Malformed { .. })
        ));
    }

    #[test]
    fn unsupported_version_keeps_header() {
        let f = frame(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
        let mut raw = BytesMut::from(&f[..]);
        raw[3] = 99;
        match decode_request(raw.freeze()) {
            Err(ProtocolError::UnsupportedVersion { header, .. }) => {
                assert_eq!(header.correlation_id, 42)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn encodes_response_with_header() {
        let body = ResponseKind::ApiVersions(ApiVersionsResponse::default());
        let buf = encode_response(ApiKey::ApiVersions, 3, 7, &body).unwrap();
        assert_eq!(&buf[..4], &7i32.to_be_bytes());
    }

    #[test]
    fn chunked_fetch_responses_equal_the_copied_encoding() {
        use kafka_protocol::messages::FetchResponse;
        use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
        let records = Bytes::from((0..40_000u32).map(|i| i as u8).collect::<Vec<u8>>());
        let small = Bytes::from_static(b"tiny");
        let mut resp = FetchResponse::default();
        let mut topic = FetchableTopicResponse::default();
        for (i, r) in [records.clone(), small].into_iter().enumerate() {
            let mut p = PartitionData::default();
            p.partition_index = i as i32;
            p.records = Some(r);
            topic.partitions.push(p);
        }
        resp.responses.push(topic);
        let body = ResponseKind::Fetch(resp);
        for version in [4, 11, 12, 16] {
            let copied = encode_response(ApiKey::Fetch, version, 9, &body).unwrap();
            let chunks = encode_response_chunks(ApiKey::Fetch, version, 9, &body).unwrap();
            let joined: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
            assert_eq!(joined, copied.to_vec(), "v{version}");
            assert!(
                chunks.iter().any(|c| c.as_ptr() == records.as_ptr()),
                "v{version}: the large record set is referenced"
            );
        }
    }
}
