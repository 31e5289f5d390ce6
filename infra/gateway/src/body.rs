//! Reading HTTP bodies with a size limit.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;

/// How much of an oversized body is still read (and thrown away) before
/// answering. Answering while the client is still sending makes the server
/// close the connection under it, and most clients then report a reset
/// instead of the 413; beyond this, that is the client's problem.
pub const DRAIN_LIMIT_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("body is larger than the limit")]
    TooLarge,
    #[error("reading the body: {0}")]
    Read(String),
}

/// Collects `body` if it is at most `limit` bytes.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    read(body, limit, 0).await
}

/// Like [`read_limited`], but on an oversized body keeps reading (up to
/// [`DRAIN_LIMIT_BYTES`] in all) so the client gets to read the answer.
pub async fn read_limited_draining(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    read(body, limit, DRAIN_LIMIT_BYTES).await
}

async fn read(mut body: Body, limit: usize, drain_limit: usize) -> Result<Bytes, BodyError> {
    let mut buf = BytesMut::new();
    let mut seen: usize = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            buf.extend_from_slice(&data);
        } else if seen > drain_limit {
            return Err(BodyError::TooLarge);
        }
    }
    if seen > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(buf.freeze())
}
