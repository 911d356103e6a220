//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) on the server side:
//! the two-round exchange against credentials from the metadata store, and
//! the derivation of stored credentials from a salted password (what
//! AlterUserScramCredentials receives).
//!
//! It keeps only salts, iteration counts and derived keys (StoredKey,
//! ServerKey), never a password or salted password, compares proofs in
//! constant time, and must never put a proof, key or password in an error.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256, Sha512};
use strait_metadata::ScramCredential;
use subtle::ConstantTimeEq;

use super::AuthFailure;
use crate::config::SaslMechanism;

/// Kafka's bounds on SCRAM iterations (ScramMechanism.minIterations/maxIterations).
pub const MIN_ITERATIONS: i32 = 4096;
pub const MAX_ITERATIONS: i32 = 16384;

/// Kafka's wire code of a SCRAM mechanism (ScramMechanism.type()).
pub fn mechanism_from_code(code: i8) -> Option<SaslMechanism> {
    match code {
        1 => Some(SaslMechanism::ScramSha256),
        2 => Some(SaslMechanism::ScramSha512),
        _ => None,
    }
}

pub fn mechanism_code(mech: SaslMechanism) -> i8 {
    match mech {
        SaslMechanism::ScramSha256 => 1,
        SaslMechanism::ScramSha512 => 2,
        SaslMechanism::Plain => 0,
    }
}

pub(crate) fn hmac(mech: SaslMechanism, key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so new_from_slice cannot fail; an
    // empty result would only make verification fail.
    match mech {
        SaslMechanism::ScramSha512 => match Hmac::<Sha512>::new_from_slice(key) {
            Ok(mut m) => {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        },
        _ => match Hmac::<Sha256>::new_from_slice(key) {
            Ok(mut m) => {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        },
    }
}

pub(crate) fn hash(mech: SaslMechanism, data: &[u8]) -> Vec<u8> {
    match mech {
        SaslMechanism::ScramSha512 => Sha512::digest(data).to_vec(),
        _ => Sha256::digest(data).to_vec(),
    }
}

/// RFC 5802 Hi(): PBKDF2 with HMAC of the mechanism's hash (a SASL client
/// computes it; the broker does to check an HTTP Basic password).
pub fn salted_password(
    mech: SaslMechanism,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Vec<u8> {
    match mech {
        SaslMechanism::ScramSha512 => {
            let mut out = vec![0u8; 64];
            pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
            out
        }
        _ => {
            let mut out = vec![0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
            out
        }
    }
}

/// The stored credential for a salted password (as the client computed it).
pub fn credential_from_salted(
    mech: SaslMechanism,
    salt: &[u8],
    salted: &[u8],
    iterations: i32,
) -> ScramCredential {
    let client_key = hmac(mech, salted, b"Client Key");
    ScramCredential {
        salt: salt.to_vec(),
        stored_key: hash(mech, &client_key),
        server_key: hmac(mech, salted, b"Server Key"),
        iterations,
    }
}

/// Whether `password` is the one `credential` was made from, compared in
/// constant time.
pub fn password_matches(mech: SaslMechanism, credential: &ScramCredential, password: &str) -> bool {
    let Ok(iterations) = u32::try_from(credential.iterations) else {
        return false;
    };
    let salted = salted_password(mech, password.as_bytes(), &credential.salt, iterations);
    let candidate = credential_from_salted(mech, &credential.salt, &salted, credential.iterations);
    bool::from(subtle::ConstantTimeEq::ct_eq(
        candidate.stored_key.as_slice(),
        credential.stored_key.as_slice(),
    ))
}

/// Decodes a SCRAM saslname (`=2C` is ',', `=3D` is '=').
fn decode_saslname(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("=2C") {
            out.push(',');
        } else if tail.starts_with("=3D") {
            out.push('=');
        } else {
            return None;
        }
        rest = &tail[3..];
    }
    out.push_str(rest);
    Some(out)
}

fn printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

struct ClientFirst {
    gs2_header: String,
    bare: String,
    user: String,
    nonce: String,
}

fn parse_client_first(text: &str) -> Result<ClientFirst, AuthFailure> {
    let bad = || AuthFailure::invalid("Invalid SCRAM client first message format");
    // gs2-header: "n," [ "a=" authzid ] ","; channel binding is not served.
    let rest = text.strip_prefix("n,").ok_or_else(bad)?;
    let comma = rest.find(',').ok_or_else(bad)?;
    let authzid_part = &rest[..comma];
    let bare = &rest[comma + 1..];
    let authzid = if authzid_part.is_empty() {
        None
    } else {
        Some(
            authzid_part
                .strip_prefix("a=")
                .and_then(decode_saslname)
                .ok_or_else(bad)?,
        )
    };
    let mut attrs = bare.split(',');
    let user = attrs
        .next()
        .and_then(|a| a.strip_prefix("n="))
        .and_then(decode_saslname)
        .ok_or_else(bad)?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .filter(|n| printable(n))
        .ok_or_else(bad)?;
    for ext in attrs {
        let (k, v) = ext.split_once('=').ok_or_else(bad)?;
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad());
        }
        if k == "tokenauth" && v == "true" {
            return Err(AuthFailure::denied(
                "Authentication failed: delegation tokens are not supported",
            ));
        }
    }
    if user.is_empty() {
        return Err(bad());
    }
    if let Some(a) = authzid
        && a != user
    {
        return Err(AuthFailure::denied(
            "Authentication failed: Client requested an authorization id that is different from username",
        ));
    }
    Ok(ClientFirst {
        gs2_header: text[..text.len() - bare.len()].to_string(),
        bare: bare.to_string(),
        user,
        nonce: nonce.to_string(),
    })
}

/// What the server keeps between its first and final messages.
struct Pending {
    first: ClientFirst,
    server_first: String,
    nonce: String,
    credential: ScramCredential,
}

enum State {
    First,
    Final(Box<Pending>),
    Done,
}

/// What the server answers to one client message.
pub enum ScramStep {
    /// The server-first message; the exchange goes on.
    Challenge(Vec<u8>),
    /// The server-final message; `user` is authenticated.
    Complete { response: Vec<u8>, user: String },
}

/// One SCRAM exchange on the server side.
pub struct ScramServer {
    mechanism: SaslMechanism,
    state: State,
    server_nonce: Option<String>,
}

impl ScramServer {
    pub fn new(mechanism: SaslMechanism) -> Self {
        ScramServer {
            mechanism,
            state: State::First,
            server_nonce: None,
        }
    }

    /// A server with a fixed nonce, for test vectors.
    #[cfg(test)]
    fn with_nonce(mechanism: SaslMechanism, nonce: &str) -> Self {
        ScramServer {
            mechanism,
            state: State::First,
            server_nonce: Some(nonce.to_string()),
        }
    }

    /// Processes one client message; `lookup` finds a user's credential.
    pub fn step(
        &mut self,
        message: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<ScramStep, AuthFailure> {
        let text = std::str::from_utf8(message)
            .map_err(|_| AuthFailure::invalid("SCRAM message is not UTF-8"))?;
        match std::mem::replace(&mut self.state, State::Done) {
            State::First => {
                let first = parse_client_first(text)?;
                let credential = lookup(&first.user).ok_or_else(|| {
                    AuthFailure::invalid("Authentication failed: Invalid user credentials")
                })?;
                let server_part = self.server_nonce.take().unwrap_or_else(|| {
                    rand::rng()
                        .sample_iter(&rand::distr::Alphanumeric)
                        .take(32)
                        .map(char::from)
                        .collect()
                });
                let nonce = format!("{}{server_part}", first.nonce);
                let server_first = format!(
                    "r={nonce},s={},i={}",
                    B64.encode(&credential.salt),
                    credential.iterations
                );
                let out = server_first.clone().into_bytes();
                self.state = State::Final(Box::new(Pending {
                    first,
                    server_first,
                    nonce,
                    credential,
                }));
                Ok(ScramStep::Challenge(out))
            }
            State::Final(pending) => {
                let Pending {
                    first,
                    server_first,
                    nonce,
                    credential,
                } = *pending;
                let bad = || AuthFailure::invalid("Invalid SCRAM client final message format");
                let (without_proof, proof) = text.rsplit_once(",p=").ok_or_else(bad)?;
                let proof = B64.decode(proof).map_err(|_| bad())?;
                let mut attrs = without_proof.split(',');
                let channel = attrs
                    .next()
                    .and_then(|a| a.strip_prefix("c="))
                    .ok_or_else(bad)?;
                let client_nonce = attrs
                    .next()
                    .and_then(|a| a.strip_prefix("r="))
                    .ok_or_else(bad)?;
                // Kafka's rule (ScramSaslServer): the final nonce must end with
                // the server-first nonce. librdkafka up to 2.0 sends the client
                // nonce once more in front of it, and Kafka accepts that.
                if !client_nonce.ends_with(nonce.as_str()) {
                    return Err(AuthFailure::invalid(
                        "Invalid client nonce in the final client message.",
                    ));
                }
                if B64.decode(channel).ok().as_deref() != Some(first.gs2_header.as_bytes()) {
                    return Err(AuthFailure::invalid(
                        "Invalid channel binding in the final client message.",
                    ));
                }
                let auth_message = format!("{},{server_first},{without_proof}", first.bare);
                let mech = self.mechanism;
                let client_signature = hmac(mech, &credential.stored_key, auth_message.as_bytes());
                if proof.len() != client_signature.len() {
                    return Err(AuthFailure::invalid("Invalid client credentials"));
                }
                let client_key: Vec<u8> = proof
                    .iter()
                    .zip(&client_signature)
                    .map(|(a, b)| a ^ b)
                    .collect();
                let computed = hash(mech, &client_key);
                if !bool::from(computed.ct_eq(&credential.stored_key)) {
                    return Err(AuthFailure::invalid("Invalid client credentials"));
                }
                let server_signature = hmac(mech, &credential.server_key, auth_message.as_bytes());
                Ok(ScramStep::Complete {
                    response: format!("v={}", B64.encode(server_signature)).into_bytes(),
                    user: first.user,
                })
            }
            State::Done => Err(AuthFailure::invalid("SCRAM exchange already completed")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3.
    #[test]
    fn rfc7677_sha256_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = salted_password(SaslMechanism::ScramSha256, b"pencil", &salt, 4096);
        let cred = credential_from_salted(SaslMechanism::ScramSha256, &salt, &salted, 4096);
        let mut server =
            ScramServer::with_nonce(SaslMechanism::ScramSha256, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
        let first = match server
            .step(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", |u| {
                (u == "user").then(|| cred.clone())
            })
            .unwrap()
        {
            ScramStep::Challenge(c) => String::from_utf8(c).unwrap(),
            ScramStep::Complete { .. } => panic!("completed early"),
        };
        assert_eq!(
            first,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let fin = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        match server.step(fin, |_| None).unwrap() {
            ScramStep::Complete { response, user } => {
                assert_eq!(user, "user");
                assert_eq!(
                    String::from_utf8(response).unwrap(),
                    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
                );
            }
            ScramStep::Challenge(_) => panic!("no completion"),
        }
    }

    /// A client side, as a test oracle for SHA-512 and wrong passwords.
    fn run(mech: SaslMechanism, stored_pw: &[u8], client_pw: &[u8]) -> Result<String, String> {
        run_with_final_nonce(mech, stored_pw, client_pw, |n| n.to_string())
    }

    /// As `run`, with the final message's nonce made from the server-first
    /// nonce by `final_nonce`.
    fn run_with_final_nonce(
        mech: SaslMechanism,
        stored_pw: &[u8],
        client_pw: &[u8],
        final_nonce: impl Fn(&str) -> String,
    ) -> Result<String, String> {
        let salt = b"0123456789abcdef".to_vec();
        let cred = credential_from_salted(
            mech,
            &salt,
            &salted_password(mech, stored_pw, &salt, 4096),
            4096,
        );
        let mut server = ScramServer::new(mech);
        let bare = "n=al=2Cice,r=abc";
        let ScramStep::Challenge(sf) = server
            .step(format!("n,,{bare}").as_bytes(), |u| {
                (u == "al,ice").then(|| cred.clone())
            })
            .map_err(|e| e.client_message(mech.name()))?
        else {
            return Err("early".into());
        };
        let sf = String::from_utf8(sf).unwrap();
        let nonce = sf.split(',').next().unwrap().strip_prefix("r=").unwrap();
        let without_proof = format!("c=biws,r={}", final_nonce(nonce));
        let auth = format!("{bare},{sf},{without_proof}");
        let salted = salted_password(mech, client_pw, &salt, 4096);
        let client_key = hmac(mech, &salted, b"Client Key");
        let sig = hmac(mech, &hash(mech, &client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        let fin = format!("{without_proof},p={}", B64.encode(proof));
        match server.step(fin.as_bytes(), |_| None) {
            Ok(ScramStep::Complete { response, user }) => {
                let expected = hmac(mech, &hmac(mech, &salted, b"Server Key"), auth.as_bytes());
                assert_eq!(
                    String::from_utf8(response).unwrap(),
                    format!("v={}", B64.encode(expected))
                );
                Ok(user)
            }
            Ok(_) => Err("no completion".into()),
            Err(e) => Err(e.client_message(mech.name())),
        }
    }

    #[test]
    fn sha512_round_trip_and_wrong_password() {
        assert_eq!(
            run(SaslMechanism::ScramSha512, b"pw", b"pw").unwrap(),
            "al,ice"
        );
        assert_eq!(
            run(SaslMechanism::ScramSha256, b"pw", b"pw").unwrap(),
            "al,ice"
        );
        let e = run(SaslMechanism::ScramSha512, b"pw", b"nope").unwrap_err();
        assert_eq!(
            e,
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
        );
    }

    /// librdkafka up to 2.0 repeats its client nonce before the server-first
    /// nonce; Kafka accepts any final nonce ending with the server-first one.
    #[test]
    fn final_nonce_must_end_with_the_server_first_nonce() {
        for mech in [SaslMechanism::ScramSha256, SaslMechanism::ScramSha512] {
            let user = run_with_final_nonce(mech, b"pw", b"pw", |n| format!("abc{n}"));
            assert_eq!(user.unwrap(), "al,ice");
            // The proof matches the changed nonce, so only the nonce rule
            // can refuse these.
            assert!(run_with_final_nonce(mech, b"pw", b"pw", |n| format!("{n}x")).is_err());
            assert!(run_with_final_nonce(mech, b"pw", b"pw", |n| n[1..].to_string()).is_err());
        }
    }

    #[test]
    fn refuses_unknown_users_and_bad_messages() {
        let mut s = ScramServer::new(SaslMechanism::ScramSha256);
        assert!(s.step(b"n,,n=bob,r=x", |_| None).is_err());
        for bad in [
            &b"p=tls-unique,,n=a,r=x"[..],
            b"y,,n=a,r=x",
            b"n,,r=x",
            b"n,,n=a=41,r=x",
            b"n,a=b,n=a,r=x",
        ] {
            let mut s = ScramServer::new(SaslMechanism::ScramSha256);
            let cred = credential_from_salted(SaslMechanism::ScramSha256, b"s", b"k", 4096);
            assert!(s.step(bad, |_| Some(cred.clone())).is_err(), "{bad:?}");
        }
        assert_eq!(mechanism_from_code(2), Some(SaslMechanism::ScramSha512));
        assert_eq!(mechanism_from_code(0), None);
    }
}
