//! Strait's admin messages for cluster links and mirror topics, sent from the
//! client side: [`Connection::send_admin`] frames one request (a Kafka v1
//! request header plus a JSON body, see [`strait_protocol::admin`]) and
//! decodes the answer; [`KafkaClient::send_admin`] sends it to any broker;
//! the typed calls below turn the error part of each answer into
//! [`ClientError`]s. It owns the client side of that exchange only: it must
//! never decide what a link or mirror operation means, print anything, or
//! retry an operation that may have changed state on the broker.

use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use strait_protocol::admin::{decode_admin_response, encode_admin_request};

pub use strait_protocol::admin::{
    AdminApi, AdminError, AlterClusterLinkConfigsRequest, AlterMirrorsRequest,
    AlterMirrorsResponse, CLUSTER_LINK_EXISTS, CLUSTER_LINK_IN_USE, CLUSTER_LINK_NOT_FOUND,
    CLUSTER_LINK_PAUSED, ClusterLinkListing, CreateClusterLinkRequest, CreateMirrorTopicRequest,
    DeleteClusterLinkRequest, DescribeClusterLinkConfigsRequest,
    DescribeClusterLinkConfigsResponse, DescribeMirrorsRequest, DescribeMirrorsResponse,
    INVALID_CLUSTER_LINK, LinkConfigEntry, LinkTaskStatus, ListClusterLinksRequest,
    ListClusterLinksResponse, ListMirrorsRequest, ListMirrorsResponse, MirrorDescription, MirrorOp,
    MirrorOpResult, MirrorPartitionDescription, MirrorPartitionVerification,
    MirrorPartitionVerificationStatus, VerifyMirrorsRequest, VerifyMirrorsResponse, VerifyResult,
};

use crate::client::{KafkaClient, millis};
use crate::connection::Connection;
use crate::error::ClientError;

/// Text for Confluent's link error codes when the broker sent no message.
fn link_error_description(code: i16) -> Option<&'static str> {
    match code {
        CLUSTER_LINK_NOT_FOUND => Some("The cluster link does not exist."),
        CLUSTER_LINK_EXISTS => Some("The cluster link already exists."),
        CLUSTER_LINK_IN_USE => Some("The cluster link is in use by mirror topics."),
        INVALID_CLUSTER_LINK => Some("The cluster link is invalid."),
        CLUSTER_LINK_PAUSED => Some("The cluster link is paused."),
        _ => None,
    }
}

/// `Ok(())` for an answer without error, the broker's error otherwise
/// (keeping its code, including Confluent's 10000.. link codes).
pub fn check_admin_error(error: &AdminError) -> Result<(), ClientError> {
    let message = match error.error_message.as_deref() {
        Some(text) if !text.is_empty() => Some(text),
        _ => link_error_description(error.error_code),
    };
    ClientError::check(error.error_code, message)
}

/// Whether an API only reads, so resending it after a broken connection is harmless.
fn is_read_only(api: AdminApi) -> bool {
    matches!(
        api,
        AdminApi::ListClusterLinks
            | AdminApi::DescribeClusterLinkConfigs
            | AdminApi::ListMirrors
            | AdminApi::DescribeMirrors
            | AdminApi::VerifyMirrors
    )
}

/// A complete admin request frame: 4-byte size, header, JSON body.
fn admin_frame<Req: Serialize>(
    api: AdminApi,
    correlation_id: i32,
    client_id: &str,
    request: &Req,
) -> Result<Bytes, ClientError> {
    let body = encode_admin_request(api, correlation_id, Some(client_id), request)
        .map_err(|e| ClientError::InvalidArgument(format!("Cannot encode {api:?}: {e}")))?;
    let size = u32::try_from(body.len())
        .map_err(|_| ClientError::InvalidArgument(format!("{api:?} request is too large")))?;
    let mut frame = BytesMut::with_capacity(body.len() + 4);
    frame.put_u32(size);
    frame.put_slice(&body);
    Ok(frame.freeze())
}

impl Connection {
    /// Sends one Strait admin request and decodes its answer. The broker
    /// answers admin frames in order with the other requests on the
    /// connection; the answer's error part is left to the caller (see
    /// [`check_admin_error`]).
    pub async fn send_admin<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        api: AdminApi,
        request: &Req,
    ) -> Result<Resp, ClientError> {
        let mut sent_id = None;
        let frame = self
            .exchange_raw(&format!("{api:?}"), |correlation_id, client_id| {
                sent_id = Some(correlation_id);
                admin_frame(api, correlation_id, client_id, request)
            })
            .await?;
        let (correlation_id, response) =
            decode_admin_response::<Resp>(&frame).map_err(|e| ClientError::InvalidFrame {
                address: self.address().to_string(),
                reason: format!("malformed {api:?} response: {e}"),
            })?;
        if Some(correlation_id) != sent_id {
            let reason = format!(
                "expected correlation id {}, got {correlation_id}",
                sent_id.unwrap_or(-1)
            );
            self.close();
            return Err(ClientError::InvalidFrame {
                address: self.address().to_string(),
                reason,
            });
        }
        Ok(response)
    }
}

impl KafkaClient {
    /// Sends one Strait admin request to any broker (every broker serves
    /// them). Connection failures are retried until `default.api.timeout.ms`;
    /// a request that reached the broker is resent only if it is read-only.
    pub async fn send_admin<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        api: AdminApi,
        request: &Req,
    ) -> Result<Resp, ClientError> {
        let config = self.config();
        let deadline = Instant::now() + config.default_api_timeout;
        let mut attempt = 0usize;
        let mut connected_once = false;
        let mut last_error: Option<ClientError>;
        loop {
            match self.connection_to_any(attempt).await {
                Ok(connection) => {
                    connected_once = true;
                    match connection.send_admin(api, request).await {
                        Err(err @ ClientError::ConnectionClosed { .. }) if is_read_only(api) => {
                            last_error = Some(err);
                        }
                        other => return other,
                    }
                }
                Err(err) if err.is_transport() => last_error = Some(err),
                Err(err) => return Err(err),
            }
            attempt += 1;
            if Instant::now() + config.retry_backoff >= deadline {
                let last_error = last_error.map(|e| e.to_string());
                let call = format!("{api:?}");
                return Err(if connected_once {
                    ClientError::Timeout {
                        call,
                        timeout_ms: millis(config.default_api_timeout),
                        last_error,
                    }
                } else {
                    ClientError::NodeUnavailable { call, last_error }
                });
            }
            tokio::time::sleep(config.retry_backoff).await;
        }
    }

    /// Creates a cluster link (or only validates it).
    pub async fn create_cluster_link(
        &self,
        request: &CreateClusterLinkRequest,
    ) -> Result<(), ClientError> {
        let answer: AdminError = self
            .send_admin(AdminApi::CreateClusterLink, request)
            .await?;
        check_admin_error(&answer)
    }

    /// Lists cluster links (one, when the request names it).
    pub async fn list_cluster_links(
        &self,
        request: &ListClusterLinksRequest,
    ) -> Result<Vec<ClusterLinkListing>, ClientError> {
        let answer: ListClusterLinksResponse =
            self.send_admin(AdminApi::ListClusterLinks, request).await?;
        check_admin_error(&answer.error)?;
        Ok(answer.links)
    }

    /// Deletes a cluster link (or only validates the deletion).
    pub async fn delete_cluster_link(
        &self,
        request: &DeleteClusterLinkRequest,
    ) -> Result<(), ClientError> {
        let answer: AdminError = self
            .send_admin(AdminApi::DeleteClusterLink, request)
            .await?;
        check_admin_error(&answer)
    }

    /// Every config of a link, set ones and defaults; sensitive values are withheld.
    pub async fn describe_cluster_link_configs(
        &self,
        link_name: &str,
    ) -> Result<Vec<LinkConfigEntry>, ClientError> {
        let request = DescribeClusterLinkConfigsRequest {
            link_name: link_name.to_string(),
        };
        let answer: DescribeClusterLinkConfigsResponse = self
            .send_admin(AdminApi::DescribeClusterLinkConfigs, &request)
            .await?;
        check_admin_error(&answer.error)?;
        Ok(answer.configs)
    }

    /// Sets and resets configs of a link.
    pub async fn alter_cluster_link_configs(
        &self,
        request: &AlterClusterLinkConfigsRequest,
    ) -> Result<(), ClientError> {
        let answer: AdminError = self
            .send_admin(AdminApi::AlterClusterLinkConfigs, request)
            .await?;
        check_admin_error(&answer)
    }

    /// Creates a mirror topic over a link (or only validates it).
    pub async fn create_mirror_topic(
        &self,
        request: &CreateMirrorTopicRequest,
    ) -> Result<(), ClientError> {
        let answer: AdminError = self
            .send_admin(AdminApi::CreateMirrorTopic, request)
            .await?;
        check_admin_error(&answer)
    }

    /// Names of mirror topics, sorted.
    pub async fn list_mirrors(
        &self,
        request: &ListMirrorsRequest,
    ) -> Result<Vec<String>, ClientError> {
        let answer: ListMirrorsResponse = self.send_admin(AdminApi::ListMirrors, request).await?;
        check_admin_error(&answer.error)?;
        Ok(answer.topics)
    }

    /// Mirror states with per-partition lag.
    pub async fn describe_mirrors(
        &self,
        request: &DescribeMirrorsRequest,
    ) -> Result<Vec<MirrorDescription>, ClientError> {
        let answer: DescribeMirrorsResponse =
            self.send_admin(AdminApi::DescribeMirrors, request).await?;
        check_admin_error(&answer.error)?;
        Ok(answer.mirrors)
    }

    /// Compares each partition of the mirrors with its source, batch by
    /// batch: one outcome per partition, in topic then partition order.
    pub async fn verify_mirrors(
        &self,
        request: &VerifyMirrorsRequest,
    ) -> Result<Vec<MirrorPartitionVerification>, ClientError> {
        let answer: VerifyMirrorsResponse =
            self.send_admin(AdminApi::VerifyMirrors, request).await?;
        check_admin_error(&answer.error)?;
        Ok(answer.partitions)
    }

    /// Pauses, unpauses, promotes or fails over mirrors: one outcome per
    /// topic, in the order the broker answered.
    pub async fn alter_mirrors(
        &self,
        request: &AlterMirrorsRequest,
    ) -> Result<Vec<(String, Result<(), ClientError>)>, ClientError> {
        let answer: AlterMirrorsResponse = self.send_admin(AdminApi::AlterMirrors, request).await?;
        check_admin_error(&answer.error)?;
        Ok(answer
            .results
            .into_iter()
            .map(|r| {
                let outcome = check_admin_error(&r.error);
                (r.topic, outcome)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::ResponseError;

    #[test]
    fn frames_carry_size_header_and_json() {
        let request = ListMirrorsRequest {
            link_name: Some("l".into()),
            include_stopped: true,
        };
        let frame = admin_frame(AdminApi::ListMirrors, 7, "cli", &request);
        let Ok(frame) = frame else {
            panic!("encode failed")
        };
        let size = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        assert_eq!(size, frame.len() - 4);
        let decoded = strait_protocol::admin::decode_admin_request(frame.slice(4..));
        let Ok(decoded) = decoded else {
            panic!("decode failed")
        };
        assert_eq!(decoded.correlation_id, 7);
        assert_eq!(decoded.client_id.as_deref(), Some("cli"));
        assert_eq!(
            decoded.request,
            strait_protocol::admin::AdminRequest::ListMirrors(request)
        );
    }

    /// A fake broker on a local port: answers ApiVersions, then every admin
    /// frame with a ListMirrors answer naming the correlation id it got, or
    /// with garbage for api DeleteClusterLink.
    async fn fake_broker() -> std::net::SocketAddr {
        use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, ResponseHeader};
        use kafka_protocol::protocol::Encodable;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("bind: {e}"),
        };
        let address = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("addr: {e}"),
        };
        tokio::spawn(async move {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            loop {
                let Ok(size) = socket.read_i32().await else {
                    return;
                };
                let mut buf = vec![0u8; size as usize];
                if socket.read_exact(&mut buf).await.is_err() {
                    return;
                }
                let key = i16::from_be_bytes([buf[0], buf[1]]);
                let version = i16::from_be_bytes([buf[2], buf[3]]);
                let correlation_id = i32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                let mut out = BytesMut::new();
                if key == ApiKey::ApiVersions as i16 {
                    let header = ResponseHeader::default().with_correlation_id(correlation_id);
                    let _ = header.encode(&mut out, 0);
                    let _ = ApiVersionsResponse::default().encode(&mut out, version);
                } else if key == AdminApi::DeleteClusterLink as i16 {
                    out.put_i32(correlation_id);
                    out.put_slice(b"{not json");
                } else {
                    let answer = ListMirrorsResponse {
                        error: AdminError::none(),
                        topics: vec![format!("c{correlation_id}")],
                    };
                    match strait_protocol::admin::encode_admin_response(correlation_id, &answer) {
                        Ok(b) => out = b,
                        Err(e) => panic!("{e}"),
                    }
                }
                let mut frame = BytesMut::new();
                frame.put_u32(out.len() as u32);
                frame.put_slice(&out);
                if socket.write_all(&frame).await.is_err() {
                    return;
                }
            }
        });
        address
    }

    #[tokio::test]
    async fn admin_round_trip_over_a_connection() {
        let address = fake_broker().await.to_string();
        let config = crate::ClientConfig::default();
        let connection = match Connection::connect(&address, &config).await {
            Ok(c) => c,
            Err(e) => panic!("connect: {e}"),
        };
        let first: Result<ListMirrorsResponse, _> = connection
            .send_admin(AdminApi::ListMirrors, &ListMirrorsRequest::default())
            .await;
        let second: Result<ListMirrorsResponse, _> = connection
            .send_admin(AdminApi::ListMirrors, &ListMirrorsRequest::default())
            .await;
        let (Ok(first), Ok(second)) = (first, second) else {
            panic!("admin calls failed")
        };
        assert_ne!(first.topics, second.topics, "correlation ids must differ");
        let bad: Result<AdminError, _> = connection
            .send_admin(
                AdminApi::DeleteClusterLink,
                &DeleteClusterLinkRequest::default(),
            )
            .await;
        assert!(matches!(bad, Err(ClientError::InvalidFrame { .. })));
    }

    #[test]
    fn link_error_codes_keep_code_and_message() {
        assert!(check_admin_error(&AdminError::none()).is_ok());
        let err = check_admin_error(&AdminError::new(
            CLUSTER_LINK_NOT_FOUND,
            "Cluster link 'x' does not exist.",
        ));
        let Err(err) = err else { panic!("no error") };
        assert_eq!(err.to_string(), "Cluster link 'x' does not exist.");
        assert_eq!(err.server_error().map(|e| e.code()), Some(10000));
        let bare = check_admin_error(&AdminError {
            error_code: CLUSTER_LINK_IN_USE,
            error_message: None,
        });
        assert_eq!(
            bare.err().map(|e| e.to_string()),
            Some("The cluster link is in use by mirror topics.".to_string())
        );
        let known = check_admin_error(&AdminError {
            error_code: 36,
            error_message: None,
        });
        assert_eq!(
            known.err().and_then(|e| e.server_error()),
            Some(ResponseError::TopicAlreadyExists)
        );
    }
}
