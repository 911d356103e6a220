//! InitProducerId for idempotent producers: a fresh producer id, or the same
//! id with a bumped epoch when the producer asks to (KIP-360). Requests with
//! a transactional id go to the transaction coordinator (`handlers::txn`).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::state::Broker;

pub async fn handle(
    broker: &Arc<Broker>,
    req: InitProducerIdRequest,
    version: i16,
) -> InitProducerIdResponse {
    if req.transactional_id.is_some() {
        return super::txn::init_producer_id(broker, req, version).await;
    }
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    resp.ongoing_txn_producer_id = ProducerId(-1);
    resp.ongoing_txn_producer_epoch = -1;
    if req.producer_id.0 >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1 {
        resp.producer_id = req.producer_id;
        resp.producer_epoch = req.producer_epoch + 1;
        return resp;
    }
    match broker.producer_ids.next(broker.store.as_ref()) {
        Ok(id) => {
            resp.producer_id = ProducerId(id);
            resp.producer_epoch = 0;
        }
        Err(e) => {
            tracing::error!("allocating a producer id failed: {e}");
            resp.error_code = ResponseError::UnknownServerError.code();
        }
    }
    resp
}
