//! Secret values (SASL passwords, private keys) and the rule for which client
//! properties hold them. It owns redaction; it must never let a secret reach
//! `Debug`/`Display` output, logs or error messages.

use std::fmt;

/// Text shown in place of a secret.
pub const REDACTED: &str = "[hidden]";

/// A string that prints as `[hidden]` in `Debug` and `Display`.
/// Read it with [`Secret::expose`] only where the value is actually used.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself: for the wire or a key parser, never for messages.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// True for client properties whose values must never be shown: the same
/// rule cluster-link configs use (`sasl.jaas.config`, `*.password`, private
/// keys, anything named like a secret).
pub fn is_sensitive_property(key: &str) -> bool {
    key == "sasl.jaas.config"
        || key.ends_with(".password")
        || key == "ssl.keystore.key"
        || key == "ssl.key.pem"
        || key == "ssl.keystore.certificate.chain"
        || key.contains("secret")
}

/// `value`, or `[hidden]` when `key` holds secrets: for error messages.
pub fn shown_value(key: &str, value: &str) -> String {
    if is_sensitive_property(key) {
        REDACTED.to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "[hidden]");
        assert_eq!(format!("{secret}"), "[hidden]");
        assert_eq!(secret.expose(), "hunter2");
        assert!(is_sensitive_property("sasl.jaas.config"));
        assert!(is_sensitive_property("ssl.key.password"));
        assert!(is_sensitive_property("sasl.password"));
        assert!(!is_sensitive_property("sasl.username"));
        assert_eq!(shown_value("sasl.password", "x"), "[hidden]");
        assert_eq!(shown_value("client.id", "x"), "x");
    }
}
