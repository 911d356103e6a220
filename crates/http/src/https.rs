//! The `https://` listeners of `confluent.http.server.listeners`: TLS
//! handshakes with the broker's own acceptor (`front_door::tls_acceptor`),
//! each in its connection's task so a slow or hostile peer never holds up
//! the accept loop, and the peer's mTLS principal attached to every request
//! of the connection as a [`TlsPeer`].
//!
//! It owns the TLS accept loop only. It must never decide who a caller is
//! (that is `caller`) or serve a connection whose handshake failed.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// What the TLS handshake of a request's connection established.
#[derive(Debug, Clone)]
pub struct TlsPeer {
    /// `User:<subject DN>` when the peer presented a certificate that the
    /// trust store vouched for; `None` without one.
    pub principal: Option<String>,
}

/// Serves `app` over TLS on `listener` until the process ends.
pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor, app: axum::Router) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: back off, never spin.
                tracing::warn!("HTTPS listener cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move { serve_connection(tcp, peer, acceptor, app).await });
    }
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: axum::Router,
) {
    let tls = match tokio::time::timeout(
        strait_broker::front_door::TLS_HANDSHAKE_TIMEOUT,
        acceptor.accept(tcp),
    )
    .await
    {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!("HTTPS handshake with {peer} failed: {e}");
            return;
        }
        Err(_) => {
            tracing::info!("HTTPS handshake with {peer} timed out");
            return;
        }
    };
    let tls_peer = TlsPeer {
        principal: strait_broker::front_door::tls_principal(tls.get_ref().1),
    };
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(tls_peer.clone());
        app.clone().oneshot(request)
    });
    if let Err(e) = auto::Builder::new(TokioExecutor::new())
        .serve_connection_with_upgrades(TokioIo::new(tls), service)
        .await
    {
        tracing::debug!("HTTPS connection from {peer} ended: {e}");
    }
}
