//! The agent artifact: a folder with `policy.safetensors` (f32 tensors, PyTorch names) and
//! `agent.json` (format version, network shape, the feature names and their normalisation,
//! the action floor, what the space must look like, the reward, and provenance). Loading
//! checks every part and says what to do when one does not fit.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{
    encode_with_prior, feature_names, mixture_from_logits, CriticNet, DomainPrior, History,
    NamedTensors, NetConfig, PolicyError, PolicyNet, PolicyOutput, RewardConfig, DOMAIN_FEATURES,
    GLOBAL_FEATURES, HISTORY_FEATURES,
};

/// Version of the artifact layout. 2: scale-free features read within their field, clipped
/// z-scores, and a target-share head (version 1's features froze the policy on new spaces).
/// 3: credit features and critics. 4: each token carries its history window, attended over.
/// 5: credit read within each field against the share and the trend, the share's own credit,
/// and exploration within fields at decision time (`decision.explore`). 6: the collection's
/// per-domain prior (`prior`, read by name through each entry's members).
pub const ARTIFACT_VERSION: u32 = 6;

/// The history window an agent gets with `net.history = 24` (stages each token sees): off by
/// default until held-out selection chooses it (issue 21 point 3); on in
/// [`AgentSchema::untrained`], so tests and benchmarks exercise it.
pub const HISTORY_WINDOW: usize = 24;

/// Default width of a history slot's embedding.
pub const DEFAULT_HISTORY_WIDTH: usize = 16;

/// Default bound of a normalised feature, in standard deviations.
pub const FEATURE_CLIP: f32 = 5.0;

/// Feature names and per-feature normalisation `clamp((x − mean) / std, ±clip)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Feature names, per-domain features first, then global ones, then the history slots
    /// (`h<slot>.<name>`).
    pub names: Vec<String>,
    /// Mean of each feature over the training states.
    pub mean: Vec<f32>,
    /// Standard deviation of each feature (1 for a feature that was constant in training, so
    /// that a new space's value reads as its plain difference).
    pub std: Vec<f32>,
    /// Normalised values are clipped to ±`clip`: a state far outside the training range then
    /// reads as "far", not as a value that swamps every other input.
    pub clip: f32,
}

/// A normalised feature that fell outside the clip (before clipping).
#[derive(Debug, Clone, PartialEq)]
pub struct OutOfRange {
    /// Feature name.
    pub feature: String,
    /// Token (entry of the space) it was found on.
    pub token: usize,
    /// Its z-score before clipping.
    pub z: f32,
}

impl FeatureSpec {
    /// Normalises encoded state tokens (row-major, one row of features per token) in place,
    /// clipping each to ±`clip`.
    pub fn normalise(&self, values: &mut [f32]) {
        self.normalise_checked(values);
    }

    /// As [`normalise`](Self::normalise), and returns the values that the clip cut.
    pub fn normalise_checked(&self, values: &mut [f32]) -> Vec<OutOfRange> {
        let f = self.mean.len();
        let mut outside = Vec::new();
        for (token, row) in values.chunks_mut(f).enumerate() {
            for (j, x) in row.iter_mut().enumerate() {
                let z = (*x - self.mean[j]) / self.std[j];
                if z.abs() > self.clip {
                    outside.push(OutOfRange { feature: self.names[j].clone(), token, z });
                }
                *x = z.clamp(-self.clip, self.clip);
            }
        }
        outside
    }
}

/// A decision and what the policy noticed about its input.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The next stage's mixture, in space order.
    pub weights: Vec<f64>,
    /// Features of this state outside the training range (clipped).
    pub outside: Vec<OutOfRange>,
    /// How the critics chose among candidates (`None` when the policy's mean was taken
    /// unscored).
    pub scored: Option<Scored>,
}

/// The critics' choice among a decision's candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Candidates scored (the first is the policy's mean action).
    pub candidates: usize,
    /// Index of the chosen one.
    pub chosen: usize,
    /// Its pessimistic value (critics' mean − κ·their standard deviation).
    pub value: f64,
    /// The pessimistic value of the policy's mean action.
    pub mean_value: f64,
}

/// How the next mixture is chosen from the policy's proposal (issue 21): `candidates` mixtures
/// drawn from the policy's own Gaussian (the first is its mean action), each moved into the
/// trust region around the last stage's mixture, and the one the critic ensemble values most
/// pessimistically highest is taken. With `candidates = 0` the (trust-region bounded) mean
/// action is taken without the critics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionConfig {
    /// Candidate mixtures the critics score (0: the policy's mean action, unscored).
    pub candidates: usize,
    /// Largest L1 distance of the next mixture from the last stage's (2 or more: unbounded).
    /// A candidate further away is moved toward the last mixture along the straight line.
    pub trust_region: f64,
    /// Largest change of the target fields' share from the last stage's (1: unbounded). A
    /// candidate whose share moves further is moved toward the last mixture along the straight
    /// line (after the trust region) until it moves this far: the field split then drifts at
    /// most this much a stage, whatever the feedback trends read, while the within-field
    /// split moves with it. Left out of the file when unbounded.
    #[serde(skip_serializing_if = "unbounded_share")]
    pub share_step: f64,
    /// Bounds `[lo, hi]` of the target fields' share of every mixture (`[0, 1]`: unbounded).
    /// A mixture outside is moved to the nearer bound, after the trust region and the share
    /// step: the mass above the floor moves between the source and the target side, each
    /// side's entries keeping their proportions ([`share_band`]). `views.share_band` sets it
    /// from the collection: where the target share of its best runs lies. Left out of the file
    /// when unbounded.
    #[serde(skip_serializing_if = "unbounded_band")]
    pub share_band: [f64; 2],
    /// κ of the pessimistic value `mean_j Q_j − κ·sd_j Q_j` over the critics.
    pub pessimism: f64,
    /// Exploration within fields: each proposed mixture's weight of each entry within its field
    /// is multiplied by `exp(σ·z)`, `z ~ N(0, 1)` per decision and entry, keeping each field's
    /// total, before the trust region and the critics' scoring, so that the run's own history
    /// tells the entries of a field apart (the credit features read nothing from a split that
    /// never moves). The draws are keyed by the seed, the stage and the last observation. 0:
    /// none.
    pub explore: f64,
    /// Prior tilts (issue 21): for each strength κ, one more candidate, the policy's mean action
    /// with each entry's weight within its field multiplied by `exp(κ·e)`, `e` the prior's
    /// evidence for the entry's own field (`prior`; 0 where it knows nothing), each field
    /// keeping its total. The critics score them beside the policy's own candidates, so the
    /// agent's value function, not a fixed rule, decides how far to follow the collection's
    /// prior. Needs `candidates` ≥ 1 and critics. Empty: none.
    pub prior_tilts: Vec<f64>,
    /// Field-split candidates: this many more candidates, the policy's mean action moved to
    /// target shares evenly spaced over `share_band` (its ends included; moved as the band
    /// moves a mixture, [`share_band`]), scored by the critics beside the others. The
    /// policy's own draws vary the split little (its share head is sure of itself); with these
    /// the critics, which read the feedback changes, set the split, and the policy the
    /// within-field weights. Needs `candidates` ≥ 1 and critics. 0: none; else at least 2.
    /// Left out of the file when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub share_grid: usize,
    /// A prior tilt of strength κ applied to every mixture the policy proposes (its mean action
    /// and each candidate) before exploration, the trust region and the critics' scoring: the
    /// learned policy sets the field split and its within-field preferences, the collection's
    /// prior moves each field toward the domains it found helpful. 0: none.
    pub tilt: f64,
    /// Seed of the candidates' and the exploration's draws (with the stage index: a decision is
    /// a function of the history, so replays and resumes decide alike).
    pub seed: u64,
}

impl Default for DecisionConfig {
    fn default() -> Self {
        DecisionConfig {
            candidates: 0,
            trust_region: 2.0,
            share_step: 1.0,
            share_band: [0.0, 1.0],
            pessimism: 1.0,
            explore: 0.0,
            prior_tilts: Vec::new(),
            share_grid: 0,
            tilt: 0.0,
            seed: 0,
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn unbounded_share(step: &f64) -> bool {
    *step >= 1.0
}

fn unbounded_band(band: &[f64; 2]) -> bool {
    band[0] <= 0.0 && band[1] >= 1.0
}

impl DecisionConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(self.trust_region.is_finite() && self.trust_region > 0.0) {
            return Err(PolicyError::Artifact(format!(
                "decision.trust_region {} must be a finite L1 distance > 0 (2 or more: unbounded)",
                self.trust_region
            )));
        }
        if !(self.share_step.is_finite() && self.share_step > 0.0) {
            return Err(PolicyError::Artifact(format!(
                "decision.share_step {} must be a finite change of the target share > 0 (1 or more: unbounded)",
                self.share_step
            )));
        }
        let [lo, hi] = self.share_band;
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi && hi <= 1.0) {
            return Err(PolicyError::Artifact(format!(
                "decision.share_band [{lo}, {hi}] must be bounds of the target share with 0 ≤ lo ≤ hi ≤ 1 ([0, 1]: unbounded)"
            )));
        }
        if !(self.explore.is_finite() && (0.0..=3.0).contains(&self.explore)) {
            return Err(PolicyError::Artifact(format!(
                "decision.explore {} must be in [0, 3] (a log-normal σ within fields; 0: none)",
                self.explore
            )));
        }
        if let Some(k) = self.prior_tilts.iter().find(|k| !(k.is_finite() && k.abs() <= 20.0)) {
            return Err(PolicyError::Artifact(format!(
                "decision.prior_tilts holds {k}: each strength must be finite, within ±20"
            )));
        }
        if !(self.tilt.is_finite() && self.tilt.abs() <= 20.0) {
            return Err(PolicyError::Artifact(format!(
                "decision.tilt {} must be finite, within ±20 (0: none)",
                self.tilt
            )));
        }
        if !self.prior_tilts.is_empty() && self.candidates == 0 {
            return Err(PolicyError::Artifact(
                "decision.prior_tilts needs decision.candidates ≥ 1: the critics choose among the tilted mixtures".into(),
            ));
        }
        if self.share_grid == 1 {
            return Err(PolicyError::Artifact(
                "decision.share_grid = 1: give 0 (none) or at least 2 shares (the band's ends and evenly between)".into(),
            ));
        }
        if self.share_grid > 0 && self.candidates == 0 {
            return Err(PolicyError::Artifact(
                "decision.share_grid needs decision.candidates ≥ 1: the critics choose among the field splits".into(),
            ));
        }
        if !(self.pessimism.is_finite() && self.pessimism >= 0.0) {
            return Err(PolicyError::Artifact(format!(
                "decision.pessimism {} must be finite and ≥ 0",
                self.pessimism
            )));
        }
        Ok(())
    }
}

/// What a domain space must offer the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceRequirements {
    /// Entries of the space it was trained on (any number works at deployment).
    pub trained_domains: usize,
    /// Source field it was trained with (a different one works, but is named in warnings).
    pub trained_source_field: String,
    /// Target fields it was trained with.
    pub trained_target_fields: Vec<String>,
    /// The space needs at least one source and one target entry.
    pub needs_source_and_target: bool,
}

/// `agent.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSchema {
    /// Layout version.
    pub format_version: u32,
    /// Network shape.
    pub net: NetConfig,
    /// Features and normalisation.
    pub features: FeatureSpec,
    /// Share of each mixture spread evenly over the domains.
    pub floor: f64,
    /// Space requirements.
    pub space: SpaceRequirements,
    /// Reward and discount it was trained for.
    pub reward: RewardConfig,
    /// Critics saved with the policy (tensors `critic.<j>.…`; 0 for a policy alone).
    #[serde(default)]
    pub critics: usize,
    /// How a decision is taken from the policy's proposal.
    #[serde(default)]
    pub decision: DecisionConfig,
    /// What the collection says each corpus domain does to each field's feedback (empty: the
    /// agent knows no domain beforehand).
    pub prior: DomainPrior,
    /// Free-form training provenance (data, settings, losses, times).
    pub training: serde_json::Value,
}

impl AgentSchema {
    /// The schema of an untrained network of this shape over this build's features (with the
    /// history window [`HISTORY_WINDOW`]), with the identity normalisation, trained (nominally) on
    /// `general` → `math` over 20 domains: for tests and benchmarks, with weights from
    /// [`PolicyNet::random_tensors`].
    pub fn untrained(d_model: usize, n_heads: usize, d_ff: usize, n_layers: usize) -> Self {
        let names = feature_names(HISTORY_WINDOW);
        let f = names.len();
        let history_width = DEFAULT_HISTORY_WIDTH.div_ceil(n_heads) * n_heads;
        AgentSchema {
            format_version: ARTIFACT_VERSION,
            net: NetConfig {
                features: DOMAIN_FEATURES.len() + GLOBAL_FEATURES.len(),
                history: HISTORY_WINDOW,
                history_features: HISTORY_FEATURES.len(),
                history_width,
                d_model,
                n_heads,
                d_ff,
                n_layers,
            },
            features: FeatureSpec {
                names,
                mean: vec![0.0; f],
                std: vec![1.0; f],
                clip: FEATURE_CLIP,
            },
            floor: 0.02,
            space: SpaceRequirements {
                trained_domains: 20,
                trained_source_field: "general".into(),
                trained_target_fields: vec!["math".into()],
                needs_source_and_target: true,
            },
            reward: RewardConfig::default(),
            critics: 0,
            decision: DecisionConfig::default(),
            prior: DomainPrior::default(),
            training: serde_json::Value::Null,
        }
    }
}

/// A loaded policy: network, critics, normalisation and floor.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The schema it was loaded with.
    pub schema: AgentSchema,
    net: PolicyNet,
    critics: Vec<CriticNet>,
}

/// Prefix of critic `j`'s tensors in the artifact.
pub fn critic_prefix(j: usize) -> String {
    format!("critic.{j}.")
}

#[derive(Deserialize)]
struct VersionOnly {
    format_version: u32,
}

impl Policy {
    /// Builds a policy from its schema and network tensors, checking the features against the
    /// ones this build computes.
    pub fn new(schema: AgentSchema, tensors: &NamedTensors) -> Result<Self, PolicyError> {
        let ours = feature_names(schema.net.history);
        if schema.features.names != ours {
            let shown = |v: &[String]| {
                let own = DOMAIN_FEATURES.len() + GLOBAL_FEATURES.len();
                let mut s = v.iter().take(own).cloned().collect::<Vec<_>>().join(", ");
                if v.len() > own {
                    s.push_str(&format!(", and {} history values", v.len() - own));
                }
                s
            };
            return Err(PolicyError::Artifact(format!(
                "it was trained on the features [{}], but this build of mixagent computes [{}]: retrain the agent with this version (`mixagent train-agent`)",
                shown(&schema.features.names),
                shown(&ours)
            )));
        }
        let f = ours.len();
        let own = DOMAIN_FEATURES.len() + GLOBAL_FEATURES.len();
        let history_ok =
            schema.net.history == 0 || schema.net.history_features == HISTORY_FEATURES.len();
        if schema.net.features != own
            || !history_ok
            || schema.net.input_width() != f
            || schema.features.mean.len() != f
            || schema.features.std.len() != f
        {
            return Err(PolicyError::Artifact(format!(
                "{f} features, but the network takes {} and the normalisation has {} means and {} deviations",
                schema.net.input_width(),
                schema.features.mean.len(),
                schema.features.std.len()
            )));
        }
        if schema.features.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
            || schema.features.mean.iter().any(|m| !m.is_finite())
            || !(schema.features.clip.is_finite() && schema.features.clip > 0.0)
        {
            return Err(PolicyError::Artifact(
                "normalisation statistics must be finite, deviations and the clip > 0".into(),
            ));
        }
        if !(0.0..1.0).contains(&schema.floor) {
            return Err(PolicyError::Artifact(format!("floor {} must be in [0, 1)", schema.floor)));
        }
        for (name, (_, v)) in tensors {
            if v.iter().any(|x| !x.is_finite()) {
                return Err(PolicyError::Artifact(format!(
                    "tensor `{name}` holds NaN or infinite values"
                )));
            }
        }
        schema.decision.validate()?;
        schema.prior.validate().map_err(PolicyError::Artifact)?;
        if schema.decision.candidates > 0 && schema.critics == 0 {
            return Err(PolicyError::Artifact(format!(
                "decision.candidates = {} needs critics, but this artifact has none: set decision.candidates = 0, or retrain with critics saved",
                schema.decision.candidates
            )));
        }
        let net = PolicyNet::from_tensors(schema.net.clone(), tensors)?;
        let critics = (0..schema.critics)
            .map(|j| CriticNet::from_tensors(schema.net.clone(), tensors, &critic_prefix(j)))
            .collect::<Result<_, _>>()?;
        Ok(Policy { schema, net, critics })
    }

    /// Writes the artifact folder `dir` atomically: both files go into a temporary sibling
    /// folder, which replaces `dir` by renames, so a reader sees the old artifact or the new
    /// one, never a mix or a half-written file. The schema and tensors are checked first (as
    /// `load` would), and the loaded policy is returned.
    pub fn save(
        dir: &Path,
        schema: AgentSchema,
        tensors: &NamedTensors,
    ) -> Result<Policy, PolicyError> {
        let policy = Policy::new(schema, tensors)?;
        let io = |p: &Path, e: std::io::Error| {
            PolicyError::Artifact(format!("{}: {e} (is the folder writable?)", p.display()))
        };
        let name = dir
            .file_name()
            .ok_or_else(|| PolicyError::Artifact(format!("{}: not a folder name", dir.display())))?
            .to_string_lossy()
            .to_string();
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| io(&parent, e))?;
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir(&tmp).map_err(|e| io(&tmp, e))?;
        let json = serde_json::to_vec_pretty(&policy.schema).expect("schema serialises");
        let st = write_f32_tensors(tensors)?;
        for (file, bytes) in [("agent.json", json.as_slice()), ("policy.safetensors", &st)] {
            let path = tmp.join(file);
            let mut f = std::fs::File::create(&path).map_err(|e| io(&path, e))?;
            std::io::Write::write_all(&mut f, bytes).map_err(|e| io(&path, e))?;
            f.sync_all().map_err(|e| io(&path, e))?;
        }
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        let replaced = dir.exists();
        if replaced {
            std::fs::rename(dir, &old).map_err(|e| io(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| io(dir, e))?;
        if replaced {
            let _ = std::fs::remove_dir_all(&old);
        }
        std::fs::File::open(&parent).and_then(|f| f.sync_all()).map_err(|e| io(&parent, e))?;
        Ok(policy)
    }

    /// Loads an artifact folder.
    pub fn load(dir: &Path) -> Result<Self, PolicyError> {
        let at = |p: PathBuf, m: String| PolicyError::Artifact(format!("{}: {m}", p.display()));
        let json = dir.join("agent.json");
        let text = std::fs::read_to_string(&json).map_err(|e| {
            at(json.clone(), format!("{e} (is this an agent folder from `mixagent train-agent`?)"))
        })?;
        let v: VersionOnly = serde_json::from_str(&text)
            .map_err(|e| at(json.clone(), format!("{e}: not an agent schema, or truncated")))?;
        if v.format_version != ARTIFACT_VERSION {
            return Err(at(
                json,
                format!(
                    "format version {}, expected {ARTIFACT_VERSION}: this agent was trained by another mixagent (version 1 agents read features that froze them on new spaces; version 2 ones have no credit features; version 3 ones have no history window; version 4 ones read a credit that on most trajectories was each entry's own weight; version 5 ones have no per-domain prior); retrain it with `mixagent train-agent`, or use the mixagent that trained it",
                    v.format_version
                ),
            ));
        }
        let schema: AgentSchema =
            serde_json::from_str(&text).map_err(|e| at(json.clone(), e.to_string()))?;
        let st = dir.join("policy.safetensors");
        let bytes = std::fs::read(&st).map_err(|e| at(st.clone(), e.to_string()))?;
        let tensors = read_f32_tensors(&bytes).map_err(|e| match e {
            PolicyError::Artifact(m) => at(st.clone(), m),
            other => other,
        })?;
        Policy::new(schema, &tensors).map_err(|e| at(dir.to_path_buf(), e.to_string()))
    }

    /// The state after `history`, as this policy reads it (its window and its prior), not
    /// normalised.
    pub fn encode(&self, history: &History<'_>) -> crate::StateTokens {
        encode_with_prior(history, self.schema.net.history, &self.schema.prior)
    }

    /// Normalises encoded state tokens in place.
    pub fn normalise(&self, values: &mut [f32]) {
        self.schema.features.normalise(values);
    }

    /// The next stage's mixture (the policy's mean action) after `history`.
    pub fn decide(&self, history: &History<'_>) -> Result<Vec<f64>, PolicyError> {
        Ok(self.decide_checked(history)?.weights)
    }

    /// The next stage's mixture, with the features of this state that fell outside the
    /// training range (a caller should warn: the agent is extrapolating).
    pub fn decide_checked(&self, history: &History<'_>) -> Result<Decision, PolicyError> {
        let is_target = history.is_target();
        if !is_target.iter().any(|&t| t) {
            return Err(PolicyError::Input(
                "the space has only source-field domains: the agent steers a source and at least one target field".into(),
            ));
        }
        let mut state = self.encode(history);
        let outside = self.schema.features.normalise_checked(&mut state.values);
        let out = self.net.forward(&state.values, state.tokens, &is_target)?;
        let d = &self.schema.decision;
        let last = history.stages.last().map(|s| s.mixture.weights());
        // Exploration (within fields), then the trust region: every candidate is scored as it
        // would run, and the result stays within the region. One draw per decision, keyed by
        // the history it decides after (the stage and the last observation), so replays and
        // resumes decide alike while runs that observed differently explore differently.
        let explore_seed = {
            let seen = history.stages.last().map_or(history.initial, |s| &s.observation);
            let key = seen.feedback.values().fold(history.stages.len() as u64, |k, v| {
                mixagent_core::seed::mix64(k ^ v.to_bits())
            });
            mixagent_core::seed::derive(d.seed, "explore", key)
        };
        let evidence = if d.tilt != 0.0 || !d.prior_tilts.is_empty() {
            self.own_field_evidence(history)
        } else {
            Vec::new()
        };
        let prepare = |w: Vec<f64>| {
            let w = if d.tilt != 0.0 {
                tilt_within(&w, history.domains, &evidence, d.tilt, self.schema.floor)
            } else {
                w
            };
            let w = if d.explore > 0.0 {
                let mut normal = Normal::new(explore_seed);
                explore_within(w, history.domains, d.explore, self.schema.floor, &mut normal)
            } else {
                w
            };
            let w = match last {
                Some(last) => share_step(
                    trust_region(w, last, d.trust_region),
                    last,
                    &is_target,
                    d.share_step,
                ),
                None => w,
            };
            share_band(w, &is_target, d.share_band, self.schema.floor)
        };
        let raw_mean =
            mixture_from_logits(&out.mean, out.share_mean, &is_target, self.schema.floor);
        let mean = prepare(raw_mean.clone());
        if d.candidates == 0 || self.critics.is_empty() {
            return Ok(Decision { weights: mean, outside, scored: None });
        }
        let seed = mixagent_core::seed::derive(d.seed, "decision", history.stages.len() as u64);
        let mut candidates = vec![mean];
        let mut normal = Normal::new(seed);
        for _ in 1..d.candidates {
            let w = sample(&out, &mut normal, &is_target, self.schema.floor);
            candidates.push(prepare(w));
        }
        for &kappa in &d.prior_tilts {
            let w = tilt_within(&raw_mean, history.domains, &evidence, kappa, self.schema.floor);
            candidates.push(prepare(w));
        }
        let [lo, hi] = d.share_band;
        for i in 0..d.share_grid {
            let share = lo + (hi - lo) * i as f64 / (d.share_grid - 1) as f64;
            let w = share_band(raw_mean.clone(), &is_target, [share, share], self.schema.floor);
            candidates.push(prepare(w));
        }
        let values: Vec<f64> = self
            .values_of_state(&state, &candidates)?
            .iter()
            .map(|q| pessimistic(q, d.pessimism))
            .collect();
        // The first best: ties keep the policy's mean.
        let chosen =
            (1..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best });
        let scored = Scored {
            candidates: values.len(),
            chosen,
            value: values[chosen],
            mean_value: values[0],
        };
        Ok(Decision { weights: candidates.swap_remove(chosen), outside, scored: Some(scored) })
    }

    /// Each entry's prior evidence for its own field (the source field for a source entry, the
    /// mean over the target fields the prior knows for a target one; 0 where it knows none).
    pub fn own_field_evidence(&self, history: &History<'_>) -> Vec<f64> {
        let source = history.domains.first().map_or("", |d| d.field.as_str());
        let mut targets: Vec<&str> = Vec::new();
        for d in history.domains {
            if d.field != source && !targets.contains(&d.field.as_str()) {
                targets.push(&d.field);
            }
        }
        history
            .domains
            .iter()
            .map(|d| {
                let (s, t) = self.schema.prior.for_entry(&d.members, source, &targets);
                if d.field == source { s } else { t }.unwrap_or(0.0)
            })
            .collect()
    }

    /// Each critic's value of each of `candidates` (mixtures in space order) after `history`:
    /// one row per candidate, one value per critic (none without critics). What a scored
    /// decision weighs, open for inspection (`mixagent explain-agent`).
    pub fn critic_values(
        &self,
        history: &History<'_>,
        candidates: &[Vec<f64>],
    ) -> Result<Vec<Vec<f64>>, PolicyError> {
        let k = history.domains.len();
        if let Some(w) = candidates.iter().find(|w| w.len() != k) {
            return Err(PolicyError::Input(format!(
                "a candidate mixture has {} weights for a space of {k} entries",
                w.len()
            )));
        }
        let mut state = self.encode(history);
        self.schema.features.normalise(&mut state.values);
        self.values_of_state(&state, candidates)
    }

    /// The critics' values of `candidates` at a normalised state.
    fn values_of_state(
        &self,
        state: &crate::StateTokens,
        candidates: &[Vec<f64>],
    ) -> Result<Vec<Vec<f64>>, PolicyError> {
        let states = self
            .critics
            .iter()
            .map(|c| c.encode(&state.values, state.tokens))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(candidates
            .iter()
            .map(|w| {
                self.critics.iter().zip(&states).map(|(c, h)| f64::from(c.score(h, w))).collect()
            })
            .collect())
    }
}

/// `w` with its target-field mass set to `share`, each field's weights keeping their
/// proportions (a field with no mass gets equal weights). Used to read the critics' value
/// along the source/target split.
pub fn with_target_share(w: &[f64], is_target: &[bool], share: f64) -> Vec<f64> {
    // Per side (source, target): its mass, its entries and the mass it should get.
    let side = |t: bool| {
        let members = || w.iter().zip(is_target).filter(move |(_, &x)| x == t);
        let goal = if t { share } else { 1.0 - share };
        (members().map(|(v, _)| v).sum::<f64>(), members().count().max(1) as f64, goal)
    };
    let (source, target) = (side(false), side(true));
    w.iter()
        .zip(is_target)
        .map(|(&v, &t)| {
            let (mass, n, goal) = if t { target } else { source };
            if mass > 0.0 {
                goal * v / mass
            } else {
                goal / n
            }
        })
        .collect()
}

/// `mean − κ·sd` of the critics' values (population standard deviation).
pub fn pessimistic(q: &[f64], kappa: f64) -> f64 {
    let n = q.len() as f64;
    let mean = q.iter().sum::<f64>() / n;
    let var = q.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    mean - kappa * var.sqrt()
}

/// `w` moved toward `last` along the straight line until its L1 distance is at most `radius`
/// (a convex combination of two mixtures: still a mixture, still above the floor).
pub fn trust_region(w: Vec<f64>, last: &[f64], radius: f64) -> Vec<f64> {
    let dist: f64 = w.iter().zip(last).map(|(a, b)| (a - b).abs()).sum();
    if dist <= radius || w.len() != last.len() {
        return w;
    }
    toward(&w, last, radius / dist)
}

/// `last + t·(w − last)`.
fn toward(w: &[f64], last: &[f64], t: f64) -> Vec<f64> {
    w.iter().zip(last).map(|(a, b)| b + t * (a - b)).collect()
}

/// `w` moved toward `last` along the straight line until its target share (the mass where
/// `is_target`) is at most `step` from last's (a convex combination: still a mixture above
/// the floor; `DecisionConfig::share_step`).
pub fn share_step(w: Vec<f64>, last: &[f64], is_target: &[bool], step: f64) -> Vec<f64> {
    let share =
        |v: &[f64]| v.iter().zip(is_target).filter(|(_, &t)| t).map(|(x, _)| x).sum::<f64>();
    let moved = (share(&w) - share(last)).abs();
    if moved <= step || w.len() != last.len() {
        return w;
    }
    toward(&w, last, step / moved)
}

/// `w` with its target share (the mass where `is_target`) moved into `band` (a share inside
/// is kept): the mass above the floor (`floor / k` an entry, as the policy's mixtures keep it)
/// moves between the source and the target side, each side's entries keeping their
/// proportions above the floor (equal where a side has none above it). Still a mixture, still
/// at or above the floor, as far as the floor lets the share reach the bound
/// (`DecisionConfig::share_band`).
pub fn share_band(w: Vec<f64>, is_target: &[bool], band: [f64; 2], floor: f64) -> Vec<f64> {
    let share: f64 = w.iter().zip(is_target).filter(|(_, &t)| t).map(|(x, _)| x).sum();
    let goal = share.clamp(band[0], band[1]);
    if goal == share || w.len() != is_target.len() {
        return w;
    }
    let base = floor / w.len() as f64;
    // Per side: its entries and their mass above the floor.
    let side = |t: bool| {
        let members = w.iter().zip(is_target).filter(|(_, &x)| x == t);
        (members.clone().count(), members.map(|(v, _)| (v - base).max(0.0)).sum::<f64>())
    };
    let ((n_s, above_s), (n_t, above_t)) = (side(false), side(true));
    let free = above_s + above_t;
    let goal_t = (goal - base * n_t as f64).clamp(0.0, free);
    let goal_s = free - goal_t;
    let moved: Vec<f64> = w
        .iter()
        .zip(is_target)
        .map(|(&v, &t)| {
            let (n, above, want) = if t { (n_t, above_t, goal_t) } else { (n_s, above_s, goal_s) };
            if above > 0.0 {
                base + (v - base).max(0.0) * want / above
            } else {
                base + want / n as f64
            }
        })
        .collect();
    // An entry below the floor was raised to it: the total can exceed 1 by that much.
    let total: f64 = moved.iter().sum();
    moved.into_iter().map(|v| v / total).collect()
}

/// Standard normal draws (Box-Muller) from a seeded splitmix stream.
struct Normal(u64);

impl Normal {
    fn new(seed: u64) -> Self {
        Normal(seed)
    }

    fn uniform(&mut self) -> f64 {
        self.0 = mixagent_core::seed::mix64(self.0);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn next(&mut self) -> f32 {
        let (u1, u2) = (self.uniform(), self.uniform());
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}

/// The entries of each field, fields in order of first appearance.
fn field_members(domains: &[crate::DomainInfo]) -> Vec<Vec<usize>> {
    let mut fields: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, d) in domains.iter().enumerate() {
        match fields.iter_mut().find(|(f, _)| *f == d.field) {
            Some((_, members)) => members.push(i),
            None => fields.push((&d.field, vec![i])),
        }
    }
    fields.into_iter().map(|(_, m)| m).collect()
}

/// `w` with each field's split moved by `exp(σ·z)` per entry ([`jitter_within_fields`];
/// `DecisionConfig::explore`).
fn explore_within(
    w: Vec<f64>,
    domains: &[crate::DomainInfo],
    sigma: f64,
    floor: f64,
    normal: &mut Normal,
) -> Vec<f64> {
    let fields = field_members(domains);
    mixagent_core::jitter_within_fields(&w, &fields, sigma, floor, || f64::from(normal.next()))
}

/// `w` with each entry's share of its field above the floor multiplied by `exp(κ·e_i)`, each
/// field keeping its total (so the target share is kept): a prior tilt
/// (`DecisionConfig::tilt`, `DecisionConfig::prior_tilts`).
pub fn tilt_within(
    w: &[f64],
    domains: &[crate::DomainInfo],
    evidence: &[f64],
    kappa: f64,
    floor: f64,
) -> Vec<f64> {
    mixagent_core::tilt_within_fields(w, &field_members(domains), kappa, floor, evidence)
}

/// A mixture drawn from the policy's Gaussian over (logits, share logit).
fn sample(out: &PolicyOutput, normal: &mut Normal, is_target: &[bool], floor: f64) -> Vec<f64> {
    let z: Vec<f32> =
        out.mean.iter().zip(&out.log_std).map(|(m, s)| m + s.exp() * normal.next()).collect();
    let u = out.share_mean + out.share_log_std.exp() * normal.next();
    mixture_from_logits(&z, u, is_target, floor)
}

/// Reads every tensor of a safetensors buffer as f32 (name → (shape, values)).
pub fn read_f32_tensors(bytes: &[u8]) -> Result<NamedTensors, PolicyError> {
    let bad = |m: String| PolicyError::Artifact(m);
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("{e:?}: corrupt or truncated safetensors file")))?;
    let mut out = NamedTensors::new();
    for (name, view) in st.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(bad(format!("tensor `{name}` is {:?}, expected F32", view.dtype())));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(name, (view.shape().to_vec(), values));
    }
    Ok(out)
}

/// Serialises f32 tensors into a safetensors buffer.
pub fn write_f32_tensors(tensors: &NamedTensors) -> Result<Vec<u8>, PolicyError> {
    let bad = |e: safetensors::SafeTensorError| PolicyError::Artifact(format!("{e:?}"));
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, (s, v))| (n.clone(), s.clone(), v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views = bytes
        .iter()
        .map(|(n, s, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(bad)
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::tensor::serialize(views, &None).map_err(bad)
}
