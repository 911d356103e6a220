//! The live page at `/`: a small HTML page, its stylesheet and script
//! (embedded in the binary, no remote origin allowed by its
//! Content-Security-Policy), and `/live/status.json`, which the script
//! polls for links, mirrors, per-partition lag and the lag history kept by
//! [`sampler`]. The page and the JSON show what listing links and
//! describing mirrors show, so they need what those requests need:
//! DESCRIBE on the cluster when an authorizer is configured, with HTTP
//! Basic credentials (a 401 carries `WWW-Authenticate`, so a browser asks
//! for them). Not part of REST v3 nor of its OpenAPI document.
//!
//! It only reads figures; it must never act on a link or a mirror.

pub mod sampler;
mod status;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderName,
    REFERRER_POLICY, WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use strait_broker::Broker;
use strait_broker::front_door;
use strait_protocol::admin::{AdminRequest, ListClusterLinksRequest};

use self::sampler::LagHistory;
use crate::caller::RestCall;
use crate::routes::Params;
use crate::{AppState, RestError};

const INDEX_HTML: &str = include_str!("../../assets/live/index.html");
const APP_JS: &str = include_str!("../../assets/live/app.js");
const STYLE_CSS: &str = include_str!("../../assets/live/style.css");
const FAVICON_SVG: &str = include_str!("../../assets/live/favicon.svg");

/// Only this origin, for everything the page loads or sends.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// What the live routes share.
#[derive(Clone)]
pub struct LiveState {
    app: AppState,
    history: Arc<LagHistory>,
}

impl FromRef<LiveState> for AppState {
    fn from_ref(live: &LiveState) -> AppState {
        live.app.clone()
    }
}

/// Starts the sampler that keeps the lag history, for as long as the
/// process runs.
pub fn start_sampler(broker: Arc<Broker>) -> Arc<LagHistory> {
    let history = Arc::new(LagHistory::default());
    tokio::spawn(sampler::run(
        history.clone(),
        sampler::SAMPLE_INTERVAL,
        move || {
            let now_ms = Broker::now_ms();
            let mirrors = broker
                .links
                .get()
                .map(|engine| engine.mirror_statuses(now_ms))
                .unwrap_or_default();
            (now_ms, mirrors)
        },
    ));
    history
}

/// The page, its assets and its JSON.
pub fn routes(app: AppState, history: Arc<LagHistory>) -> axum::Router {
    axum::Router::new()
        .route("/", axum::routing::get(index))
        .route("/live/app.js", axum::routing::get(app_js))
        .route("/live/style.css", axum::routing::get(style_css))
        .route("/live/favicon.svg", axum::routing::get(favicon_svg))
        .route("/live/status.json", axum::routing::get(status_json))
        .with_state(LiveState { app, history })
}

/// The headers every live answer carries, with its content type.
fn page_headers(content_type: &'static str) -> [(HeaderName, HeaderValue); 5] {
    [
        (CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

/// A refusal; a 401 carries a Basic challenge, so a browser asks for
/// credentials.
fn refusal(e: RestError) -> Response {
    let mut response = e.into_response();
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Strait\", charset=\"UTF-8\""),
        );
    }
    response
}

/// The refusal of a caller who may not see links and mirrors, if it may
/// not: an anonymous caller gets a 401 (so a browser asks for
/// credentials), an authenticated one a 403.
fn refused(rc: &RestCall, headers: &HeaderMap) -> Option<Response> {
    let listing = AdminRequest::ListClusterLinks(ListClusterLinksRequest::default());
    if front_door::admin_allowed(&rc.broker, &rc.caller, &listing) {
        return None;
    }
    Some(refusal(if headers.contains_key(AUTHORIZATION) {
        RestError::new(
            StatusCode::FORBIDDEN,
            40301,
            "Cluster authorization failed.",
        )
    } else {
        RestError::unauthorized("Unauthorized")
    }))
}

async fn index(rc: Result<RestCall, RestError>, headers: HeaderMap) -> Response {
    let rc = match rc {
        Ok(rc) => rc,
        Err(e) => return refusal(e),
    };
    if let Some(refusal) = refused(&rc, &headers) {
        return refusal;
    }
    (page_headers("text/html; charset=utf-8"), INDEX_HTML).into_response()
}

async fn app_js() -> Response {
    (page_headers("text/javascript; charset=utf-8"), APP_JS).into_response()
}

async fn style_css() -> Response {
    (page_headers("text/css; charset=utf-8"), STYLE_CSS).into_response()
}

async fn favicon_svg() -> Response {
    (page_headers("image/svg+xml"), FAVICON_SVG).into_response()
}

/// `?since=`: only the history samples taken after this wall-clock ms.
#[derive(Debug, Deserialize)]
struct StatusQuery {
    since: Option<i64>,
}

async fn status_json(
    State(live): State<LiveState>,
    rc: Result<RestCall, RestError>,
    headers: HeaderMap,
    query: Result<Params<StatusQuery>, RestError>,
) -> Response {
    let rc = match rc {
        Ok(rc) => rc,
        Err(e) => return refusal(e),
    };
    if let Some(refusal) = refused(&rc, &headers) {
        return refusal;
    }
    let since = match query {
        Ok(Params(q)) => q.since,
        Err(e) => return e.into_response(),
    };
    let now_ms = Broker::now_ms();
    let figures = rc
        .broker
        .links
        .get()
        .map(|engine| (engine.link_statuses(), engine.mirror_statuses(now_ms)));
    let body = status::build(rc.cluster_id, now_ms, figures, &live.history, since);
    (page_headers("application/json"), Json(body)).into_response()
}
