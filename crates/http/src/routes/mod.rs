//! The REST v3 routes and the OpenAPI document generated from them: each
//! submodule owns one family of resources. Routes are registered only
//! through `utoipa_axum::routes!`, so the document lists exactly what is
//! served.

mod acls;
mod clusters;
mod configs;
mod groups;
mod lags;
mod links;
mod mirrors;
mod records;
mod topics;

use axum::extract::{FromRequest, FromRequestParts};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::{AppState, RestError};

/// A JSON body; a bad one is a 400 with a JSON error.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(RestError))]
pub struct Body<T>(pub T);

/// Query parameters; bad ones are a 400 with a JSON error.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(RestError))]
pub struct Params<T>(pub T);

/// Path parameters; bad ones are a 400 with a JSON error.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(RestError))]
pub struct PathOf<T>(pub T);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strait Kafka REST v3",
        description = "Confluent's Kafka REST v3 API as Strait serves it: cluster, topics, \
                       configs, partitions, records, consumer groups and lags, ACLs, \
                       cluster links and mirror topics."
    ),
    servers((url = "/kafka/v3"), (url = "/v3")),
    components(schemas(crate::error::ErrorBody))
)]
struct ApiDoc;

/// Every REST v3 route, relative to the base path.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(clusters::routes())
        .merge(topics::routes())
        .merge(configs::routes())
        .merge(links::routes())
        .merge(mirrors::routes())
        .merge(records::routes())
        .merge(groups::routes())
        .merge(lags::routes())
        .merge(acls::routes())
}

/// Takes the response of `$variant` out of a `ResponseKind`, or fails with a
/// 500 naming what came instead.
macro_rules! expect_response {
    ($resp:expr, $variant:ident) => {
        match $resp {
            kafka_protocol::messages::ResponseKind::$variant(r) => r,
            other => {
                return Err($crate::RestError::internal(format!(
                    "unexpected answer {other:?}"
                )))
            }
        }
    };
}
pub(crate) use expect_response;

/// `?validate_only=`: check the request, change nothing.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct ValidateOnlyQuery {
    pub validate_only: Option<bool>,
}

/// A 500 for an admin answer of the wrong kind.
pub fn unexpected(answer: &strait_broker::front_door::AdminAnswer) -> RestError {
    RestError::internal(format!("unexpected admin answer {answer:?}"))
}

/// `[{name, value}]` of a create body as a map; a config without a value
/// is a 400.
pub fn config_map(
    configs: Vec<crate::envelope::ConfigValue>,
) -> Result<std::collections::BTreeMap<String, String>, RestError> {
    let mut out = std::collections::BTreeMap::new();
    for c in configs {
        let Some(value) = c.value else {
            return Err(RestError::bad_request(format!(
                "Config '{}' has no value.",
                c.name
            )));
        };
        out.insert(c.name, value);
    }
    Ok(out)
}

/// Takes the `$variant` answer out of a `Result<AdminAnswer, RestError>`:
/// the error is returned, an answer of another kind is a 500.
macro_rules! expect_admin {
    ($answer:expr, $variant:ident) => {
        match $answer? {
            strait_broker::front_door::AdminAnswer::$variant(r) => r,
            other => return Err($crate::routes::unexpected(&other)),
        }
    };
}
pub(crate) use expect_admin;

/// `true`/`false` query flags default to false.
pub fn flag(v: Option<bool>) -> bool {
    v.unwrap_or(false)
}
