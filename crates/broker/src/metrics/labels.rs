//! The label sets of the series the broker keeps between scrapes (requests,
//! connections, authentication failures), as small hashable values so that
//! counting a request allocates nothing once its series exists. Label values
//! are written at scrape time; this module must never hold a label whose
//! values a client can choose freely (that would leave cardinality unbounded).

use std::fmt::Write;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;
use prometheus_client::encoding::{
    EncodeLabelSet, EncodeLabelValue, LabelSetEncoder, LabelValueEncoder,
};
use strait_protocol::admin::AdminApi;

/// A request's API: a Kafka API or one of Strait's admin messages, written
/// by its name (`Produce`, `CreateClusterLink`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiName {
    Kafka(ApiKey),
    Admin(AdminApi),
}

impl EncodeLabelValue for ApiName {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        match self {
            ApiName::Kafka(key) => write!(encoder, "{key:?}"),
            ApiName::Admin(api) => write!(encoder, "{api:?}"),
        }
    }
}

/// A Kafka error code, written as Kafka names it (`UNKNOWN_TOPIC_OR_PARTITION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorName(pub i16);

/// Writes `CamelCase` as `CAMEL_CASE`.
struct ScreamingSnake<'a, W: Write> {
    out: &'a mut W,
    started: bool,
}

impl<W: Write> Write for ScreamingSnake<'_, W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for c in s.chars() {
            if c.is_ascii_uppercase() && self.started {
                self.out.write_char('_')?;
            }
            self.out.write_char(c.to_ascii_uppercase())?;
            self.started = true;
        }
        Ok(())
    }
}

impl EncodeLabelValue for ErrorName {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        match ResponseError::try_from_code(self.0) {
            None => encoder.write_str("NONE"),
            Some(ResponseError::Unknown(code)) => write!(encoder, "UNKNOWN_CODE_{code}"),
            Some(known) => write!(
                ScreamingSnake {
                    out: encoder,
                    started: false,
                },
                "{known}"
            ),
        }
    }
}

/// `{api, version}` of `strait_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestLabels {
    pub api: ApiName,
    pub version: i16,
}

impl EncodeLabelSet for RequestLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        ([("api", self.api)], [("version", self.version)]).encode(encoder)
    }
}

/// `{api, version, error}` of `strait_request_errors_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestErrorLabels {
    pub api: ApiName,
    pub version: i16,
    pub error: ErrorName,
}

impl EncodeLabelSet for RequestErrorLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        (
            ([("api", self.api)], [("version", self.version)]),
            [("error", self.error)],
        )
            .encode(encoder)
    }
}

/// `{api}` of `strait_request_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiLabels {
    pub api: ApiName,
}

impl EncodeLabelSet for ApiLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        [("api", self.api)].encode(encoder)
    }
}

/// `{listener}` of the connection series. Listener names come from the
/// broker's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListenerLabels {
    pub listener: String,
}

impl EncodeLabelSet for ListenerLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        [("listener", self.listener.as_str())].encode(encoder)
    }
}

/// `{listener, mechanism}` of `strait_authentication_failures_total`; the
/// mechanism is one the broker knows (`PLAIN`, `SCRAM-SHA-256`, `SSL` for a
/// failed TLS handshake, `UNSUPPORTED` for a mechanism the listener does not
/// enable), never the name a client sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthFailureLabels {
    pub listener: String,
    pub mechanism: &'static str,
}

impl EncodeLabelSet for AuthFailureLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        (
            [("listener", self.listener.as_str())],
            [("mechanism", self.mechanism)],
        )
            .encode(encoder)
    }
}
