//! Strait's HTTP front door: Confluent's Kafka REST v3 (cluster, topics,
//! configs, partitions, records, consumer groups and lags, ACLs, cluster
//! links and mirror topics) under `/kafka/v3` and `/v3`, its OpenAPI
//! document, the Prometheus metrics at `/metrics`, and the live link page
//! at `/` (`live`), on the `http://` and `https://` listeners of
//! `confluent.http.server.listeners`.
//!
//! It owns HTTP: routing, HTTP Basic authentication, JSON shapes, status
//! codes and the mapping of Kafka error codes to REST errors. Every
//! operation is a Kafka or Strait admin request run through
//! `strait_broker::front_door`, so the same handler and the same
//! authorization gate serve both front doors. It must never change broker
//! state any other way.

mod caller;
mod envelope;
mod error;
mod https;
pub mod live;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use strait_broker::Broker;
use strait_broker::config::HttpListener;
use tokio::net::TcpListener;

pub use error::RestError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub broker: Arc<Broker>,
    /// HTTP Basic passwords, with the SCRAM ones already verified.
    pub passwords: Arc<strait_broker::front_door::PasswordCheck>,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot bind the HTTP listener {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    /// The key store, trust store or TLS settings of an `https://`
    /// listener are not usable.
    #[error("HTTPS listener {addr}: {source}")]
    Tls {
        addr: String,
        source: strait_broker::BrokerError,
    },
}

/// One bound listener: its URL scheme and address.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub scheme: &'static str,
    pub addr: SocketAddr,
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.addr)
    }
}

/// The whole HTTP application: REST v3 under both base paths, the OpenAPI
/// document, the metrics, the live page drawing its lag charts from
/// `history`, and JSON 404s for everything else.
pub fn app(broker: Arc<Broker>, history: Arc<live::sampler::LagHistory>) -> axum::Router {
    let (api, doc) = routes::api().split_for_parts();
    // The document never changes: encoded once, served as bytes.
    let doc = bytes::Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    let serve_doc = move || {
        let doc = doc.clone();
        async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                doc,
            )
        }
    };
    let metrics_broker = broker.clone();
    let metrics = move || {
        let broker = metrics_broker.clone();
        async move { metrics_text(broker).await }
    };
    let state = AppState {
        broker,
        passwords: Arc::default(),
    };
    let live = live::routes(state.clone(), history);
    let api = api.with_state(state);
    axum::Router::new()
        .merge(live)
        .route("/metrics", axum::routing::get(metrics))
        .route(
            "/kafka/v3/openapi.json",
            axum::routing::get(serve_doc.clone()),
        )
        .route("/v3/openapi.json", axum::routing::get(serve_doc))
        .nest("/kafka/v3", api.clone())
        .nest("/v3", api)
        .fallback(error::not_found)
}

/// `/metrics`: the broker's Prometheus series in the OpenMetrics text
/// format, encoded off the async threads.
async fn metrics_text(broker: Arc<Broker>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::task::spawn_blocking(move || broker.metrics_text()).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                strait_broker::metrics::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(e) => RestError::internal(format!("metrics encoding failed: {e}")).into_response(),
    }
}

/// Binds every HTTP listener and serves the application on each until the
/// process ends. Returns the bound listeners. Every TLS setting is checked
/// (files read, keys decrypted) before any listener is bound.
pub async fn serve(
    broker: Arc<Broker>,
    listeners: &[HttpListener],
) -> Result<Vec<Bound>, HttpError> {
    // Every https:// listener has the same settings: the stores are read
    // and the key decrypted once.
    let mut built: Option<(
        &strait_broker::config::SslSettings,
        tokio_rustls::TlsAcceptor,
    )> = None;
    let mut acceptors = Vec::with_capacity(listeners.len());
    for l in listeners {
        let Some(ssl) = &l.tls else {
            acceptors.push(None);
            continue;
        };
        if let Some((settings, acceptor)) = &built
            && *settings == ssl
        {
            acceptors.push(Some(acceptor.clone()));
            continue;
        }
        let acceptor = strait_broker::front_door::tls_acceptor("https", ssl).map_err(|source| {
            HttpError::Tls {
                addr: format!("{}:{}", l.host, l.port),
                source,
            }
        })?;
        acceptors.push(Some(acceptor.clone()));
        built = Some((ssl, acceptor));
    }
    let history = live::start_sampler(broker.clone());
    let app = app(broker, history);
    let mut bound = Vec::new();
    for (l, acceptor) in listeners.iter().zip(acceptors) {
        let host = if l.host.is_empty() {
            "0.0.0.0"
        } else {
            &l.host
        };
        let addr = format!("{host}:{}", l.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| HttpError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| HttpError::Bind {
            addr: addr.clone(),
            source,
        })?;
        if let Some(acceptor) = acceptor {
            bound.push(Bound {
                scheme: "https",
                addr: local,
            });
            tokio::spawn(https::serve(listener, acceptor, app.clone()));
            continue;
        }
        bound.push(Bound {
            scheme: "http",
            addr: local,
        });
        let service = app
            .clone()
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, service).await {
                tracing::error!("HTTP listener {local} stopped: {e}");
            }
        });
    }
    Ok(bound)
}
