//! The weighted sampler: given a [`Mixture`](mixagent_core::Mixture) and a step, fills a reused
//! `(B, T+1)` buffer with token windows drawn from memory-mapped domain shards.
//!
//! * **Rows per domain** follow the mixture by systematic sampling: domain `j` gets
//!   `floor(B·p_j)` or `ceil(B·p_j)` rows, `B·p_j` in expectation, so empirical frequencies
//!   converge to the weights with far less variance than independent draws.
//! * **Windows within a domain** are visited in a seeded permutation per epoch (with an
//!   epoch-dependent offset so window boundaries move between epochs). A cursor per domain
//!   records how far the current epoch has got, so changing the mixture mid-run, or saving and
//!   restoring the [`SamplerState`], never drops or repeats a window within an epoch.
//! * **Deterministic:** the batch at a step is a function of the seed, the step, the mixture
//!   and the cursors (which are themselves a function of the earlier steps' mixtures).

mod error;
mod sampler;
mod state;
mod windows;

pub use error::SamplerError;
pub use sampler::{Corpus, Sampler, SamplerConfig};
pub use state::{DomainCursor, SamplerState, SAMPLER_STATE_VERSION};
