//! `mixagent prepare`: raw sources → labelled, cleaned documents → held-out split → BPE
//! tokenizer → token shards and manifest, all written into a staging folder that is renamed
//! into place only when complete (so a killed run leaves no half-written corpus).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use mixagent_core::{Domain, Field};
use mixagent_shard::{
    write_atomic, DomainEntry, FeedbackScoring, Manifest, ShardWriter, SplitStats, TokenizerInfo,
    MANIFEST_VERSION,
};

use crate::docs::{read_folders, read_jsonl, read_unlabelled};
use crate::feedback::{
    self, ByField, FeedbackConfig, FeedbackItem, TrainingNgrams, FEEDBACK_FILE, FEEDBACK_REST_FILE,
};
use crate::sources::{read_builtin, BuiltinSource, RawDoc};
use crate::tasks::{TaskItem, TASKS_FILE};
use crate::{
    clean_and_cap, is_heldout, kmeans, CorpusError, CorpusTokenizer, LabelledDoc, PrepareConfig,
    SourceConfig,
};
use sha2::{Digest, Sha256};

/// A shard file is closed and a new one started past this many tokens.
const MAX_SHARD_TOKENS: u64 = 1 << 26;
/// Documents encoded per call to the tokenizer (bounds memory, keeps both cores busy).
const ENCODE_CHUNK: usize = 512;

/// Runs the whole preparation into `out`. An existing `out` is an error unless `force`.
pub fn prepare(cfg: &PrepareConfig, out: &Path, force: bool) -> Result<Manifest, CorpusError> {
    if out.exists() && !force {
        return Err(CorpusError::OutputExists { path: out.into() });
    }
    let t0 = Instant::now();
    let Gathered { docs, stamps, held } = gather(cfg)?;
    let declared = domain_fields(&docs)?;
    if let Some(d) = cfg.pretrain_weights.keys().find(|d| !declared.iter().any(|(n, _)| n == *d)) {
        return Err(CorpusError::UnknownDomain {
            key: "pretrain_weights",
            domain: d.clone(),
            known: declared.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "),
        });
    }
    let n_raw = docs.len();
    let docs = clean_and_cap(docs, cfg.min_doc_chars, cfg.max_bytes_per_domain, cfg.seed);
    tracing::info!(
        raw = n_raw,
        kept = docs.len(),
        secs = format!("{:.1}", t0.elapsed().as_secs_f32()),
        "documents read and cleaned"
    );

    let mut by_domain: Splits<'_> = HashMap::new();
    for d in &docs {
        let slot = by_domain.entry(d.domain.as_str()).or_default();
        if is_heldout(&d.text, cfg.heldout_fraction, cfg.seed) {
            slot.1.push(d);
        } else {
            slot.0.push(d);
        }
    }
    for (name, _) in &declared {
        let (train, held) = by_domain.entry(name.as_str()).or_default();
        if train.is_empty() && held.is_empty() {
            return Err(CorpusError::EmptyDomain {
                domain: name.clone(),
                hint: format!("all its documents are shorter than min_doc_chars = {} or duplicates; lower min_doc_chars or drop the domain", cfg.min_doc_chars),
            });
        }
        // Every domain needs training text, and held-out text when it has two documents.
        if train.is_empty() {
            train.push(held.pop().expect("non-empty"));
        } else if held.is_empty() && train.len() > 1 {
            held.push(train.pop().expect("non-empty"));
        }
    }

    // Both checks against training share one n-gram set, built only if either needs it.
    let ngrams = std::cell::OnceCell::new();
    let training = || ngrams.get_or_init(|| TrainingNgrams::new(&docs, cfg.dedup_ngram));
    let (feedback, rest) = feedback_sets(cfg, &declared, (held, &by_domain), &training)?;
    let tasks = user_tasks(cfg, &declared, &training)?;
    if let Some(field) = cfg.feedback_scoring.keys().find(|f| !feedback.contains_key(*f)) {
        return Err(CorpusError::Config {
            path: PathBuf::from("[feedback_scoring]"),
            message: format!(
                "field `{field}` has no feedback set (fields with one: {}); add a [[feedback]] table for it or drop the entry",
                if feedback.is_empty() { "none".to_string() } else { feedback.keys().cloned().collect::<Vec<_>>().join(", ") }
            ),
        });
    }

    let tokenizer = match &cfg.tokenizer {
        Some(path) => CorpusTokenizer::load(path)?,
        None => {
            let t = Instant::now();
            let sample =
                tokenizer_sample(&declared, &by_domain, cfg.tokenizer_sample_bytes_per_domain);
            let tk = CorpusTokenizer::train(sample.into_iter(), cfg.vocab_size)?;
            tracing::info!(
                vocab = tk.vocab_size(),
                secs = format!("{:.2}", t.elapsed().as_secs_f32()),
                "tokenizer trained"
            );
            tk
        }
    };

    let staging = staging_dir(out);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| CorpusError::io(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| CorpusError::io(&staging, e))?;
    let extras = Extras { feedback: &feedback, rest: &rest, tasks: &tasks };
    let written = write_corpus(cfg, &declared, &by_domain, &tokenizer, stamps, extras, &staging)
        .and_then(|m| {
            swap_into_place(&staging, out)?;
            Ok(m)
        });
    if written.is_err() {
        // Leave nothing half-written behind: the output folder never appeared.
        let _ = std::fs::remove_dir_all(&staging);
    }
    let manifest = written?;
    tracing::info!(secs = format!("{:.1}", t0.elapsed().as_secs_f32()), out = %out.display(), "corpus prepared");
    Ok(manifest)
}

type Splits<'a> = HashMap<&'a str, (Vec<&'a LabelledDoc>, Vec<&'a LabelledDoc>)>;

/// What a corpus holds beside its domains: feedback sets and user tasks.
struct Extras<'a> {
    feedback: &'a BTreeMap<String, Vec<FeedbackItem>>,
    /// The feedback items the per-field cap left out (the benchmarks' share).
    rest: &'a ByField,
    tasks: &'a [TaskItem],
}

/// Writes the tokenizer, every domain's shards and held-out text, and the manifest into
/// `staging`.
fn write_corpus(
    cfg: &PrepareConfig,
    declared: &[(String, Field)],
    by_domain: &Splits<'_>,
    tokenizer: &CorpusTokenizer,
    sources: BTreeMap<String, String>,
    extras: Extras<'_>,
    staging: &Path,
) -> Result<Manifest, CorpusError> {
    let Extras { feedback, rest, tasks } = extras;
    let out = staging;
    tokenizer.save(&staging.join("tokenizer.json"))?;
    let fp = u64::from_str_radix(&tokenizer.fingerprint, 16).expect("hex fingerprint");

    let mut entries = Vec::with_capacity(declared.len());
    for (name, field) in declared {
        let t = Instant::now();
        let (train, held) = &by_domain[name.as_str()];
        let folder = staging.join(name);
        std::fs::create_dir_all(&folder).map_err(|e| CorpusError::io(&folder, e))?;
        let train_stats = write_split(staging, name, "train", train, tokenizer, fp)?;
        let held_stats = write_split(staging, name, "heldout", held, tokenizer, fp)?;
        write_heldout_text(&folder.join("heldout.jsonl"), held)?;
        let mut sources: Vec<String> = train.iter().chain(held).map(|d| d.source.clone()).collect();
        sources.sort();
        sources.dedup();
        tracing::info!(domain = %name, docs = train_stats.docs, tokens = train_stats.tokens, secs = format!("{:.2}", t.elapsed().as_secs_f32()), "domain written");
        entries.push(DomainEntry {
            name: name.clone(),
            field: field.clone(),
            sources,
            train: train_stats,
            heldout: held_stats,
        });
    }
    if !feedback.is_empty() {
        write_atomic(staging.join(FEEDBACK_FILE), jsonl(feedback.values().flatten()).as_bytes())?;
    }
    let feedback_counts: BTreeMap<String, u64> =
        feedback.iter().map(|(f, items)| (f.clone(), items.len() as u64)).collect();
    if !rest.is_empty() {
        write_atomic(staging.join(FEEDBACK_REST_FILE), jsonl(rest.values().flatten()).as_bytes())?;
    }
    let mut task_counts: BTreeMap<String, u64> = BTreeMap::new();
    if !tasks.is_empty() {
        for item in tasks {
            *task_counts.entry(item.task.clone()).or_default() += 1;
        }
        write_atomic(staging.join(TASKS_FILE), jsonl(tasks).as_bytes())?;
    }
    let fingerprint = corpus_fingerprint(
        staging,
        &sources,
        &entries,
        !feedback.is_empty(),
        !tasks.is_empty(),
        !rest.is_empty(),
        &cfg.feedback_scoring,
    )?;
    let manifest = Manifest {
        format_version: MANIFEST_VERSION,
        created_by: format!("mixagent {}", env!("CARGO_PKG_VERSION")),
        seed: cfg.seed,
        heldout_fraction: cfg.heldout_fraction,
        tokenizer: TokenizerInfo {
            file: "tokenizer.json".into(),
            fingerprint: tokenizer.fingerprint.clone(),
            vocab_size: tokenizer.vocab_size(),
            eos_id: tokenizer.eos_id,
        },
        domains: entries,
        sources,
        feedback: feedback_counts,
        tasks: task_counts,
        fingerprint: Some(fingerprint),
        pretrain_weights: cfg.pretrain_weights.clone(),
        feedback_scoring: cfg.feedback_scoring.clone(),
        feedback_rest: rest.iter().map(|(f, items)| (f.clone(), items.len() as u64)).collect(),
    };
    let resolved = toml::to_string(cfg)
        .map_err(|e| CorpusError::Config { path: out.into(), message: e.to_string() })?;
    write_atomic(staging.join("prepare.toml"), resolved.as_bytes())?;
    // The manifest is written last: a folder without one is never a corpus.
    manifest.save(staging)?;
    Ok(manifest)
}

/// One JSON line per item.
fn jsonl<'a, T: serde::Serialize + 'a>(items: impl IntoIterator<Item = &'a T>) -> String {
    let mut out = String::new();
    for item in items {
        out.push_str(&serde_json::to_string(item).expect("item serialises"));
        out.push('\n');
    }
    out
}

/// The corpus fingerprint: SHA-256 over the source stamps, the tokenizer file, and every
/// domain's name, field, shards and held-out text, in manifest order, the feedback and task
/// files and how each field's feedback is scored (first 16 hex digits).
fn corpus_fingerprint(
    dir: &Path,
    sources: &BTreeMap<String, String>,
    entries: &[DomainEntry],
    has_feedback: bool,
    has_tasks: bool,
    has_rest: bool,
    scoring: &BTreeMap<String, FeedbackScoring>,
) -> Result<String, CorpusError> {
    let mut h = Sha256::new();
    let file = |rel: &str, h: &mut Sha256| -> Result<(), CorpusError> {
        let path = dir.join(rel);
        let bytes = std::fs::read(&path).map_err(|e| CorpusError::io(&path, e))?;
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
        Ok(())
    };
    for (name, stamp) in sources {
        h.update(format!("source {name} {stamp}\n").as_bytes());
    }
    file("tokenizer.json", &mut h)?;
    for e in entries {
        h.update(format!("domain {} {}\n", e.name, e.field.as_str()).as_bytes());
        for rel in e.train.shards.iter().chain(&e.heldout.shards) {
            file(rel, &mut h)?;
        }
        file(&format!("{}/heldout.jsonl", e.name), &mut h)?;
    }
    if has_feedback {
        file(FEEDBACK_FILE, &mut h)?;
    }
    // Last, so corpora without tasks keep the fingerprint they had before tasks existed.
    if has_tasks {
        file(TASKS_FILE, &mut h)?;
    }
    if has_rest {
        file(FEEDBACK_REST_FILE, &mut h)?;
    }
    // The same feedback items scored another way are another observation; listed last, so
    // corpora scored by likelihood keep their fingerprint.
    for (field, how) in scoring {
        h.update(format!("feedback scoring {field} {}\n", how.name()).as_bytes());
    }
    let d = h.finalize();
    Ok(d[..8].iter().map(|b| format!("{b:02x}")).collect())
}

/// What a built-in source was read from: the first 16 hex digits of the SHA-256 of the
/// `SOURCE` stamp in its raw folder, or `unstamped` (a raw folder from an older set-up).
fn source_stamp(raw_root: &Path, source: BuiltinSource) -> String {
    match std::fs::read(raw_root.join(source.raw_folder()).join("SOURCE")) {
        Ok(bytes) => Sha256::digest(&bytes)[..8].iter().map(|b| format!("{b:02x}")).collect(),
        Err(_) => "unstamped".into(),
    }
}

/// What the sources gave: training documents, each source's stamp, and per `[[feedback]]`
/// table the documents it holds out of training (empty for a JSONL set).
struct Gathered {
    docs: Vec<LabelledDoc>,
    stamps: BTreeMap<String, String>,
    held: Vec<Vec<RawDoc>>,
}

/// Takes the documents that a `[[feedback]]` table holds out of `raw` (read from `source`):
/// those of `source` itself go to the table's set, those of another source sharing the raw
/// folder (mis-paired math reads the same modules) are dropped, so no held-out part is trained.
fn divert_held_out(
    cfg: &PrepareConfig,
    source: BuiltinSource,
    raw: Vec<RawDoc>,
    held: &mut [Vec<RawDoc>],
) -> Vec<RawDoc> {
    let folder = source.raw_folder();
    raw.into_iter()
        .filter_map(|d| match cfg.feedback.iter().position(|f| f.holds_out(folder, &d)) {
            None => Some(d),
            Some(i) => {
                if matches!(&cfg.feedback[i], FeedbackConfig::HeldOutParts { source: s, .. } if *s == source) {
                    held[i].push(d);
                }
                None
            }
        })
        .collect()
}

/// Reads every configured source into labelled documents, with each source's stamp.
fn gather(cfg: &PrepareConfig) -> Result<Gathered, CorpusError> {
    let mut docs = Vec::new();
    let mut stamps = BTreeMap::new();
    let mut held: Vec<Vec<RawDoc>> = vec![Vec::new(); cfg.feedback.len()];
    let mut parts_of: HashMap<BuiltinSource, BTreeSet<String>> = HashMap::new();
    let read_source = |source: BuiltinSource,
                       parts_of: &mut HashMap<BuiltinSource, BTreeSet<String>>|
     -> Result<Vec<RawDoc>, CorpusError> {
        let raw = read_builtin(source, &cfg.raw_root())?;
        parts_of.insert(source, raw.iter().map(|d| d.part.clone()).collect());
        Ok(raw)
    };
    for source in &cfg.sources {
        let t = Instant::now();
        let before = docs.len();
        match source {
            SourceConfig::Builtin { source, field, domains } => {
                let raw =
                    divert_held_out(cfg, *source, read_source(*source, &mut parts_of)?, &mut held);
                let name = source.name();
                let stamp = source_stamp(&cfg.raw_root(), *source);
                if stamp == "unstamped" {
                    tracing::warn!(source = %name, "raw folder has no SOURCE stamp (made by an older set-up); re-run scripts/setup.sh to pin it");
                }
                stamps.insert(name.clone(), stamp);
                if let Some(keep) = domains {
                    let have: Vec<&str> = {
                        let mut v: Vec<&str> = raw.iter().map(|d| d.domain.as_str()).collect();
                        v.sort_unstable();
                        v.dedup();
                        v
                    };
                    if let Some(missing) = keep.iter().find(|k| !have.contains(&k.as_str())) {
                        return Err(CorpusError::Config {
                            path: PathBuf::from(format!("[[source]] {name}")),
                            message: format!(
                                "domain `{missing}` is not produced by this source (it has: {})",
                                have.join(", ")
                            ),
                        });
                    }
                }
                docs.extend(
                    raw.into_iter()
                        .filter(|d| domains.as_ref().is_none_or(|k| k.contains(&d.domain)))
                        .map(|d| LabelledDoc {
                            field: field.clone(),
                            domain: d.domain,
                            source: name.clone(),
                            text: d.text,
                        }),
                );
            }
            SourceConfig::Jsonl { path, field, domain } => {
                stamps.insert(path.display().to_string(), "file".into());
                docs.extend(read_jsonl(path, field.as_deref(), domain.as_deref())?)
            }
            SourceConfig::Folders { path, field } => {
                stamps.insert(path.display().to_string(), "file".into());
                docs.extend(read_folders(path, field)?)
            }
            SourceConfig::Cluster { path, field, k, prefix } => {
                stamps.insert(path.display().to_string(), "file".into());
                let texts = read_unlabelled(path)?;
                let assign = kmeans(&texts, *k, cfg.seed);
                // Cluster order, so domains are listed `_c0`, `_c1`, … in the manifest.
                let mut labelled: Vec<(usize, String)> = assign.into_iter().zip(texts).collect();
                labelled.sort_by_key(|(c, _)| *c);
                docs.extend(labelled.into_iter().map(|(c, text)| LabelledDoc {
                    field: field.clone(),
                    domain: format!("{prefix}_c{c}"),
                    source: format!("cluster:{}", path.display()),
                    text,
                }));
            }
        }
        tracing::info!(
            docs = docs.len() - before,
            secs = format!("{:.2}", t.elapsed().as_secs_f32()),
            "read source {:?}",
            source_label(source)
        );
    }
    // Held-out parts of a source that is not also a training source, and a check that every
    // named part exists.
    for (i, f) in cfg.feedback.iter().enumerate() {
        let FeedbackConfig::HeldOutParts { source, parts, .. } = f else { continue };
        if !parts_of.contains_key(source) {
            let name = source.name();
            stamps.insert(name, source_stamp(&cfg.raw_root(), *source));
            let raw = read_source(*source, &mut parts_of)?;
            held[i].extend(raw.into_iter().filter(|d| f.holds_out(source.raw_folder(), d)));
        }
        let have = &parts_of[source];
        if let Some(missing) = parts.iter().find(|p| !have.contains(*p)) {
            let known: Vec<&str> =
                have.iter().map(String::as_str).filter(|p| !p.is_empty()).collect();
            return Err(CorpusError::Config {
                path: PathBuf::from(format!("[[feedback]] {}", f.name())),
                message: format!(
                    "part `{missing}` is not a part of source {source:?} (it has: {})",
                    if known.is_empty() { "no named parts".to_string() } else { known.join(", ") }
                ),
            });
        }
    }
    Ok(Gathered { docs, stamps, held })
}

/// Reads the `[[task]]` files, checked against the corpus's fields, without the items that
/// overlap training text.
fn user_tasks<'a>(
    cfg: &PrepareConfig,
    declared: &[(String, Field)],
    training: &dyn Fn() -> &'a TrainingNgrams,
) -> Result<Vec<TaskItem>, CorpusError> {
    let fields: BTreeSet<&str> = declared.iter().map(|(_, f)| f.as_str()).collect();
    let fields: Vec<&str> = fields.into_iter().collect();
    let mut items = Vec::new();
    for t in &cfg.tasks {
        items.extend(crate::tasks::read_tasks(t, &fields)?);
    }
    if items.is_empty() {
        return Ok(items);
    }
    let found = items.len();
    let dropped = crate::tasks::dedup_tasks(&mut items, training());
    tracing::info!(found, dropped_as_overlapping = dropped, kept = items.len(), "user tasks");
    Ok(items)
}

/// Builds the `[[feedback]]` sets: items from the held-out parts (`held`, per table), the
/// held-out split of training domains (`splits`) or the user's JSONL, checked against the
/// corpus's fields, deduplicated against all training text, then a seeded choice of at most
/// `feedback_items_per_field` per field, and of the rest.
fn feedback_sets<'a>(
    cfg: &PrepareConfig,
    declared: &[(String, Field)],
    (held, splits): (Vec<Vec<RawDoc>>, &Splits<'_>),
    training: &dyn Fn() -> &'a TrainingNgrams,
) -> Result<(ByField, ByField), CorpusError> {
    if cfg.feedback.is_empty() {
        return Ok(Default::default());
    }
    let t = Instant::now();
    let mut items = Vec::new();
    let mut unscored = Vec::new();
    // Every training document of a field: a held-out split's items, and the benchmarks'
    // held-out questions, must not be questions that training asks.
    let train_of = |field: &str| -> Vec<&LabelledDoc> {
        declared
            .iter()
            .filter(|(_, f)| f.as_str() == field)
            .flat_map(|(n, _)| splits[n.as_str()].0.iter().copied())
            .collect()
    };
    let mut asked_by_field: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for (f, mut docs) in cfg.feedback.iter().zip(held) {
        let name = f.name();
        let set = match f {
            FeedbackConfig::HeldOutParts { field, scored_parts, benchmarks, .. } => {
                for d in &mut docs {
                    d.text = crate::clean_text(&d.text);
                }
                let (scored, other): (Vec<RawDoc>, Vec<RawDoc>) =
                    docs.into_iter().partition(|d| f.scores_part(&d.part));
                if *benchmarks && !other.is_empty() {
                    let asked = asked_by_field
                        .entry(field.clone())
                        .or_insert_with(|| feedback::asked_in(&train_of(field)));
                    let rest = feedback::items_from_docs(field, &f.unscored_name(), &other, asked);
                    unscored.extend(rest);
                }
                if scored_parts.as_ref().is_some_and(Vec::is_empty) {
                    continue; // held out for the benchmarks only
                }
                feedback::items_from_docs(field, &name, &scored, &HashSet::new())
            }
            FeedbackConfig::HeldOutSplit { field, domains, items_per_domain } => {
                let known = || declared.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>();
                if let Some(d) = domains.iter().find(|d| !known().contains(&d.as_str())) {
                    return Err(CorpusError::UnknownDomain {
                        key: "[[feedback]] held_out_split",
                        domain: d.clone(),
                        known: known().join(", "),
                    });
                }
                // Every training document of the field: a mis-paired domain asks the same
                // generators' questions as the domain it corrupts.
                let asked = asked_by_field
                    .entry(field.clone())
                    .or_insert_with(|| feedback::asked_in(&train_of(field)));
                let mut set = Vec::new();
                for (i, d) in domains.iter().enumerate() {
                    let held = &splits[d.as_str()].1;
                    let one = (field.as_str(), name.as_str());
                    let checks = (&*asked, training());
                    let (items, [found, repeated, overlapping]) = feedback::split_items(
                        one,
                        (d, i),
                        held,
                        checks,
                        *items_per_domain,
                        cfg.seed,
                    );
                    tracing::info!(domain = %d, found, asked_in_training = repeated, dropped_as_overlapping = overlapping, kept = items.len(), "held-out split");
                    if items.is_empty() {
                        tracing::warn!(domain = %d, held_out_docs = held.len(), "held-out split: the domain gives no item that training does not ask or overlap (word {}-grams); name another domain or raise heldout_fraction", cfg.dedup_ngram);
                    }
                    set.extend(items);
                }
                set
            }
            FeedbackConfig::Jsonl { path, field } => feedback::read_jsonl(path, field.as_deref())?,
        };
        if let Some(bad) =
            set.iter().find(|it| !declared.iter().any(|(_, f)| f.as_str() == it.field))
        {
            let fields: BTreeSet<&str> = declared.iter().map(|(_, f)| f.as_str()).collect();
            return Err(CorpusError::Config {
                path: PathBuf::from(format!("[[feedback]] {name}")),
                message: format!(
                    "field `{}` has no domain in this corpus (fields: {})",
                    bad.field,
                    fields.into_iter().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        if set.is_empty() {
            return Err(CorpusError::Config {
                path: PathBuf::from(format!("[[feedback]] {name}")),
                message: "the held-out documents yielded no items".into(),
            });
        }
        items.extend(set);
    }
    let found = items.len();
    let dropped = feedback::dedup_against(&mut items, training());
    feedback::dedup_against(&mut unscored, training());
    let (sets, rest) = feedback::select(items, unscored, cfg.feedback_items_per_field, cfg.seed);
    for (field, items) in &sets {
        if items.len() < feedback::MIN_FEEDBACK_ITEMS {
            tracing::warn!(field = %field, items = items.len(), "feedback set smaller than {} items: its scores will be noisy", feedback::MIN_FEEDBACK_ITEMS);
        }
    }
    tracing::info!(
        found,
        dropped_as_overlapping = dropped,
        kept = sets.values().map(Vec::len).sum::<usize>(),
        secs = format!("{:.1}", t.elapsed().as_secs_f32()),
        "feedback sets built (dedup: word {}-grams)",
        cfg.dedup_ngram
    );
    Ok((sets, rest))
}

fn source_label(s: &SourceConfig) -> String {
    match s {
        SourceConfig::Builtin { source, .. } => format!("{source:?}"),
        SourceConfig::Jsonl { path, .. }
        | SourceConfig::Folders { path, .. }
        | SourceConfig::Cluster { path, .. } => path.display().to_string(),
    }
}

/// The domains in order of first appearance, each with its (single) field, validated.
fn domain_fields(docs: &[LabelledDoc]) -> Result<Vec<(String, Field)>, CorpusError> {
    let mut out: Vec<(String, Field)> = Vec::new();
    for d in docs {
        match out.iter().find(|(n, _)| *n == d.domain) {
            Some((_, f)) if f.as_str() != d.field => {
                return Err(CorpusError::Config {
                    path: PathBuf::from(&d.source),
                    message: format!("domain `{}` is given in two fields, `{f}` and `{}`; a domain belongs to one field", d.domain, d.field),
                })
            }
            Some(_) => {}
            None => {
                let field = Field::new(d.field.clone())?;
                Domain::new(d.domain.clone(), field.clone())?;
                out.push((d.domain.clone(), field));
            }
        }
    }
    // Group by field (fields in order of first appearance) so spaces list source domains first.
    let fields: Vec<Field> = out.iter().fold(Vec::new(), |mut v, (_, f)| {
        if !v.contains(f) {
            v.push(f.clone());
        }
        v
    });
    out.sort_by_key(|(_, f)| fields.iter().position(|x| x == f));
    Ok(out)
}

/// Up to `cap` bytes of training text per domain, for the BPE trainer.
fn tokenizer_sample<'a>(
    declared: &[(String, Field)],
    by_domain: &Splits<'a>,
    cap: u64,
) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (name, _) in declared {
        let mut bytes = 0;
        for d in &by_domain[name.as_str()].0 {
            if bytes >= cap {
                break;
            }
            bytes += d.text.len() as u64;
            out.push(d.text.as_str());
        }
    }
    out
}

/// Encodes one split of one domain into `<domain>/<split>-NNNNN.bin` shards.
fn write_split(
    root: &Path,
    domain: &str,
    split: &str,
    docs: &[&LabelledDoc],
    tk: &CorpusTokenizer,
    fp: u64,
) -> Result<SplitStats, CorpusError> {
    let mut stats = SplitStats::default();
    let vocab = tk.vocab_size();
    let mut writer: Option<ShardWriter> = None;
    let mut doc_tokens = Vec::new();
    for chunk in docs.chunks(ENCODE_CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|d| d.text.as_str()).collect();
        for (ids, text) in tk.encode_batch(&texts)?.into_iter().zip(&texts) {
            if writer.as_ref().is_some_and(|w| w.n_tokens() >= MAX_SHARD_TOKENS) {
                writer.take().expect("checked").finish()?;
            }
            let w = match writer.as_mut() {
                Some(w) => w,
                None => {
                    let rel = format!("{domain}/{split}-{:05}.bin", stats.shards.len());
                    stats.shards.push(rel.clone());
                    writer.insert(ShardWriter::create(root.join(&rel), vocab, fp)?)
                }
            };
            doc_tokens.clear();
            doc_tokens.extend_from_slice(&ids);
            doc_tokens.push(tk.eos_id);
            w.push_doc(&doc_tokens)?;
            stats.docs += 1;
            stats.tokens += doc_tokens.len() as u64;
            stats.bytes += text.len() as u64;
        }
    }
    if let Some(w) = writer {
        w.finish()?;
    }
    Ok(stats)
}

/// The held-out documents as JSONL (`text`), for building evaluation items later.
fn write_heldout_text(path: &Path, docs: &[&LabelledDoc]) -> Result<(), CorpusError> {
    let mut buf = Vec::new();
    for d in docs {
        serde_json::to_writer(&mut buf, &serde_json::json!({ "text": d.text })).expect("json");
        buf.push(b'\n');
    }
    Ok(write_atomic(path, &buf)?)
}

fn staging_dir(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "corpus".into());
    out.with_file_name(format!(".{name}.partial"))
}

/// Renames the finished staging folder to `out`, replacing an old `out` only after the new one
/// is complete.
fn swap_into_place(staging: &Path, out: &Path) -> Result<(), CorpusError> {
    if out.exists() {
        let old = out.with_file_name(format!(
            ".{}.old",
            out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ));
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| CorpusError::io(&old, e))?;
        }
        std::fs::rename(out, &old).map_err(|e| CorpusError::io(out, e))?;
        std::fs::rename(staging, out).map_err(|e| CorpusError::io(out, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| CorpusError::io(&old, e))?;
    } else {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| CorpusError::io(parent, e))?;
        }
        std::fs::rename(staging, out).map_err(|e| CorpusError::io(out, e))?;
    }
    Ok(())
}
