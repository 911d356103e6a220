//! Request dispatch: one module per Kafka API (or small family of APIs).
//! Handlers turn a typed request into a typed response; they must never touch
//! sockets or bytes on the wire.

mod acls;
pub mod api_versions;
mod cluster;
mod configs;
mod consumer_groups;
mod fetch;
mod groups;
mod leader_epoch;
pub mod links;
mod list_offsets;
mod metadata;
mod partition_cap;
mod produce;
mod producer_id;
mod producers;
mod records;
mod scram;
mod topic_partitions;
mod topics;
mod transactions;
mod txn;
mod unserved;

use std::sync::Arc;

use kafka_protocol::messages::{RequestKind, ResponseKind, TopicName};
use kafka_protocol::protocol::StrBytes;
use strait_protocol::DecodedRequest;

use crate::server::ConnectionContext;
use crate::state::Broker;

/// What a connection does after a request.
pub enum Reply {
    Send(Box<ResponseKind>),
    /// acks=0 produce: nothing is sent.
    Nothing,
    /// The request cannot be answered in its own API: close the connection,
    /// as Kafka does for requests it cannot parse.
    Close,
}

/// Handles one request: with an authorizer, inside the authorization gate
/// (`crate::authz::gate`), which refuses or narrows the request before the
/// handler and completes the response after it.
pub async fn handle(
    broker: &Arc<Broker>,
    request: DecodedRequest,
    ctx: &ConnectionContext,
) -> Reply {
    let Some(authz) = broker.authorizer.as_ref() else {
        return dispatch(broker, request, ctx).await;
    };
    let session = crate::authz::Session::of(ctx);
    let check = |version| crate::authz::gate::Check {
        broker,
        authz,
        session: &session,
        version,
    };
    let version = request.version();
    let (request, after) = match crate::authz::gate::before(&check(version), request) {
        Ok(pass) => pass,
        Err(denied) => return Reply::Send(denied),
    };
    match (dispatch(broker, request, ctx).await, after) {
        (Reply::Send(mut response), Some(after)) => {
            after(&mut response, &check(version));
            Reply::Send(response)
        }
        (reply, _) => reply,
    }
}

/// Runs the handler of one request.
async fn dispatch(
    broker: &Arc<Broker>,
    request: DecodedRequest,
    _ctx: &ConnectionContext,
) -> Reply {
    let version = request.version();
    let response = match request.body {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(api_versions::handle()),
        RequestKind::Metadata(r) => {
            ResponseKind::Metadata(metadata::handle(broker, r, version, _ctx).await)
        }
        RequestKind::Produce(r) => {
            return match produce::handle(broker, r, version).await {
                Some(resp) => Reply::Send(Box::new(ResponseKind::Produce(resp))),
                None => Reply::Nothing,
            };
        }
        RequestKind::Fetch(r) => ResponseKind::Fetch(fetch::handle(broker, r, version).await),
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(list_offsets::handle(broker, r, version))
        }
        RequestKind::OffsetForLeaderEpoch(r) => {
            ResponseKind::OffsetForLeaderEpoch(leader_epoch::handle(broker, r))
        }
        RequestKind::DescribeProducers(r) => {
            ResponseKind::DescribeProducers(producers::describe(broker, r))
        }
        RequestKind::DescribeTopicPartitions(r) => {
            ResponseKind::DescribeTopicPartitions(topic_partitions::describe(broker, r))
        }
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(topics::create(broker, r, version).await)
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(topics::delete(broker, r, version).await)
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(topics::create_partitions(broker, r).await)
        }
        RequestKind::DeleteRecords(r) => {
            ResponseKind::DeleteRecords(records::delete(broker, r).await)
        }
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(producer_id::handle(broker, r, version).await)
        }
        RequestKind::AddPartitionsToTxn(r) => {
            ResponseKind::AddPartitionsToTxn(txn::add_partitions(broker, r, version).await)
        }
        RequestKind::AddOffsetsToTxn(r) => {
            ResponseKind::AddOffsetsToTxn(txn::add_offsets(broker, r, version).await)
        }
        RequestKind::EndTxn(r) => ResponseKind::EndTxn(txn::end_txn(broker, r, version).await),
        RequestKind::TxnOffsetCommit(r) => {
            ResponseKind::TxnOffsetCommit(txn::txn_offset_commit(broker, r, version).await)
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(configs::describe(broker, r, version))
        }
        RequestKind::AlterConfigs(r) => ResponseKind::AlterConfigs(configs::alter(broker, r).await),
        RequestKind::IncrementalAlterConfigs(r) => {
            ResponseKind::IncrementalAlterConfigs(configs::incremental_alter(broker, r).await)
        }
        RequestKind::DescribeCluster(r) => {
            ResponseKind::DescribeCluster(cluster::describe_cluster(broker, r, _ctx))
        }
        RequestKind::DescribeLogDirs(r) => {
            ResponseKind::DescribeLogDirs(cluster::describe_log_dirs(broker, r))
        }
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(groups::find_coordinator(broker, r, version, _ctx))
        }
        RequestKind::JoinGroup(r) => {
            ResponseKind::JoinGroup(groups::join(broker, r, version, &request.header, _ctx).await)
        }
        RequestKind::SyncGroup(r) => {
            ResponseKind::SyncGroup(groups::sync(broker, r, version).await)
        }
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(groups::heartbeat(broker, r)),
        RequestKind::LeaveGroup(r) => ResponseKind::LeaveGroup(groups::leave(broker, r, version)),
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(groups::offset_commit(broker, r, version).await)
        }
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(groups::offset_fetch(broker, r, version))
        }
        RequestKind::ListGroups(r) => ResponseKind::ListGroups(groups::list(broker, r, version)),
        RequestKind::DescribeGroups(r) => {
            ResponseKind::DescribeGroups(groups::describe(broker, r, version))
        }
        RequestKind::ConsumerGroupHeartbeat(r) => ResponseKind::ConsumerGroupHeartbeat(
            consumer_groups::heartbeat(broker, r, version, &request.header, _ctx),
        ),
        RequestKind::ConsumerGroupDescribe(r) => {
            ResponseKind::ConsumerGroupDescribe(consumer_groups::describe(broker, r, version))
        }
        RequestKind::DeleteGroups(r) => ResponseKind::DeleteGroups(groups::delete(broker, r).await),
        RequestKind::OffsetDelete(r) => {
            ResponseKind::OffsetDelete(groups::offset_delete(broker, r).await)
        }
        RequestKind::AlterUserScramCredentials(r) => {
            ResponseKind::AlterUserScramCredentials(scram::alter(broker, r).await)
        }
        RequestKind::DescribeUserScramCredentials(r) => {
            ResponseKind::DescribeUserScramCredentials(scram::describe(broker, r))
        }
        RequestKind::CreateAcls(r) => ResponseKind::CreateAcls(acls::create(broker, r).await),
        RequestKind::DescribeAcls(r) => ResponseKind::DescribeAcls(acls::describe(broker, r)),
        RequestKind::DeleteAcls(r) => ResponseKind::DeleteAcls(acls::delete(broker, r).await),
        RequestKind::ListTransactions(r) => {
            ResponseKind::ListTransactions(transactions::list(broker, r).await)
        }
        RequestKind::DescribeTransactions(r) => {
            ResponseKind::DescribeTransactions(transactions::describe(broker, r).await)
        }
        other => {
            return match unserved::answer(other, version) {
                Some(resp) => Reply::Send(Box::new(resp)),
                None => Reply::Close,
            };
        }
    };
    Reply::Send(Box::new(response))
}

pub fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

pub fn topic_name(s: impl Into<String>) -> TopicName {
    TopicName(str_bytes(s))
}

/// Kafka's topic name rules; the message is Kafka's.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return Err("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > 249 {
        return Err(format!(
            "Topic name is illegal, it can't be longer than 249 characters, topic name: {name}"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_topic_name;

    #[test]
    fn topic_names() {
        assert!(validate_topic_name("orders.v1_a-b").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad}");
        }
    }
}
