//! Hands out producer ids for idempotent producers from blocks reserved
//! durably in metadata, so an id is never given twice, even after kill -9.
//! Must never allocate an id without its block being persisted first.

use std::sync::Mutex;
use strait_metadata::{MetadataError, MetadataStore};

const BLOCK: i64 = 1000;

#[derive(Default)]
pub struct ProducerIdAllocator {
    /// (next id to hand out, end of the reserved block)
    block: Mutex<(i64, i64)>,
}

impl ProducerIdAllocator {
    pub fn next(&self, store: &dyn MetadataStore) -> Result<i64, MetadataError> {
        let mut block = self.block.lock().unwrap_or_else(|e| e.into_inner());
        if block.0 >= block.1 {
            let first = store.allocate_producer_ids(BLOCK)?;
            *block = (first, first + BLOCK);
        }
        let id = block.0;
        block.0 += 1;
        Ok(id)
    }
}
