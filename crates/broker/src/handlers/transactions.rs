//! ListTransactions and DescribeTransactions (`kafka-transactions list` and
//! `describe`): what the transaction coordinator holds, with Kafka's state
//! names and filters. It only reads coordinator state and must never change
//! a transaction.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_transactions_response::{
    TopicData, TransactionState as DescribedState,
};
use kafka_protocol::messages::list_transactions_response::TransactionState as ListedState;
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ListTransactionsRequest,
    ListTransactionsResponse, ProducerId, TransactionalId,
};

use super::{str_bytes, topic_name};
use crate::state::Broker;
use crate::txn::{TxnMetadata, TxnState};

/// The filters of one ListTransactions request.
struct ListFilter {
    states: Vec<TxnState>,
    /// A state filter was given but none of its names is known.
    no_known_state: bool,
    producer_ids: Vec<i64>,
    duration_ms: i64,
    pattern: Option<regex::Regex>,
}

impl ListFilter {
    /// Kafka's rule (TransactionStateManager.listTransactionStates).
    fn includes(&self, id: &str, meta: &TxnMetadata, now_ms: i64) -> bool {
        if self.no_known_state {
            return false;
        }
        if !self.producer_ids.is_empty() && !self.producer_ids.contains(&meta.producer_id) {
            return false;
        }
        if !self.states.is_empty() && !self.states.contains(&meta.state) {
            return false;
        }
        if self.duration_ms >= 0 && now_ms - meta.start_ms <= self.duration_ms {
            return false;
        }
        self.pattern.as_ref().is_none_or(|p| p.is_match(id))
    }
}

pub async fn list(broker: &Broker, req: ListTransactionsRequest) -> ListTransactionsResponse {
    let mut resp = ListTransactionsResponse::default();
    let mut states = Vec::new();
    for name in &req.state_filters {
        match TxnState::from_name(name.as_str()) {
            Some(s) => states.push(s),
            None => resp.unknown_state_filters.push(name.clone()),
        }
    }
    let pattern = match req.transactional_id_pattern.as_deref() {
        None | Some("") => None,
        // Java's Matcher.matches(): the whole id must match.
        Some(p) => match regex::Regex::new(&format!("^(?:{p})$")) {
            Ok(r) => Some(r),
            Err(_) => {
                resp.error_code = ResponseError::InvalidRegularExpression.code();
                return resp;
            }
        },
    };
    let filter = ListFilter {
        no_known_state: !req.state_filters.is_empty() && states.is_empty(),
        states,
        producer_ids: req.producer_id_filters.iter().map(|p| p.0).collect(),
        duration_ms: req.duration_filter,
        pattern,
    };
    let now = Broker::now_ms();
    for (id, meta) in broker.txns.list().await {
        if filter.includes(&id, &meta, now) {
            let mut s = ListedState::default();
            s.transactional_id = TransactionalId(str_bytes(id));
            s.producer_id = ProducerId(meta.producer_id);
            s.transaction_state = str_bytes(meta.state.as_str());
            resp.transaction_states.push(s);
        }
    }
    resp
}

pub async fn describe(
    broker: &Broker,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let mut resp = DescribeTransactionsResponse::default();
    for id in req.transactional_ids {
        let mut s = DescribedState::default();
        s.transactional_id = id.clone();
        s.transaction_start_time_ms = -1;
        s.producer_id = ProducerId(-1);
        s.producer_epoch = -1;
        match broker.txns.describe(id.0.as_str()).await {
            None => s.error_code = ResponseError::TransactionalIdNotFound.code(),
            Some(meta) => {
                s.transaction_state = str_bytes(meta.state.as_str());
                s.transaction_timeout_ms = meta.timeout_ms;
                s.transaction_start_time_ms = meta.start_ms;
                s.producer_id = ProducerId(meta.producer_id);
                s.producer_epoch = meta.producer_epoch;
                let mut topics: Vec<TopicData> = Vec::new();
                for p in &meta.partitions {
                    match topics.last_mut() {
                        Some(t) if t.topic.0.as_str() == p.topic => t.partitions.push(p.partition),
                        _ => {
                            let mut t = TopicData::default();
                            t.topic = topic_name(p.topic.clone());
                            t.partitions = vec![p.partition];
                            topics.push(t);
                        }
                    }
                }
                s.topics = topics;
            }
        }
        resp.transaction_states.push(s);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(state: TxnState, producer_id: i64, start_ms: i64) -> TxnMetadata {
        let mut m = TxnMetadata::new(producer_id, 60_000, 0);
        m.state = state;
        m.start_ms = start_ms;
        m
    }

    fn filter() -> ListFilter {
        ListFilter {
            states: vec![],
            no_known_state: false,
            producer_ids: vec![],
            duration_ms: -1,
            pattern: None,
        }
    }

    #[test]
    fn list_filters_follow_kafka() {
        let ongoing = meta(TxnState::Ongoing, 7, 1_000);
        let empty = meta(TxnState::Empty, 8, -1);
        assert!(filter().includes("a", &ongoing, 5_000));
        let by_state = ListFilter {
            states: vec![TxnState::Ongoing],
            ..filter()
        };
        assert!(by_state.includes("a", &ongoing, 5_000));
        assert!(!by_state.includes("b", &empty, 5_000));
        let by_producer = ListFilter {
            producer_ids: vec![8],
            ..filter()
        };
        assert!(!by_producer.includes("a", &ongoing, 5_000));
        assert!(by_producer.includes("b", &empty, 5_000));
        // Running longer than the duration: 4 s > 3 s, not > 4 s.
        let by_duration = ListFilter {
            duration_ms: 3_000,
            ..filter()
        };
        assert!(by_duration.includes("a", &ongoing, 5_000));
        let by_duration = ListFilter {
            duration_ms: 4_000,
            ..filter()
        };
        assert!(!by_duration.includes("a", &ongoing, 5_000));
        let by_pattern = ListFilter {
            pattern: regex::Regex::new("^(?:app-.*)$").ok(),
            ..filter()
        };
        assert!(by_pattern.includes("app-1", &ongoing, 5_000));
        assert!(!by_pattern.includes("xapp-1", &ongoing, 5_000));
        let unknown_only = ListFilter {
            no_known_state: true,
            ..filter()
        };
        assert!(!unknown_only.includes("a", &ongoing, 5_000));
    }
}
