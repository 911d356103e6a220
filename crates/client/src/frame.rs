//! Kafka wire framing: a 4-byte big-endian length prefix, then a request
//! header plus body (client to broker) or a response header plus body (broker
//! to client). It owns byte layout only; it must never decide which version
//! to use or touch sockets beyond reading/writing one frame.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Frames larger than this are rejected as corrupt rather than allocated.
pub const MAX_FRAME_SIZE: usize = 512 * 1024 * 1024;

/// Why a request could not be framed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FrameEncodeError(pub String);

/// Encodes one complete request frame (length prefix included).
pub fn encode_request_frame<B: Encodable>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: &B,
) -> Result<Bytes, FrameEncodeError> {
    let header = RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_string())));
    let header_version = api_key.request_header_version(version);
    let mut buf = BytesMut::with_capacity(128);
    buf.put_u32(0);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| FrameEncodeError(format!("request header: {e}")))?;
    body.encode(&mut buf, version)
        .map_err(|e| FrameEncodeError(e.to_string()))?;
    let size = buf.len() - 4;
    let size = u32::try_from(size)
        .ok()
        .filter(|s| (*s as usize) <= MAX_FRAME_SIZE)
        .ok_or_else(|| FrameEncodeError(format!("request of {size} bytes is too large")))?;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}

/// Reads the correlation id that starts every response (all header versions).
pub fn peek_correlation_id(frame: &[u8]) -> Option<i32> {
    let bytes: [u8; 4] = frame.get(0..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(bytes))
}

/// Why a response frame could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FrameDecodeError(pub String);

/// Strips the response header (of the version `api_key`/`version` imply) and
/// returns the correlation id with the remaining body bytes.
pub fn split_response_header(
    api_key: ApiKey,
    version: i16,
    mut frame: Bytes,
) -> Result<(i32, Bytes), FrameDecodeError> {
    let header_version = api_key.response_header_version(version);
    let header = ResponseHeader::decode(&mut frame, header_version)
        .map_err(|e| FrameDecodeError(format!("response header: {e}")))?;
    Ok((header.correlation_id, frame))
}

/// Decodes a response body of type `T` at `version`, insisting that every byte is consumed.
pub fn decode_body<T: Decodable>(mut body: Bytes, version: i16) -> Result<T, FrameDecodeError> {
    let value = T::decode(&mut body, version).map_err(|e| FrameDecodeError(e.to_string()))?;
    if body.has_remaining() {
        return Err(FrameDecodeError(format!(
            "{} unexpected trailing bytes",
            body.remaining()
        )));
    }
    Ok(value)
}

/// Reads one length-prefixed frame. `Ok(None)` means the peer closed the
/// stream cleanly between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> std::io::Result<Option<Bytes>> {
    let mut size_buf = [0u8; 4];
    let mut filled = 0;
    while filled < 4 {
        let n = reader.read(&mut size_buf[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "stream closed inside a frame length",
            ));
        }
        filled += n;
    }
    let size = i32::from_be_bytes(size_buf);
    let size = usize::try_from(size).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("negative frame size {size}"),
        )
    })?;
    if size > MAX_FRAME_SIZE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame size {size} exceeds the limit of {MAX_FRAME_SIZE} bytes"),
        ));
    }
    let mut body = BytesMut::zeroed(size);
    reader.read_exact(&mut body).await?;
    Ok(Some(body.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{MetadataRequest, MetadataResponse};
    use kafka_protocol::protocol::Encodable;

    #[test]
    fn request_frame_has_length_prefix_and_header() {
        let frame =
            encode_request_frame(ApiKey::Metadata, 12, 7, "cli", &MetadataRequest::default());
        let Ok(frame) = frame else {
            panic!("encode failed")
        };
        let mut view = frame.clone();
        let size = view.get_u32() as usize;
        assert_eq!(size, frame.len() - 4);
        let header = kafka_protocol::protocol::decode_request_header_from_buffer(&mut view);
        let Ok(header) = header else {
            panic!("header decode failed")
        };
        assert_eq!(header.request_api_key, ApiKey::Metadata as i16);
        assert_eq!(header.request_api_version, 12);
        assert_eq!(header.correlation_id, 7);
        assert_eq!(header.client_id.as_deref(), Some("cli"));
        let body = MetadataRequest::decode(&mut view, 12);
        assert!(body.is_ok());
        assert!(!view.has_remaining());
    }

    #[test]
    fn field_invalid_for_version_is_an_encode_error() {
        // allow_auto_topic_creation=false cannot be expressed before v4.
        let request = MetadataRequest::default().with_allow_auto_topic_creation(false);
        assert!(encode_request_frame(ApiKey::Metadata, 1, 1, "c", &request).is_err());
    }

    #[test]
    fn response_header_versions_are_respected() {
        // Metadata v9+ uses the flexible (v1) response header with tagged fields.
        let mut buf = BytesMut::new();
        let header = ResponseHeader::default().with_correlation_id(42);
        assert!(header.encode(&mut buf, 1).is_ok());
        let body = MetadataResponse::default().with_controller_id(3.into());
        assert!(body.encode(&mut buf, 12).is_ok());
        let frame = buf.freeze();
        assert_eq!(peek_correlation_id(&frame), Some(42));
        let split = split_response_header(ApiKey::Metadata, 12, frame);
        let Ok((correlation_id, body)) = split else {
            panic!("split failed")
        };
        assert_eq!(correlation_id, 42);
        let decoded: Result<MetadataResponse, _> = decode_body(body, 12);
        assert_eq!(decoded.map(|r| r.controller_id.0).ok(), Some(3));
    }

    #[tokio::test]
    async fn read_frame_handles_eof_and_bad_sizes() {
        let mut empty: &[u8] = &[];
        assert!(matches!(read_frame(&mut empty).await, Ok(None)));
        let mut truncated: &[u8] = &[0, 0];
        assert!(read_frame(&mut truncated).await.is_err());
        let mut negative: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(read_frame(&mut negative).await.is_err());
        let mut ok: &[u8] = &[0, 0, 0, 2, 9, 8];
        let frame = read_frame(&mut ok).await;
        assert_eq!(frame.ok().flatten().map(|b| b.to_vec()), Some(vec![9, 8]));
    }
}
