//! The authorization checks of every Kafka API, made around its handler as
//! Apache Kafka's KafkaApis makes them: before the handler runs, a request is
//! either refused whole (answered here with the API's own error response) or
//! narrowed to the resources the session may act on; after it ran, the
//! refused resources are merged back into the response with their
//! `*_AUTHORIZATION_FAILED` errors, listings are filtered to what the session
//! may describe, and authorized-operations bit fields are filled in.
//!
//! It owns which operation on which resource each API needs. It must never
//! let an unauthorized resource reach a handler, never touch an authorized
//! part of a response except to hide or describe what Kafka hides or
//! describes, and never run when no authorizer is configured.

mod groups;
mod records;
mod topics;
mod txn;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{RequestKind, ResponseKind};
use strait_metadata::{AclOperation, AclResourceType};
use strait_protocol::DecodedRequest;

use super::{Authorizer, Session};
use crate::handlers::str_bytes;
use crate::state::Broker;

/// What a check needs: the broker (to resolve topic ids, see which topics
/// exist), the authorizer, who asks, and the request's version.
pub struct Check<'a> {
    pub broker: &'a Broker,
    pub authz: &'a Authorizer,
    pub session: &'a Session,
    pub version: i16,
}

impl Check<'_> {
    pub fn allowed(&self, op: AclOperation, resource_type: AclResourceType, name: &str) -> bool {
        self.authz.authorize(self.session, op, resource_type, name)
    }

    pub fn topic(&self, op: AclOperation, name: &str) -> bool {
        self.allowed(op, AclResourceType::Topic, name)
    }

    pub fn group(&self, op: AclOperation, name: &str) -> bool {
        self.allowed(op, AclResourceType::Group, name)
    }

    pub fn transactional_id(&self, op: AclOperation, id: &str) -> bool {
        self.allowed(op, AclResourceType::TransactionalId, id)
    }

    pub fn cluster(&self, op: AclOperation) -> bool {
        self.authz.authorize_cluster(self.session, op)
    }

    pub fn operations(&self, resource_type: AclResourceType, name: &str) -> i32 {
        self.authz
            .authorized_operations(self.session, resource_type, name)
    }
}

/// Work left for after the handler: merges refused items back into the
/// response, filters and describes it.
pub type After = Box<dyn FnOnce(&mut ResponseKind, &Check<'_>) + Send>;

/// The per-API form of [`After`].
type Fix<S> = Box<dyn FnOnce(&mut S, &Check<'_>) + Send>;

/// The outcome of one API's check.
enum Outcome<Q, S> {
    /// Run the handler on this request, then the fix (if any) on its response.
    Pass(Q, Option<Fix<S>>),
    /// Answer this, without running the handler.
    Deny(S),
}

use Outcome::{Deny, Pass};

fn pass<Q, S>(request: Q) -> Outcome<Q, S> {
    Pass(request, None)
}

fn pass_then<Q, S>(
    request: Q,
    fix: impl FnOnce(&mut S, &Check<'_>) + Send + 'static,
) -> Outcome<Q, S> {
    Pass(request, Some(Box::new(fix)))
}

/// Checks a request before its handler: `Ok` with the request to handle
/// (possibly narrowed) and the work for after, or `Err` with the complete
/// answer when the request is refused.
pub fn before(
    check: &Check<'_>,
    mut request: DecodedRequest,
) -> Result<(DecodedRequest, Option<After>), Box<ResponseKind>> {
    macro_rules! gate {
        ($body:expr; $($variant:ident => $f:path),* $(,)?) => {
            match $body {
                $(RequestKind::$variant(r) => match $f(check, r) {
                    Pass(r, fix) => {
                        let after = fix.map(|fix| -> After {
                            Box::new(move |resp: &mut ResponseKind, c: &Check<'_>| {
                                if let ResponseKind::$variant(s) = resp {
                                    fix(s, c)
                                }
                            })
                        });
                        (RequestKind::$variant(r), after)
                    }
                    Deny(s) => return Err(Box::new(ResponseKind::$variant(s))),
                },)*
                other => (other, None),
            }
        };
    }
    let body = std::mem::replace(
        &mut request.body,
        RequestKind::ApiVersions(Default::default()),
    );
    let (body, after) = gate!(body;
        Produce => records::produce,
        Fetch => records::fetch,
        ListOffsets => records::list_offsets,
        DeleteRecords => records::delete_records,
        OffsetForLeaderEpoch => records::offset_for_leader_epoch,
        DescribeProducers => records::describe_producers,
        Metadata => topics::metadata,
        DescribeTopicPartitions => topics::describe_topic_partitions,
        CreateTopics => topics::create_topics,
        DeleteTopics => topics::delete_topics,
        CreatePartitions => topics::create_partitions,
        DescribeConfigs => topics::describe_configs,
        AlterConfigs => topics::alter_configs,
        IncrementalAlterConfigs => topics::incremental_alter_configs,
        DescribeCluster => topics::describe_cluster,
        DescribeLogDirs => topics::describe_log_dirs,
        DescribeUserScramCredentials => topics::describe_scram,
        AlterUserScramCredentials => topics::alter_scram,
        CreateAcls => topics::create_acls,
        DescribeAcls => topics::describe_acls,
        DeleteAcls => topics::delete_acls,
        FindCoordinator => groups::find_coordinator,
        JoinGroup => groups::join,
        SyncGroup => groups::sync,
        Heartbeat => groups::heartbeat,
        LeaveGroup => groups::leave,
        OffsetCommit => groups::offset_commit,
        OffsetFetch => groups::offset_fetch,
        ListGroups => groups::list_groups,
        DescribeGroups => groups::describe_groups,
        DeleteGroups => groups::delete_groups,
        OffsetDelete => groups::offset_delete,
        ConsumerGroupHeartbeat => groups::consumer_group_heartbeat,
        ConsumerGroupDescribe => groups::consumer_group_describe,
        InitProducerId => txn::init_producer_id,
        AddPartitionsToTxn => txn::add_partitions,
        AddOffsetsToTxn => txn::add_offsets,
        EndTxn => txn::end_txn,
        TxnOffsetCommit => txn::txn_offset_commit,
        ListTransactions => txn::list_transactions,
        DescribeTransactions => txn::describe_transactions,
    );
    request.body = body;
    Ok((request, after))
}

/// Kafka's default message of an authorization error.
fn message(error: ResponseError) -> &'static str {
    match error {
        ResponseError::TopicAuthorizationFailed => "Topic authorization failed.",
        ResponseError::GroupAuthorizationFailed => "Group authorization failed.",
        ResponseError::ClusterAuthorizationFailed => "Cluster authorization failed.",
        ResponseError::TransactionalIdAuthorizationFailed => {
            "Transactional Id authorization failed."
        }
        _ => "Authorization failed.",
    }
}

/// Error code and Kafka's message, as the optional string responses carry.
fn failure(error: ResponseError) -> (i16, Option<kafka_protocol::protocol::StrBytes>) {
    (error.code(), Some(str_bytes(message(error))))
}

/// Sorts `items` into the order their keys had in the request (items whose
/// key the request did not have go last, in their order).
fn restore_order<T, K: PartialEq>(items: &mut [T], order: &[K], key: impl Fn(&T) -> K) {
    items.sort_by_key(|item| {
        let k = key(item);
        order.iter().position(|o| *o == k).unwrap_or(usize::MAX)
    });
}

/// Narrows a request's topic list (`topics`) to the topics the caller may
/// `op`; each refused topic is answered by `refuse`, and those answers are
/// appended to the response's topic list (`answers`) after the handler.
fn refuse_topics<Q, S: 'static, T, R: Send + 'static>(
    check: &Check<'_>,
    mut req: Q,
    topics: impl FnOnce(&mut Q) -> &mut Vec<T>,
    name: impl Fn(&T) -> String,
    op: AclOperation,
    refuse: impl Fn(T) -> R,
    answers: fn(&mut S) -> &mut Vec<R>,
) -> Outcome<Q, S> {
    let list = topics(&mut req);
    let (kept, refused) = split_by(
        std::mem::take(list),
        |t| Some(name(t)),
        |n| check.topic(op, n),
    );
    *list = kept;
    if refused.is_empty() {
        return pass(req);
    }
    let refused: Vec<R> = refused.into_iter().map(refuse).collect();
    pass_then(req, move |resp: &mut S, _| answers(resp).extend(refused))
}

/// Splits `items` into (kept, refused) by `allowed`, asking once per name.
fn split_by<T>(
    items: Vec<T>,
    name: impl Fn(&T) -> Option<String>,
    mut allowed: impl FnMut(&str) -> bool,
) -> (Vec<T>, Vec<T>) {
    let mut verdicts: std::collections::HashMap<String, bool> = Default::default();
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for item in items {
        // Items without a resolvable name go to the handler, which reports
        // them unknown.
        let ok = match name(&item) {
            None => true,
            Some(n) => *verdicts.entry(n.clone()).or_insert_with(|| allowed(&n)),
        };
        if ok {
            kept.push(item);
        } else {
            refused.push(item);
        }
    }
    (kept, refused)
}

#[cfg(test)]
mod tests {
    use super::{restore_order, split_by};

    #[test]
    fn refused_items_are_split_once_per_name_and_order_is_restored() {
        let mut asked = Vec::new();
        let (kept, refused) = split_by(
            vec!["a", "b", "a", "c", "?"],
            |s| (*s != "?").then(|| s.to_string()),
            |n| {
                asked.push(n.to_string());
                n != "b"
            },
        );
        assert_eq!(kept, vec!["a", "a", "c", "?"]);
        assert_eq!(refused, vec!["b"]);
        assert_eq!(asked, vec!["a", "b", "c"], "one question per name");
        let mut merged = vec!["c", "a", "x", "b"];
        restore_order(&mut merged, &["a", "b", "c"], |s| *s);
        assert_eq!(merged, vec!["a", "b", "c", "x"]);
    }
}
