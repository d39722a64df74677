//! The corpus manifest (`manifest.json` in a prepared corpus folder): domains with their field,
//! per-split document / token / byte counts and shard files, and the tokenizer fingerprint.
//! Both the K-D domain space and the field-level space are derived from it.

use std::path::{Path, PathBuf};

use mixagent_core::{Domain, DomainSpace, Field};
use serde::{Deserialize, Serialize};

use crate::{write_atomic, Shard, ShardError};

/// The manifest format version this build writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The two document-level splits of every domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Training documents.
    Train,
    /// Held-out documents (evaluation only).
    Heldout,
}

impl Split {
    /// `train` or `heldout`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Heldout => "heldout",
        }
    }
}

/// The tokenizer every shard of the corpus was encoded with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerInfo {
    /// The tokenizer file, relative to the corpus folder.
    pub file: String,
    /// Fingerprint of the tokenizer file (first 8 bytes of its SHA-256, as hex).
    pub fingerprint: String,
    /// Vocabulary size.
    pub vocab_size: u32,
    /// The end-of-document token appended after every document.
    pub eos_id: u32,
}

impl TokenizerInfo {
    /// The fingerprint as the `u64` stored in shard headers.
    pub fn fingerprint_u64(&self) -> Result<u64, String> {
        u64::from_str_radix(&self.fingerprint, 16).map_err(|_| {
            format!("tokenizer fingerprint `{}` is not 16 hex digits", self.fingerprint)
        })
    }
}

/// Counts and files of one split of one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitStats {
    /// Documents.
    pub docs: u64,
    /// Tokens, end-of-document tokens included.
    pub tokens: u64,
    /// UTF-8 bytes of the documents' text.
    pub bytes: u64,
    /// Shard files, relative to the corpus folder.
    pub shards: Vec<String>,
}

/// One domain of the corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainEntry {
    /// Domain name.
    pub name: String,
    /// Its field.
    pub field: Field,
    /// The raw sources it was read from.
    pub sources: Vec<String>,
    /// Training split.
    pub train: SplitStats,
    /// Held-out split.
    pub heldout: SplitStats,
}

impl DomainEntry {
    /// The stats of one split.
    pub fn split(&self, split: Split) -> &SplitStats {
        match split {
            Split::Train => &self.train,
            Split::Heldout => &self.heldout,
        }
    }
}

/// A prepared corpus's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`] at write time.
    pub format_version: u32,
    /// The program and version that wrote it.
    pub created_by: String,
    /// The split / shuffle seed of the prepare run.
    pub seed: u64,
    /// Fraction of each domain's documents held out.
    pub heldout_fraction: f64,
    /// The tokenizer.
    pub tokenizer: TokenizerInfo,
    /// Domains, in a stable order (grouped by field).
    pub domains: Vec<DomainEntry>,
    /// What each source was read from: the source's name → the SHA-256 (first 16 hex digits)
    /// of the `SOURCE` stamp `scripts/setup.sh` wrote beside its raw files (package file names
    /// and hashes), `unstamped` where there is none, or `file` for a user's own files.
    #[serde(default)]
    pub sources: std::collections::BTreeMap<String, String>,
    /// Items per field in `feedback.jsonl`, the feedback sets apart from training; empty when
    /// the corpus has none (feedback suites then come from the domains' held-out documents).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub feedback: std::collections::BTreeMap<String, u64>,
    /// The corpus fingerprint: SHA-256 (first 16 hex digits) of the source stamps, the
    /// tokenizer and every shard and held-out file. Two preparations with the same fingerprint
    /// are the same corpus. Absent in corpora prepared before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl Manifest {
    /// The manifest file inside a corpus folder.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join("manifest.json")
    }

    /// Loads and checks `dir/manifest.json`.
    pub fn load(dir: &Path) -> Result<Self, ShardError> {
        let path = Self::path_in(dir);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ShardError::Manifest {
                    path: path.clone(),
                    message: "not found: is this a corpus folder written by `mixagent prepare`?"
                        .into(),
                }
            } else {
                ShardError::io(&path, e)
            }
        })?;
        let bad = |message: String| ShardError::Manifest { path: path.clone(), message };
        // Read the version first so an old manifest gets a version error, not a field error.
        let version: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| bad(format!("{e}; re-run `mixagent prepare`")))?;
        let found = version.get("format_version").and_then(|v| v.as_u64());
        if found != Some(u64::from(MANIFEST_VERSION)) {
            return Err(bad(format!(
                "format version {}, expected {MANIFEST_VERSION}; re-run `mixagent prepare`",
                found.map_or("missing".to_string(), |v| v.to_string())
            )));
        }
        let m: Manifest = serde_json::from_value(version).map_err(|e| bad(e.to_string()))?;
        m.tokenizer.fingerprint_u64().map_err(&bad)?;
        m.domain_space().map_err(|e| bad(e.to_string()))?;
        Ok(m)
    }

    /// The corpus fingerprint for display: the recorded one, or a note saying how to get one.
    pub fn fingerprint_label(&self) -> &str {
        self.fingerprint
            .as_deref()
            .unwrap_or("none (prepared before fingerprints; re-run `mixagent prepare`)")
    }

    /// Writes `dir/manifest.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), ShardError> {
        let json = serde_json::to_vec_pretty(self).expect("manifest serialises");
        write_atomic(Self::path_in(dir), &json)
    }

    /// The K-D space: one entry per corpus domain.
    pub fn domain_space(&self) -> Result<DomainSpace, mixagent_core::CoreError> {
        DomainSpace::new(
            self.domains
                .iter()
                .map(|d| Domain::new(d.name.clone(), d.field.clone()))
                .collect::<Result<_, _>>()?,
        )
    }

    /// The field-level space (2-D for two fields).
    pub fn field_space(&self) -> Result<DomainSpace, mixagent_core::CoreError> {
        Ok(self.domain_space()?.field_level())
    }

    /// Looks a domain up by name.
    pub fn domain(&self, name: &str, manifest_path: &Path) -> Result<&DomainEntry, ShardError> {
        self.domains.iter().find(|d| d.name == name).ok_or_else(|| ShardError::UnknownDomain {
            domain: name.to_string(),
            path: manifest_path.to_path_buf(),
            known: self.domains.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// Opens and validates the shards of one domain's split, checking the tokenizer
    /// fingerprint and that the token count matches the manifest.
    pub fn open_shards(
        &self,
        dir: &Path,
        entry: &DomainEntry,
        split: Split,
    ) -> Result<Vec<Shard>, ShardError> {
        let fp = self
            .tokenizer
            .fingerprint_u64()
            .map_err(|message| ShardError::Manifest { path: Self::path_in(dir), message })?;
        let stats = entry.split(split);
        let shards = stats
            .shards
            .iter()
            .map(|rel| Shard::open(dir.join(rel), Some(fp)))
            .collect::<Result<Vec<_>, _>>()?;
        let tokens: u64 = shards.iter().map(|s| s.len() as u64).sum();
        if tokens != stats.tokens {
            return Err(ShardError::Manifest {
                path: Self::path_in(dir),
                message: format!(
                    "domain `{}` {} split: manifest says {} tokens, shards hold {tokens}; re-run `mixagent prepare`",
                    entry.name,
                    split.name(),
                    stats.tokens
                ),
            });
        }
        Ok(shards)
    }
}
