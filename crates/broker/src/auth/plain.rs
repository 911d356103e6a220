//! SASL PLAIN (RFC 4616) on the server side: parses the client's single
//! `authzid NUL authcid NUL passwd` message and checks it against the users
//! of the listener's PLAIN JAAS config, with Kafka's error messages.
//!
//! It must never log, return or keep the password it was sent, and compares
//! passwords in constant time.

use std::collections::BTreeMap;

use subtle::ConstantTimeEq;

use super::AuthFailure;
use crate::config::Secret;

/// Checks one PLAIN message; returns the authenticated user name.
pub fn authenticate(token: &[u8], users: &BTreeMap<String, Secret>) -> Result<String, AuthFailure> {
    let text = std::str::from_utf8(token)
        .map_err(|_| AuthFailure::invalid("Invalid SASL/PLAIN response: not UTF-8"))?;
    let tokens: Vec<&str> = text.split('\u{0}').collect();
    if tokens.len() != 3 {
        return Err(AuthFailure::invalid(format!(
            "Invalid SASL/PLAIN response: expected 3 tokens, got {}",
            tokens.len()
        )));
    }
    let (authzid, username, password) = (tokens[0], tokens[1], tokens[2]);
    if username.is_empty() {
        return Err(AuthFailure::denied(
            "Authentication failed: username not specified",
        ));
    }
    if password.is_empty() {
        return Err(AuthFailure::denied(
            "Authentication failed: password not specified",
        ));
    }
    if !password_matches(users, username, password) {
        return Err(AuthFailure::denied(
            "Authentication failed: Invalid username or password",
        ));
    }
    if !authzid.is_empty() && authzid != username {
        return Err(AuthFailure::denied(
            "Authentication failed: Client requested an authorization id that is different from username",
        ));
    }
    Ok(username.to_string())
}

/// Whether `password` is `user`'s, compared in constant time; an unknown
/// user costs the same comparison.
pub fn password_matches(users: &BTreeMap<String, Secret>, user: &str, password: &str) -> bool {
    match users.get(user) {
        Some(expected) => bool::from(expected.expose().as_bytes().ct_eq(password.as_bytes())),
        None => {
            let _ = password.as_bytes().ct_eq(password.as_bytes());
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> BTreeMap<String, Secret> {
        BTreeMap::from([("alice".to_string(), Secret::new("alice-secret"))])
    }

    fn msg(e: AuthFailure) -> String {
        e.client_message("PLAIN")
    }

    #[test]
    fn accepts_rfc4616_messages() {
        assert_eq!(
            authenticate(b"\0alice\0alice-secret", &users()).unwrap(),
            "alice"
        );
        assert_eq!(
            authenticate(b"alice\0alice\0alice-secret", &users()).unwrap(),
            "alice"
        );
    }

    #[test]
    fn refuses_with_kafka_messages() {
        let cases: [(&[u8], &str); 6] = [
            (
                b"\0alice\0wrong",
                "Authentication failed: Invalid username or password",
            ),
            (
                b"\0mallory\0alice-secret",
                "Authentication failed: Invalid username or password",
            ),
            (b"\0\0x", "Authentication failed: username not specified"),
            (
                b"\0alice\0",
                "Authentication failed: password not specified",
            ),
            (b"bob\0alice\0alice-secret", "different from username"),
            (
                b"alice-secret",
                "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN",
            ),
        ];
        for (token, expected) in cases {
            let m = msg(authenticate(token, &users()).unwrap_err());
            assert!(m.contains(expected), "{m}");
            assert!(!m.contains("alice-secret") && !m.contains("wrong"));
        }
    }
}
