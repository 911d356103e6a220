//! The Kafka v2 record batch wire format, at the header level.
//!
//! Owns parsing and validating the 61-byte batch header, CRC32C checks, the in-place rewrites
//! the leader does (base offset, partition leader epoch, log-append-time), building transaction
//! control batches and reading their marker, and producer sequence arithmetic. It must never do
//! I/O, and never decode or re-encode records — record payloads (possibly compressed) pass
//! through untouched.

use crate::error::LogError;

/// Bytes before the batch length field's coverage starts: base offset (8) + length (4).
pub const LOG_OVERHEAD: usize = 12;
/// Size of the full v2 batch header.
pub const HEADER_SIZE: usize = 61;
/// Smallest legal value of the batch length field.
pub const MIN_BATCH_LENGTH: i32 = (HEADER_SIZE - LOG_OVERHEAD) as i32;
/// The only supported magic byte.
pub const MAGIC_V2: i8 = 2;

const BASE_OFFSET_AT: usize = 0;
const LENGTH_AT: usize = 8;
const LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const LAST_OFFSET_DELTA_AT: usize = 23;
const BASE_TIMESTAMP_AT: usize = 27;
const MAX_TIMESTAMP_AT: usize = 35;
const PRODUCER_ID_AT: usize = 43;
const PRODUCER_EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;
const RECORD_COUNT_AT: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;

/// Control record type of an ABORT marker.
pub const CONTROL_TYPE_ABORT: i16 = 0;
/// Control record type of a COMMIT marker.
pub const CONTROL_TYPE_COMMIT: i16 = 1;

/// The decoded fixed-size header of one v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// The length field: bytes that follow it.
    pub length: i32,
    /// Leader epoch stamped by the partition leader.
    pub partition_leader_epoch: i32,
    /// Format version; 2 for every stored batch.
    pub magic: i8,
    /// Stored CRC32C of attributes..end.
    pub crc: u32,
    /// Compression, timestamp type, transactional and control flags.
    pub attributes: i16,
    /// Last record's offset minus the base offset.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest record timestamp (or the log-append time).
    pub max_timestamp: i64,
    /// Producer id, -1 for non-idempotent producers.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence of the first record, -1 if none.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub record_count: i32,
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(x)
}

impl BatchHeader {
    /// Decodes the header at the start of `bytes`; `None` if fewer than 61 bytes are given.
    /// No field is validated here.
    pub fn parse(bytes: &[u8]) -> Option<BatchHeader> {
        if bytes.len() < HEADER_SIZE {
            return None;
        }
        Some(BatchHeader {
            base_offset: i64_at(bytes, BASE_OFFSET_AT),
            length: i32_at(bytes, LENGTH_AT),
            partition_leader_epoch: i32_at(bytes, LEADER_EPOCH_AT),
            magic: bytes[MAGIC_AT] as i8,
            crc: u32_at(bytes, CRC_AT),
            attributes: i16_at(bytes, ATTRIBUTES_AT),
            last_offset_delta: i32_at(bytes, LAST_OFFSET_DELTA_AT),
            base_timestamp: i64_at(bytes, BASE_TIMESTAMP_AT),
            max_timestamp: i64_at(bytes, MAX_TIMESTAMP_AT),
            producer_id: i64_at(bytes, PRODUCER_ID_AT),
            producer_epoch: i16_at(bytes, PRODUCER_EPOCH_AT),
            base_sequence: i32_at(bytes, BASE_SEQUENCE_AT),
            record_count: i32_at(bytes, RECORD_COUNT_AT),
        })
    }

    /// Total size of the batch on disk (header included).
    pub fn size(&self) -> usize {
        LOG_OVERHEAD + self.length.max(0) as usize
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Offset following this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> i16 {
        self.attributes & COMPRESSION_MASK
    }

    /// Whether timestamps are log-append times.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Whether the batch holds control records (transaction markers).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Whether an idempotent or transactional producer wrote the batch.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// Sequence of the last record (wrapping at `i32::MAX` like Kafka).
    pub fn last_sequence(&self) -> i32 {
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }

    /// Checks the fields every stored batch must satisfy, given how many bytes are available
    /// from the batch start. Returns a reason on failure.
    pub fn check_structure(&self, available: usize) -> Result<(), StructureError> {
        if self.length < MIN_BATCH_LENGTH {
            return Err(StructureError::Corrupt(format!(
                "batch length {} is below the minimum {MIN_BATCH_LENGTH}",
                self.length
            )));
        }
        if self.magic != MAGIC_V2 {
            return Err(StructureError::Magic(self.magic));
        }
        if self.size() > available {
            return Err(StructureError::Truncated {
                needed: self.size(),
                available,
            });
        }
        if self.last_offset_delta < 0 {
            return Err(StructureError::Corrupt(format!(
                "negative last offset delta {}",
                self.last_offset_delta
            )));
        }
        if self.record_count < 0 {
            return Err(StructureError::Corrupt(format!(
                "negative record count {}",
                self.record_count
            )));
        }
        Ok(())
    }
}

/// Why a batch failed structural validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StructureError {
    /// Bad field values.
    Corrupt(String),
    /// Magic is not 2.
    Magic(i8),
    /// The batch extends past the available bytes.
    Truncated {
        /// Bytes the batch needs.
        needed: usize,
        /// Bytes that are there.
        available: usize,
    },
}

impl From<StructureError> for LogError {
    fn from(e: StructureError) -> Self {
        match e {
            StructureError::Corrupt(reason) => LogError::CorruptRecord(reason),
            StructureError::Magic(m) => LogError::UnsupportedMagic(m),
            StructureError::Truncated { needed, available } => LogError::CorruptRecord(format!(
                "truncated batch: needs {needed} bytes, {available} available"
            )),
        }
    }
}

/// CRC32C over attributes..end of a whole batch.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_AT..])
}

/// Whether the stored CRC matches the batch bytes (`batch` must be exactly one whole batch).
pub fn crc_matches(batch: &[u8]) -> bool {
    batch.len() >= HEADER_SIZE && u32_at(batch, CRC_AT) == compute_crc(batch)
}

/// One validated batch inside an append buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSpan {
    /// Byte position of the batch within the buffer.
    pub position: usize,
    /// Its header.
    pub header: BatchHeader,
}

/// Splits `records` into batches, checking lengths, magic and CRC of every one. Fails on
/// trailing partial data and on an empty buffer.
pub fn split_and_verify(records: &[u8]) -> Result<Vec<BatchSpan>, LogError> {
    if records.is_empty() {
        return Err(LogError::InvalidRecord("no record batches".into()));
    }
    let mut spans = Vec::new();
    let mut pos = 0usize;
    while pos < records.len() {
        let rest = &records[pos..];
        let header = BatchHeader::parse(rest).ok_or_else(|| {
            LogError::CorruptRecord(format!(
                "truncated batch header: {} bytes at position {pos}",
                rest.len()
            ))
        })?;
        header.check_structure(rest.len())?;
        let batch = &rest[..header.size()];
        if !crc_matches(batch) {
            return Err(LogError::CorruptRecord(format!(
                "CRC mismatch in batch at position {pos} (stored {:#010x}, computed {:#010x})",
                header.crc,
                compute_crc(batch)
            )));
        }
        spans.push(BatchSpan {
            position: pos,
            header,
        });
        pos += header.size();
    }
    Ok(spans)
}

/// Overwrites the base offset (not covered by the CRC).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[BASE_OFFSET_AT..BASE_OFFSET_AT + 8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Overwrites the partition leader epoch (not covered by the CRC).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&epoch.to_be_bytes());
}

/// Marks the batch as log-append-time stamped with `now_ms` (first and max timestamp) and
/// recomputes the CRC. Readers take every record's timestamp from the max timestamp field.
pub fn set_log_append_time(batch: &mut [u8], now_ms: i64) {
    let attributes = i16_at(batch, ATTRIBUTES_AT) | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[BASE_TIMESTAMP_AT..BASE_TIMESTAMP_AT + 8].copy_from_slice(&now_ms.to_be_bytes());
    batch[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = compute_crc(batch);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Adds `increment` to a producer sequence, wrapping past `i32::MAX` to 0 like Kafka.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// Subtracts `decrement` from a producer sequence, wrapping below 0 to `i32::MAX` like Kafka.
pub fn decrement_sequence(sequence: i32, decrement: i32) -> i32 {
    if sequence < decrement {
        i32::MAX - (decrement - sequence) + 1
    } else {
        sequence - decrement
    }
}

/// A transaction marker: the single control record of a COMMIT/ABORT control batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    /// COMMIT (true) or ABORT (false).
    pub commit: bool,
    /// Epoch of the transaction coordinator that wrote it.
    pub coordinator_epoch: i32,
    /// Timestamp of the marker record.
    pub timestamp: i64,
}

/// Fields of a control batch to build.
#[derive(Debug, Clone, Copy)]
pub struct ControlBatchSpec {
    /// Offset the marker gets.
    pub offset: i64,
    /// Partition leader epoch to stamp.
    pub partition_leader_epoch: i32,
    /// Producer whose transaction ends.
    pub producer_id: i64,
    /// That producer's epoch.
    pub producer_epoch: i16,
    /// COMMIT or ABORT.
    pub commit: bool,
    /// Epoch of the transaction coordinator.
    pub coordinator_epoch: i32,
    /// Marker timestamp.
    pub timestamp: i64,
    /// Whether to flag the timestamp as log-append time.
    pub log_append_time: bool,
}

pub(crate) fn put_varint(out: &mut Vec<u8>, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A varint length and the bytes, or -1 for null, as record fields are written.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

/// One record for [`encode_plain_batch`]. Headers are a list, not a map:
/// Kafka allows one header name to repeat, and each copy is kept.
#[derive(Debug, Clone, Copy)]
pub struct PlainRecord<'a> {
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [(&'a [u8], Option<&'a [u8]>)],
}

/// Encodes `records` as one uncompressed v2 batch at base offset 0, with
/// no producer id and CreateTime timestamps, as a plain producer sends
/// it; `None` for no records. The leader assigns the real offsets.
pub fn encode_plain_batch(records: &[PlainRecord<'_>]) -> Option<Vec<u8>> {
    let first = records.first()?;
    let base_timestamp = first.timestamp;
    let max_timestamp = records
        .iter()
        .map(|r| r.timestamp)
        .max()
        .unwrap_or(base_timestamp);
    let mut body = Vec::new();
    let mut rec = Vec::new();
    for (delta, r) in records.iter().enumerate() {
        rec.clear();
        rec.push(0u8); // record attributes
        put_varint(&mut rec, r.timestamp - base_timestamp);
        put_varint(&mut rec, delta as i64);
        put_bytes(&mut rec, r.key);
        put_bytes(&mut rec, r.value);
        put_varint(&mut rec, r.headers.len() as i64);
        for (name, value) in r.headers {
            put_bytes(&mut rec, Some(name));
            put_bytes(&mut rec, *value);
        }
        put_varint(&mut body, rec.len() as i64);
        body.extend_from_slice(&rec);
    }
    let length = (HEADER_SIZE - LOG_OVERHEAD + body.len()) as i32;
    let mut out = Vec::with_capacity(HEADER_SIZE + body.len());
    out.extend_from_slice(&0i64.to_be_bytes()); // base offset
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    out.push(MAGIC_V2 as u8);
    out.extend_from_slice(&0u32.to_be_bytes()); // CRC placeholder
    out.extend_from_slice(&0i16.to_be_bytes()); // attributes
    out.extend_from_slice(&((records.len() - 1) as i32).to_be_bytes());
    out.extend_from_slice(&base_timestamp.to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    out.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    out.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    out.extend_from_slice(&(records.len() as i32).to_be_bytes());
    out.extend_from_slice(&body);
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Some(out)
}

/// Reads a zig-zag varint (up to 64 bits); returns the value and the bytes consumed.
pub fn read_varint(bytes: &[u8]) -> Option<(i64, usize)> {
    let mut v: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let decoded = ((v >> 1) as i64) ^ -((v & 1) as i64);
            return Some((decoded, i + 1));
        }
    }
    None
}

/// Encodes a whole v2 control batch holding one END_TXN marker record, CRC included.
pub fn build_control_batch(spec: &ControlBatchSpec) -> Vec<u8> {
    let control_type = if spec.commit {
        CONTROL_TYPE_COMMIT
    } else {
        CONTROL_TYPE_ABORT
    };
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&control_type.to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&spec.coordinator_epoch.to_be_bytes());

    let mut body = Vec::with_capacity(24);
    body.push(0); // record attributes
    put_varint(&mut body, 0); // timestamp delta
    put_varint(&mut body, 0); // offset delta
    put_varint(&mut body, key.len() as i64);
    body.extend_from_slice(&key);
    put_varint(&mut body, value.len() as i64);
    body.extend_from_slice(&value);
    put_varint(&mut body, 0); // header count
    let mut record = Vec::with_capacity(body.len() + 2);
    put_varint(&mut record, body.len() as i64);
    record.extend_from_slice(&body);

    let mut attributes = TRANSACTIONAL_BIT | CONTROL_BIT;
    if spec.log_append_time {
        attributes |= TIMESTAMP_TYPE_BIT;
    }
    let length = (HEADER_SIZE - LOG_OVERHEAD + record.len()) as i32;
    let mut out = Vec::with_capacity(HEADER_SIZE + record.len());
    out.extend_from_slice(&spec.offset.to_be_bytes());
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&spec.partition_leader_epoch.to_be_bytes());
    out.push(MAGIC_V2 as u8);
    out.extend_from_slice(&0u32.to_be_bytes()); // CRC placeholder
    out.extend_from_slice(&attributes.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    out.extend_from_slice(&spec.timestamp.to_be_bytes());
    out.extend_from_slice(&spec.timestamp.to_be_bytes());
    out.extend_from_slice(&spec.producer_id.to_be_bytes());
    out.extend_from_slice(&spec.producer_epoch.to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    out.extend_from_slice(&1i32.to_be_bytes()); // record count
    out.extend_from_slice(&record);
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Reads the END_TXN marker of a control batch (`batch` = the whole batch). `None` if the
/// batch is not a control batch, is empty (compacted away), or holds another control type.
pub fn read_txn_marker(batch: &[u8]) -> Option<TxnMarker> {
    let header = BatchHeader::parse(batch)?;
    if !header.is_control() || header.record_count < 1 || batch.len() < header.size() {
        return None;
    }
    let (key, value, timestamp_delta) = if header.compression() == 0 {
        first_record_key_value(&batch[HEADER_SIZE..header.size()])?
    } else {
        let mut bytes = bytes::Bytes::copy_from_slice(&batch[..header.size()]);
        let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).ok()?;
        let first = set.records.first()?;
        (
            first.key.as_ref()?.to_vec(),
            first.value.as_ref()?.to_vec(),
            first.timestamp - header.base_timestamp,
        )
    };
    if key.len() < 4 || value.len() < 6 {
        return None;
    }
    let commit = match i16_at(&key, 2) {
        CONTROL_TYPE_ABORT => false,
        CONTROL_TYPE_COMMIT => true,
        _ => return None,
    };
    let timestamp = if header.is_log_append_time() {
        header.max_timestamp
    } else {
        header.base_timestamp + timestamp_delta
    };
    Some(TxnMarker {
        commit,
        coordinator_epoch: i32_at(&value, 2),
        timestamp,
    })
}

type KeyValueDelta = (Vec<u8>, Vec<u8>, i64);

fn first_record_key_value(records: &[u8]) -> Option<KeyValueDelta> {
    let (len, mut at) = read_varint(records)?;
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    let record = records.get(..end)?;
    at += 1; // attributes
    let (timestamp_delta, n) = read_varint(record.get(at..)?)?;
    at += n;
    let (_offset_delta, n) = read_varint(record.get(at..)?)?;
    at += n;
    let (key_len, n) = read_varint(record.get(at..)?)?;
    at += n;
    let key_len = usize::try_from(key_len).ok()?;
    let key = record.get(at..at.checked_add(key_len)?)?.to_vec();
    at += key_len;
    let (value_len, n) = read_varint(record.get(at..)?)?;
    at += n;
    let value_len = usize::try_from(value_len).ok()?;
    let value = record.get(at..at.checked_add(value_len)?)?.to_vec();
    Some((key, value, timestamp_delta))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_plain_batch_decodes_and_keeps_repeated_headers() {
        let headers: [(&[u8], Option<&[u8]>); 2] = [(b"h", Some(b"1")), (b"h", None)];
        let records = [
            PlainRecord {
                timestamp: 1_000,
                key: Some(b"k"),
                value: Some(b"v1"),
                headers: &headers,
            },
            PlainRecord {
                timestamp: 900,
                key: None,
                value: None,
                headers: &[],
            },
        ];
        let batch = encode_plain_batch(&records).unwrap();
        assert!(crc_matches(&batch));
        let header = BatchHeader::parse(&batch).unwrap();
        header.check_structure(batch.len()).unwrap();
        assert_eq!((header.record_count, header.last_offset_delta), (2, 1));
        assert_eq!(
            (header.base_timestamp, header.max_timestamp),
            (1_000, 1_000)
        );
        assert!(!header.has_producer_id());
        let mut bytes = bytes::Bytes::from(batch.clone());
        let decoded = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).unwrap();
        let recs = decoded.records;
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].value.as_deref(), Some(&b"v1"[..]));
        assert_eq!((recs[1].timestamp, recs[1].offset), (900, 1));
        assert!(recs[1].key.is_none() && recs[1].value.is_none());
        // Both copies of the repeated name are in the bytes: count 2, then
        // "h" = "1" and "h" = null.
        let want: &[u8] = &[4, 2, b'h', 2, b'1', 2, b'h', 1];
        assert!(batch.windows(want.len()).any(|w| w == want));
        assert!(encode_plain_batch(&[]).is_none());
    }
    use bytes::BytesMut;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    /// Encodes one batch of `count` records with the given producer fields.
    pub(crate) fn encode_batch(
        count: usize,
        timestamp: i64,
        producer: Option<(i64, i16, i32)>,
        transactional: bool,
        compression: Compression,
    ) -> Vec<u8> {
        let (producer_id, producer_epoch, base_sequence) = producer.unwrap_or((-1, -1, -1));
        let records: Vec<Record> = (0..count)
            .map(|i| Record {
                transactional,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id,
                producer_epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // The encoder groups records whose `offset - sequence` is constant into one
                // batch and derives the base sequence from the first record.
                sequence: if base_sequence < 0 {
                    i as i32 - 1
                } else {
                    base_sequence + i as i32
                },
                timestamp: timestamp + i as i64,
                key: Some(bytes::Bytes::from(format!("k{i}"))),
                value: Some(bytes::Bytes::from(vec![b'v'; 100])),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .unwrap();
        buf.to_vec()
    }

    #[test]
    fn parses_and_verifies_encoded_batch() {
        let b = encode_batch(3, 1000, None, false, Compression::None);
        let spans = split_and_verify(&b).unwrap();
        assert_eq!(spans.len(), 1);
        let h = spans[0].header;
        assert_eq!(h.magic, 2);
        assert_eq!(h.record_count, 3);
        assert_eq!(h.last_offset_delta, 2);
        assert_eq!(h.base_timestamp, 1000);
        assert_eq!(h.max_timestamp, 1002);
        assert_eq!(h.size(), b.len());
        assert!(!h.has_producer_id());
    }

    #[test]
    fn rejects_bad_crc() {
        let mut b = encode_batch(2, 1, None, false, Compression::None);
        let last = b.len() - 1;
        b[last] ^= 0xff;
        assert!(matches!(
            split_and_verify(&b),
            Err(LogError::CorruptRecord(m)) if m.contains("CRC")
        ));
    }

    #[test]
    fn rejects_truncated_batch_and_header() {
        let b = encode_batch(2, 1, None, false, Compression::None);
        assert!(matches!(
            split_and_verify(&b[..b.len() - 5]),
            Err(LogError::CorruptRecord(m)) if m.contains("truncated")
        ));
        assert!(matches!(
            split_and_verify(&b[..30]),
            Err(LogError::CorruptRecord(m)) if m.contains("truncated")
        ));
        let mut two = b.clone();
        two.extend_from_slice(&b[..b.len() - 1]);
        assert!(split_and_verify(&two).is_err());
        assert!(matches!(
            split_and_verify(&[]),
            Err(LogError::InvalidRecord(_))
        ));
    }

    #[test]
    fn rejects_wrong_magic_and_short_length() {
        let mut b = encode_batch(1, 1, None, false, Compression::None);
        b[MAGIC_AT] = 1;
        assert!(matches!(
            split_and_verify(&b),
            Err(LogError::UnsupportedMagic(1))
        ));
        let mut b = encode_batch(1, 1, None, false, Compression::None);
        b[LENGTH_AT..LENGTH_AT + 4].copy_from_slice(&10i32.to_be_bytes());
        assert!(matches!(
            split_and_verify(&b),
            Err(LogError::CorruptRecord(m)) if m.contains("minimum")
        ));
    }

    #[test]
    fn rewrites_keep_crc_valid() {
        let mut b = encode_batch(2, 5, None, false, Compression::None);
        set_base_offset(&mut b, 42);
        set_partition_leader_epoch(&mut b, 7);
        assert!(crc_matches(&b));
        set_log_append_time(&mut b, 9999);
        assert!(crc_matches(&b));
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.base_offset, 42);
        assert_eq!(h.partition_leader_epoch, 7);
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 9999);
        assert_eq!(h.base_timestamp, 9999);
    }

    #[test]
    fn control_batch_round_trips() {
        let spec = ControlBatchSpec {
            offset: 77,
            partition_leader_epoch: 3,
            producer_id: 12,
            producer_epoch: 4,
            commit: false,
            coordinator_epoch: 9,
            timestamp: 1234,
            log_append_time: false,
        };
        let b = build_control_batch(&spec);
        let spans = split_and_verify(&b).unwrap();
        let h = spans[0].header;
        assert!(h.is_control() && h.is_transactional());
        assert_eq!(h.base_offset, 77);
        assert_eq!(h.producer_id, 12);
        assert_eq!(
            read_txn_marker(&b),
            Some(TxnMarker {
                commit: false,
                coordinator_epoch: 9,
                timestamp: 1234
            })
        );
        // kafka-protocol decodes it too.
        let mut bytes = bytes::Bytes::from(b.clone());
        let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).unwrap();
        assert_eq!(set.records.len(), 1);
        assert!(set.records[0].control);
        let commit = build_control_batch(&ControlBatchSpec {
            commit: true,
            ..spec
        });
        assert!(read_txn_marker(&commit).unwrap().commit);
        assert_eq!(
            read_txn_marker(&encode_batch(1, 1, None, false, Compression::None)),
            None
        );
    }

    #[test]
    fn sequence_arithmetic_wraps() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(decrement_sequence(8, 3), 5);
        assert_eq!(decrement_sequence(0, 1), i32::MAX);
        assert_eq!(decrement_sequence(1, 3), i32::MAX - 1);
    }

    #[test]
    fn varint_round_trip() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            -300,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(read_varint(&out), Some((v, out.len())));
        }
    }
}
