//! `ChunkedFrame`: a response encoded as a list of byte chunks, where large
//! record sets already held as `Bytes` (read from a segment) are referenced,
//! not copied. Owns that buffer and nothing else; it must never change the
//! bytes `kafka-protocol` encodes, only where they live.

use std::ops::Range;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::buf::ByteBufMut;

/// Record sets smaller than this are copied: a chunk of their own costs more
/// (an I/O vector entry) than the copy.
const ZERO_COPY_MIN: usize = 16 * 1024;

/// An encode target that keeps `shared` byte strings by reference when the
/// encoder writes exactly one of them, and copies everything else.
#[derive(Debug, Default)]
pub struct ChunkedFrame {
    chunks: Vec<Bytes>,
    current: BytesMut,
    /// Bytes in `chunks`.
    done: usize,
    /// Candidates for zero-copy, by address and length.
    shared: Vec<Bytes>,
}

impl ChunkedFrame {
    /// A buffer that references any of `shared` the encoder writes whole.
    pub fn new(shared: Vec<Bytes>) -> Self {
        let shared = shared
            .into_iter()
            .filter(|b| b.len() >= ZERO_COPY_MIN)
            .collect();
        ChunkedFrame {
            shared,
            current: BytesMut::with_capacity(1024),
            ..Default::default()
        }
    }

    /// The encoded bytes, in order.
    pub fn into_chunks(mut self) -> Vec<Bytes> {
        if !self.current.is_empty() {
            self.chunks.push(self.current.freeze());
        }
        self.chunks
    }

    fn shared_match(&self, src: &[u8]) -> Option<Bytes> {
        if src.len() < ZERO_COPY_MIN {
            return None;
        }
        self.shared
            .iter()
            .find(|b| b.as_ptr() == src.as_ptr() && b.len() == src.len())
            .cloned()
    }
}

// SAFETY: every method delegates to `BytesMut`, which upholds `BufMut`'s
// contract; `put_slice` only adds whole chunks before the current buffer.
unsafe impl BufMut for ChunkedFrame {
    fn remaining_mut(&self) -> usize {
        self.current.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller initialised `cnt` bytes of `chunk_mut`, which
        // is the current buffer's.
        unsafe { self.current.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.current.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        match self.shared_match(src) {
            Some(bytes) => {
                if !self.current.is_empty() {
                    let head = self.current.split().freeze();
                    self.done += head.len();
                    self.chunks.push(head);
                }
                self.done += bytes.len();
                self.chunks.push(bytes);
            }
            None => self.current.extend_from_slice(src),
        }
    }
}

/// Gaps (`seek`/`range`) are only used by record-batch encoders, which
/// write into their own buffers; message encoding only appends. They work
/// within the current chunk.
impl ByteBufMut for ChunkedFrame {
    fn offset(&self) -> usize {
        self.done + self.current.len()
    }

    fn seek(&mut self, offset: usize) {
        self.current.resize(offset.saturating_sub(self.done), 0);
    }

    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        let start = r.start.saturating_sub(self.done);
        let end = r.end.saturating_sub(self.done);
        &mut self.current[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_bytes_are_referenced_and_the_rest_copied() {
        let big = Bytes::from(vec![7u8; ZERO_COPY_MIN]);
        let other = Bytes::from(vec![9u8; ZERO_COPY_MIN]);
        let mut f = ChunkedFrame::new(vec![big.clone()]);
        f.put_i32(5);
        f.put_slice(&big);
        f.put_slice(&other); // not shared: copied
        f.put_u8(1);
        assert_eq!(f.offset(), 4 + 2 * ZERO_COPY_MIN + 1);
        let chunks = f.into_chunks();
        assert_eq!(chunks.len(), 3);
        assert_eq!(
            chunks[1].as_ptr(),
            big.as_ptr(),
            "no copy of the shared bytes"
        );
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let mut want = 5i32.to_be_bytes().to_vec();
        want.extend_from_slice(&big);
        want.extend_from_slice(&other);
        want.push(1);
        assert_eq!(joined, want);
    }
}
