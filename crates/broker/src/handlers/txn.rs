//! The transaction APIs: InitProducerId with a transactional id,
//! AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit, and the
//! check that a produced transactional batch belongs to its producer's
//! transaction. Thin translations between kafka-protocol messages (per API
//! version) and `TxnCoordinator` calls, plus the mapping of `TxnError` to
//! Kafka error codes per version. Must never hold transaction state or decide
//! transaction semantics itself.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, InitProducerIdRequest,
    InitProducerIdResponse, ProducerId, TransactionalId, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use strait_log::{BatchHeader, LeaderAppend, LogError};
use strait_metadata::PartitionKey;

use super::groups::{CommittedOffset, group_error};
use super::topic_name;
use crate::state::Broker;
use crate::topic_table::Partition;
use crate::txn::TxnError;

/// The Kafka error code of a coordinator error. `fenced_as_epoch`: the
/// request version predates PRODUCER_FENCED, which is then sent as
/// INVALID_PRODUCER_EPOCH.
fn txn_error(e: &TxnError, fenced_as_epoch: bool) -> ResponseError {
    match e {
        TxnError::InvalidRequest(_) => ResponseError::InvalidRequest,
        TxnError::InvalidTransactionTimeout => ResponseError::InvalidTransactionTimeout,
        TxnError::ConcurrentTransactions => ResponseError::ConcurrentTransactions,
        TxnError::ProducerFenced if fenced_as_epoch => ResponseError::InvalidProducerEpoch,
        TxnError::ProducerFenced => ResponseError::ProducerFenced,
        TxnError::InvalidProducerIdMapping => ResponseError::InvalidProducerIdMapping,
        TxnError::InvalidTxnState => ResponseError::InvalidTxnState,
        TxnError::NotInTransaction => ResponseError::TransactionAbortable,
        TxnError::Group(g) => group_error(g),
        TxnError::Storage(_) => ResponseError::CoordinatorNotAvailable,
        TxnError::Internal(_) => ResponseError::UnknownServerError,
    }
}

fn code(r: &Result<(), TxnError>, fenced_as_epoch: bool) -> i16 {
    match r {
        Ok(()) => 0,
        Err(e) => txn_error(e, fenced_as_epoch).code(),
    }
}

// ----- InitProducerId ---------------------------------------------------------

/// InitProducerId for a transactional producer (the request names a
/// transactional id).
pub async fn init_producer_id(
    broker: &Arc<Broker>,
    req: InitProducerIdRequest,
    version: i16,
) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    resp.ongoing_txn_producer_id = ProducerId(-1);
    resp.ongoing_txn_producer_epoch = -1;
    let id = req
        .transactional_id
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    let expected = match (req.producer_id.0, req.producer_epoch) {
        (-1, -1) => None,
        (-1, _) | (_, -1) => {
            resp.error_code = ResponseError::InvalidRequest.code();
            return resp;
        }
        (pid, epoch) => Some((pid, epoch)),
    };
    match broker
        .txns
        .init_producer_id(broker.as_ref(), &id, req.transaction_timeout_ms, expected)
        .await
    {
        Ok((pid, epoch)) => {
            resp.producer_id = ProducerId(pid);
            resp.producer_epoch = epoch;
        }
        Err(e) => {
            if matches!(e, TxnError::Storage(_) | TxnError::Internal(_)) {
                tracing::error!("InitProducerId for transactional id {id} failed: {e}");
            }
            resp.error_code = txn_error(&e, version < 4).code();
        }
    }
    resp
}

// ----- AddPartitionsToTxn -----------------------------------------------------

/// Checks that every partition exists and may hold a transaction; on any
/// failure, the failing ones get their error and the others
/// OPERATION_NOT_ATTEMPTED (as Kafka answers).
fn check_partitions(
    broker: &Broker,
    partitions: &[PartitionKey],
) -> Option<Vec<(PartitionKey, ResponseError)>> {
    let errors: Vec<Option<ResponseError>> = partitions
        .iter()
        .map(|p| match broker.topics.partition(&p.topic, p.partition) {
            None => Some(ResponseError::UnknownTopicOrPartition),
            Some(_) if broker.is_read_only_mirror(&p.topic) => Some(ResponseError::InvalidRequest),
            Some(_) => None,
        })
        .collect();
    if errors.iter().all(Option::is_none) {
        return None;
    }
    Some(
        partitions
            .iter()
            .zip(errors)
            .map(|(p, e)| (p.clone(), e.unwrap_or(ResponseError::OperationNotAttempted)))
            .collect(),
    )
}

fn topic_results(results: Vec<(PartitionKey, i16)>) -> Vec<AddPartitionsToTxnTopicResult> {
    let mut out: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for (p, error) in results {
        let mut r = AddPartitionsToTxnPartitionResult::default();
        r.partition_index = p.partition;
        r.partition_error_code = error;
        match out.iter_mut().find(|t| t.name.0.as_str() == p.topic) {
            Some(t) => t.results_by_partition.push(r),
            None => {
                let mut t = AddPartitionsToTxnTopicResult::default();
                t.name = topic_name(p.topic);
                t.results_by_partition.push(r);
                out.push(t);
            }
        }
    }
    out
}

/// One transaction of an AddPartitionsToTxn: per-partition error codes.
async fn add_partitions_one(
    broker: &Arc<Broker>,
    id: &str,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    partitions: Vec<PartitionKey>,
    version: i16,
) -> Vec<(PartitionKey, i16)> {
    if let Some(errors) = check_partitions(broker, &partitions) {
        return errors.into_iter().map(|(p, e)| (p, e.code())).collect();
    }
    let fenced_as_epoch = version < 2;
    if verify_only {
        return match broker
            .txns
            .verify_partitions(id, producer_id, epoch, &partitions)
            .await
        {
            Ok(results) => results
                .into_iter()
                .map(|(p, r)| (p, code(&r, fenced_as_epoch)))
                .collect(),
            Err(e) => {
                let c = txn_error(&e, fenced_as_epoch).code();
                partitions.into_iter().map(|p| (p, c)).collect()
            }
        };
    }
    let r = broker
        .txns
        .add_partitions(id, producer_id, epoch, &partitions)
        .await;
    let c = code(&r, fenced_as_epoch);
    partitions.into_iter().map(|p| (p, c)).collect()
}

fn partition_keys(
    topics: &[kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic],
) -> Vec<PartitionKey> {
    let mut out: Vec<PartitionKey> = Vec::new();
    for t in topics {
        for p in &t.partitions {
            let key = PartitionKey::new(t.name.0.to_string(), *p);
            if !out.contains(&key) {
                out.push(key);
            }
        }
    }
    out
}

/// AddPartitionsToTxn: v0-3 carry one transaction; v4+ a batch of them,
/// each possibly verify_only.
pub async fn add_partitions(
    broker: &Arc<Broker>,
    req: AddPartitionsToTxnRequest,
    version: i16,
) -> AddPartitionsToTxnResponse {
    let mut resp = AddPartitionsToTxnResponse::default();
    if version < 4 {
        let results = add_partitions_one(
            broker,
            req.v3_and_below_transactional_id.0.as_str(),
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            false,
            partition_keys(&req.v3_and_below_topics),
            version,
        )
        .await;
        resp.results_by_topic_v3_and_below = topic_results(results);
        return resp;
    }
    for txn in req.transactions {
        let results = add_partitions_one(
            broker,
            txn.transactional_id.0.as_str(),
            txn.producer_id.0,
            txn.producer_epoch,
            txn.verify_only,
            partition_keys(&txn.topics),
            version,
        )
        .await;
        let mut r = AddPartitionsToTxnResult::default();
        r.transactional_id = txn.transactional_id;
        r.topic_results = topic_results(results);
        resp.results_by_transaction.push(r);
    }
    resp
}

// ----- AddOffsetsToTxn --------------------------------------------------------

pub async fn add_offsets(
    broker: &Arc<Broker>,
    req: AddOffsetsToTxnRequest,
    version: i16,
) -> AddOffsetsToTxnResponse {
    let r = broker
        .txns
        .add_offsets(
            req.transactional_id.0.as_str(),
            req.producer_id.0,
            req.producer_epoch,
            req.group_id.0.as_str(),
        )
        .await;
    let mut resp = AddOffsetsToTxnResponse::default();
    resp.error_code = code(&r, version < 2);
    resp
}

// ----- EndTxn -----------------------------------------------------------------

/// EndTxn. v5 is answered with the producer id and epoch to use next; this
/// coordinator keeps them across transactions (transaction version 1, the
/// only one it advertises).
pub async fn end_txn(broker: &Arc<Broker>, req: EndTxnRequest, version: i16) -> EndTxnResponse {
    let mut resp = EndTxnResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    let id = req.transactional_id.0.to_string();
    match broker
        .txns
        .end_txn(
            broker.as_ref(),
            &id,
            req.producer_id.0,
            req.producer_epoch,
            req.committed,
        )
        .await
    {
        Ok((pid, epoch)) => {
            resp.producer_id = ProducerId(pid);
            resp.producer_epoch = epoch;
        }
        Err(e) => {
            if matches!(e, TxnError::Storage(_) | TxnError::Internal(_)) {
                tracing::error!("EndTxn for transactional id {id} failed: {e}");
            }
            resp.error_code = txn_error(&e, version < 2).code();
        }
    }
    resp
}

// ----- TxnOffsetCommit --------------------------------------------------------

/// TxnOffsetCommit: stages offsets in the producer's transaction. Partitions
/// that do not exist or whose metadata is too large fail alone; the others
/// share the outcome of the transaction and group checks.
pub async fn txn_offset_commit(
    broker: &Arc<Broker>,
    req: TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitResponse {
    let group = req.group_id.0.to_string();
    let now = Broker::now_ms();
    let max_metadata = broker.groups.config().offset_metadata_max_bytes;
    let mut outcome: Vec<(String, i32, Option<ResponseError>)> = Vec::new();
    let mut offsets = Vec::new();
    for topic in &req.topics {
        let name = topic.name.0.to_string();
        for p in &topic.partitions {
            let error = if group.is_empty() {
                Some(ResponseError::InvalidGroupId)
            } else if broker.topics.partition(&name, p.partition_index).is_none() {
                Some(ResponseError::UnknownTopicOrPartition)
            } else {
                let committed = CommittedOffset {
                    topic: &name,
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: (version >= 2).then_some(p.committed_leader_epoch),
                    metadata: p.committed_metadata.as_deref(),
                };
                committed
                    .into_record(max_metadata, now)
                    .map(|entry| offsets.push(entry))
                    .err()
            };
            outcome.push((name.clone(), p.partition_index, error));
        }
    }
    let shared = if offsets.is_empty() {
        None
    } else {
        let r = broker
            .txns
            .stage_offsets(
                req.transactional_id.0.as_str(),
                req.producer_id.0,
                req.producer_epoch,
                &group,
                req.generation_id,
                req.member_id.as_str(),
                req.group_instance_id.as_deref(),
                offsets,
            )
            .await;
        match r {
            Ok(()) => None,
            // Producers expect INVALID_PRODUCER_EPOCH here, in every version.
            Err(TxnError::ProducerFenced) => Some(ResponseError::InvalidProducerEpoch),
            Err(TxnError::NotInTransaction) if version < 4 => Some(ResponseError::InvalidTxnState),
            Err(e) => Some(txn_error(&e, true)),
        }
    };
    let mut resp = TxnOffsetCommitResponse::default();
    for (topic, partition, error) in outcome {
        let mut p = TxnOffsetCommitResponsePartition::default();
        p.partition_index = partition;
        p.error_code = error.or(shared).map_or(0, |e| e.code());
        match resp.topics.last_mut() {
            Some(t) if t.name.0.as_str() == topic => t.partitions.push(p),
            _ => {
                let mut t = TxnOffsetCommitResponseTopic::default();
                t.name = topic_name(topic);
                t.partitions.push(p);
                resp.topics.push(t);
            }
        }
    }
    resp
}

// ----- Produce ----------------------------------------------------------------

/// The producer of the transactional batches in `records`, if any: Err when
/// they name more than one. Unparsable bytes are left to the log to refuse.
fn transactional_producer(records: &[u8]) -> Result<Option<(i64, i16)>, String> {
    let mut found: Option<(i64, i16)> = None;
    let mut pos = 0usize;
    while let Some(h) = records.get(pos..).and_then(BatchHeader::parse) {
        if h.is_transactional() {
            match found {
                None => found = Some((h.producer_id, h.producer_epoch)),
                Some((pid, _)) if pid != h.producer_id => {
                    return Err("Transactional records contained more than one producer ID".into());
                }
                Some(_) => {}
            }
        }
        match pos.checked_add(h.size()) {
            Some(next) if h.length > 0 => pos = next,
            _ => break,
        }
    }
    Ok(found)
}

/// A Produce append to `partition`. Transactional batches are appended only
/// if the partition is in their producer's ongoing transaction; the refusal
/// is the error Kafka's produce verification gives for this version.
pub async fn append(
    broker: &Arc<Broker>,
    transactional_id: Option<&TransactionalId>,
    partition: &Partition,
    records: &[u8],
    now: i64,
    version: i16,
) -> Result<Result<LeaderAppend, LogError>, (ResponseError, String)> {
    let producer = match transactional_producer(records) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(partition.log.append_leader(records, now)),
        Err(message) => return Err((ResponseError::InvalidProducerIdMapping, message)),
    };
    let key = PartitionKey::new(partition.topic.clone(), partition.index);
    let id = transactional_id.map(|t| t.0.as_str());
    let r = broker
        .txns
        .append_in_txn(id, producer.0, producer.1, &key, || {
            partition.log.append_leader(records, now)
        })
        .await;
    r.map_err(|e| {
        let code = match e {
            TxnError::NotInTransaction if version <= 10 => ResponseError::InvalidTxnState,
            TxnError::ProducerFenced => ResponseError::InvalidProducerEpoch,
            // Retriable for every client, without a metadata refresh.
            TxnError::ConcurrentTransactions => ResponseError::NotEnoughReplicas,
            ref other => txn_error(other, true),
        };
        let message = match e {
            TxnError::NotInTransaction => "Partition was not added to the transaction".to_string(),
            other => other.to_string(),
        };
        (code, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::str_bytes;
    use kafka_protocol::protocol::{Encodable, HeaderVersion};

    #[test]
    fn error_codes_follow_versions() {
        assert_eq!(
            txn_error(&TxnError::ProducerFenced, true),
            ResponseError::InvalidProducerEpoch
        );
        assert_eq!(
            txn_error(&TxnError::ProducerFenced, false),
            ResponseError::ProducerFenced
        );
        assert_eq!(
            txn_error(&TxnError::NotInTransaction, false).code(),
            120,
            "TRANSACTION_ABORTABLE"
        );
        assert_eq!(
            txn_error(&TxnError::Storage("x".into()), false),
            ResponseError::CoordinatorNotAvailable
        );
    }

    #[test]
    fn finds_the_transactional_producer() {
        assert_eq!(transactional_producer(&[]), Ok(None));
        assert_eq!(transactional_producer(&[0u8; 10]), Ok(None));
        // A header-only batch: length 49 (61 - 12), attributes transactional.
        let mut b = vec![0u8; 61];
        b[8..12].copy_from_slice(&49i32.to_be_bytes());
        b[16] = 2;
        b[21..23].copy_from_slice(&0x10i16.to_be_bytes());
        b[43..51].copy_from_slice(&7i64.to_be_bytes());
        b[51..53].copy_from_slice(&3i16.to_be_bytes());
        assert_eq!(transactional_producer(&b), Ok(Some((7, 3))));
        let mut two = b.clone();
        let mut other = b.clone();
        other[43..51].copy_from_slice(&8i64.to_be_bytes());
        two.extend_from_slice(&other);
        assert!(transactional_producer(&two).is_err());
        // Not transactional.
        b[21..23].copy_from_slice(&0i16.to_be_bytes());
        assert_eq!(transactional_producer(&b), Ok(None));
    }

    fn encodes<T: Encodable + HeaderVersion>(msg: &T, versions: std::ops::RangeInclusive<i16>) {
        for v in versions {
            let mut buf = bytes::BytesMut::new();
            assert!(msg.encode(&mut buf, v).is_ok(), "version {v}");
        }
    }

    #[test]
    fn responses_encode_in_every_version() {
        let mut apt = AddPartitionsToTxnResponse::default();
        apt.results_by_topic_v3_and_below = topic_results(vec![
            (PartitionKey::new("t", 0), 0),
            (PartitionKey::new("t", 1), 48),
        ]);
        encodes(&apt, 0..=3);
        let mut apt = AddPartitionsToTxnResponse::default();
        let mut r = AddPartitionsToTxnResult::default();
        r.transactional_id = TransactionalId(str_bytes("x"));
        r.topic_results = topic_results(vec![(PartitionKey::new("t", 0), 0)]);
        apt.results_by_transaction.push(r);
        encodes(&apt, 4..=5);
        encodes(&AddOffsetsToTxnResponse::default(), 0..=4);
        encodes(&EndTxnResponse::default(), 0..=5);
        encodes(&InitProducerIdResponse::default(), 0..=5);
        let mut toc = TxnOffsetCommitResponse::default();
        let mut t = TxnOffsetCommitResponseTopic::default();
        t.name = topic_name("t");
        t.partitions
            .push(TxnOffsetCommitResponsePartition::default());
        toc.topics.push(t);
        encodes(&toc, 0..=5);
    }
}
