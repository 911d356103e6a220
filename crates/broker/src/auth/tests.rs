//! Tests of the per-connection authentication state machine.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, MetadataRequest, RequestHeader, RequestKind, ResponseKind,
    SaslAuthenticateRequest, SaslHandshakeRequest,
};
use strait_metadata::{EmbeddedStore, MetadataStore};
use strait_protocol::DecodedRequest;

use super::*;
use crate::config::{ListenerSecurity, SaslMechanism, SaslSettings, Secret, SecurityProtocol};

fn request(api: ApiKey, version: i16, body: RequestKind) -> DecodedRequest {
    let mut header = RequestHeader::default();
    header.request_api_key = api as i16;
    header.request_api_version = version;
    DecodedRequest {
        header,
        api_key: api,
        body,
    }
}

fn handshake(mech: &str, version: i16) -> DecodedRequest {
    let mut r = SaslHandshakeRequest::default();
    r.mechanism = str_bytes(mech);
    request(
        ApiKey::SaslHandshake,
        version,
        RequestKind::SaslHandshake(r),
    )
}

fn authenticate(token: &[u8]) -> DecodedRequest {
    let mut r = SaslAuthenticateRequest::default();
    r.auth_bytes = Bytes::copy_from_slice(token);
    request(
        ApiKey::SaslAuthenticate,
        2,
        RequestKind::SaslAuthenticate(r),
    )
}

fn metadata() -> DecodedRequest {
    request(
        ApiKey::Metadata,
        12,
        RequestKind::Metadata(MetadataRequest::default()),
    )
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn MetadataStore>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MetadataStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("m.redb")).unwrap());
    Fixture { _dir: dir, store }
}

fn listener(protocol: SecurityProtocol) -> ListenerSecurity {
    ListenerSecurity {
        name: "L".into(),
        protocol,
        ssl: None,
        sasl: None,
    }
}

fn sasl(max_reauth_ms: i64) -> Arc<SaslSettings> {
    Arc::new(SaslSettings {
        mechanisms: SaslMechanism::ALL.to_vec(),
        plain_users: BTreeMap::from([
            ("alice".to_string(), Secret::new("alice-secret")),
            ("bob".to_string(), Secret::new("bob-secret")),
        ]),
        max_reauth_ms,
    })
}

fn sasl_authenticator(f: &Fixture, max_reauth_ms: i64) -> Authenticator {
    Authenticator::new(
        &listener(SecurityProtocol::SaslPlaintext),
        Some(sasl(max_reauth_ms)),
        f.store.clone(),
        None,
    )
}

fn auth_response(o: Outcome) -> (SaslAuthenticateResponse, bool) {
    match o {
        Outcome::Respond(ResponseKind::SaslAuthenticate(r)) => (r, false),
        Outcome::RespondAndClose(ResponseKind::SaslAuthenticate(r), _) => (r, true),
        _ => panic!("not a SaslAuthenticate answer"),
    }
}

fn handshake_response(o: Outcome) -> (SaslHandshakeResponse, bool) {
    match o {
        Outcome::Respond(ResponseKind::SaslHandshake(r)) => (r, false),
        Outcome::RespondAndClose(ResponseKind::SaslHandshake(r), _) => (r, true),
        _ => panic!("not a SaslHandshake answer"),
    }
}

#[test]
fn only_sasl_and_api_versions_before_authentication() {
    let f = fixture();
    let mut a = sasl_authenticator(&f, 0);
    assert!(!a.is_authenticated());
    let api_versions = request(
        ApiKey::ApiVersions,
        3,
        RequestKind::ApiVersions(ApiVersionsRequest::default()),
    );
    assert!(matches!(
        a.on_request(api_versions, Instant::now()),
        Outcome::Serve(_)
    ));
    assert!(matches!(
        a.on_request(metadata(), Instant::now()),
        Outcome::Close(m) if m.contains("during SASL handshake")
    ));
    assert!(matches!(
        a.on_request(authenticate(b"x"), Instant::now()),
        Outcome::Close(_)
    ));
}

#[test]
fn plain_success_session_expiry_and_reauthentication() {
    let f = fixture();
    let mut a = sasl_authenticator(&f, 1000);
    let t0 = Instant::now();
    let (r, close) = handshake_response(a.on_request(handshake("PLAIN", 1), t0));
    assert_eq!(r.error_code, 0);
    assert!(!close);
    assert_eq!(r.mechanisms.len(), 3);
    let (r, close) = auth_response(a.on_request(authenticate(b"\0alice\0alice-secret"), t0));
    assert_eq!((r.error_code, close), (0, false));
    assert_eq!(r.session_lifetime_ms, 1000);
    assert_eq!(a.principal(), "User:alice");
    assert_eq!(a.take_completed(), Some(("User:alice".to_string(), false)));
    assert!(matches!(a.on_request(metadata(), t0), Outcome::Serve(_)));
    // Re-authentication before expiry, same principal.
    let t1 = t0 + Duration::from_millis(900);
    let (r, _) = handshake_response(a.on_request(handshake("PLAIN", 1), t1));
    assert_eq!(r.error_code, 0);
    assert!(matches!(a.on_request(metadata(), t1), Outcome::Close(_)));
    let mut a = sasl_authenticator(&f, 1000);
    handshake_response(a.on_request(handshake("PLAIN", 1), t0));
    auth_response(a.on_request(authenticate(b"\0alice\0alice-secret"), t0));
    handshake_response(a.on_request(handshake("PLAIN", 1), t1));
    let (r, _) = auth_response(a.on_request(authenticate(b"\0alice\0alice-secret"), t1));
    assert_eq!(r.error_code, 0);
    assert_eq!(a.take_completed(), Some(("User:alice".to_string(), true)));
    // The new session runs from t1.
    let t2 = t0 + Duration::from_millis(1500);
    assert!(matches!(a.on_request(metadata(), t2), Outcome::Serve(_)));
    let t3 = t1 + Duration::from_millis(1000);
    assert!(matches!(
        a.on_request(metadata(), t3),
        Outcome::Close(m) if m.contains("expired")
    ));
}

#[test]
fn reauthentication_cannot_change_principal_or_mechanism() {
    let f = fixture();
    let mut a = sasl_authenticator(&f, 0);
    let now = Instant::now();
    handshake_response(a.on_request(handshake("PLAIN", 1), now));
    auth_response(a.on_request(authenticate(b"\0alice\0alice-secret"), now));
    handshake_response(a.on_request(handshake("PLAIN", 1), now));
    let (r, close) = auth_response(a.on_request(authenticate(b"\0bob\0bob-secret"), now));
    assert!(close);
    assert_eq!(
        r.error_message.as_deref(),
        Some("Cannot change principals during re-authentication from User:alice: User:bob")
    );
    let mut a = sasl_authenticator(&f, 0);
    handshake_response(a.on_request(handshake("PLAIN", 1), now));
    auth_response(a.on_request(authenticate(b"\0alice\0alice-secret"), now));
    let (r, close) = handshake_response(a.on_request(handshake("SCRAM-SHA-256", 1), now));
    assert!(close);
    assert_eq!(r.error_code, ResponseError::UnsupportedSaslMechanism.code());
    // SaslAuthenticate without a new handshake after success: Kafka's answer.
    let mut a = sasl_authenticator(&f, 0);
    handshake_response(a.on_request(handshake("PLAIN", 1), now));
    auth_response(a.on_request(authenticate(b"\0alice\0alice-secret"), now));
    let (r, close) = auth_response(a.on_request(authenticate(b"x"), now));
    assert!(!close);
    assert_eq!(r.error_code, ResponseError::IllegalSaslState.code());
}

#[test]
fn wrong_password_and_unknown_mechanism() {
    let f = fixture();
    let mut a = sasl_authenticator(&f, 0);
    let now = Instant::now();
    handshake_response(a.on_request(handshake("PLAIN", 1), now));
    let (r, close) = auth_response(a.on_request(authenticate(b"\0alice\0guess"), now));
    assert!(close);
    assert_eq!(r.error_code, ResponseError::SaslAuthenticationFailed.code());
    assert_eq!(
        r.error_message.as_deref(),
        Some("Authentication failed: Invalid username or password")
    );
    assert_eq!(a.principal(), ANONYMOUS);
    let mut a = sasl_authenticator(&f, 0);
    let (r, close) = handshake_response(a.on_request(handshake("GSSAPI", 1), now));
    assert!(close);
    assert_eq!(r.error_code, ResponseError::UnsupportedSaslMechanism.code());
}

/// A SCRAM client for the tests: returns (client-first, a closure-free state).
fn scram_final(mech: SaslMechanism, password: &[u8], server_first: &str, bare: &str) -> String {
    let mut salt = Vec::new();
    let mut iterations = 0;
    let mut nonce = "";
    for attr in server_first.split(',') {
        if let Some(v) = attr.strip_prefix("s=") {
            salt = B64.decode(v).unwrap();
        } else if let Some(v) = attr.strip_prefix("i=") {
            iterations = v.parse().unwrap();
        } else if let Some(v) = attr.strip_prefix("r=") {
            nonce = v;
        }
    }
    let salted = scram::salted_password(mech, password, &salt, iterations);
    let client_key = scram::hmac(mech, &salted, b"Client Key");
    let without_proof = format!("c=biws,r={nonce}");
    let auth = format!("{bare},{server_first},{without_proof}");
    let sig = scram::hmac(mech, &scram::hash(mech, &client_key), auth.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
    format!("{without_proof},p={}", B64.encode(proof))
}

fn store_scram_user(store: &dyn MetadataStore, mech: SaslMechanism, user: &str, pw: &[u8]) {
    let salt = b"salt-of-sixteen!";
    let salted = scram::salted_password(mech, pw, salt, 4096);
    store
        .set_scram_credential(
            user,
            mech.name(),
            Some(scram::credential_from_salted(mech, salt, &salted, 4096)),
        )
        .unwrap();
}

#[test]
fn scram_over_sasl_authenticate_and_raw_v0_tokens() {
    let f = fixture();
    let mech = SaslMechanism::ScramSha512;
    store_scram_user(f.store.as_ref(), mech, "carol", b"carol-pw");
    let now = Instant::now();
    // v1: SaslAuthenticate frames.
    let mut a = sasl_authenticator(&f, 0);
    handshake_response(a.on_request(handshake("SCRAM-SHA-512", 1), now));
    let bare = "n=carol,r=clientnonce";
    let (r, _) = auth_response(a.on_request(authenticate(format!("n,,{bare}").as_bytes()), now));
    assert_eq!(r.error_code, 0);
    let sf = String::from_utf8(r.auth_bytes.to_vec()).unwrap();
    let fin = scram_final(mech, b"carol-pw", &sf, bare);
    let (r, close) = auth_response(a.on_request(authenticate(fin.as_bytes()), now));
    assert_eq!((r.error_code, close), (0, false));
    assert!(r.auth_bytes.starts_with(b"v="));
    assert_eq!(r.session_lifetime_ms, 0);
    assert_eq!(a.principal(), "User:carol");

    // v0: raw tokens after the handshake.
    let mut a = sasl_authenticator(&f, 0);
    handshake_response(a.on_request(handshake("SCRAM-SHA-512", 0), now));
    assert!(a.expects_raw_token());
    let RawOutcome::Respond(sf) = a.on_raw_token(format!("n,,{bare}").as_bytes(), now) else {
        panic!("no server-first");
    };
    let sf = String::from_utf8(sf).unwrap();
    let fin = scram_final(mech, b"carol-pw", &sf, bare);
    assert!(matches!(
        a.on_raw_token(fin.as_bytes(), now),
        RawOutcome::Respond(v) if v.starts_with(b"v=")
    ));
    assert!(a.is_authenticated() && !a.expects_raw_token());

    // Wrong password, and SHA-256 without a SHA-256 credential.
    let mut a = sasl_authenticator(&f, 0);
    handshake_response(a.on_request(handshake("SCRAM-SHA-512", 1), now));
    let (r, _) = auth_response(a.on_request(authenticate(format!("n,,{bare}").as_bytes()), now));
    let sf = String::from_utf8(r.auth_bytes.to_vec()).unwrap();
    let fin = scram_final(mech, b"guess", &sf, bare);
    let (r, close) = auth_response(a.on_request(authenticate(fin.as_bytes()), now));
    assert!(close);
    assert_eq!(
        r.error_message.as_deref(),
        Some(
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
        )
    );
    let mut a = sasl_authenticator(&f, 0);
    handshake_response(a.on_request(handshake("SCRAM-SHA-256", 0), now));
    assert!(matches!(
        a.on_raw_token(format!("n,,{bare}").as_bytes(), now),
        RawOutcome::Close(_)
    ));
}

#[test]
fn listeners_without_sasl_serve_everything_and_refuse_sasl() {
    let f = fixture();
    let mut a = Authenticator::new(
        &listener(SecurityProtocol::Ssl),
        None,
        f.store.clone(),
        Some("User:CN=client,O=Strait".into()),
    );
    assert_eq!(a.principal(), "User:CN=client,O=Strait");
    assert!(matches!(
        a.on_request(metadata(), Instant::now()),
        Outcome::Serve(_)
    ));
    let (r, close) = handshake_response(a.on_request(handshake("PLAIN", 1), Instant::now()));
    assert!(!close);
    assert_eq!(r.error_code, ResponseError::IllegalSaslState.code());
    // On SASL_SSL the certificate does not make the principal.
    let a = Authenticator::new(
        &listener(SecurityProtocol::SaslSsl),
        Some(sasl(0)),
        f.store.clone(),
        Some("User:CN=client".into()),
    );
    assert_eq!(a.principal(), ANONYMOUS);
    assert!(!a.is_authenticated());
}
