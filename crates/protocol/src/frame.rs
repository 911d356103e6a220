//! Size-prefixed frames: a 4-byte big-endian length followed by that many
//! bytes. Owns reading and writing whole frames; must never interpret them.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {size} bytes is larger than the limit of {limit}")]
    TooLarge { size: i64, limit: usize },
    #[error("frame has a negative size {0}")]
    NegativeSize(i32),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one frame. `Ok(None)` on a clean end of stream before a frame starts.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> Result<Option<Bytes>, FrameError> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let size = i32::from_be_bytes(len);
    if size < 0 {
        return Err(FrameError::NegativeSize(size));
    }
    let size = size as usize;
    if size > limit {
        return Err(FrameError::TooLarge {
            size: size as i64,
            limit,
        });
    }
    // Read into spare capacity: a frame's bytes are written once, never
    // zero-filled first.
    let mut buf = BytesMut::with_capacity(size);
    while buf.len() < size {
        let room = (size - buf.len()) as u64;
        if (&mut *reader).take(room).read_buf(&mut buf).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed {} bytes into a {size}-byte frame",
                    buf.len()
                ),
            )
            .into());
        }
    }
    Ok(Some(buf.freeze()))
}

/// Writes one frame whose body is the concatenation of `chunks`, with
/// vectored writes (no copy into one buffer first).
pub async fn write_frame_chunks<W: AsyncWrite + Unpin>(
    writer: &mut W,
    chunks: &[Bytes],
) -> Result<(), FrameError> {
    let total: usize = chunks.iter().map(Bytes::len).sum();
    let len = u32::try_from(total).map_err(|_| FrameError::TooLarge {
        size: total as i64,
        limit: u32::MAX as usize,
    })?;
    let prefix = len.to_be_bytes();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(chunks.len() + 1);
    parts.push(&prefix);
    parts.extend(chunks.iter().map(|c| &c[..]).filter(|c| !c.is_empty()));
    let mut first = 0;
    let mut skip = 0; // bytes of parts[first] already written
    while first < parts.len() {
        let slices: Vec<std::io::IoSlice<'_>> = std::iter::once(&parts[first][skip..])
            .chain(parts[first + 1..].iter().copied())
            .take(64)
            .map(std::io::IoSlice::new)
            .collect();
        let mut n = writer.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
        }
        while n > 0 {
            let left = parts[first].len() - skip;
            if n >= left {
                n -= left;
                first += 1;
                skip = 0;
            } else {
                skip += n;
                n = 0;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_limits() {
        let mut out = Vec::new();
        write_frame_chunks(&mut out, &[Bytes::from_static(b"hello")])
            .await
            .unwrap();
        let mut r = out.as_slice();
        assert_eq!(
            read_frame(&mut r, 100).await.unwrap().unwrap(),
            &b"hello"[..]
        );
        assert!(read_frame(&mut r, 100).await.unwrap().is_none());

        let mut big = out.as_slice();
        assert!(matches!(
            read_frame(&mut big, 3).await,
            Err(FrameError::TooLarge { .. })
        ));
        let neg = (-5i32).to_be_bytes();
        assert!(matches!(
            read_frame(&mut neg.as_slice(), 3).await,
            Err(FrameError::NegativeSize(-5))
        ));
    }

    #[tokio::test]
    async fn chunked_frames_survive_partial_writes() {
        let chunks = vec![
            Bytes::from_static(b"ab"),
            Bytes::new(),
            Bytes::from(vec![3u8; 1000]),
            Bytes::from_static(b"z"),
        ];
        let want: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        // A 7-byte pipe accepts every write only in part.
        let (mut tx, mut rx) = tokio::io::duplex(7);
        let writer = tokio::spawn(async move {
            write_frame_chunks(&mut tx, &chunks).await.unwrap();
        });
        let got = read_frame(&mut rx, 10_000).await.unwrap().unwrap();
        writer.await.unwrap();
        assert_eq!(got.to_vec(), want);
    }
}
