//! TLS for `security.protocol` SSL and SASL_SSL: the `ssl.*` client
//! properties (PEM trust stores and key stores, Java and librdkafka names),
//! the rustls client configuration built from them once per
//! [`crate::ClientConfig`], server certificate verification with or without
//! hostname checks, and the handshake over a connected TCP stream.
//! It reads the PEM files a configuration names when the configuration is
//! built, so a bad path fails before any connection. It must never skip
//! certificate chain verification, and never put private key material or
//! passwords into `Debug` output or error messages.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::config::split_host_port;
use crate::error::ClientError;
use crate::secret::{REDACTED, Secret};

/// Where trusted CA certificates come from.
#[derive(Clone, PartialEq, Eq)]
pub enum TrustSource {
    /// `ssl.truststore.location` (or librdkafka's `ssl.ca.location`): a PEM file.
    PemFile(PathBuf),
    /// `ssl.truststore.certificates` (or `ssl.ca.pem`): PEM text.
    InlinePem(String),
    /// Neither set: the operating system's CA certificates.
    System,
}

impl fmt::Debug for TrustSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustSource::PemFile(path) => f.debug_tuple("PemFile").field(path).finish(),
            TrustSource::InlinePem(text) => write!(f, "InlinePem({} bytes)", text.len()),
            TrustSource::System => f.write_str("System"),
        }
    }
}

/// The client certificate and key for mutual TLS.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientIdentity {
    /// `ssl.keystore.location` with `ssl.keystore.type=PEM`: one file holding
    /// the private key and the certificate chain.
    PemFile(PathBuf),
    /// librdkafka's `ssl.certificate.location` + `ssl.key.location`.
    PemFiles { certificate: PathBuf, key: PathBuf },
    /// `ssl.keystore.certificate.chain` + `ssl.keystore.key` (or librdkafka's
    /// `ssl.certificate.pem` + `ssl.key.pem`).
    InlinePem { chain: String, key: Secret },
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientIdentity::PemFile(path) => f.debug_tuple("PemFile").field(path).finish(),
            ClientIdentity::PemFiles { certificate, key } => f
                .debug_struct("PemFiles")
                .field("certificate", certificate)
                .field("key", key)
                .finish(),
            ClientIdentity::InlinePem { chain, .. } => f
                .debug_struct("InlinePem")
                .field("chain", &format_args!("{} bytes", chain.len()))
                .field("key", &format_args!("{REDACTED}"))
                .finish(),
        }
    }
}

/// TLS settings of a client, with the rustls configuration built from them.
#[derive(Clone)]
pub struct TlsSettings {
    /// `ssl.endpoint.identification.algorithm`: `https` (the default) checks
    /// that the broker certificate names the host we connect to; empty skips
    /// only that check (the chain is always verified).
    pub verify_hostname: bool,
    pub trust: TrustSource,
    pub identity: Option<ClientIdentity>,
    /// `ssl.enabled.protocols`, as rustls names them.
    pub protocols: Vec<&'static str>,
    connector: Arc<rustls::ClientConfig>,
}

impl PartialEq for TlsSettings {
    fn eq(&self, other: &Self) -> bool {
        self.verify_hostname == other.verify_hostname
            && self.trust == other.trust
            && self.identity == other.identity
            && self.protocols == other.protocols
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("verify_hostname", &self.verify_hostname)
            .field("trust", &self.trust)
            .field("identity", &self.identity)
            .field("protocols", &self.protocols)
            .finish()
    }
}

fn invalid(property: &str, value: impl Into<String>, reason: impl Into<String>) -> ClientError {
    ClientError::InvalidConfig {
        property: property.to_string(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn unsupported(property: &str, value: impl Into<String>, reason: impl Into<String>) -> ClientError {
    ClientError::UnsupportedConfig {
        property: property.to_string(),
        value: value.into(),
        reason: reason.into(),
    }
}

/// Takes a property and its alias out of `props`; both set to different
/// values is an error naming both. Returns the name used and the value.
fn take_either(
    props: &mut BTreeMap<String, String>,
    primary: &str,
    alias: &str,
) -> Result<Option<(String, String)>, ClientError> {
    let a = props.remove(primary).filter(|v| !v.trim().is_empty());
    let b = props.remove(alias).filter(|v| !v.trim().is_empty());
    match (a, b) {
        (Some(a), Some(b)) if a.trim() != b.trim() => Err(invalid(
            primary,
            crate::secret::shown_value(primary, &a),
            format!("{alias} is also set, to a different value; set only one of them"),
        )),
        (Some(a), _) => Ok(Some((primary.to_string(), a))),
        (None, Some(b)) => Ok(Some((alias.to_string(), b))),
        (None, None) => Ok(None),
    }
}

fn take(props: &mut BTreeMap<String, String>, key: &str) -> Option<String> {
    props.remove(key).filter(|v| !v.trim().is_empty())
}

/// Checks a `*.type` property: only PEM is implemented.
fn check_pem_type(property: &str, value: Option<String>) -> Result<(), ClientError> {
    match value {
        None => Ok(()),
        Some(t) if t.trim().eq_ignore_ascii_case("PEM") => Ok(()),
        Some(t)
            if ["JKS", "PKCS12", "PKCS11", "BCFKS"]
                .contains(&t.trim().to_ascii_uppercase().as_str()) =>
        {
            Err(unsupported(
                property,
                t.trim(),
                "only PEM is supported: convert the store to PEM (keytool/openssl) and set PEM",
            ))
        }
        Some(t) => Err(invalid(property, t.trim(), "expected PEM")),
    }
}

impl TlsSettings {
    /// Reads the `ssl.*` properties this client implements out of `props`
    /// (leaving any others), loads the PEM material and builds the rustls
    /// configuration.
    pub fn from_properties(
        props: &mut BTreeMap<String, String>,
    ) -> Result<TlsSettings, ClientError> {
        let verify_hostname = match props.remove("ssl.endpoint.identification.algorithm") {
            None => true,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "https" => true,
                "" | "none" => false,
                other => {
                    return Err(invalid(
                        "ssl.endpoint.identification.algorithm",
                        other,
                        "expected https (verify the broker's host name) or an empty value (do not)",
                    ));
                }
            },
        };
        let protocols = parse_protocols(take(props, "ssl.enabled.protocols"))?;

        check_pem_type("ssl.truststore.type", take(props, "ssl.truststore.type"))?;
        let trust_file = take_either(props, "ssl.truststore.location", "ssl.ca.location")?;
        let trust_inline = take_either(props, "ssl.truststore.certificates", "ssl.ca.pem")?;
        let trust_password = take(props, "ssl.truststore.password");
        let (trust, roots) = match (trust_file, trust_inline) {
            (Some((file_key, _)), Some((inline_key, _))) => {
                return Err(invalid(
                    &file_key,
                    "",
                    format!("{inline_key} is also set; give the trusted certificates one way only"),
                ));
            }
            (Some((key, path)), None) => {
                let path = PathBuf::from(path.trim());
                let text = read_pem_file(&key, &path)?;
                let certs = parse_certificates(&key, &path.display().to_string(), &text)?;
                (TrustSource::PemFile(path), root_store(&key, certs)?)
            }
            (None, Some((key, text))) => {
                let certs = parse_certificates(&key, "(inline PEM)", &text)?;
                (TrustSource::InlinePem(text), root_store(&key, certs)?)
            }
            (None, None) => (TrustSource::System, system_roots()?),
        };
        if trust != TrustSource::System && trust_password.is_some() {
            return Err(invalid(
                "ssl.truststore.password",
                REDACTED,
                "PEM trust stores have no password; remove it",
            ));
        }

        check_pem_type("ssl.keystore.type", take(props, "ssl.keystore.type"))?;
        let keystore_password = take(props, "ssl.keystore.password");
        let key_password = take(props, "ssl.key.password").map(Secret::new);
        let key_password = key_password.as_ref().map(|p| p.expose());
        let keystore_file = take(props, "ssl.keystore.location");
        let chain = take_either(
            props,
            "ssl.keystore.certificate.chain",
            "ssl.certificate.pem",
        )?;
        let key = take_either(props, "ssl.keystore.key", "ssl.key.pem")?;
        let cert_file = take(props, "ssl.certificate.location");
        let key_file = take(props, "ssl.key.location");
        let forms = [
            keystore_file.is_some(),
            chain.is_some() || key.is_some(),
            cert_file.is_some() || key_file.is_some(),
        ];
        if forms.iter().filter(|f| **f).count() > 1 {
            return Err(invalid(
                "ssl.keystore.location",
                keystore_file.as_deref().map(str::trim).unwrap_or(""),
                "the client certificate is given more than one way: use ssl.keystore.location, or ssl.keystore.certificate.chain with ssl.keystore.key, or ssl.certificate.location with ssl.key.location",
            ));
        }
        let (identity, credentials) = if let Some(path) = keystore_file {
            let path = PathBuf::from(path.trim());
            let text = read_pem_file("ssl.keystore.location", &path)?;
            let shown = path.display().to_string();
            let certs = parse_certificates("ssl.keystore.location", &shown, &text)?;
            let key = parse_private_key("ssl.keystore.location", &shown, &text, key_password)?;
            (Some(ClientIdentity::PemFile(path)), Some((certs, key)))
        } else if chain.is_some() || key.is_some() {
            let (Some((chain_key, chain)), Some((key_key, key))) = (chain, key) else {
                return Err(invalid(
                    "ssl.keystore.key",
                    REDACTED,
                    "ssl.keystore.certificate.chain and ssl.keystore.key must be set together",
                ));
            };
            let certs = parse_certificates(&chain_key, REDACTED, &chain)?;
            let parsed_key = parse_private_key(&key_key, REDACTED, &key, key_password)?;
            (
                Some(ClientIdentity::InlinePem {
                    chain,
                    key: Secret::new(key),
                }),
                Some((certs, parsed_key)),
            )
        } else if cert_file.is_some() || key_file.is_some() {
            let (Some(cert_path), Some(key_path)) = (cert_file, key_file) else {
                return Err(invalid(
                    "ssl.certificate.location",
                    "",
                    "ssl.certificate.location and ssl.key.location must be set together",
                ));
            };
            let cert_path = PathBuf::from(cert_path.trim());
            let key_path = PathBuf::from(key_path.trim());
            let cert_text = read_pem_file("ssl.certificate.location", &cert_path)?;
            let key_text = read_pem_file("ssl.key.location", &key_path)?;
            let certs = parse_certificates(
                "ssl.certificate.location",
                &cert_path.display().to_string(),
                &cert_text,
            )?;
            let key = parse_private_key(
                "ssl.key.location",
                &key_path.display().to_string(),
                &key_text,
                key_password,
            )?;
            (
                Some(ClientIdentity::PemFiles {
                    certificate: cert_path,
                    key: key_path,
                }),
                Some((certs, key)),
            )
        } else {
            (None, None)
        };
        if identity.is_none() && key_password.is_some() {
            return Err(invalid(
                "ssl.key.password",
                REDACTED,
                "there is no private key to decrypt: set ssl.keystore.location, ssl.keystore.key or ssl.key.location",
            ));
        }
        if identity.is_some() && keystore_password.is_some() {
            return Err(invalid(
                "ssl.keystore.password",
                REDACTED,
                "PEM key stores have no store password; remove it",
            ));
        }

        let connector = build_rustls_config(roots, credentials, verify_hostname, &protocols)?;
        Ok(TlsSettings {
            verify_hostname,
            trust,
            identity,
            protocols: protocols.iter().map(|v| version_name(v)).collect(),
            connector,
        })
    }

    /// The rustls configuration connections use.
    pub fn rustls_config(&self) -> Arc<rustls::ClientConfig> {
        self.connector.clone()
    }
}

fn version_name(version: &rustls::SupportedProtocolVersion) -> &'static str {
    if version.version == rustls::ProtocolVersion::TLSv1_2 {
        "TLSv1.2"
    } else {
        "TLSv1.3"
    }
}

fn parse_protocols(
    value: Option<String>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, ClientError> {
    let Some(value) = value else {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    };
    let mut versions = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let version = match name {
            "TLSv1.3" => &rustls::version::TLS13,
            "TLSv1.2" => &rustls::version::TLS12,
            // Older protocols are recognised but never enabled.
            "TLSv1.1" | "TLSv1" | "SSLv3" => continue,
            other => {
                return Err(invalid(
                    "ssl.enabled.protocols",
                    value.trim(),
                    format!("unknown protocol {other}; expected TLSv1.2 and/or TLSv1.3"),
                ));
            }
        };
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    if versions.is_empty() {
        return Err(unsupported(
            "ssl.enabled.protocols",
            value.trim(),
            "only TLSv1.2 and TLSv1.3 are supported",
        ));
    }
    Ok(versions)
}

fn read_pem_file(property: &str, path: &std::path::Path) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(|e| {
        let reason = if e.kind() == std::io::ErrorKind::InvalidData {
            "the file is not PEM text (JKS and PKCS12 stores are not supported; convert to PEM)"
                .to_string()
        } else {
            format!("cannot read the file: {e}")
        };
        invalid(property, path.display().to_string(), reason)
    })
}

/// Rewrites PEM blocks into canonical line layout: properties files often
/// carry PEM on one line (continuation lines joined), which strict PEM
/// parsers reject. Text outside blocks is dropped.
fn normalize_pem(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let body_and_rest = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_and_rest.find(&end_marker) else {
            break;
        };
        let body: String = body_and_rest[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        out.push_str(&format!("-----BEGIN {label}-----\n"));
        let mut line = String::new();
        for c in body.chars() {
            line.push(c);
            if line.len() == 64 {
                out.push_str(&line);
                out.push('\n');
                line.clear();
            }
        }
        if !line.is_empty() {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&end_marker);
        out.push('\n');
        rest = &body_and_rest[end + end_marker.len()..];
    }
    out
}

fn parse_certificates(
    property: &str,
    shown: &str,
    text: &str,
) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    if !text.contains("-----BEGIN") {
        return Err(unsupported(
            property,
            shown,
            "not PEM (JKS and PKCS12 stores are not supported; convert to PEM)",
        ));
    }
    let normalized = normalize_pem(text);
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(normalized.as_bytes()) {
        let cert = cert.map_err(|e| invalid(property, shown, format!("bad PEM: {e}")))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(invalid(property, shown, "no PEM certificate found"));
    }
    Ok(certs)
}

fn parse_private_key(
    property: &str,
    shown: &str,
    text: &str,
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, ClientError> {
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(unsupported(
            property,
            shown,
            "legacy encrypted PEM keys cannot be read; as in Kafka, encrypt the key as PKCS#8 (`openssl pkcs8 -topk8`)",
        ));
    }
    if text.contains("ENCRYPTED PRIVATE KEY") {
        return decrypt_private_key(property, shown, text, password);
    }
    // The parser's own error text is not used: it could quote key bytes.
    PrivateKeyDer::from_pem_slice(normalize_pem(text).as_bytes()).map_err(|_| {
        invalid(
            property,
            shown,
            "no unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1) found",
        )
    })
}

/// Decrypts an `ENCRYPTED PRIVATE KEY` (PKCS#8 with PBES2, as `openssl
/// pkcs8 -topk8` and Java write them) with `ssl.key.password`.
fn decrypt_private_key(
    property: &str,
    shown: &str,
    text: &str,
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, ClientError> {
    let Some(password) = password else {
        return Err(invalid(
            property,
            shown,
            "the private key is encrypted; set ssl.key.password",
        ));
    };
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    let pem = normalize_pem(text);
    let block = pem
        .find(BEGIN)
        .and_then(|start| {
            pem[start..]
                .find(END)
                .map(|end| &pem[start..start + end + END.len()])
        })
        .ok_or_else(|| invalid(property, shown, "malformed ENCRYPTED PRIVATE KEY block"))?;
    // The library's error texts are not used: they could quote key bytes.
    let (_, document) = pkcs8::der::Document::from_pem(block)
        .map_err(|_| invalid(property, shown, "malformed ENCRYPTED PRIVATE KEY block"))?;
    let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(document.as_bytes())
        .map_err(|_| invalid(property, shown, "malformed encrypted private key"))?;
    let key = encrypted.decrypt(password.as_bytes()).map_err(|_| {
        invalid(
            "ssl.key.password",
            REDACTED,
            "the private key cannot be decrypted: wrong password or an unsupported cipher",
        )
    })?;
    Ok(PrivateKeyDer::Pkcs8(
        rustls_pki_types::PrivatePkcs8KeyDer::from(key.as_bytes().to_vec()),
    ))
}

fn root_store(
    property: &str,
    certs: Vec<CertificateDer<'static>>,
) -> Result<RootCertStore, ClientError> {
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(invalid(
            property,
            "",
            format!("none of the {ignored} certificates could be used as a trust anchor"),
        ));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, ClientError> {
    let loaded = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(loaded.certs);
    if roots.is_empty() {
        return Err(invalid(
            "ssl.truststore.location",
            "",
            "no trust store is configured and no system CA certificates were found; set ssl.truststore.type=PEM with ssl.truststore.location or ssl.truststore.certificates",
        ));
    }
    Ok(roots)
}

type Credentials = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn build_rustls_config(
    roots: RootCertStore,
    credentials: Option<Credentials>,
    verify_hostname: bool,
    protocols: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(protocols)
        .map_err(|e| invalid("ssl.enabled.protocols", "", e.to_string()))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| invalid("ssl.truststore.location", "", e.to_string()))?;
    let builder = if verify_hostname {
        builder.with_webpki_verifier(verifier)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier { inner: verifier }))
    };
    let config = match credentials {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
            invalid(
                "ssl.keystore.key",
                REDACTED,
                format!("the client key does not fit the certificate or is unusable: {e}"),
            )
        })?,
    };
    Ok(Arc::new(config))
}

/// `ssl.endpoint.identification.algorithm=` (empty): verifies the chain to
/// a trusted CA, validity dates and signatures exactly like the default
/// verifier, and accepts a certificate that does not name the host.
#[derive(Debug)]
struct ChainOnlyVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The inner verifier checks the chain first and the name last, so a
        // name error means everything else passed.
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Runs the TLS handshake over `stream` to `address` (`host:port`; the host
/// is the name the certificate must carry). Certificate and protocol
/// failures are [`ClientError::Tls`] (not retried); a broken connection is
/// a transport error.
pub async fn handshake(
    stream: TcpStream,
    address: &str,
    settings: &TlsSettings,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let (host, _) = split_host_port(address).map_err(|reason| ClientError::Connect {
        address: address.to_string(),
        reason,
    })?;
    let server_name = ServerName::try_from(host.clone()).map_err(|_| ClientError::Tls {
        address: address.to_string(),
        reason: format!("'{host}' is not a valid TLS server name"),
    })?;
    let connector = TlsConnector::from(settings.connector.clone());
    match tokio::time::timeout(timeout, connector.connect(server_name, stream)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(handshake_error(address, &host, settings, e)),
        Err(_) => Err(ClientError::ConnectionClosed {
            address: address.to_string(),
            reason: format!("TLS handshake timed out after {} ms", timeout.as_millis()),
        }),
    }
}

fn handshake_error(
    address: &str,
    host: &str,
    settings: &TlsSettings,
    error: std::io::Error,
) -> ClientError {
    let Some(tls_error) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return ClientError::ConnectionClosed {
            address: address.to_string(),
            reason: format!(
                "TLS handshake failed: {error} (is this a TLS listener? security.protocol asks for TLS)"
            ),
        };
    };
    let reason = match tls_error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the broker's certificate is not signed by a trusted CA (check ssl.truststore.location or ssl.truststore.certificates)".to_string()
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "the broker's certificate is not valid for host '{host}' (hostname verification is on: ssl.endpoint.identification.algorithm=https; set it empty to skip this check)"
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the broker's certificate has expired".to_string(),
        rustls::Error::AlertReceived(alert) if settings.identity.is_none() => format!(
            "the broker refused the handshake ({alert:?}); it may require a client certificate (ssl.keystore.*)"
        ),
        rustls::Error::AlertReceived(alert) => {
            format!("the broker refused the handshake ({alert:?})")
        }
        other => other.to_string(),
    };
    ClientError::Tls {
        address: address.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_on_one_line_is_normalized() {
        let text =
            "junk -----BEGIN CERTIFICATE----- QUJD REVG\n  R0g= -----END CERTIFICATE----- tail";
        assert_eq!(
            normalize_pem(text),
            "-----BEGIN CERTIFICATE-----\nQUJDREVGR0g=\n-----END CERTIFICATE-----\n"
        );
    }

    #[test]
    fn protocols_parse() {
        assert_eq!(parse_protocols(None).map(|v| v.len()).ok(), Some(2));
        let only13 = parse_protocols(Some("TLSv1.3".to_string()));
        assert_eq!(
            only13
                .map(|v| v.iter().map(|p| version_name(p)).collect::<Vec<_>>())
                .ok(),
            Some(vec!["TLSv1.3"])
        );
        assert!(matches!(
            parse_protocols(Some("TLSv1.1".to_string())),
            Err(ClientError::UnsupportedConfig { .. })
        ));
        assert!(matches!(
            parse_protocols(Some("TLSv9".to_string())),
            Err(ClientError::InvalidConfig { .. })
        ));
    }
}

/// Certificates for unit tests: a CA and a client certificate, generated with rcgen.
#[cfg(test)]
pub(crate) mod test_pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

    pub(crate) struct TestPki {
        pub ca_pem: String,
        pub client_cert_pem: String,
        pub client_key_pem: String,
    }

    fn fail(step: &str, e: rcgen::Error) -> ! {
        panic!("test PKI: {step}: {e}")
    }

    impl TestPki {
        pub(crate) fn new() -> TestPki {
            let ca_key = KeyPair::generate().unwrap_or_else(|e| fail("CA key", e));
            let mut ca_params =
                CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| fail("CA", e));
            ca_params
                .distinguished_name
                .push(DnType::CommonName, "Strait test CA");
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = CertifiedIssuer::self_signed(ca_params, ca_key)
                .unwrap_or_else(|e| fail("CA cert", e));
            let leaf = |names: Vec<String>| {
                let key = KeyPair::generate().unwrap_or_else(|e| fail("leaf key", e));
                let params = CertificateParams::new(names).unwrap_or_else(|e| fail("leaf", e));
                let cert = params
                    .signed_by(&key, &ca)
                    .unwrap_or_else(|e| fail("leaf cert", e));
                (cert.pem(), key.serialize_pem())
            };
            let (client_cert_pem, client_key_pem) = leaf(vec!["link-client".to_string()]);
            TestPki {
                ca_pem: ca.pem(),
                client_cert_pem,
                client_key_pem,
            }
        }
    }

    /// A fresh directory under the system temp dir for one test.
    pub(crate) fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "strait-client-{name}-{}-{}",
            std::process::id(),
            super::super::sasl::scram::random_nonce()
        ));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create {}: {e}", dir.display());
        }
        dir
    }
}
