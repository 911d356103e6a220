//! Strait's HTTP front door: Confluent's Kafka REST v3 (cluster, topics,
//! configs, partitions, cluster links and mirror topics) under `/kafka/v3`
//! and `/v3`, and its OpenAPI document, on the listeners of
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
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot bind the HTTP listener {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// The whole HTTP application: REST v3 under both base paths, the OpenAPI
/// document, and JSON 404s for everything else.
pub fn app(broker: Arc<Broker>) -> axum::Router {
    let (api, doc) = routes::api().split_for_parts();
    let doc = Arc::new(doc);
    let serve_doc = move || {
        let doc = doc.clone();
        async move { axum::Json(doc.as_ref().clone()) }
    };
    let state = AppState { broker };
    let api = api.with_state(state);
    axum::Router::new()
        .route(
            "/kafka/v3/openapi.json",
            axum::routing::get(serve_doc.clone()),
        )
        .route("/v3/openapi.json", axum::routing::get(serve_doc))
        .nest("/kafka/v3", api.clone())
        .nest("/v3", api)
        .fallback(error::not_found)
}

/// Binds every HTTP listener and serves the application on each until the
/// process ends. Returns the bound addresses.
pub async fn serve(
    broker: Arc<Broker>,
    listeners: &[HttpListener],
) -> Result<Vec<SocketAddr>, HttpError> {
    let app = app(broker);
    let mut bound = Vec::new();
    for l in listeners {
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
        bound.push(local);
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
