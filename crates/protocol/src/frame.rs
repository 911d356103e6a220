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
    let mut buf = BytesMut::zeroed(size);
    reader.read_exact(&mut buf).await?;
    Ok(Some(buf.freeze()))
}

/// Writes one frame whose body is `body` (the length prefix is added here).
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    body: &[u8],
) -> Result<(), FrameError> {
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge {
        size: body.len() as i64,
        limit: u32::MAX as usize,
    })?;
    writer.write_all(&len.to_be_bytes()).await?;
    writer.write_all(body).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_limits() {
        let mut out = Vec::new();
        write_frame(&mut out, b"hello").await.unwrap();
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
}
