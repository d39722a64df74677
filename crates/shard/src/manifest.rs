//! The corpus manifest (`manifest.json` in a prepared corpus folder): domains with their field,
//! per-split document / token / byte counts and shard files, and the tokenizer fingerprint.
//! Both the K-D domain space and the field-level space are derived from it.

use std::path::{Path, PathBuf};

use mixagent_core::{CoreError, Domain, DomainInfo, DomainSpace, Field};
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

/// How a field's feedback suite turns the model's answer log-probabilities into its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackScoring {
    /// The mean over items of the gold answer's mean log-probability per token after its
    /// prompt. Rewards anything that makes answers of this kind likely, the right one or not.
    #[default]
    Likelihood,
    /// The log-probability that the model pairs each answer with its own prompt rather than
    /// with another item's (the suite's next, after its seeded shuffle), as a two-way choice
    /// scored continuously: the mean over items of log σ(PMI), PMI being the answer's summed
    /// log-probability after its prompt minus after the other. Only what ties the answer to
    /// *its* prompt scores; a better guess at answers in general (their format, length,
    /// digits) cancels. Negative like a likelihood (log ½ at no pairing skill, 0 at perfect),
    /// so changes relative to the base stay well scaled. Twice the scoring work.
    Pairing,
}

impl FeedbackScoring {
    /// `likelihood` or `pairing`.
    pub fn name(self) -> &'static str {
        match self {
            FeedbackScoring::Likelihood => "likelihood",
            FeedbackScoring::Pairing => "pairing",
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
    pub(crate) fn fingerprint_u64(&self) -> Result<u64, String> {
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
    /// Items per user task (`tasks.jsonl` beside the manifest); empty when the corpus has none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tasks: std::collections::BTreeMap<String, u64>,
    /// The corpus fingerprint: SHA-256 (first 16 hex digits) of the source stamps, the
    /// tokenizer and every shard and held-out file. Two preparations with the same fingerprint
    /// are the same corpus. Absent in corpora prepared before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// How much of its token share each listed domain gets when `mixagent pretrain` trains a
    /// base on its field (unlisted domains: 1): distractors enter base pretraining at a small
    /// share, as boilerplate and tables do in a web crawl. From the corpus config.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pretrain_weights: std::collections::BTreeMap<String, f64>,
    /// Fields whose feedback is not scored by likelihood (from the corpus config's
    /// `[feedback_scoring]`); unlisted fields: [`FeedbackScoring::Likelihood`].
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub feedback_scoring: std::collections::BTreeMap<String, FeedbackScoring>,
    /// Items per field in `feedback-rest.jsonl`: the feedback sets' items that the per-field
    /// cap left out, which the benchmarks draw on; empty when there are none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub feedback_rest: std::collections::BTreeMap<String, u64>,
}

impl Manifest {
    /// How `field`'s feedback suite is scored.
    pub fn scoring_of(&self, field: &str) -> FeedbackScoring {
        self.feedback_scoring.get(field).copied().unwrap_or_default()
    }

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

    /// The corpus domains the space entry `name` stands for: the domain of that name, the
    /// members of a grouped entry (`a+b`, [`mixagent_core::GROUP_SEPARATOR`]; all of one
    /// field), or all of a field's domains for a field-level entry named after its field.
    /// `None` when it is none of these.
    pub fn entry_members(&self, name: &str) -> Option<Vec<&DomainEntry>> {
        if let Some(d) = self.domains.iter().find(|d| d.name == name) {
            return Some(vec![d]);
        }
        let members: Vec<&DomainEntry> = if name.contains(mixagent_core::GROUP_SEPARATOR) {
            let members = name
                .split(mixagent_core::GROUP_SEPARATOR)
                .map(|part| self.domains.iter().find(|d| d.name == part))
                .collect::<Option<Vec<_>>>()?;
            if members.iter().any(|d| d.field != members[0].field) {
                return None;
            }
            members
        } else {
            self.domains.iter().filter(|d| d.field.as_str() == name).collect()
        };
        (!members.is_empty()).then_some(members)
    }

    /// What policies and the agent know of each `(name, field)` entry of a space over this
    /// corpus: its share of its field's training tokens, and the corpus domains it stands for
    /// ([`Manifest::entry_members`]). An entry that stands for none is an unknown domain: the
    /// space was built on another corpus.
    pub fn domain_infos<'a>(
        &self,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Vec<DomainInfo>, CoreError> {
        let field_tokens = |field: &str| -> u64 {
            self.domains.iter().filter(|d| d.field.as_str() == field).map(|d| d.train.tokens).sum()
        };
        entries
            .into_iter()
            .map(|(name, field)| {
                let Some(members) =
                    self.entry_members(name).filter(|m| m[0].field.as_str() == field)
                else {
                    return Err(CoreError::UnknownDomain {
                        name: name.to_string(),
                        known: self
                            .domains
                            .iter()
                            .map(|d| d.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                };
                let tokens: u64 = members.iter().map(|d| d.train.tokens).sum();
                let share_in_field = tokens as f64 / field_tokens(field).max(1) as f64;
                let members = members.iter().map(|d| d.name.clone()).collect();
                Ok(DomainInfo {
                    name: name.to_string(),
                    field: field.to_string(),
                    share_in_field,
                    members,
                })
            })
            .collect()
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

    /// The domain-level mixture a base pretrained on these field shares reads: within each
    /// field, every domain at its training token share times its `pretrain_weights` entry.
    /// `None` when no listed field has a weighted domain (the field-level mixture is then the
    /// same thing, and what v1 bases used).
    pub fn pretrain_mixture(
        &self,
        field_shares: &std::collections::BTreeMap<String, f64>,
    ) -> Option<std::collections::BTreeMap<String, f64>> {
        let in_fields = |d: &&DomainEntry| field_shares.contains_key(d.field.as_str());
        if !self
            .domains
            .iter()
            .filter(in_fields)
            .any(|d| self.pretrain_weights.contains_key(&d.name))
        {
            return None;
        }
        let mass = |d: &DomainEntry| {
            d.train.tokens as f64 * self.pretrain_weights.get(&d.name).copied().unwrap_or(1.0)
        };
        let mut out = std::collections::BTreeMap::new();
        for (field, share) in field_shares {
            let total: f64 =
                self.domains.iter().filter(|d| d.field.as_str() == field).map(mass).sum();
            for d in self.domains.iter().filter(|d| d.field.as_str() == field) {
                if total > 0.0 && mass(d) > 0.0 {
                    out.insert(d.name.clone(), share * mass(d) / total);
                }
            }
        }
        Some(out)
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::synthetic::{write_synthetic_corpus, SyntheticDomain};

    #[test]
    fn pretrain_mixture_scales_weighted_domains_within_their_field() {
        let dir = tempfile::tempdir().unwrap();
        let d =
            |n: &str, f: &str, tokens| SyntheticDomain { name: n.into(), field: f.into(), tokens };
        let mut m = write_synthetic_corpus(
            dir.path(),
            &[d("prose", "general", 3000), d("ids", "general", 1000), d("alg", "math", 2000)],
            64,
        )
        .unwrap();
        let shares: BTreeMap<String, f64> =
            [("general".to_string(), 0.9), ("math".into(), 0.1)].into();
        assert_eq!(m.pretrain_mixture(&shares), None, "no weights: the field-level mix");
        m.pretrain_weights.insert("ids".into(), 0.3);
        let mix = m.pretrain_mixture(&shares).unwrap();
        // general: prose 3000, ids 1000 × 0.3 = 300 → 3000/3300 and 300/3300 of 0.9.
        assert!((mix["prose"] - 0.9 * 3000.0 / 3300.0).abs() < 1e-12);
        assert!((mix["ids"] - 0.9 * 300.0 / 3300.0).abs() < 1e-12);
        assert!((mix["alg"] - 0.1).abs() < 1e-12);
        assert!((mix.values().sum::<f64>() - 1.0).abs() < 1e-12);
        // A field whose domains carry no weight keeps the field-level mix.
        assert_eq!(m.pretrain_mixture(&[("math".to_string(), 1.0)].into()), None);
        // Weight 0 leaves a domain out.
        m.pretrain_weights.insert("ids".into(), 0.0);
        assert!(!m.pretrain_mixture(&shares).unwrap().contains_key("ids"));
    }

    #[test]
    fn entries_stand_for_a_domain_a_group_or_a_field() {
        let dir = tempfile::tempdir().unwrap();
        let d =
            |n: &str, f: &str, tokens| SyntheticDomain { name: n.into(), field: f.into(), tokens };
        let m = write_synthetic_corpus(
            dir.path(),
            &[
                d("prose", "general", 3000),
                d("ids", "general", 1000),
                d("web", "general", 4000),
                d("alg", "math", 2000),
            ],
            64,
        )
        .unwrap();
        let names = |e: &str| {
            m.entry_members(e).map(|v| v.iter().map(|d| d.name.clone()).collect::<Vec<_>>())
        };
        assert_eq!(names("ids"), Some(vec!["ids".into()]));
        assert_eq!(names("ids+prose"), Some(vec!["ids".into(), "prose".into()]));
        assert_eq!(names("general"), Some(vec!["prose".into(), "ids".into(), "web".into()]));
        assert_eq!(names("prose+alg"), None, "a group lies within one field");
        assert_eq!(names("prose+nope"), None);
        assert_eq!(names("code"), None);
        let infos = m.domain_infos([("ids+prose", "general"), ("alg", "math")]).unwrap();
        // A group's share of its field is its members' tokens over the field's: 4000 / 8000.
        let share = infos[0].share_in_field;
        assert!((share - 0.5).abs() < 1e-6, "{share}");
        assert_eq!(infos[0].members, ["ids", "prose"]);
        let err = m.domain_infos([("ids+prose", "math")]).unwrap_err().to_string();
        assert!(err.contains("ids+prose"), "{err}");
    }
}
