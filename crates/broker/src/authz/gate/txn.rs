//! Checks of the producer id and transaction APIs: InitProducerId (WRITE on
//! the transactional id; without one, IDEMPOTENT_WRITE on the cluster or
//! WRITE on any topic), AddPartitionsToTxn (WRITE on the transactional id
//! and each topic; CLUSTER_ACTION for the broker-to-broker v4+),
//! AddOffsetsToTxn (WRITE on the transactional id, READ on the group),
//! EndTxn (WRITE on the transactional id) and TxnOffsetCommit (WRITE on the
//! transactional id, READ on the group and each topic), ListTransactions
//! (only the ids the caller may DESCRIBE) and DescribeTransactions (DESCRIBE
//! on each transactional id). Must never touch a transaction.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::describe_transactions_response::TransactionState;
use kafka_protocol::messages::txn_offset_commit_request::TxnOffsetCommitRequestTopic;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, InitProducerIdRequest,
    InitProducerIdResponse, ProducerId, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ListTransactionsRequest,
    ListTransactionsResponse,
};
use strait_metadata::{AclOperation, AclResourceType};

use super::{Check, Deny, Outcome, pass, pass_then, split_by};

const TXN_DENIED: ResponseError = ResponseError::TransactionalIdAuthorizationFailed;

pub(super) fn init_producer_id(
    check: &Check<'_>,
    req: InitProducerIdRequest,
) -> Outcome<InitProducerIdRequest, InitProducerIdResponse> {
    let error = match &req.transactional_id {
        Some(id) if !check.transactional_id(AclOperation::Write, id.0.as_str()) => TXN_DENIED,
        Some(_) => return pass(req),
        None => {
            let allowed = check.cluster(AclOperation::IdempotentWrite)
                || check.authz.authorize_by_resource_type(
                    check.session,
                    AclOperation::Write,
                    AclResourceType::Topic,
                );
            if allowed {
                return pass(req);
            }
            ResponseError::ClusterAuthorizationFailed
        }
    };
    let mut resp = InitProducerIdResponse::default();
    resp.error_code = error.code();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    resp.ongoing_txn_producer_id = ProducerId(-1);
    resp.ongoing_txn_producer_epoch = -1;
    Deny(resp)
}

fn partition_results(
    topics: &[kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic],
    error_of: impl Fn(&str, i32) -> ResponseError,
) -> Vec<AddPartitionsToTxnTopicResult> {
    topics
        .iter()
        .map(|t| {
            let mut out = AddPartitionsToTxnTopicResult::default();
            out.name = t.name.clone();
            out.results_by_partition = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = AddPartitionsToTxnPartitionResult::default();
                    r.partition_index = *p;
                    r.partition_error_code = error_of(t.name.0.as_str(), *p).code();
                    r
                })
                .collect();
            out
        })
        .collect()
}

pub(super) fn add_partitions(
    check: &Check<'_>,
    req: AddPartitionsToTxnRequest,
) -> Outcome<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> {
    if check.version >= 4 {
        // Sent by brokers verifying a transaction, not by clients.
        if check.cluster(AclOperation::ClusterAction) {
            return pass(req);
        }
        let mut resp = AddPartitionsToTxnResponse::default();
        resp.error_code = ResponseError::ClusterAuthorizationFailed.code();
        return Deny(resp);
    }
    let topics = &req.v3_and_below_topics;
    if !check.transactional_id(
        AclOperation::Write,
        req.v3_and_below_transactional_id.0.as_str(),
    ) {
        let mut resp = AddPartitionsToTxnResponse::default();
        resp.results_by_topic_v3_and_below = partition_results(topics, |_, _| TXN_DENIED);
        return Deny(resp);
    }
    let verdicts: std::collections::HashMap<&str, bool> = topics
        .iter()
        .map(|t| t.name.0.as_str())
        .collect::<std::collections::HashSet<&str>>()
        .into_iter()
        .map(|n| (n, check.topic(AclOperation::Write, n)))
        .collect();
    let allowed = |name: &str| verdicts.get(name).copied().unwrap_or(true);
    let refused_any = topics.iter().any(|t| !allowed(t.name.0.as_str()));
    if !refused_any {
        return pass(req);
    }
    // As Kafka: refused topics fail, unknown partitions fail, the others are
    // not attempted.
    let broker = check.broker;
    let mut resp = AddPartitionsToTxnResponse::default();
    resp.results_by_topic_v3_and_below = partition_results(topics, |name, p| {
        if !allowed(name) {
            ResponseError::TopicAuthorizationFailed
        } else if broker.topics.partition(name, p).is_none() {
            ResponseError::UnknownTopicOrPartition
        } else {
            ResponseError::OperationNotAttempted
        }
    });
    Deny(resp)
}

pub(super) fn add_offsets(
    check: &Check<'_>,
    req: AddOffsetsToTxnRequest,
) -> Outcome<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> {
    let error = if !check.transactional_id(AclOperation::Write, req.transactional_id.0.as_str()) {
        TXN_DENIED
    } else if !check.group(AclOperation::Read, req.group_id.0.as_str()) {
        ResponseError::GroupAuthorizationFailed
    } else {
        return pass(req);
    };
    let mut resp = AddOffsetsToTxnResponse::default();
    resp.error_code = error.code();
    Deny(resp)
}

pub(super) fn end_txn(
    check: &Check<'_>,
    req: EndTxnRequest,
) -> Outcome<EndTxnRequest, EndTxnResponse> {
    if check.transactional_id(AclOperation::Write, req.transactional_id.0.as_str()) {
        return pass(req);
    }
    let mut resp = EndTxnResponse::default();
    resp.error_code = TXN_DENIED.code();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    Deny(resp)
}

fn commit_errors(
    topic: &TxnOffsetCommitRequestTopic,
    error: ResponseError,
) -> TxnOffsetCommitResponseTopic {
    let mut out = TxnOffsetCommitResponseTopic::default();
    out.name = topic.name.clone();
    out.partitions = topic
        .partitions
        .iter()
        .map(|p| {
            let mut r = TxnOffsetCommitResponsePartition::default();
            r.partition_index = p.partition_index;
            r.error_code = error.code();
            r
        })
        .collect();
    out
}

pub(super) fn txn_offset_commit(
    check: &Check<'_>,
    mut req: TxnOffsetCommitRequest,
) -> Outcome<TxnOffsetCommitRequest, TxnOffsetCommitResponse> {
    let whole = if !check.transactional_id(AclOperation::Write, req.transactional_id.0.as_str()) {
        Some(TXN_DENIED)
    } else if !check.group(AclOperation::Read, req.group_id.0.as_str()) {
        Some(ResponseError::GroupAuthorizationFailed)
    } else {
        None
    };
    if let Some(error) = whole {
        let mut resp = TxnOffsetCommitResponse::default();
        resp.topics = req.topics.iter().map(|t| commit_errors(t, error)).collect();
        return Deny(resp);
    }
    let (kept, refused) = split_by(
        std::mem::take(&mut req.topics),
        |t| Some(t.name.0.to_string()),
        |n| check.topic(AclOperation::Read, n),
    );
    let refused: Vec<TxnOffsetCommitResponseTopic> = refused
        .iter()
        .map(|t| commit_errors(t, ResponseError::TopicAuthorizationFailed))
        .collect();
    if kept.is_empty() && !refused.is_empty() {
        let mut resp = TxnOffsetCommitResponse::default();
        resp.topics = refused;
        return Deny(resp);
    }
    req.topics = kept;
    if refused.is_empty() {
        return pass(req);
    }
    pass_then(req, move |resp: &mut TxnOffsetCommitResponse, _| {
        resp.topics.extend(refused)
    })
}

pub(super) fn list_transactions(
    _check: &Check<'_>,
    req: ListTransactionsRequest,
) -> Outcome<ListTransactionsRequest, ListTransactionsResponse> {
    pass_then(req, |resp: &mut ListTransactionsResponse, c: &Check<'_>| {
        resp.transaction_states
            .retain(|s| c.transactional_id(AclOperation::Describe, s.transactional_id.0.as_str()))
    })
}

pub(super) fn describe_transactions(
    _check: &Check<'_>,
    req: DescribeTransactionsRequest,
) -> Outcome<DescribeTransactionsRequest, DescribeTransactionsResponse> {
    pass_then(
        req,
        |resp: &mut DescribeTransactionsResponse, c: &Check<'_>| {
            for s in &mut resp.transaction_states {
                if !c.transactional_id(AclOperation::Describe, s.transactional_id.0.as_str()) {
                    let mut denied = TransactionState::default();
                    denied.error_code = TXN_DENIED.code();
                    denied.transactional_id = s.transactional_id.clone();
                    denied.transaction_start_time_ms = -1;
                    denied.producer_id = ProducerId(-1);
                    denied.producer_epoch = -1;
                    *s = denied;
                }
            }
        },
    )
}
