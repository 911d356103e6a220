//! TLS for SSL and SASL_SSL listeners with rustls (ring provider): loading
//! the PEM key store and trust store named by the `ssl.*` settings into a
//! [`TlsAcceptor`], and Kafka's mTLS principal, `User:<subject DN>` in
//! RFC 2253 form (`CN=alice,OU=eng,O=Acme`), from a client certificate.
//!
//! Its errors name files and settings, never key material or passwords.
//! It must never accept a client certificate that the trust store does not
//! vouch for when client authentication is requested or required.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

use crate::config::{ClientAuth, KeyStore, SslSettings, TlsVersion, TrustStore};

/// One PEM block: its label (`CERTIFICATE`, `PRIVATE KEY`, ...) and DER bytes.
#[derive(Debug)]
struct PemBlock {
    label: String,
    der: Vec<u8>,
}

/// Reads every PEM block of a text. Tolerates Kafka's inline style, where a
/// whole block sits on one line with spaces instead of line breaks.
fn pem_blocks(text: &str, what: &str) -> Result<Vec<PemBlock>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after
            .find("-----")
            .ok_or_else(|| format!("{what}: malformed PEM header"))?;
        let label = after[..label_end].trim().to_string();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body_start
            .find(&end_marker)
            .ok_or_else(|| format!("{what}: PEM block {label} has no END line"))?;
        let body = &body_start[..body_end];
        if body.contains(':') {
            return Err(format!(
                "{what}: legacy encrypted PEM ({label} with headers) is not supported; use PKCS#8"
            ));
        }
        let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let der = B64
            .decode(compact.as_bytes())
            .map_err(|_| format!("{what}: PEM block {label} is not valid base64"))?;
        out.push(PemBlock { label, der });
        rest = &body_start[body_end + end_marker.len()..];
    }
    Ok(out)
}

fn read_file(path: &std::path::Path, setting: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{setting} {}: {e}", path.display()))
}

fn certificates(blocks: &[PemBlock]) -> Vec<CertificateDer<'static>> {
    blocks
        .iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.der.clone()))
        .collect()
}

fn private_key(
    blocks: &[PemBlock],
    password: Option<&str>,
    what: &str,
) -> Result<PrivateKeyDer<'static>, String> {
    let mut keys = blocks.iter().filter(|b| b.label.ends_with("PRIVATE KEY"));
    let Some(block) = keys.next() else {
        return Err(format!("{what}: no private key found"));
    };
    if keys.next().is_some() {
        return Err(format!("{what}: more than one private key found"));
    }
    match block.label.as_str() {
        "PRIVATE KEY" => Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            block.der.clone(),
        ))),
        "RSA PRIVATE KEY" => Ok(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(
            block.der.clone(),
        ))),
        "EC PRIVATE KEY" => Ok(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(
            block.der.clone(),
        ))),
        "ENCRYPTED PRIVATE KEY" => {
            let Some(password) = password else {
                return Err(format!(
                    "{what}: the private key is encrypted; set ssl.key.password"
                ));
            };
            decrypt_pkcs8(&block.der, password, what)
        }
        other => Err(format!("{what}: unsupported private key type {other}")),
    }
}

/// Decrypts an `ENCRYPTED PRIVATE KEY` (PKCS#8 with PBES2, as `openssl
/// pkcs8 -topk8` and Java write them) with `ssl.key.password`.
fn decrypt_pkcs8(der: &[u8], password: &str, what: &str) -> Result<PrivateKeyDer<'static>, String> {
    let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(der)
        .map_err(|e| format!("{what}: malformed encrypted private key: {e}"))?;
    let document = encrypted.decrypt(password.as_bytes()).map_err(|_| {
        format!("{what}: the private key cannot be decrypted: wrong ssl.key.password or an unsupported cipher")
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        document.as_bytes().to_vec(),
    )))
}

/// Builds the acceptor of one TLS listener from its settings.
pub fn acceptor(listener: &str, ssl: &SslSettings) -> Result<TlsAcceptor, String> {
    let key_password = ssl.key_password.as_ref().map(|p| p.expose());
    let (chain, key) = match &ssl.keystore {
        KeyStore::File(path) => {
            let what = format!(
                "listener {listener}: ssl.keystore.location {}",
                path.display()
            );
            let text = read_file(path, &format!("listener {listener}: ssl.keystore.location"))?;
            let blocks = pem_blocks(&text, &what)?;
            (
                certificates(&blocks),
                private_key(&blocks, key_password, &what)?,
            )
        }
        KeyStore::Inline { chain, key } => {
            let what_chain = format!("listener {listener}: ssl.keystore.certificate.chain");
            let what_key = format!("listener {listener}: ssl.keystore.key");
            let chain_blocks = pem_blocks(chain.expose(), &what_chain)?;
            let key_blocks = pem_blocks(key.expose(), &what_key)?;
            (
                certificates(&chain_blocks),
                private_key(&key_blocks, key_password, &what_key)?,
            )
        }
    };
    if chain.is_empty() {
        return Err(format!(
            "listener {listener}: the key store holds no certificate"
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = ssl
        .protocols
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("listener {listener}: {e}"))?;
    let builder = match ssl.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Requested | ClientAuth::Required => {
            let roots = trust_roots(listener, ssl.truststore.as_ref())?;
            let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            if ssl.client_auth == ClientAuth::Requested {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier
                .build()
                .map_err(|e| format!("listener {listener}: trust store: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).map_err(|e| {
        format!("listener {listener}: the key store's key and certificate are not usable: {e}")
    })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn trust_roots(
    listener: &str,
    store: Option<&TrustStore>,
) -> Result<rustls::RootCertStore, String> {
    let (text, what) = match store {
        Some(TrustStore::File(path)) => (
            read_file(
                path,
                &format!("listener {listener}: ssl.truststore.location"),
            )?,
            format!(
                "listener {listener}: ssl.truststore.location {}",
                path.display()
            ),
        ),
        Some(TrustStore::Inline(certs)) => (
            certs.expose().to_string(),
            format!("listener {listener}: ssl.truststore.certificates"),
        ),
        None => return Err(format!("listener {listener}: no trust store")),
    };
    let certs = certificates(&pem_blocks(&text, &what)?);
    if certs.is_empty() {
        return Err(format!("{what}: no certificate found"));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("{what}: unusable certificate: {e}"))?;
    }
    Ok(roots)
}

/// Kafka's principal for a TLS peer: `User:<subject DN>` of its certificate
/// (Java's X500Principal RFC 2253 form), or None without a certificate.
pub fn peer_principal(conn: &rustls::ServerConnection) -> Option<String> {
    let cert = conn.peer_certificates()?.first()?;
    subject_dn(cert.as_ref()).map(|dn| format!("User:{dn}"))
}

/// The RFC 2253 subject DN of a DER certificate, as Java prints it.
pub fn subject_dn(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    let rdns: Vec<String> = cert
        .subject()
        .iter()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    match (keyword(&oid), atv.as_str()) {
                        (Some(k), Ok(v)) => format!("{k}={}", escape(v)),
                        _ => {
                            let any = atv.attr_value();
                            let mut der = vec![any.header.tag().0 as u8];
                            der.extend(der_length(any.data.len()));
                            der.extend_from_slice(any.data);
                            let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
                            format!("{oid}=#{hex}")
                        }
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    Some(rdns.join(","))
}

/// RFC 2253 keywords, as Java's X500Principal uses them.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn der_length(len: usize) -> Vec<u8> {
    if len < 128 {
        vec![len as u8]
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
}

/// RFC 2253 value escaping.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_tolerates_inline_one_line_blocks() {
        let der = b"\x30\x03\x02\x01\x05";
        let b64 = B64.encode(der);
        let one_line = format!(
            "-----BEGIN CERTIFICATE----- {} {} -----END CERTIFICATE-----",
            &b64[..4],
            &b64[4..]
        );
        let blocks = pem_blocks(&one_line, "t").unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].der, der);
        let text = format!(
            "junk\n-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n{one_line}\n"
        );
        let blocks = pem_blocks(&text, "t").unwrap();
        assert_eq!(blocks.len(), 2);
        assert!(matches!(
            private_key(&blocks, None, "t").unwrap(),
            PrivateKeyDer::Pkcs8(_)
        ));
        assert_eq!(certificates(&blocks).len(), 1);
        assert!(pem_blocks("-----BEGIN X-----\nabc", "t").is_err());
        let enc =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----";
        let e = private_key(&pem_blocks(enc, "t").unwrap(), None, "t").unwrap_err();
        assert!(e.contains("encrypted"), "{e}");
        let e = private_key(&pem_blocks(enc, "t").unwrap(), Some("pw"), "t").unwrap_err();
        assert!(e.contains("malformed encrypted private key"), "{e}");
    }

    /// Subject `/C=US/O=Acme, Inc./OU=eng/CN=alice/emailAddress=a@b.c`.
    const SUBJECT_CERT: &str = "-----BEGIN CERTIFICATE-----\n\
MIICATCCAaegAwIBAgIUJZq4CUy6v2LecHWZagS0rSOKyXcwCgYIKoZIzj0EAwIw\n\
VjELMAkGA1UEBhMCVVMxEzARBgNVBAoMCkFjbWUsIEluYy4xDDAKBgNVBAsMA2Vu\n\
ZzEOMAwGA1UEAwwFYWxpY2UxFDASBgkqhkiG9w0BCQEWBWFAYi5jMB4XDTI2MTEy\n\
NTE0NTI0NVoXDTM2MTEyMjE0NTI0NVowVjELMAkGA1UEBhMCVVMxEzARBgNVBAoM\n\
CkFjbWUsIEluYy4xDDAKBgNVBAsMA2VuZzEOMAwGA1UEAwwFYWxpY2UxFDASBgkq\n\
hkiG9w0BCQEWBWFAYi5jMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8mmwOKbf\n\
WscA6eDGtPRKSNvoZSaoMnEzYiUp4BmYLHUEt/RLknu75RvQLvY3o+4AzQgJ6GuL\n\
MmHhzds2oOOPCqNTMFEwHQYDVR0OBBYEFBmZM5K3fSMn1c1175SfT2wIJrHtMB8G\n\
A1UdIwQYMBaAFBmZM5K3fSMn1c1175SfT2wIJrHtMA8GA1UdEwEB/wQFMAMBAf8w\n\
CgYIKoZIzj0EAwIDSAAwRQIhAIw68mfZNUn2wMzOf7rXHqsMJLCOdgJ+2ueSa8UH\n\
zFdkAiBzU8jgdm0n56l9p7e0299pEZ0gfGc5FFyO+u/QvMObvw==\n\
-----END CERTIFICATE-----";

    #[test]
    fn subject_dn_as_java_prints_it() {
        let blocks = pem_blocks(SUBJECT_CERT, "t").unwrap();
        let dn = subject_dn(&blocks[0].der).unwrap();
        assert_eq!(
            dn,
            "1.2.840.113549.1.9.1=#16056140622e63,CN=alice,OU=eng,O=Acme\\, Inc.,C=US"
        );
        assert!(subject_dn(b"not a certificate").is_none());
    }

    #[test]
    fn rfc2253_escaping() {
        assert_eq!(escape("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape("#x "), "\\#x\\ ");
        assert_eq!(der_length(5), vec![5]);
        assert_eq!(der_length(300), vec![0x82, 1, 44]);
    }
}
