//! Corpus preparation: raw sources → cleaned, domain-labelled documents → BPE tokenizer →
//! memory-mappable token shards plus a manifest (DESIGN §2, §5).

mod error;
pub mod sources;

pub use error::CorpusError;
