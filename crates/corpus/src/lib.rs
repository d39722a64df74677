//! Corpus preparation: raw sources → cleaned, domain-labelled documents → BPE tokenizer →
//! memory-mappable token shards plus a manifest (DESIGN §2, §5).

mod cluster;
mod config;
mod docs;
mod error;
pub mod feedback;
pub mod items;
mod prepare;
pub mod sources;
pub mod tasks;
mod tokenizer;

pub use cluster::kmeans;
pub use config::{default_cache_dir, PrepareConfig, SourceConfig};
pub use docs::{clean_and_cap, clean_text, is_heldout, LabelledDoc};
pub use error::CorpusError;
pub use feedback::{load_items, FeedbackConfig, FeedbackItem, FEEDBACK_FILE, FEEDBACK_REST_FILE};
pub use prepare::prepare;
pub use tasks::{TaskConfig, TaskItem, TASKS_FILE};
pub use tokenizer::{CorpusTokenizer, EOS_TOKEN};
