//! The `prepare` configuration: typed, validated, unknown keys rejected.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::feedback::FeedbackConfig;
use crate::sources::BuiltinSource;
use crate::CorpusError;

/// What `mixagent prepare` reads and how it splits and tokenizes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrepareConfig {
    /// Root seed for the held-out split, document caps, clustering and shard order.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Fraction of each domain's documents held out (0 < f < 1).
    #[serde(default = "default_heldout")]
    pub heldout_fraction: f64,
    /// BPE vocabulary size (special tokens included).
    #[serde(default = "default_vocab")]
    pub vocab_size: u32,
    /// Documents shorter than this many characters after cleaning are dropped.
    #[serde(default = "default_min_chars")]
    pub min_doc_chars: usize,
    /// Cap on each domain's text, in bytes; documents beyond it (in seeded order) are dropped.
    #[serde(default = "default_max_bytes")]
    pub max_bytes_per_domain: u64,
    /// Bytes of each domain's training text fed to the BPE trainer.
    #[serde(default = "default_tokenizer_sample")]
    pub tokenizer_sample_bytes_per_domain: u64,
    /// Use this tokenizer file instead of training one (its fingerprint goes in the manifest).
    #[serde(default)]
    pub tokenizer: Option<PathBuf>,
    /// Folder of the built-in raw sources; default `$MIXAGENT_CACHE/raw` or
    /// `~/.cache/mixagent/raw` (where `scripts/setup.sh` puts them).
    #[serde(default)]
    pub raw_dir: Option<PathBuf>,
    /// The sources, each giving one or more domains of one field.
    #[serde(rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// Feedback sets apart from training (the agent's observation); none: the v1 round-robin
    /// over every domain's held-out documents.
    #[serde(default, rename = "feedback")]
    pub feedback: Vec<FeedbackConfig>,
    /// The user's own benchmark tasks, as JSONL (`mixagent_corpus::tasks`).
    #[serde(default, rename = "task", skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<crate::tasks::TaskConfig>,
    /// At most this many feedback items per field are kept (seeded choice).
    #[serde(default = "default_feedback_items")]
    pub feedback_items_per_field: usize,
    /// A feedback item sharing a word n-gram of this length with training text is dropped.
    #[serde(default = "default_dedup_ngram")]
    pub dedup_ngram: usize,
    /// Domain → multiplier of its token share in a base's pretraining (unlisted: 1), e.g.
    /// distractors at a realistic small share. Recorded in the manifest for `mixagent pretrain`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pretrain_weights: std::collections::BTreeMap<String, f64>,
    /// Field → how its feedback suite is scored (`likelihood`, the default, or `pairing`: the
    /// log-probability of pairing each answer with its own prompt rather than another item's).
    /// Recorded in the manifest; every evaluation of the corpus scores the field so.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub feedback_scoring: std::collections::BTreeMap<String, mixagent_shard::FeedbackScoring>,
}

fn default_feedback_items() -> usize {
    1024
}

fn default_dedup_ngram() -> usize {
    13
}

/// One input of the corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// A built-in source fetched by `scripts/setup.sh`.
    Builtin {
        /// Which one.
        source: BuiltinSource,
        /// The field its domains belong to.
        field: String,
        /// Keep only these of its domains (all if absent).
        #[serde(default)]
        domains: Option<Vec<String>>,
    },
    /// A user's JSONL file: one object per line with `text`, `domain` and `field`
    /// (`domain` and `field` may be given here instead, as defaults).
    Jsonl {
        /// The file.
        path: PathBuf,
        /// Field for lines without one.
        #[serde(default)]
        field: Option<String>,
        /// Domain for lines without one.
        #[serde(default)]
        domain: Option<String>,
    },
    /// A folder with one sub-folder per domain; every file in a sub-folder is a document.
    Folders {
        /// The folder.
        path: PathBuf,
        /// The field of all its domains.
        field: String,
    },
    /// Unlabelled text (a folder of files or a JSONL with `text`) split into `k` domains by
    /// k-means over hashed n-gram features; domains are named `<prefix>_c<i>`.
    Cluster {
        /// A folder of text files or a `.jsonl` file.
        path: PathBuf,
        /// The field of the resulting domains.
        field: String,
        /// Number of domains.
        k: usize,
        /// Domain name prefix.
        prefix: String,
    },
}

fn default_seed() -> u64 {
    20_250_721
}
fn default_heldout() -> f64 {
    0.05
}
fn default_vocab() -> u32 {
    2048
}
fn default_min_chars() -> usize {
    64
}
fn default_max_bytes() -> u64 {
    4_000_000
}
fn default_tokenizer_sample() -> u64 {
    400_000
}

impl PrepareConfig {
    /// Parses a TOML config, applies `--set key=value` overrides, checks it, and resolves
    /// relative paths against the config file's folder.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, CorpusError> {
        let mut cfg: PrepareConfig = mixagent_core::load_config(path, overrides)?;
        cfg.validate().map_err(|message| CorpusError::Config { path: path.into(), message })?;
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.resolve_paths(base);
        Ok(cfg)
    }

    /// Range checks that serde cannot express.
    fn validate(&self) -> Result<(), String> {
        if !(self.heldout_fraction > 0.0 && self.heldout_fraction < 1.0) {
            return Err(format!("heldout_fraction = {}: must be in (0, 1)", self.heldout_fraction));
        }
        if !(260..=1 << 20).contains(&self.vocab_size) {
            return Err(format!(
                "vocab_size = {}: must be in 260..=1048576 (256 bytes + specials)",
                self.vocab_size
            ));
        }
        if self.sources.is_empty() {
            return Err("no [[source]] given".into());
        }
        if self.dedup_ngram < 4 {
            return Err(format!("dedup_ngram = {}: must be at least 4", self.dedup_ngram));
        }
        for f in &self.feedback {
            match f {
                FeedbackConfig::HeldOutParts { parts, source, scored_parts, .. } => {
                    if parts.is_empty() {
                        return Err(format!("[[feedback]] of {source:?}: `parts` is empty"));
                    }
                    let scored = scored_parts.iter().flatten();
                    if let Some(p) = scored.into_iter().find(|p| !parts.contains(p)) {
                        return Err(format!(
                            "[[feedback]] of {source:?}: scored part `{p}` is not one of its `parts` ({}); the scored parts are a subset of the held-out ones",
                            parts.join(", ")
                        ));
                    }
                }
                FeedbackConfig::HeldOutSplit { field, domains, items_per_domain } => {
                    if domains.is_empty() {
                        return Err(format!(
                            "[[feedback]] held_out_split of field `{field}`: `domains` is empty"
                        ));
                    }
                    if *items_per_domain == Some(0) {
                        return Err(format!("[[feedback]] held_out_split of field `{field}`: items_per_domain = 0; give at least 1, or leave it out for every item"));
                    }
                }
                FeedbackConfig::Jsonl { .. } => {}
            }
        }
        for (domain, w) in &self.pretrain_weights {
            if !(w.is_finite() && *w >= 0.0) {
                return Err(format!(
                    "pretrain_weights.{domain} = {w}: must be a finite number ≥ 0"
                ));
            }
        }
        for s in &self.sources {
            if let SourceConfig::Cluster { k, .. } = s {
                if *k < 1 || *k > 256 {
                    return Err(format!("cluster source: k = {k} must be in 1..=256"));
                }
            }
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(p) = self.tokenizer.as_mut() {
            fix(p);
        }
        if let Some(p) = self.raw_dir.as_mut() {
            fix(p);
        }
        for f in &mut self.feedback {
            if let FeedbackConfig::Jsonl { path, .. } = f {
                fix(path);
            }
        }
        for t in &mut self.tasks {
            fix(&mut t.path);
        }
        for s in &mut self.sources {
            match s {
                SourceConfig::Builtin { .. } => {}
                SourceConfig::Jsonl { path, .. }
                | SourceConfig::Folders { path, .. }
                | SourceConfig::Cluster { path, .. } => fix(path),
            }
        }
    }

    /// The raw folder of the built-in sources.
    pub fn raw_root(&self) -> PathBuf {
        if let Some(p) = &self.raw_dir {
            return p.clone();
        }
        default_cache_dir().join("raw")
    }
}

/// `$MIXAGENT_CACHE`, else `$HOME/.cache/mixagent`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("MIXAGENT_CACHE") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("mixagent")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("c.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn parses_sources_and_resolves_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "vocab_size = 1000\n[[source]]\ntype = \"jsonl\"\npath = \"docs.jsonl\"\n\
             [[source]]\ntype = \"builtin\"\nsource = \"brown\"\nfield = \"general\"\n",
        );
        let c = PrepareConfig::load(&p, &["heldout_fraction=0.2".into()]).unwrap();
        assert_eq!(c.vocab_size, 1000);
        assert_eq!(c.heldout_fraction, 0.2);
        assert!(
            matches!(&c.sources[0], SourceConfig::Jsonl { path, .. } if path == &dir.path().join("docs.jsonl"))
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let src = "[[source]]\ntype = \"folders\"\npath = \"x\"\nfield = \"general\"\n";
        let p = write(dir.path(), &format!("vocab_sise = 10\n{src}"));
        assert!(PrepareConfig::load(&p, &[]).unwrap_err().to_string().contains("vocab_sise"));
        let p = write(dir.path(), &format!("{src}colour = 1\n"));
        assert!(PrepareConfig::load(&p, &[]).unwrap_err().to_string().contains("colour"));
        let p = write(dir.path(), src);
        let e = PrepareConfig::load(&p, &["heldout_fraction=1.5".into()]).unwrap_err().to_string();
        assert!(e.contains("heldout_fraction") && e.contains("c.toml"), "{e}");
        assert!(PrepareConfig::load(&p, &["nope.deeper=1".into()]).is_err());
        assert!(PrepareConfig::load(&p, &["seed".into()])
            .unwrap_err()
            .to_string()
            .contains("key=value"));
        // A scored part must be one of the held-out parts.
        let held = "[[feedback]]\nbuilder = \"held_out_parts\"\nfield = \"math\"\nsource = \"mathematics_dataset\"\nparts = [\"numbers__place_value\", \"comparison__pair\"]\n";
        let p =
            write(dir.path(), &format!("{src}{held}scored_parts = [\"numbers__place_value\"]\n"));
        assert!(PrepareConfig::load(&p, &[]).is_ok());
        let p =
            write(dir.path(), &format!("{src}{held}scored_parts = [\"numbers__round_number\"]\n"));
        let e = PrepareConfig::load(&p, &[]).unwrap_err().to_string();
        assert!(e.contains("scored part `numbers__round_number`") && e.contains("c.toml"), "{e}");
        // None scored: the parts are held out for the benchmarks only.
        let p = write(dir.path(), &format!("{src}{held}scored_parts = []\n"));
        let c = PrepareConfig::load(&p, &[]).unwrap();
        assert!(!c.feedback[0].scores_part("numbers__place_value"));
        // A held-out split names at least one domain and takes at least one item of each.
        let split = "[[feedback]]\nbuilder = \"held_out_split\"\nfield = \"math\"\n";
        let p = write(dir.path(), &format!("{src}{split}domains = [\"math_numbers\"]\n"));
        assert!(PrepareConfig::load(&p, &[]).is_ok());
        let p = write(dir.path(), &format!("{src}{split}domains = []\n"));
        let e = PrepareConfig::load(&p, &[]).unwrap_err().to_string();
        assert!(e.contains("`domains` is empty") && e.contains("c.toml"), "{e}");
        let p =
            write(dir.path(), &format!("{src}{split}domains = [\"m\"]\nitems_per_domain = 0\n"));
        let e = PrepareConfig::load(&p, &[]).unwrap_err().to_string();
        assert!(e.contains("items_per_domain = 0"), "{e}");
    }
}
