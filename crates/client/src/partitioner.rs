//! Where a producer puts a keyed record: Kafka's default partitioner,
//! `toPositive(murmur2(key)) % partitions`, so that a record produced
//! through Strait lands on the partition a Java producer would choose for
//! the same key. It owns the hash and nothing else; records without a key
//! are the caller's choice.

/// Kafka's `Utils.murmur2`: MurmurHash2, 32 bits, seed `0x9747b28c`, the
/// input read as little-endian 4-byte words.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = SEED ^ data.len() as u32;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        let mut k = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = words.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition of `key` among `partitions` (at least 1), as Kafka's
/// `BuiltInPartitioner.partitionForKey` computes it.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    let positive = murmur2(key) & 0x7fff_ffff;
    positive % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of Kafka's own `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_kafka() {
        let cases: [(&str, i32); 6] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ];
        for (input, want) in cases {
            assert_eq!(murmur2(input.as_bytes()), want, "{input}");
        }
    }

    #[test]
    fn partitions_are_in_range_and_stable() {
        for n in 1..20 {
            let p = partition_for_key(b"some key", n);
            assert!((0..n).contains(&p));
            assert_eq!(p, partition_for_key(b"some key", n));
        }
        assert_eq!(partition_for_key(b"x", 0), 0);
    }
}
