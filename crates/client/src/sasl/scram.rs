//! SCRAM-SHA-256 / SCRAM-SHA-512 client messages (RFC 5802, RFC 7677) as
//! Kafka uses them inside SaslAuthenticate: client-first with a random nonce,
//! server-first (nonce, salt, iterations), client-final with the proof, and
//! verification of the server signature. It owns the message formats and the
//! key derivation; it must never put the password, derived keys or proofs
//! into an error message, and never does I/O.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::secret::Secret;

/// Kafka refuses SCRAM iteration counts below this (ScramMechanism.minIterations).
pub const MIN_ITERATIONS: u32 = 4096;
/// Upper bound accepted from a server, so a hostile one cannot stall the client.
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    Sha256,
    Sha512,
}

/// Why a SCRAM exchange failed on the client side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScramError(pub String);

fn fail(reason: impl Into<String>) -> ScramError {
    ScramError(reason.into())
}

impl ScramHash {
    /// The SASL mechanism name.
    pub fn mechanism(self) -> &'static str {
        match self {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, ScramError> {
        let invalid = |_| fail("HMAC key rejected");
        Ok(match self {
            ScramHash::Sha256 => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(invalid)?;
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            ScramHash::Sha512 => {
                let mut mac = Hmac::<Sha512>::new_from_slice(key).map_err(invalid)?;
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        })
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `Hi()` of RFC 5802: PBKDF2 with HMAC of this hash, one output block.
    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramHash::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

/// `saslname` of RFC 5802: `=` and `,` escaped.
fn escape_username(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

/// A fresh client nonce: 24 random bytes, base64url (printable, no ',').
pub fn random_nonce() -> String {
    let bytes: [u8; 24] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

enum State {
    Initial,
    AwaitingServerFinal { server_signature: Vec<u8> },
    Done,
}

/// One client-side SCRAM conversation.
pub struct ScramClient {
    hash: ScramHash,
    password: Secret,
    client_nonce: String,
    client_first_bare: String,
    state: State,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("mechanism", &self.hash.mechanism())
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A conversation with a random nonce. `extensions` are appended to the
    /// client-first message (Kafka uses `tokenauth=true` for delegation tokens).
    pub fn new(
        hash: ScramHash,
        username: &str,
        password: &Secret,
        extensions: &[(&str, &str)],
    ) -> ScramClient {
        ScramClient::with_nonce(hash, username, password, &random_nonce(), extensions)
    }

    /// A conversation with a given nonce (tests use the RFC's).
    pub fn with_nonce(
        hash: ScramHash,
        username: &str,
        password: &Secret,
        nonce: &str,
        extensions: &[(&str, &str)],
    ) -> ScramClient {
        let mut client_first_bare = format!("n={},r={nonce}", escape_username(username));
        for (key, value) in extensions {
            client_first_bare.push_str(&format!(",{key}={value}"));
        }
        ScramClient {
            hash,
            password: password.clone(),
            client_nonce: nonce.to_string(),
            client_first_bare,
            state: State::Initial,
        }
    }

    /// The client-first message (no channel binding, no authzid).
    pub fn client_first_message(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Takes the server-first message and returns the client-final message.
    /// This derives the salted password (the iteration count decides the cost).
    pub fn handle_server_first(&mut self, message: &[u8]) -> Result<String, ScramError> {
        if !matches!(self.state, State::Initial) {
            return Err(fail("unexpected server-first message"));
        }
        let server_first = std::str::from_utf8(message)
            .map_err(|_| fail("the server-first message is not UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attribute in server_first.split(',') {
            let Some((key, value)) = attribute.split_once('=') else {
                return Err(fail("the server-first message is malformed"));
            };
            match key {
                "r" => nonce = Some(value),
                "s" => salt = Some(value),
                "i" => iterations = Some(value),
                "m" => {
                    return Err(fail(
                        "the server requires a SCRAM extension this client does not support",
                    ));
                }
                "e" => {
                    return Err(fail(format!("the server reported SCRAM error '{value}'")));
                }
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(fail(
                "the server-first message lacks the nonce, salt or iteration count",
            ));
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() <= self.client_nonce.len() {
            return Err(fail(
                "the server nonce does not extend the client nonce; refusing to continue",
            ));
        }
        let salt = STANDARD
            .decode(salt)
            .map_err(|_| fail("the server-first message has an invalid salt"))?;
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| fail("the server-first message has an invalid iteration count"))?;
        if iterations < MIN_ITERATIONS {
            return Err(fail(format!(
                "the server asked for {iterations} iterations, fewer than the minimum of {MIN_ITERATIONS}"
            )));
        }
        if iterations > MAX_ITERATIONS {
            return Err(fail(format!(
                "the server asked for {iterations} iterations, more than this client accepts ({MAX_ITERATIONS})"
            )));
        }
        let hash = self.hash;
        let salted = hash.salted_password(self.password.expose().as_bytes(), &salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key")?;
        let stored_key = hash.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = hash.hmac(&stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hash.hmac(&salted, b"Server Key")?;
        let server_signature = hash.hmac(&server_key, auth_message.as_bytes())?;
        self.state = State::AwaitingServerFinal { server_signature };
        Ok(format!("{without_proof},p={}", STANDARD.encode(proof)))
    }

    /// Checks the server-final message: the server must prove it knows the
    /// password's server key too.
    pub fn handle_server_final(&mut self, message: &[u8]) -> Result<(), ScramError> {
        let State::AwaitingServerFinal { server_signature } = &self.state else {
            return Err(fail("unexpected server-final message"));
        };
        let server_final = std::str::from_utf8(message)
            .map_err(|_| fail("the server-final message is not UTF-8"))?;
        let mut verifier = None;
        for attribute in server_final.split(',') {
            match attribute.split_once('=') {
                Some(("e", error)) => {
                    return Err(fail(format!("the server reported SCRAM error '{error}'")));
                }
                Some(("v", value)) => verifier = Some(value),
                _ => {}
            }
        }
        let Some(verifier) = verifier else {
            return Err(fail("the server-final message has no verifier"));
        };
        let received = STANDARD
            .decode(verifier)
            .map_err(|_| fail("the server-final message has an invalid verifier"))?;
        if !constant_time_eq(&received, server_signature) {
            return Err(fail(
                "the server's SCRAM signature is invalid: it does not know this user's credentials",
            ));
        }
        self.state = State::Done;
        Ok(())
    }

    /// True once the server signature was verified.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3: user "user", password "pencil".
    #[test]
    fn rfc7677_sha256_test_vector() {
        let password = Secret::new("pencil");
        let mut client = ScramClient::with_nonce(
            ScramHash::Sha256,
            "user",
            &password,
            "rOprNGfwEbeRWgbNEkqO",
            &[],
        );
        assert_eq!(
            client.client_first_message(),
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let client_final = client.handle_server_first(
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        );
        assert_eq!(
            client_final,
            Ok("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=".to_string())
        );
        assert!(!client.is_complete());
        assert_eq!(
            client.handle_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Ok(())
        );
        assert!(client.is_complete());
    }

    #[test]
    fn wrong_server_signature_is_rejected() {
        let password = Secret::new("pencil");
        let mut client = ScramClient::with_nonce(
            ScramHash::Sha256,
            "user",
            &password,
            "rOprNGfwEbeRWgbNEkqO",
            &[],
        );
        let first = client.handle_server_first(
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        );
        assert!(first.is_ok());
        let err = client.handle_server_final(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert!(
            err.is_err_and(|e| e.0.contains("signature is invalid") && !e.0.contains("pencil"))
        );
        assert!(!client.is_complete());
    }

    #[test]
    fn hostile_server_first_messages_are_rejected() {
        let password = Secret::new("pencil");
        let cases: [&[u8]; 6] = [
            b"r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            b"r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            b"r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10",
            b"r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999",
            b"r=abcdef,s=!!notbase64!!,i=4096",
            b"e=invalid-proof",
        ];
        for case in cases {
            let mut client = ScramClient::with_nonce(ScramHash::Sha512, "u", &password, "abc", &[]);
            let result = client.handle_server_first(case);
            assert!(result.is_err(), "{:?}", String::from_utf8_lossy(case));
        }
    }

    #[test]
    fn sha512_round_trip_against_a_local_server_computation() {
        // Compute what a server would send with the same primitives and check
        // that the proof verifies, the server signature is accepted, and the
        // extensions and escaped user name appear in the client-first message.
        let hash = ScramHash::Sha512;
        let password = Secret::new("s3cret");
        let mut client =
            ScramClient::with_nonce(hash, "a=b,c", &password, "cnonce", &[("tokenauth", "true")]);
        let first = client.client_first_message();
        assert_eq!(first, "n,,n=a=3Db=2Cc,r=cnonce,tokenauth=true");
        let salt = b"saltsalt";
        let server_first = format!("r=cnonce-snonce,s={},i=4096", STANDARD.encode(salt));
        let client_final = client.handle_server_first(server_first.as_bytes());
        let Ok(client_final) = client_final else {
            panic!("server-first rejected: {client_final:?}")
        };
        assert!(!client_final.contains("s3cret"));
        let Some((without_proof, proof)) = client_final.rsplit_once(",p=") else {
            panic!("no proof in {client_final}")
        };
        let auth_message = format!("{},{server_first},{without_proof}", &first[3..]);
        let salted = hash.salted_password(b"s3cret", salt, 4096);
        let Ok(client_key) = hash.hmac(&salted, b"Client Key") else {
            panic!("hmac")
        };
        let stored_key = hash.hash(&client_key);
        let Ok(signature) = hash.hmac(&stored_key, auth_message.as_bytes()) else {
            panic!("hmac")
        };
        let Ok(proof) = STANDARD.decode(proof) else {
            panic!("proof is not base64")
        };
        let recovered: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        assert_eq!(hash.hash(&recovered), stored_key);
        let Ok(server_key) = hash.hmac(&salted, b"Server Key") else {
            panic!("hmac")
        };
        let Ok(server_signature) = hash.hmac(&server_key, auth_message.as_bytes()) else {
            panic!("hmac")
        };
        let server_final = format!("v={}", STANDARD.encode(server_signature));
        assert_eq!(client.handle_server_final(server_final.as_bytes()), Ok(()));
    }

    #[test]
    fn random_nonces_are_printable_and_distinct() {
        let a = random_nonce();
        let b = random_nonce();
        assert_ne!(a, b);
        assert!(a.len() >= 24 && !a.contains(','));
    }
}
