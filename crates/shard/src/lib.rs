//! The on-disk data contract between `prepare` and the sampler: token shard files with a
//! versioned, checksummed header, the corpus manifest, and atomic file writes.

#[cfg(target_endian = "big")]
compile_error!("shards are little-endian and read in place: big-endian targets are not supported");

mod atomic;
mod error;
mod manifest;
mod shard;
pub mod synthetic;

pub use atomic::{write_atomic, AtomicFile};
pub use error::ShardError;
pub use manifest::{
    DomainEntry, FeedbackScoring, Manifest, Split, SplitStats, TokenizerInfo, MANIFEST_VERSION,
};
pub use shard::{
    Shard, ShardHeader, ShardWriter, TokenOut, HEADER_BYTES, SHARD_MAGIC, SHARD_VERSION,
};
