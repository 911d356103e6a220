//! REST errors: `{"error_code", "message"}` with Confluent's HTTP statuses,
//! and the one mapping from Kafka error codes to them. Must never put a
//! secret in a message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kafka_protocol::error::ResponseError;
use serde::Serialize;
use strait_protocol::admin::{CLUSTER_LINK_EXISTS, CLUSTER_LINK_NOT_FOUND};
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error_code: i32,
    pub message: String,
}

/// An error answer: an HTTP status and the body.
#[derive(Debug, Clone)]
pub struct RestError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl RestError {
    pub fn new(status: StatusCode, error_code: i32, message: impl Into<String>) -> Self {
        RestError {
            status,
            body: ErrorBody {
                error_code,
                message: message.into(),
            },
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 40002, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, 404, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 40101, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 50001, message)
    }

    /// The answer to a Kafka (or Confluent link) error code, as Confluent's
    /// REST API maps the exceptions behind them.
    pub fn kafka(code: i16, message: Option<&str>) -> Self {
        let (status, rest_code, default) = kafka_status(code);
        let message = match message {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => default,
        };
        Self::new(status, rest_code, message)
    }
}

/// Status, REST error code and default message of a Kafka error code.
fn kafka_status(code: i16) -> (StatusCode, i32, String) {
    match code {
        CLUSTER_LINK_NOT_FOUND => (
            StatusCode::NOT_FOUND,
            40404,
            "The cluster link does not exist.".into(),
        ),
        CLUSTER_LINK_EXISTS => (
            StatusCode::CONFLICT,
            40901,
            "The cluster link already exists.".into(),
        ),
        c if c >= 10000 => (
            StatusCode::BAD_REQUEST,
            40002,
            format!("Cluster link error {c}."),
        ),
        _ => {
            let Some(error) = ResponseError::try_from_code(code) else {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    50001,
                    format!("Unknown error code {code}."),
                );
            };
            let text = error.to_string();
            match error {
                ResponseError::UnknownTopicOrPartition | ResponseError::UnknownTopicId => (
                    StatusCode::NOT_FOUND,
                    40403,
                    "This server does not host this topic-partition.".into(),
                ),
                ResponseError::GroupIdNotFound => (StatusCode::NOT_FOUND, 40403, text),
                ResponseError::TopicAuthorizationFailed
                | ResponseError::GroupAuthorizationFailed
                | ResponseError::ClusterAuthorizationFailed
                | ResponseError::TransactionalIdAuthorizationFailed
                | ResponseError::DelegationTokenAuthorizationFailed => {
                    (StatusCode::FORBIDDEN, 40301, text)
                }
                ResponseError::SaslAuthenticationFailed => (StatusCode::UNAUTHORIZED, 40101, text),
                ResponseError::SecurityDisabled => (StatusCode::BAD_REQUEST, 40002, text),
                ResponseError::UnknownServerError => {
                    (StatusCode::INTERNAL_SERVER_ERROR, 50001, text)
                }
                e if e.is_retriable() => (StatusCode::SERVICE_UNAVAILABLE, 50003, text),
                _ => (StatusCode::BAD_REQUEST, 40002, text),
            }
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<axum::extract::rejection::JsonRejection> for RestError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        RestError::bad_request(r.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for RestError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        RestError::bad_request(r.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for RestError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        RestError::bad_request(r.body_text())
    }
}

impl From<strait_broker::front_door::CallError> for RestError {
    fn from(e: strait_broker::front_door::CallError) -> Self {
        RestError::internal(e.to_string())
    }
}

/// Everything no route serves.
pub async fn not_found() -> RestError {
    RestError::not_found("HTTP 404 Not Found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_codes_map_to_confluents_statuses() {
        let cases = [
            (3, StatusCode::NOT_FOUND, 40403),
            (36, StatusCode::BAD_REQUEST, 40002),
            (29, StatusCode::FORBIDDEN, 40301),
            (31, StatusCode::FORBIDDEN, 40301),
            (7, StatusCode::SERVICE_UNAVAILABLE, 50003),
            (-1, StatusCode::INTERNAL_SERVER_ERROR, 50001),
            (CLUSTER_LINK_NOT_FOUND, StatusCode::NOT_FOUND, 40404),
            (CLUSTER_LINK_EXISTS, StatusCode::CONFLICT, 40901),
            (12345, StatusCode::BAD_REQUEST, 40002),
        ];
        for (code, status, rest) in cases {
            let e = RestError::kafka(code, None);
            assert_eq!((e.status, e.body.error_code), (status, rest), "code {code}");
            assert!(!e.body.message.is_empty());
        }
        assert_eq!(RestError::kafka(3, Some("gone")).body.message, "gone");
    }
}
