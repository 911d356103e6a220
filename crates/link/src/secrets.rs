//! Sensitive link configs at rest: the broker's link secret key and the
//! sealing (authenticated encryption, ChaCha20-Poly1305 from `ring`) of the
//! values [`crate::config::is_sensitive`] names, so that stored link records
//! never hold a password, a JAAS config or a private key in clear.
//!
//! A sealed value is `strait-sealed:v1:` followed by base64 of a random
//! 96-bit nonce and the ciphertext with its tag; the config's name is the
//! associated data, so a sealed value cannot be moved to another key. A value
//! without that marker is plaintext (links stored before sealing existed) and
//! is sealed on the next write.
//!
//! It owns the key (from `password.encoder.secret`, or a random key kept in a
//! 0600 file) and the sealed format. It must never log, print or put into an
//! error a plaintext value or the key, and never decide which configs are
//! sensitive (that is `config`).

use std::collections::BTreeMap;
use std::io::Write;
use std::num::NonZeroU32;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::is_sensitive;

/// The marker that starts every sealed value.
pub const SEALED_PREFIX: &str = "strait-sealed:v1:";
/// Key length in bytes (256 bits).
const KEY_LEN: usize = 32;
/// PBKDF2 rounds turning `password.encoder.secret` into a key (done once at start).
const PASSPHRASE_ROUNDS: u32 = 200_000;
/// Fixed salt of the passphrase derivation: the secret is the only input
/// that varies, so every broker given the same secret derives the same key.
const PASSPHRASE_SALT: &[u8] = b"strait cluster link configs v1";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read or write the link secret key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error(
        "the link secret key file {path} is malformed: expected {KEY_LEN} bytes written as 64 hexadecimal digits"
    )]
    MalformedKeyFile { path: String },
    #[error("password.encoder.secret must not be empty")]
    EmptyPassphrase,
    #[error("the link secret key was refused by the cipher")]
    Key,
    #[error("the system random number generator failed")]
    Random,
    #[error("encrypting the value of {0} failed")]
    Seal(String),
    #[error(
        "the stored value of {0} cannot be decrypted: it is corrupt or was encrypted with another key (did password.encoder.secret or the link secret key file change?)"
    )]
    Open(String),
}

/// The key sensitive link configs are sealed with. Its `Debug` never shows it.
pub struct LinkSecretKey {
    key: LessSafeKey,
    rng: SystemRandom,
    /// The key of Kafka's `password.encoder.old.secret`: values it sealed
    /// still open, and are sealed again with this key at start.
    previous: Option<Box<LinkSecretKey>>,
}

impl std::fmt::Debug for LinkSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecretKey([hidden])")
    }
}

impl LinkSecretKey {
    /// A key from raw bytes.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Result<Self, SecretError> {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes).map_err(|_| SecretError::Key)?;
        Ok(LinkSecretKey {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
            previous: None,
        })
    }

    /// This key, still able to open what `previous` sealed (key rotation
    /// with `password.encoder.old.secret`).
    pub fn with_previous(mut self, previous: LinkSecretKey) -> Self {
        self.previous = Some(Box::new(previous));
        self
    }

    /// The key derived from Kafka's broker property `password.encoder.secret`.
    pub fn from_passphrase(secret: &str) -> Result<Self, SecretError> {
        if secret.is_empty() {
            return Err(SecretError::EmptyPassphrase);
        }
        let mut bytes = [0u8; KEY_LEN];
        let rounds = NonZeroU32::new(PASSPHRASE_ROUNDS).unwrap_or(NonZeroU32::MIN);
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            PASSPHRASE_SALT,
            secret.as_bytes(),
            &mut bytes,
        );
        Self::from_bytes(&bytes)
    }

    /// The key kept in `path`; a new random one is written there (readable
    /// by the owner only) when the file does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretError> {
        let file_error = |reason: String| SecretError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes =
                    decode_hex_key(text.trim()).ok_or_else(|| SecretError::MalformedKeyFile {
                        path: path.display().to_string(),
                    })?;
                return Self::from_bytes(&bytes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(e.to_string())),
        }
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SecretError::Random)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| file_error(e.to_string()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = match options.open(path) {
            Ok(f) => f,
            // Another process created it first: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Self::load_or_create(path);
            }
            Err(e) => return Err(file_error(e.to_string())),
        };
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        file.write_all(format!("{text}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| file_error(e.to_string()))?;
        Self::from_bytes(&bytes)
    }

    /// Seals the value of config `name`.
    pub fn seal(&self, name: &str, plaintext: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SecretError::Random)?;
        let mut data = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut data,
            )
            .map_err(|_| SecretError::Seal(name.to_string()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{SEALED_PREFIX}{}", BASE64.encode(out)))
    }

    /// The plaintext of a stored value of config `name`: a sealed value is
    /// opened (with the previous key if this one cannot), any other value is
    /// returned as it is (stored before sealing).
    pub fn open(&self, name: &str, stored: &str) -> Result<String, SecretError> {
        match (self.open_own(name, stored), &self.previous) {
            (Err(_), Some(previous)) => previous.open(name, stored),
            (outcome, _) => outcome,
        }
    }

    /// Opens a value with this key only.
    fn open_own(&self, name: &str, stored: &str) -> Result<String, SecretError> {
        let Some(encoded) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_string());
        };
        let fail = || SecretError::Open(name.to_string());
        let mut data = BASE64.decode(encoded).map_err(|_| fail())?;
        if data.len() < NONCE_LEN {
            return Err(fail());
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&data[..NONCE_LEN]);
        let sealed = &mut data[NONCE_LEN..];
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                sealed,
            )
            .map_err(|_| fail())?;
        String::from_utf8(plain.to_vec()).map_err(|_| fail())
    }

    /// Whether some sensitive value of `configs` is in clear or sealed with
    /// the previous key: storing `seal_sensitive(configs)` would change it.
    pub fn needs_sealing(&self, configs: &BTreeMap<String, String>) -> bool {
        configs
            .iter()
            .any(|(k, v)| is_sensitive(k) && (!is_sealed(v) || self.open_own(k, v).is_err()))
    }

    /// `configs` with every sensitive value sealed with this key (values it
    /// already sealed are kept; values the previous key sealed are sealed
    /// again).
    pub fn seal_sensitive(
        &self,
        configs: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, SecretError> {
        configs
            .iter()
            .map(|(k, v)| {
                let value = if !is_sensitive(k) {
                    v.clone()
                } else if !is_sealed(v) {
                    self.seal(k, v)?
                } else if self.open_own(k, v).is_ok() {
                    v.clone()
                } else {
                    self.seal(k, &self.open(k, v)?)?
                };
                Ok((k.clone(), value))
            })
            .collect()
    }

    /// `configs` with every sealed value opened.
    pub fn open_all(
        &self,
        configs: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, SecretError> {
        configs
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.open(k, v)?)))
            .collect()
    }
}

/// Whether a stored value is sealed.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

fn decode_hex_key(text: &str) -> Option<[u8; KEY_LEN]> {
    if text.len() != KEY_LEN * 2 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; KEY_LEN];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LinkSecretKey {
        LinkSecretKey::from_bytes(&[7u8; KEY_LEN]).unwrap()
    }

    #[test]
    fn sealed_values_open_and_hide_the_plaintext() {
        let k = key();
        let sealed = k.seal("sasl.jaas.config", "password=\"hunter2\";").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            k.seal("sasl.jaas.config", "password=\"hunter2\";").unwrap()
        );
        assert_eq!(
            k.open("sasl.jaas.config", &sealed).unwrap(),
            "password=\"hunter2\";"
        );
        // Bound to its key name, and to the key.
        assert!(k.open("ssl.key.password", &sealed).is_err());
        let other = LinkSecretKey::from_bytes(&[8u8; KEY_LEN]).unwrap();
        assert!(other.open("sasl.jaas.config", &sealed).is_err());
        // Damaged values are errors, not panics.
        assert!(k.open("x", "strait-sealed:v1:").is_err());
        assert!(k.open("x", "strait-sealed:v1:%%%").is_err());
        let error = other
            .open("sasl.jaas.config", &sealed)
            .unwrap_err()
            .to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn plaintext_from_before_sealing_still_loads_and_gets_sealed() {
        let k = key();
        assert_eq!(k.open("ssl.key.password", "old").unwrap(), "old");
        let stored: BTreeMap<String, String> = [
            ("bootstrap.servers", "h:1"),
            ("ssl.key.password", "old"),
            ("sasl.jaas.config", "x password=\"p\";"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert!(k.needs_sealing(&stored));
        let sealed = k.seal_sensitive(&stored).unwrap();
        assert!(!k.needs_sealing(&sealed));
        assert_eq!(sealed["bootstrap.servers"], "h:1");
        assert!(is_sealed(&sealed["ssl.key.password"]));
        // Sealing again keeps sealed values as they are.
        assert_eq!(k.seal_sensitive(&sealed).unwrap(), sealed);
        assert_eq!(k.open_all(&sealed).unwrap(), stored);
    }

    #[test]
    fn passphrase_keys_are_stable_and_key_files_are_private() {
        let a = LinkSecretKey::from_passphrase("s3cret").unwrap();
        let b = LinkSecretKey::from_passphrase("s3cret").unwrap();
        assert_eq!(b.open("k", &a.seal("k", "v").unwrap()).unwrap(), "v");
        assert!(LinkSecretKey::from_passphrase("").is_err());
        assert_eq!(format!("{a:?}"), "LinkSecretKey([hidden])");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("link-secret.key");
        let first = LinkSecretKey::load_or_create(&path).unwrap();
        let sealed = first.seal("k", "v").unwrap();
        let again = LinkSecretKey::load_or_create(&path).unwrap();
        assert_eq!(again.open("k", &sealed).unwrap(), "v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(matches!(
            LinkSecretKey::load_or_create(&path),
            Err(SecretError::MalformedKeyFile { .. })
        ));
    }

    #[test]
    fn rotation_opens_old_values_and_seals_them_with_the_new_key() {
        let old = LinkSecretKey::from_passphrase("old-secret").unwrap();
        let stored = BTreeMap::from([
            (
                "sasl.jaas.config".to_string(),
                old.seal("sasl.jaas.config", "password=\"hunter2\";")
                    .unwrap(),
            ),
            ("bootstrap.servers".to_string(), "h:9092".to_string()),
        ]);
        let new = LinkSecretKey::from_passphrase("new-secret").unwrap();
        assert!(
            new.open_all(&stored).is_err(),
            "the new key alone cannot open"
        );
        let rotating = LinkSecretKey::from_passphrase("new-secret")
            .unwrap()
            .with_previous(LinkSecretKey::from_passphrase("old-secret").unwrap());
        assert!(rotating.needs_sealing(&stored));
        let resealed = rotating.seal_sensitive(&stored).unwrap();
        assert!(!rotating.needs_sealing(&resealed));
        assert_eq!(resealed["bootstrap.servers"], "h:9092");
        // Now the new key opens it without the old one.
        assert_eq!(
            new.open("sasl.jaas.config", &resealed["sasl.jaas.config"])
                .unwrap(),
            "password=\"hunter2\";"
        );
        assert!(old.open_all(&resealed).is_err());
        // Values the current key sealed are kept as they are.
        assert_eq!(rotating.seal_sensitive(&resealed).unwrap(), resealed);
    }
}
