//! One listener's connection and authentication series: accepted
//! connections, open connections (a guard per connection keeps the gauge
//! right however the connection ends) and failed authentications. Must never
//! label a series with anything a client sent.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::labels::AuthFailureLabels;

/// Handles on one listener's series; cheap to clone.
#[derive(Clone)]
pub struct ListenerMetrics {
    listener: String,
    accepted: Counter,
    open: Gauge,
    authentication_failures: Family<AuthFailureLabels, Counter>,
}

/// Counts one open connection until dropped.
pub struct OpenConnection {
    open: Gauge,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.open.dec();
    }
}

impl ListenerMetrics {
    pub(super) fn new(
        listener: &str,
        accepted: Counter,
        open: Gauge,
        authentication_failures: Family<AuthFailureLabels, Counter>,
    ) -> Self {
        ListenerMetrics {
            listener: listener.to_string(),
            accepted,
            open,
            authentication_failures,
        }
    }

    /// Counts an accepted connection; it stays open until the guard drops.
    pub fn accepted(&self) -> OpenConnection {
        self.accepted.inc();
        self.open.inc();
        OpenConnection {
            open: self.open.clone(),
        }
    }

    /// Counts a failed authentication with `mechanism` (a name the broker
    /// knows: see `AuthFailureLabels`).
    pub fn authentication_failed(&self, mechanism: &'static str) {
        self.authentication_failures
            .get_or_create(&AuthFailureLabels {
                listener: self.listener.clone(),
                mechanism,
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::super::BrokerMetrics;

    #[test]
    fn open_connections_follow_their_guards() {
        let metrics = BrokerMetrics::new(10);
        let l = metrics.listener("PLAINTEXT");
        let a = l.accepted();
        let b = l.accepted();
        drop(a);
        l.authentication_failed("PLAIN");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &metrics.registry).unwrap();
        assert!(
            text.contains("strait_connections_accepted_total{listener=\"PLAINTEXT\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("strait_connections{listener=\"PLAINTEXT\"} 1\n"),
            "{text}"
        );
        assert!(text.contains(
            "strait_authentication_failures_total{listener=\"PLAINTEXT\",mechanism=\"PLAIN\"} 1\n"
        ));
        drop(b);
    }
}
