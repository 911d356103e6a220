//! AlterUserScramCredentials and DescribeUserScramCredentials: SCRAM users
//! kept in the metadata store, with Kafka's checks and error messages.
//! Upsertions carry the salted password the client computed; only the salt,
//! iterations and derived keys are stored. Must never return or log a salt,
//! key or salted password.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};

use super::str_bytes;
use crate::auth::scram::{
    MAX_ITERATIONS, MIN_ITERATIONS, credential_from_salted, mechanism_code, mechanism_from_code,
};
use crate::config::SaslMechanism;
use crate::state::Broker;

type Failure = (ResponseError, String);
/// A user's checked changes, or the first failure among them.
type UserChanges = Result<Vec<(SaslMechanism, Option<Change>)>, Failure>;

pub async fn alter(
    broker: &Arc<Broker>,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let _guard = broker.admin.lock().await;
    // Per user: the first failure, else the changes to apply.
    let mut users: BTreeMap<String, UserChanges> = BTreeMap::new();
    let mut seen: BTreeSet<(String, i8)> = BTreeSet::new();
    let items = request
        .deletions
        .iter()
        .map(|d| (d.name.to_string(), d.mechanism, None))
        .chain(request.upsertions.iter().map(|u| {
            (
                u.name.to_string(),
                u.mechanism,
                Some(Change {
                    iterations: u.iterations,
                    salt: u.salt.to_vec(),
                    salted_password: u.salted_password.to_vec(),
                }),
            )
        }));
    for (user, code, change) in items {
        let verdict = check(broker, &user, code, change.as_ref(), &mut seen);
        let entry = users.entry(user).or_insert_with(|| Ok(Vec::new()));
        match (verdict, entry.is_ok()) {
            (Err(e), true) => *entry = Err(e),
            (Ok(mech), true) => {
                if let Ok(list) = entry {
                    list.push((mech, change));
                }
            }
            (_, false) => {}
        }
    }
    let mut response = AlterUserScramCredentialsResponse::default();
    for (user, outcome) in users {
        let mut result = AlterUserScramCredentialsResult::default();
        result.user = str_bytes(user.clone());
        let outcome = match outcome {
            Ok(changes) => apply(broker, &user, changes),
            Err(e) => Err(e),
        };
        if let Err((code, message)) = outcome {
            result.error_code = code.code();
            result.error_message = Some(str_bytes(message));
        }
        response.results.push(result);
    }
    response
}

struct Change {
    iterations: i32,
    salt: Vec<u8>,
    salted_password: Vec<u8>,
}

fn check(
    broker: &Broker,
    user: &str,
    code: i8,
    change: Option<&Change>,
    seen: &mut BTreeSet<(String, i8)>,
) -> Result<SaslMechanism, Failure> {
    if user.is_empty() {
        return Err((
            ResponseError::UnacceptableCredential,
            "Username must not be empty".into(),
        ));
    }
    let mech = mechanism_from_code(code).ok_or_else(|| {
        (
            ResponseError::UnsupportedSaslMechanism,
            "Unknown SCRAM mechanism".to_string(),
        )
    })?;
    if !seen.insert((user.to_string(), code)) {
        return Err((
            ResponseError::DuplicateResource,
            "A user credential cannot be altered twice in the same request".into(),
        ));
    }
    match change {
        None => {
            if !broker
                .store
                .scram_credentials(user)
                .contains_key(mech.name())
            {
                return Err((
                    ResponseError::ResourceNotFound,
                    "Attempt to delete a user credential that does not exist".into(),
                ));
            }
        }
        Some(c) => {
            if c.iterations < MIN_ITERATIONS {
                return Err((
                    ResponseError::UnacceptableCredential,
                    "Too few iterations".into(),
                ));
            }
            if c.iterations > MAX_ITERATIONS {
                return Err((
                    ResponseError::UnacceptableCredential,
                    "Too many iterations".into(),
                ));
            }
            if c.salt.is_empty() || c.salted_password.is_empty() {
                return Err((
                    ResponseError::UnacceptableCredential,
                    "Salt and salted password must not be empty".into(),
                ));
            }
        }
    }
    Ok(mech)
}

fn apply(
    broker: &Broker,
    user: &str,
    changes: Vec<(SaslMechanism, Option<Change>)>,
) -> Result<(), Failure> {
    for (mech, change) in changes {
        let credential =
            change.map(|c| credential_from_salted(mech, &c.salt, &c.salted_password, c.iterations));
        broker
            .store
            .set_scram_credential(user, mech.name(), credential)
            .map_err(|e| (ResponseError::UnknownServerError, e.to_string()))?;
    }
    Ok(())
}

pub fn describe(
    broker: &Arc<Broker>,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let mut response = DescribeUserScramCredentialsResponse::default();
    let requested: Vec<String> = match &request.users {
        Some(users) if !users.is_empty() => users.iter().map(|u| u.name.to_string()).collect(),
        _ => broker.store.scram_users(),
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for u in &requested {
        *counts.entry(u.as_str()).or_default() += 1;
    }
    let mut done = BTreeSet::new();
    for user in &requested {
        if !done.insert(user.clone()) {
            continue;
        }
        let mut result = DescribeUserScramCredentialsResult::default();
        result.user = str_bytes(user.clone());
        if counts.get(user.as_str()).copied().unwrap_or(0) > 1 {
            result.error_code = ResponseError::DuplicateResource.code();
            result.error_message = Some(str_bytes(
                "Cannot describe SCRAM credentials for the same user twice in a single request",
            ));
        } else {
            let creds = broker.store.scram_credentials(user);
            if creds.is_empty() {
                result.error_code = ResponseError::ResourceNotFound.code();
                result.error_message = Some(str_bytes(
                    "Attempt to describe a user credential that does not exist",
                ));
            }
            for (name, cred) in creds {
                let Some(mech) = SaslMechanism::parse(&name) else {
                    continue;
                };
                let mut info = CredentialInfo::default();
                info.mechanism = mechanism_code(mech);
                info.iterations = cred.iterations;
                result.credential_infos.push(info);
            }
        }
        response.results.push(result);
    }
    response
}
