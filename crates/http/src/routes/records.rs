//! `POST /clusters/{id}/topics/{t}/records`: Confluent's produce endpoint.
//! A body of one JSON record gets one answer with its own HTTP status; a
//! body of several records, or a chunked body streamed record by record,
//! gets HTTP 200 and one JSON line per record, each a result or an error,
//! in the order the records came. Values and keys are `BINARY` (base64),
//! `JSON` or `STRING`; the schema formats need a Schema Registry, which
//! Strait does not have, and are refused as Confluent refuses them without
//! one (422, 42206).
//!
//! Every record goes through the broker's Produce handler (acks=all), so
//! authorization, mirror-topic refusals and quotas are the Kafka port's.
//! It must never acknowledge a record the broker did not.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};

use axum::body::Body as HttpBody;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest as KafkaProduce, TopicName};
use kafka_protocol::protocol::StrBytes;
use serde::{Deserialize, Serialize};
use strait_log::PlainRecord;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PathOf;
use crate::caller::RestCall;
use crate::error::ErrorBody;
use crate::{AppState, RestError};

/// The largest body read whole, and the largest single record of a
/// streamed body.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How long the broker may take to acknowledge a produce.
const PRODUCE_TIMEOUT_MS: i32 = 30_000;

/// Produce v9: record batch v2, flexible encoding.
const PRODUCE_VERSION: i16 = 9;

/// The encodings a key or a value may be given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum EmbeddedFormat {
    Binary,
    Json,
    String,
    Avro,
    Protobuf,
    Jsonschema,
}

/// A key or a value of a record to produce.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ProduceRequestData {
    #[serde(rename = "type")]
    pub format: Option<EmbeddedFormat>,
    pub subject: Option<String>,
    pub subject_name_strategy: Option<String>,
    pub schema_id: Option<i32>,
    pub schema_version: Option<i32>,
    pub schema: Option<String>,
    /// BINARY: base64 text; STRING: text; JSON: any JSON value.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// A record header: its value is base64, or null.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ProduceRequestHeader {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// One record to produce.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ProduceRequest {
    pub partition_id: Option<i32>,
    #[serde(default)]
    pub headers: Option<Vec<ProduceRequestHeader>>,
    pub key: Option<ProduceRequestData>,
    pub value: Option<ProduceRequestData>,
    /// RFC 3339, e.g. `2021-02-05T19:14:42Z`; the time of the call when absent.
    pub timestamp: Option<String>,
}

/// What was produced of a key or a value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProduceResponseData {
    #[serde(rename = "type")]
    pub format: EmbeddedFormat,
    /// Serialized bytes; -1 for null.
    pub size: i64,
}

/// The result of one produced record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProduceResponse {
    /// 200.
    pub error_code: i32,
    pub cluster_id: String,
    pub topic_name: String,
    pub partition_id: i32,
    pub offset: i64,
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<ProduceResponseData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<ProduceResponseData>,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(produce_records))
}

/// A record ready to send: its bytes and where it goes.
struct Encoded {
    partition: Option<i32>,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    key_format: Option<EmbeddedFormat>,
    value_format: Option<EmbeddedFormat>,
}

type Outcome = Result<ProduceResponse, RestError>;

/// A parsed record (or why it is not one) and the body offset just past it.
type Parsed = (Result<ProduceRequest, RestError>, usize);

/// A header as a batch borrows it.
type HeaderRef<'a> = (&'a [u8], Option<&'a [u8]>);

/// Produces records to a topic.
#[utoipa::path(
    post,
    path = "/clusters/{cluster_id}/topics/{topic_name}/records",
    tag = "Records",
    params(("cluster_id" = String, Path), ("topic_name" = String, Path)),
    request_body(content = ProduceRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The record was produced.", body = ProduceResponse),
        (status = 400, description = "A bad record.", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such cluster, topic or partition.", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "A schema format without a Schema Registry.", body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
async fn produce_records(
    rc: RestCall,
    PathOf((cluster_id, topic)): PathOf<(String, String)>,
    headers: HeaderMap,
    body: HttpBody,
) -> Result<Response, RestError> {
    rc.check_cluster(&cluster_id)?;
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(RestError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
            "HTTP 415 Unsupported Media Type: send records as application/json.",
        ));
    }
    if headers.contains_key(CONTENT_LENGTH) {
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| too_large())?;
        let (records, tail) = split_records(&bytes, true);
        if records.is_empty() && tail.is_none() {
            return Err(RestError::bad_request(
                "Request body is empty. Data is required.",
            ));
        }
        let mut outcomes = produce(&rc, &topic, records).await;
        if let Some(e) = tail {
            outcomes.push(Err(e));
        }
        if outcomes.len() == 1 {
            return match outcomes.pop() {
                Some(Ok(r)) => Ok(axum::Json(r).into_response()),
                Some(Err(e)) => Err(e),
                None => Err(RestError::internal("no outcome")),
            };
        }
        return Ok(lines_response(HttpBody::from(render_lines(&outcomes))));
    }
    Ok(lines_response(stream_records(rc, topic, body)))
}

fn too_large() -> RestError {
    RestError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        413,
        format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
    )
}

fn lines_response(body: HttpBody) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// One JSON line per outcome.
fn render_lines(outcomes: &[Outcome]) -> Vec<u8> {
    let mut out = Vec::new();
    for o in outcomes {
        let line = match o {
            Ok(r) => serde_json::to_vec(r),
            Err(e) => serde_json::to_vec(&e.body),
        };
        // Serializing these plain structs cannot fail; an empty line would
        // still keep the count of answers right.
        out.extend(line.unwrap_or_default());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads a chunked body as it comes: every complete record in what has
/// arrived is produced, and its answer line sent, before more is read.
fn stream_records(rc: RestCall, topic: String, body: HttpBody) -> HttpBody {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(16);
    tokio::spawn(async move {
        use futures_util::StreamExt;
        let mut chunks = body.into_data_stream();
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let chunk = chunks.next().await;
            let ended = !matches!(chunk, Some(Ok(_)));
            if let Some(Ok(bytes)) = chunk {
                pending.extend_from_slice(&bytes);
            }
            let (records, tail) = split_records(&pending, ended);
            let consumed = records.last().map_or(0, |(_, end)| *end);
            let mut outcomes = produce(&rc, &topic, records).await;
            pending.drain(..consumed);
            let mut stop = ended;
            if let Some(e) = tail {
                outcomes.push(Err(e));
                stop = true;
            } else if pending.len() > MAX_BODY_BYTES {
                outcomes.push(Err(too_large()));
                stop = true;
            }
            if !outcomes.is_empty() && tx.send(Ok(render_lines(&outcomes))).await.is_err() {
                return;
            }
            if stop {
                return;
            }
        }
    });
    HttpBody::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// The records of `bytes` that are complete, each with the offset just past
/// it, and the error that ends the body, if any. A record cut short is an
/// error only when `ended`; otherwise it waits for more bytes.
fn split_records(bytes: &[u8], ended: bool) -> (Vec<Parsed>, Option<RestError>) {
    let mut out = Vec::new();
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<serde_json::Value>();
    loop {
        match values.next() {
            None => return (out, None),
            Some(Ok(v)) => {
                let end = values.byte_offset();
                let record = serde_json::from_value::<ProduceRequest>(v)
                    .map_err(|e| RestError::bad_request(format!("Error processing JSON: {e}")));
                out.push((record, end));
            }
            Some(Err(e)) if e.is_eof() && !ended => return (out, None),
            Some(Err(e)) => {
                return (
                    out,
                    Some(RestError::bad_request(format!(
                        "Error processing JSON: {e}"
                    ))),
                );
            }
        }
    }
}

/// Produces `records`, in order, with one Metadata and one Produce call;
/// one outcome per record.
async fn produce(rc: &RestCall, topic: &str, records: Vec<Parsed>) -> Vec<Outcome> {
    if records.is_empty() {
        return Vec::new();
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    let encoded: Vec<Result<Encoded, RestError>> = records
        .into_iter()
        .map(|(r, _)| r.and_then(|r| encode(r, now_ms)))
        .collect();
    if encoded.iter().all(Result::is_err) {
        return encoded
            .into_iter()
            .filter_map(Result::err)
            .map(Err)
            .collect();
    }
    let partitions = match super::topics::topic_metadata(rc, topic, false).await {
        Ok(t) => t.partitions.len() as i32,
        Err(e) => {
            return encoded
                .into_iter()
                .map(|r| Err(r.err().unwrap_or_else(|| e.clone())))
                .collect();
        }
    };
    let placed: Vec<Result<(i32, Encoded), RestError>> = encoded
        .into_iter()
        .map(|r| r.and_then(|e| Ok((choose_partition(&e, partitions)?, e))))
        .collect();
    let mut by_partition: BTreeMap<i32, Vec<&Encoded>> = BTreeMap::new();
    for (p, e) in placed.iter().flatten() {
        by_partition.entry(*p).or_default().push(e);
    }
    let mut data = TopicProduceData::default();
    data.name = TopicName(StrBytes::from_string(topic.to_string()));
    for (p, records) in &by_partition {
        let Some(batch) = batch_of(records) else {
            continue;
        };
        let mut pd = PartitionProduceData::default();
        pd.index = *p;
        pd.records = Some(bytes::Bytes::from(batch));
        data.partition_data.push(pd);
    }
    let mut req = KafkaProduce::default();
    req.acks = -1;
    req.timeout_ms = PRODUCE_TIMEOUT_MS;
    req.topic_data.push(data);
    let answers = partition_answers(rc.kafka(req, PRODUCE_VERSION).await, by_partition.keys());
    let mut next_in_partition: HashMap<i32, i64> = HashMap::new();
    placed
        .into_iter()
        .map(|r| {
            let (p, e) = r?;
            let (base, append_ms) = answers
                .get(&p)
                .cloned()
                .unwrap_or_else(|| Err(RestError::internal("the broker did not answer")))?;
            let index = next_in_partition.entry(p).or_insert(0);
            let offset = base + *index;
            *index += 1;
            let ts = if append_ms >= 0 {
                append_ms
            } else {
                e.timestamp
            };
            Ok(ProduceResponse {
                error_code: 200,
                cluster_id: rc.cluster_id.clone(),
                topic_name: topic.to_string(),
                partition_id: p,
                offset,
                timestamp: format_timestamp(ts),
                key: e.key_format.map(|format| ProduceResponseData {
                    format,
                    size: size(&e.key),
                }),
                value: e.value_format.map(|format| ProduceResponseData {
                    format,
                    size: size(&e.value),
                }),
            })
        })
        .collect()
}

/// Each partition's base offset and log-append time, or its error.
fn partition_answers<'a>(
    answered: Result<kafka_protocol::messages::ResponseKind, RestError>,
    partitions: impl Iterator<Item = &'a i32>,
) -> HashMap<i32, Result<(i64, i64), RestError>> {
    let resp = match answered {
        Ok(kafka_protocol::messages::ResponseKind::Produce(resp)) => resp,
        other => {
            let e = match other {
                Err(e) => e,
                Ok(o) => RestError::internal(format!("unexpected answer {o:?}")),
            };
            return partitions.map(|p| (*p, Err(e.clone()))).collect();
        }
    };
    let mut out = HashMap::new();
    for t in resp.responses {
        for pr in t.partition_responses {
            let r = if pr.error_code != 0 {
                Err(RestError::kafka(pr.error_code, pr.error_message.as_deref()))
            } else {
                Ok((pr.base_offset, pr.log_append_time_ms))
            };
            out.insert(pr.index, r);
        }
    }
    out
}

/// One uncompressed batch of `records`.
fn batch_of(records: &[&Encoded]) -> Option<Vec<u8>> {
    let headers: Vec<Vec<HeaderRef<'_>>> = records
        .iter()
        .map(|e| {
            e.headers
                .iter()
                .map(|(n, v)| (n.as_slice(), v.as_deref()))
                .collect()
        })
        .collect();
    let plain: Vec<PlainRecord<'_>> = records
        .iter()
        .zip(&headers)
        .map(|(e, h)| PlainRecord {
            timestamp: e.timestamp,
            key: e.key.as_deref(),
            value: e.value.as_deref(),
            headers: h,
        })
        .collect();
    strait_log::encode_plain_batch(&plain)
}

/// The record's partition: the one asked for, the key's as Kafka's default
/// partitioner places it, or the next in turn for a record without a key.
fn choose_partition(e: &Encoded, partitions: i32) -> Result<i32, RestError> {
    /// Where the next record without a key or a partition goes.
    static NEXT_UNKEYED: AtomicU32 = AtomicU32::new(0);
    if partitions <= 0 {
        return Err(RestError::kafka(3, None));
    }
    match (e.partition, &e.key) {
        (Some(p), _) if (0..partitions).contains(&p) => Ok(p),
        (Some(_), _) => Err(RestError::kafka(3, None)),
        (None, Some(key)) => Ok(strait_client::partitioner::partition_for_key(
            key, partitions,
        )),
        (None, None) => {
            Ok((NEXT_UNKEYED.fetch_add(1, Ordering::Relaxed) % partitions as u32) as i32)
        }
    }
}

fn size(bytes: &Option<Vec<u8>>) -> i64 {
    bytes.as_ref().map_or(-1, |b| b.len() as i64)
}

/// ISO-8601 in UTC with milliseconds when they are not zero, as Java's
/// `Instant` prints.
fn format_timestamp(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// The record's bytes, or the 400/422 its fields earn.
fn encode(r: ProduceRequest, now_ms: i64) -> Result<Encoded, RestError> {
    let timestamp = match r.timestamp.as_deref() {
        None => now_ms,
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| RestError::bad_request(format!("Invalid timestamp '{t}': {e}.")))?
            .timestamp_millis(),
    };
    let (key_format, key) = serialize(r.key, "key")?;
    let (value_format, value) = serialize(r.value, "value")?;
    let mut headers = Vec::new();
    for h in r.headers.unwrap_or_default() {
        let value = match h.value {
            None => None,
            Some(v) => Some(B64.decode(v.as_bytes()).map_err(|_| {
                RestError::bad_request(format!("Header '{}' value is not base64.", h.name))
            })?),
        };
        headers.push((h.name.into_bytes(), value));
    }
    Ok(Encoded {
        partition: r.partition_id,
        timestamp,
        key,
        value,
        headers,
        key_format,
        value_format,
    })
}

/// A key's or value's format and bytes (`None` for null data).
fn serialize(
    data: Option<ProduceRequestData>,
    what: &str,
) -> Result<(Option<EmbeddedFormat>, Option<Vec<u8>>), RestError> {
    let Some(d) = data else {
        return Ok((None, None));
    };
    let names_schema = d.subject.is_some()
        || d.subject_name_strategy.is_some()
        || d.schema_id.is_some()
        || d.schema_version.is_some()
        || d.schema.is_some();
    let needs_schema = names_schema
        || match d.format {
            None => true,
            Some(f) => matches!(
                f,
                EmbeddedFormat::Avro | EmbeddedFormat::Protobuf | EmbeddedFormat::Jsonschema
            ),
        };
    if needs_schema {
        return Err(RestError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42206,
            format!(
                "Payload error. Schema Registry must be configured when using schemas. \
                 Give the {what} a type: BINARY, JSON or STRING."
            ),
        ));
    }
    let format = d.format.unwrap_or(EmbeddedFormat::Binary);
    if d.data.is_null() {
        return Ok((Some(format), None));
    }
    let bytes = match (format, &d.data) {
        (EmbeddedFormat::Binary, serde_json::Value::String(s)) => B64
            .decode(s.as_bytes())
            .map_err(|_| RestError::bad_request(format!("The {what} data is not valid base64.")))?,
        (EmbeddedFormat::String, serde_json::Value::String(s)) => s.clone().into_bytes(),
        (EmbeddedFormat::Json, v) => serde_json::to_vec(v)
            .map_err(|e| RestError::bad_request(format!("The {what} data: {e}")))?,
        (f, _) => {
            return Err(RestError::bad_request(format!(
                "The {what} data of type {f:?} must be a JSON string."
            )));
        }
    };
    Ok((Some(format), Some(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: serde_json::Value) -> Result<Encoded, RestError> {
        encode(serde_json::from_value(json).unwrap(), 5)
    }

    #[test]
    fn formats_serialize_as_confluent_does() {
        let e = record(serde_json::json!({
            "key": {"type": "STRING", "data": "k"},
            "value": {"type": "JSON", "data": {"a": [1, 2]}},
            "headers": [{"name": "h", "value": "AQI="}, {"name": "h", "value": null}],
            "timestamp": "2021-02-05T19:14:42.123Z",
        }))
        .unwrap();
        assert_eq!(e.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(e.value.as_deref(), Some(&br#"{"a":[1,2]}"#[..]));
        assert_eq!(
            e.headers,
            vec![(b"h".to_vec(), Some(vec![1, 2])), (b"h".to_vec(), None)]
        );
        assert_eq!(e.timestamp, 1_612_552_482_123);
        let e = record(serde_json::json!({"value": {"type": "BINARY", "data": "aGk="}})).unwrap();
        assert_eq!((e.value.as_deref(), e.key_format), (Some(&b"hi"[..]), None));
        assert_eq!(e.timestamp, 5);
        let e = record(serde_json::json!({"value": {"type": "BINARY"}})).unwrap();
        assert_eq!(
            (e.value, e.value_format),
            (None, Some(EmbeddedFormat::Binary))
        );
    }

    #[test]
    fn bad_fields_are_refused() {
        let status = |j| record(j).err().map(|e| (e.status, e.body.error_code));
        let unprocessable = Some((StatusCode::UNPROCESSABLE_ENTITY, 42206));
        let bad = Some((StatusCode::BAD_REQUEST, 40002));
        assert_eq!(
            status(serde_json::json!({"value": {"data": 1}})),
            unprocessable
        );
        assert_eq!(
            status(serde_json::json!({"value": {"type": "AVRO", "data": 1}})),
            unprocessable
        );
        assert_eq!(
            status(serde_json::json!({"value": {"type": "JSON", "schema_id": 1, "data": 1}})),
            unprocessable
        );
        assert_eq!(
            status(serde_json::json!({"value": {"type": "BINARY", "data": "*"}})),
            bad
        );
        assert_eq!(
            status(serde_json::json!({"value": {"type": "STRING", "data": 7}})),
            bad
        );
        assert_eq!(status(serde_json::json!({"timestamp": "yesterday"})), bad);
        assert_eq!(
            status(serde_json::json!({"headers": [{"name": "h", "value": "%%"}]})),
            bad
        );
    }

    #[test]
    fn a_body_splits_into_records_and_waits_for_a_cut_one() {
        let body = br#"{"partition_id": 1} {"value": {"type": "STRING", "data": "x"}} {"partit"#;
        let (records, tail) = split_records(body, false);
        assert_eq!(records.len(), 2);
        assert!(tail.is_none());
        assert!(body[records[1].1..].starts_with(b" {\"partit"));
        let (records, tail) = split_records(body, true);
        assert_eq!(records.len(), 2);
        assert_eq!(tail.map(|e| e.status), Some(StatusCode::BAD_REQUEST));
        let (records, _) = split_records(br#"{"partition_id": "one"}"#, true);
        assert!(records[0].0.is_err());
    }

    #[test]
    fn partitions_follow_the_request_the_key_or_a_turn() {
        let mut e = record(serde_json::json!({"partition_id": 2})).unwrap();
        assert_eq!(choose_partition(&e, 3).unwrap(), 2);
        assert_eq!(
            choose_partition(&e, 2).unwrap_err().status,
            StatusCode::NOT_FOUND
        );
        e.partition = None;
        e.key = Some(b"foobar".to_vec());
        let want = strait_client::partitioner::partition_for_key(b"foobar", 7);
        assert_eq!(choose_partition(&e, 7).unwrap(), want);
        e.key = None;
        let a = choose_partition(&e, 2).unwrap();
        let b = choose_partition(&e, 2).unwrap();
        assert!((0..2).contains(&a) && (0..2).contains(&b));
    }

    #[test]
    fn timestamps_print_as_java_instants() {
        assert_eq!(format_timestamp(1_612_552_482_000), "2021-02-05T19:14:42Z");
        assert_eq!(
            format_timestamp(1_612_552_482_120),
            "2021-02-05T19:14:42.120Z"
        );
    }
}
