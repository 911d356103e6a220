//! Client tests against an in-process fake broker (a tokio TcpListener that
//! answers ApiVersions, Metadata, CreateTopics and a few more by hand).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code states expectations by panicking

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use strait_client::admin::topics::NewTopic;
use strait_client::kafka_protocol::messages::api_versions_response::ApiVersion;
use strait_client::kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use strait_client::kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use strait_client::kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, CreateTopicsRequest, CreateTopicsResponse,
    MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader, TopicName,
};
use strait_client::kafka_protocol::protocol::{
    Decodable, Encodable, StrBytes, decode_request_header_from_buffer,
};
use strait_client::{ClientConfig, ClientError, Connection, KafkaClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the fake behaves.
#[derive(Clone, Default)]
struct Behaviour {
    /// Highest ApiVersions version accepted; above it answer UNSUPPORTED_VERSION in v0 layout.
    max_api_versions: Option<i16>,
    /// Never answer Metadata requests.
    ignore_metadata: bool,
    /// Answer each pair of requests in reverse order.
    reverse_pairs: bool,
    /// APIs left out of the ApiVersions answer.
    hidden_apis: Vec<ApiKey>,
}

struct FakeBroker {
    port: u16,
    api_versions_calls: Arc<AtomicUsize>,
}

async fn start(behaviour: Behaviour) -> FakeBroker {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => panic!("bind: {e}"),
    };
    let port = match listener.local_addr() {
        Ok(a) => a.port(),
        Err(e) => panic!("addr: {e}"),
    };
    let calls = Arc::new(AtomicUsize::new(0));
    let calls_in_task = calls.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(
                socket,
                port,
                behaviour.clone(),
                calls_in_task.clone(),
            ));
        }
    });
    FakeBroker {
        port,
        api_versions_calls: calls,
    }
}

async fn read_request(socket: &mut TcpStream) -> Option<Bytes> {
    let size = socket.read_i32().await.ok()?;
    let mut buf = vec![0u8; usize::try_from(size).ok()?];
    socket.read_exact(&mut buf).await.ok()?;
    Some(Bytes::from(buf))
}

fn frame<T: Encodable>(api: ApiKey, version: i16, correlation_id: i32, body: &T) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    if let Err(e) = header.encode(&mut buf, api.response_header_version(version)) {
        panic!("header encode: {e}");
    }
    if let Err(e) = body.encode(&mut buf, version) {
        panic!("body encode: {e}");
    }
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    buf.freeze()
}

fn all_api_versions(hidden: &[ApiKey]) -> Vec<ApiVersion> {
    ApiKey::iter()
        .filter(|k| !hidden.contains(k))
        .map(|k| {
            let range = k.valid_versions();
            ApiVersion::default()
                .with_api_key(k as i16)
                .with_min_version(range.min)
                .with_max_version(range.max)
        })
        .collect()
}

fn metadata_response(port: u16) -> MetadataResponse {
    MetadataResponse::default()
        .with_cluster_id(Some(StrBytes::from_static_str("fake-cluster")))
        .with_controller_id(BrokerId(1))
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(i32::from(port)),
        ])
        .with_topics(vec![
            MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("orders"))))
                .with_partitions(vec![
                    MetadataResponsePartition::default()
                        .with_partition_index(0)
                        .with_leader_id(BrokerId(1))
                        .with_replica_nodes(vec![BrokerId(1)])
                        .with_isr_nodes(vec![BrokerId(1)]),
                ]),
        ])
}

fn answer(
    header: &RequestHeader,
    mut body: Bytes,
    port: u16,
    behaviour: &Behaviour,
) -> Option<Bytes> {
    let api = ApiKey::try_from(header.request_api_key).ok()?;
    let version = header.request_api_version;
    let id = header.correlation_id;
    match api {
        ApiKey::ApiVersions => {
            if behaviour.max_api_versions.is_some_and(|max| version > max) {
                let response = ApiVersionsResponse::default()
                    .with_error_code(35)
                    .with_api_keys(vec![
                        ApiVersion::default()
                            .with_api_key(ApiKey::ApiVersions as i16)
                            .with_min_version(0)
                            .with_max_version(behaviour.max_api_versions.unwrap_or(0)),
                    ]);
                return Some(frame(api, 0, id, &response));
            }
            let response = ApiVersionsResponse::default()
                .with_api_keys(all_api_versions(&behaviour.hidden_apis));
            Some(frame(api, version, id, &response))
        }
        ApiKey::Metadata => {
            if behaviour.ignore_metadata {
                return None;
            }
            let request = MetadataRequest::decode(&mut body, version).ok()?;
            let mut response = metadata_response(port);
            if let Some(topics) = request.topics {
                let names: Vec<String> = topics
                    .iter()
                    .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
                    .collect();
                response.topics.retain(|t| {
                    t.name
                        .as_ref()
                        .is_some_and(|n| names.contains(&n.0.to_string()))
                });
                for name in names.iter().filter(|n| n.as_str() != "orders") {
                    response.topics.push(
                        MetadataResponseTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                            .with_error_code(3),
                    );
                }
            }
            Some(frame(api, version, id, &response))
        }
        ApiKey::CreateTopics => {
            let request = CreateTopicsRequest::decode(&mut body, version).ok()?;
            let results =
                request
                    .topics
                    .iter()
                    .map(|t| {
                        let exists = t.name.0.as_str() == "orders";
                        CreatableTopicResult::default()
                            .with_name(t.name.clone())
                            .with_error_code(if exists { 36 } else { 0 })
                            .with_error_message(exists.then(|| {
                                StrBytes::from_static_str("Topic 'orders' already exists.")
                            }))
                            .with_num_partitions(t.num_partitions)
                            .with_replication_factor(t.replication_factor)
                    })
                    .collect();
            Some(frame(
                api,
                version,
                id,
                &CreateTopicsResponse::default().with_topics(results),
            ))
        }
        _ => None,
    }
}

async fn serve(mut socket: TcpStream, port: u16, behaviour: Behaviour, calls: Arc<AtomicUsize>) {
    let mut held: Option<Bytes> = None;
    while let Some(mut request) = read_request(&mut socket).await {
        let Ok(header) = decode_request_header_from_buffer(&mut request) else {
            return;
        };
        if header.request_api_key == ApiKey::ApiVersions as i16 {
            calls.fetch_add(1, Ordering::SeqCst);
        }
        let Some(response) = answer(&header, request, port, &behaviour) else {
            continue;
        };
        if behaviour.reverse_pairs && header.request_api_key != ApiKey::ApiVersions as i16 {
            match held.take() {
                None => {
                    held = Some(response);
                    continue;
                }
                Some(first) => {
                    if socket.write_all(&response).await.is_err()
                        || socket.write_all(&first).await.is_err()
                    {
                        return;
                    }
                    continue;
                }
            }
        }
        if socket.write_all(&response).await.is_err() {
            return;
        }
    }
}

fn config(port: u16) -> ClientConfig {
    match ClientConfig::new([format!("127.0.0.1:{port}")]) {
        Ok(c) => c
            .with_request_timeout(Duration::from_millis(500))
            .with_default_api_timeout(Duration::from_millis(2000)),
        Err(e) => panic!("config: {e}"),
    }
}

#[tokio::test]
async fn negotiates_highest_common_versions() {
    let broker = start(Behaviour::default()).await;
    let connection =
        Connection::connect(&format!("127.0.0.1:{}", broker.port), &config(broker.port)).await;
    let Ok(connection) = connection else {
        panic!("{connection:?}")
    };
    assert_eq!(
        connection.version_for::<MetadataRequest>().ok(),
        Some(ApiKey::Metadata.valid_versions().max)
    );
    let response = connection
        .send(MetadataRequest::default().with_topics(None))
        .await;
    let Ok(response) = response else {
        panic!("{response:?}")
    };
    assert_eq!(response.cluster_id.as_deref(), Some("fake-cluster"));
    assert_eq!(broker.api_versions_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn falls_back_when_api_versions_v3_is_unsupported() {
    let broker = start(Behaviour {
        max_api_versions: Some(2),
        ..Behaviour::default()
    })
    .await;
    let connection =
        Connection::connect(&format!("127.0.0.1:{}", broker.port), &config(broker.port)).await;
    let Ok(connection) = connection else {
        panic!("{connection:?}")
    };
    assert_eq!(broker.api_versions_calls.load(Ordering::SeqCst), 2);
    assert!(connection.supports(ApiKey::Metadata));
}

#[tokio::test]
async fn pipelined_responses_are_matched_by_correlation_id() {
    let broker = start(Behaviour {
        reverse_pairs: true,
        ..Behaviour::default()
    })
    .await;
    let connection =
        Connection::connect(&format!("127.0.0.1:{}", broker.port), &config(broker.port)).await;
    let Ok(connection) = connection else {
        panic!("{connection:?}")
    };
    let all = MetadataRequest::default().with_topics(None);
    let some = MetadataRequest::default().with_topics(Some(Vec::new()));
    let (first, second) = tokio::join!(connection.send(all), connection.send(some));
    assert_eq!(first.map(|r| r.topics.len()).ok(), Some(1));
    assert_eq!(second.map(|r| r.topics.len()).ok(), Some(0));
}

#[tokio::test]
async fn request_timeout_closes_the_connection() {
    let broker = start(Behaviour {
        ignore_metadata: true,
        ..Behaviour::default()
    })
    .await;
    let connection =
        Connection::connect(&format!("127.0.0.1:{}", broker.port), &config(broker.port)).await;
    let Ok(connection) = connection else {
        panic!("{connection:?}")
    };
    let started = Instant::now();
    let result = connection.send(MetadataRequest::default()).await;
    assert!(
        matches!(result, Err(ClientError::RequestTimeout { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(connection.is_closed());
}

#[tokio::test]
async fn client_bootstraps_routes_and_reports_topic_errors() {
    let broker = start(Behaviour {
        hidden_apis: vec![ApiKey::DescribeCluster, ApiKey::DescribeTopicPartitions],
        ..Behaviour::default()
    })
    .await;
    let client = KafkaClient::connect(config(broker.port)).await;
    let Ok(client) = client else {
        panic!("{client:?}")
    };
    assert_eq!(client.metadata().controller_id, Some(1));

    let cluster = client.describe_cluster().await;
    let Ok(cluster) = cluster else {
        panic!("{cluster:?}")
    };
    assert_eq!(cluster.cluster_id.as_deref(), Some("fake-cluster"));
    assert_eq!(cluster.brokers.len(), 1);

    let topics = client.list_topics(false).await;
    assert_eq!(
        topics
            .map(|t| t.into_iter().map(|t| t.name).collect::<Vec<_>>())
            .ok(),
        Some(vec!["orders".to_string()])
    );

    assert_eq!(client.leader_for("orders", 0).await.ok(), Some(1));
    let missing = client.leader_for("missing", 0).await;
    assert!(
        missing.as_ref().is_err_and(|e| e.is_stale_metadata()),
        "{missing:?}"
    );

    let described = client
        .describe_topics(&["orders".to_string(), "missing".to_string()])
        .await;
    let Ok(described) = described else {
        panic!("{described:?}")
    };
    assert!(
        described
            .get("orders")
            .is_some_and(|r| r.as_ref().is_ok_and(|d| d.partitions.len() == 1))
    );
    assert!(described.get("missing").is_some_and(|r| r.is_err()));

    let created = client
        .create_topics(
            &[
                NewTopic {
                    name: "orders".to_string(),
                    ..NewTopic::default()
                },
                NewTopic {
                    name: "fresh".to_string(),
                    num_partitions: Some(3),
                    ..NewTopic::default()
                },
            ],
            false,
        )
        .await;
    let Ok(created) = created else {
        panic!("{created:?}")
    };
    let exists = created
        .get("orders")
        .and_then(|r| r.as_ref().err())
        .map(ToString::to_string);
    assert_eq!(exists.as_deref(), Some("Topic 'orders' already exists."));
    assert!(
        created
            .get("fresh")
            .is_some_and(|r| r.as_ref().is_ok_and(|t| t.num_partitions == 3))
    );
}

#[tokio::test]
async fn unreachable_bootstrap_fails_within_the_api_timeout() {
    // Bind then drop to get a port nobody listens on.
    let port = match TcpListener::bind("127.0.0.1:0")
        .await
        .and_then(|l| l.local_addr())
    {
        Ok(a) => a.port(),
        Err(e) => panic!("{e}"),
    };
    let started = Instant::now();
    let result = KafkaClient::connect(config(port)).await;
    let elapsed = started.elapsed();
    match result {
        Err(ClientError::NodeUnavailable { call, last_error }) => {
            assert_eq!(call, "fetchMetadata");
            assert!(last_error.is_some_and(|e| e.contains("127.0.0.1")));
        }
        other => panic!("expected NodeUnavailable, got {other:?}"),
    }
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

/// The client and its futures must be shareable across tokio tasks (the
/// cluster-link engine spawns them).
#[test]
fn client_and_its_futures_are_send() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}
    let client = match KafkaClient::new(config(9)) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_send_sync(&client);
    let names = vec!["t".to_string()];
    assert_send(&client.list_topics(true));
    assert_send(&client.describe_topics(&names));
    assert_send(&client.offset_fetch("g", None));
    assert_send(&client.send_to_any(MetadataRequest::default()));
}
