//! `kafka-configs --entity-type users`: SCRAM credentials, as Kafka's
//! ConfigCommand manages them over AlterUserScramCredentials and
//! DescribeUserScramCredentials. The salted password is computed here, on
//! the client side (PBKDF2 with a fresh random salt), so the password never
//! leaves this process. Quota configs of users are recognised and refused
//! (DescribeClientQuotas/AlterClientQuotas are not served yet).
//!
//! It must never print a password, not even in an error about its syntax.

use std::collections::BTreeMap;

use rand::RngCore;
use sha2::{Sha256, Sha512};
use strait_client::kafka_protocol::error::ResponseError;
use strait_client::kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use strait_client::kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use strait_client::kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use strait_client::kafka_protocol::protocol::StrBytes;
use strait_client::{ClientError, KafkaClient};

use super::{ConfigsOptions, EntitySelection, EntityType, configs_to_add};
use crate::invocation::{CliError, Console};

/// Kafka's default iteration count when `iterations=` is not given.
pub const DEFAULT_ITERATIONS: i32 = 4096;
const MIN_ITERATIONS: i32 = 4096;

/// The user and client quota config names (QuotaConfig.isClientOrUserQuotaConfig).
const QUOTA_CONFIGS: [&str; 4] = [
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
];

/// A SCRAM mechanism as the wire names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "SCRAM-SHA-256" => Some(Self::Sha256),
            "SCRAM-SHA-512" => Some(Self::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn code(self) -> i8 {
        match self {
            Self::Sha256 => 1,
            Self::Sha512 => 2,
        }
    }

    fn from_code(code: i8) -> Option<Self> {
        match code {
            1 => Some(Self::Sha256),
            2 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// RFC 5802 Hi(password, salt, iterations).
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Self::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            Self::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

/// `iterations=N,password=P` (iterations optional, as Kafka's pattern
/// `(?:iterations=(-?[0-9]*),)?password=(.*)`).
pub fn parse_credential(mechanism: &str, value: &str) -> Result<(i32, String), CliError> {
    let invalid = || {
        CliError::Command(format!(
            "Invalid credential property {mechanism}=[hidden]: expected [iterations=N,]password=P"
        ))
    };
    let (iterations, password) = match value.strip_prefix("iterations=") {
        Some(rest) => {
            let (n, pw) = rest.split_once(',').ok_or_else(invalid)?;
            let pw = pw.strip_prefix("password=").ok_or_else(invalid)?;
            let n: i32 = if n.is_empty() || n == "-1" {
                DEFAULT_ITERATIONS
            } else {
                n.parse().map_err(|_| invalid())?
            };
            (n, pw)
        }
        None => (
            DEFAULT_ITERATIONS,
            value.strip_prefix("password=").ok_or_else(invalid)?,
        ),
    };
    if iterations < MIN_ITERATIONS {
        return Err(CliError::Command(format!(
            "Iterations {iterations} is less than the minimum {MIN_ITERATIONS} required for {mechanism}"
        )));
    }
    Ok((iterations, password.to_string()))
}

fn scala_set(items: &[String]) -> String {
    format!("Set({})", items.join(", "))
}

/// `--alter` of users: SCRAM upserts and deletions for one user.
pub async fn alter(
    client: &KafkaClient,
    o: &ConfigsOptions,
    selection: &EntitySelection,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let to_add = configs_to_add(o)?;
    let to_delete: Vec<String> = o
        .delete_config
        .iter()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    let is_quota = |k: &str| QUOTA_CONFIGS.contains(&k);
    let is_scram = |k: &str| ScramMechanism::parse(k).is_some();
    if selection.types.contains(&EntityType::Clients) {
        let bad: Vec<String> = to_add.keys().filter(|k| !is_quota(k)).cloned().collect();
        if !bad.is_empty() {
            return Err(CliError::Command(format!(
                "Only quota configs can be added for 'clients' using --bootstrap-server. Unexpected config names: {}",
                scala_set(&bad)
            )));
        }
        return Err(quotas_unsupported());
    }
    let unknown_add: Vec<String> = to_add
        .keys()
        .filter(|k| !is_quota(k) && !is_scram(k))
        .cloned()
        .collect();
    if !unknown_add.is_empty() {
        return Err(CliError::Command(format!(
            "Only quota and SCRAM credential configs can be added for 'users' using --bootstrap-server. Unexpected config names: {}",
            scala_set(&unknown_add)
        )));
    }
    let unknown_delete: Vec<String> = to_delete
        .iter()
        .filter(|k| !is_quota(k) && !is_scram(k))
        .cloned()
        .collect();
    if !unknown_delete.is_empty() {
        return Err(CliError::Command(format!(
            "Only quota and SCRAM credential configs can be deleted for 'users' using --bootstrap-server. Unexpected config names: {}",
            scala_set(&unknown_delete)
        )));
    }
    let has_quota = to_add.keys().any(|k| is_quota(k)) || to_delete.iter().any(|k| is_quota(k));
    let has_scram = to_add.keys().any(|k| is_scram(k)) || to_delete.iter().any(|k| is_scram(k));
    let name = selection.names.first().cloned().unwrap_or_default();
    if has_scram {
        if selection.names.iter().any(String::is_empty) {
            return Err(CliError::Command(
                "The use of --entity-default or --user-defaults is not allowed with User SCRAM Credentials using --bootstrap-server.".into(),
            ));
        }
        if has_quota {
            return Err(CliError::Command(
                "Cannot alter both quota and SCRAM credential configs simultaneously for 'users' using --bootstrap-server.".into(),
            ));
        }
    }
    if has_quota {
        return Err(quotas_unsupported());
    }
    let request = scram_request(&name, &to_add, &to_delete)?;
    let response = client.send_to_controller(request).await?;
    for result in response.results {
        ClientError::check(result.error_code, result.error_message.as_deref())?;
    }
    writeln!(console.out, "Completed updating config for user {name}.")?;
    Ok(())
}

/// The AlterUserScramCredentials request for one user, with fresh salts.
pub fn scram_request(
    user: &str,
    to_add: &BTreeMap<String, String>,
    to_delete: &[String],
) -> Result<AlterUserScramCredentialsRequest, CliError> {
    let mut request = AlterUserScramCredentialsRequest::default();
    for mechanism in to_delete {
        let Some(mech) = ScramMechanism::parse(mechanism) else {
            continue;
        };
        let mut d = ScramCredentialDeletion::default();
        d.name = StrBytes::from_string(user.to_string());
        d.mechanism = mech.code();
        request.deletions.push(d);
    }
    for (mechanism, value) in to_add {
        let Some(mech) = ScramMechanism::parse(mechanism) else {
            continue;
        };
        let (iterations, password) = parse_credential(mechanism, value)?;
        let mut salt = vec![0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        let salted = mech.salted_password(password.as_bytes(), &salt, iterations.unsigned_abs());
        let mut u = ScramCredentialUpsertion::default();
        u.name = StrBytes::from_string(user.to_string());
        u.mechanism = mech.code();
        u.iterations = iterations;
        u.salt = salt.into();
        u.salted_password = salted.into();
        request.upsertions.push(u);
    }
    Ok(request)
}

fn quotas_unsupported() -> CliError {
    CliError::Command(
        "Strait brokers have no client quotas (DescribeClientQuotas/AlterClientQuotas are not served); users only hold SCRAM credentials".into(),
    )
}

/// The line Kafka prints for one described user.
pub fn describe_line(user: &str, infos: &[(String, i32)]) -> String {
    let text: Vec<String> = infos
        .iter()
        .map(|(m, i)| format!("{m}=iterations={i}"))
        .collect();
    format!(
        "SCRAM credential configs for user-principal '{user}' are {}",
        text.join(", ")
    )
}

/// `--describe` of users: their SCRAM credentials (mechanism and iterations).
pub async fn describe(
    client: &KafkaClient,
    selection: &EntitySelection,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    // Quotas would be described first; they are not served, so there are none.
    if selection.types.contains(&EntityType::Clients)
        || selection.names.iter().any(String::is_empty)
    {
        return Ok(());
    }
    let mut request = DescribeUserScramCredentialsRequest::default();
    let names: Vec<&String> = selection.names.iter().filter(|n| !n.is_empty()).collect();
    if !names.is_empty() {
        request.users = Some(
            names
                .iter()
                .map(|n| {
                    let mut u = UserName::default();
                    u.name = StrBytes::from_string((*n).clone());
                    u
                })
                .collect(),
        );
    }
    let response = client.send_to_controller(request).await?;
    ClientError::check(response.error_code, response.error_message.as_deref())?;
    for result in response.results {
        let user = result.user.to_string();
        if result.error_code == ResponseError::ResourceNotFound.code() {
            continue;
        }
        if let Err(e) = ClientError::check(result.error_code, result.error_message.as_deref()) {
            writeln!(
                console.out,
                "Error retrieving SCRAM credential configs for user-principal '{user}': {e}"
            )?;
            continue;
        }
        let infos: Vec<(String, i32)> = result
            .credential_infos
            .iter()
            .map(|i| {
                let name = ScramMechanism::from_code(i.mechanism)
                    .map_or_else(|| "UNKNOWN".to_string(), |m| m.name().to_string());
                (name, i.iterations)
            })
            .collect();
        writeln!(console.out, "{}", describe_line(&user, &infos))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credentials_like_config_command() {
        assert_eq!(
            parse_credential("SCRAM-SHA-256", "iterations=8192,password=a,b=c").ok(),
            Some((8192, "a,b=c".to_string()))
        );
        assert_eq!(
            parse_credential("SCRAM-SHA-512", "password=pw").ok(),
            Some((4096, "pw".to_string()))
        );
        assert_eq!(
            parse_credential("SCRAM-SHA-512", "iterations=-1,password=pw").ok(),
            Some((4096, "pw".to_string()))
        );
        let e = parse_credential("SCRAM-SHA-256", "iterations=100,password=pw");
        assert!(
            matches!(e, Err(CliError::Command(m)) if m == "Iterations 100 is less than the minimum 4096 required for SCRAM-SHA-256")
        );
        let e = parse_credential("SCRAM-SHA-256", "pass=hunter2");
        assert!(matches!(e, Err(CliError::Command(m)) if !m.contains("hunter2")));
    }

    #[test]
    fn request_carries_salted_password_never_the_password() {
        let add = BTreeMap::from([(
            "SCRAM-SHA-256".to_string(),
            "iterations=4096,password=pencil".to_string(),
        )]);
        let req = scram_request("alice", &add, &["SCRAM-SHA-512".to_string()]);
        let Ok(req) = req else { panic!() };
        assert_eq!(req.deletions.len(), 1);
        assert_eq!(req.deletions[0].mechanism, 2);
        let u = &req.upsertions[0];
        assert_eq!((u.mechanism, u.iterations, u.salt.len()), (1, 4096, 32));
        assert_eq!(
            u.salted_password.to_vec(),
            ScramMechanism::Sha256.salted_password(b"pencil", &u.salt, 4096)
        );
        assert!(!u.salted_password.windows(6).any(|w| w == b"pencil"));
    }

    #[test]
    fn describe_output_matches_config_command() {
        assert_eq!(
            describe_line(
                "alice",
                &[
                    ("SCRAM-SHA-256".into(), 8192),
                    ("SCRAM-SHA-512".into(), 4096)
                ]
            ),
            "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096"
        );
    }
}
