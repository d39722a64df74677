//! Policies by name, as `--policy` takes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mixagent_core::{CoreError, MixingPolicy};

use crate::mixmin::MixMinResult;
use crate::{
    AgentPolicy, Dbl, DoReMi, FixedRatio, Odm, OnlineReg, Reference, RegMix, RegMixSample,
    Scheduled, Uniform,
};

/// The accepted specs, for help texts and errors.
pub const POLICY_SPECS: &str = "uniform, fixed:<source share> (e.g. fixed:0.7), target-only, \
     regmix:<collection folder>[,candidates=N,top_k=N], dbl[:eta=X,target_gain=X], \
     doremi[:eta=X,smoothing=X,target_gain=X], odm[:smoothing=X], \
     online-reg[:eta=X,explore=X,ridge=X], mixmin:<mixmin folder>, agent:<artifact folder>, \
     oracle:<headroom folder>, \
     static:<DOMAIN=W,...>, schedule:<file.json>";

/// Reference losses of DBL and DoReMi when none are given: the base model's own losses for
/// source entries, 20% below them for target entries.
pub const DEFAULT_REFERENCE: Reference = Reference::FromBase { target_gain: 0.2 };

/// A policy and its parameters, as `--policy` and compare configs write it: `NAME`,
/// `NAME:ARG` or `NAME:key=value,...` (README "Policies"). Parameters left out keep the
/// published defaults, so `dbl` is `dbl:eta=1,target_gain=0.2`.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicySpec {
    /// Equal weight per entry.
    Uniform,
    /// The source field's share; the target fields get the rest.
    Fixed {
        /// In [0, 1]; `target-only` is 0.
        source_share: f64,
    },
    /// RegMix over a collection's proxy runs.
    RegMix {
        /// The collection folder (or its `trajectories` folder).
        collection: PathBuf,
        /// Candidate mixtures drawn in the search (100,000).
        candidates: usize,
        /// Best candidates averaged into the answer (100).
        top_k: usize,
    },
    /// Dynamic batch loading.
    Dbl {
        /// Step size (Sheared LLaMA: 1).
        eta: f64,
        /// Relative loss reduction aimed at on target entries (0.2).
        target_gain: f64,
    },
    /// DoReMi.
    DoReMi {
        /// Step size (the paper: 1).
        eta: f64,
        /// Smoothing toward uniform (the paper: 1e-3).
        smoothing: f64,
        /// Relative loss reduction aimed at on target entries (0.2).
        target_gain: f64,
    },
    /// Online data mixing.
    Odm {
        /// Reward smoothing α (the paper: 0.9).
        smoothing: f64,
    },
    /// The online regression mixer.
    OnlineReg {
        /// Trust region: the largest log-factor a weight moves by per stage (0.5).
        eta: f64,
        /// Share of each mixture drawn at random (0.2).
        explore: f64,
        /// Ridge penalty on the mixture coefficients (1.0).
        ridge: f64,
    },
    /// MixMin's solved mixture (`mixagent mixmin`'s output).
    MixMin {
        /// The folder `mixagent mixmin` wrote (or its `mixmin.json`).
        dir: PathBuf,
    },
    /// The oracle reference (helpful domains only, from a headroom report; not ranked).
    Oracle {
        /// The headroom output folder (or its `headroom.json`).
        headroom: PathBuf,
    },
    /// A trained agent artifact.
    Agent {
        /// The artifact folder.
        artifact: PathBuf,
    },
    /// One static mixture, `DOMAIN=W,...`.
    Static {
        /// The weights as written.
        weights: String,
    },
    /// A fixed schedule from a file.
    Schedule {
        /// The schedule file.
        file: PathBuf,
    },
}

impl std::str::FromStr for PolicySpec {
    type Err = CoreError;

    fn from_str(spec: &str) -> Result<Self, CoreError> {
        let bad = |message: String| CoreError::Policy { policy: spec.into(), message };
        let (name, arg) = spec.split_once(':').map_or((spec, None), |(n, a)| (n, Some(a)));
        let reference = DEFAULT_REFERENCE_GAIN;
        Ok(match (name, arg) {
            ("uniform", None) => PolicySpec::Uniform,
            ("target-only", None) => PolicySpec::Fixed { source_share: 0.0 },
            ("fixed", Some(a)) => {
                let source_share = a.parse().map_err(|_| {
                    bad(format!("`{a}` is not a number: give the source share, e.g. fixed:0.7"))
                })?;
                PolicySpec::Fixed { source_share }
            }
            ("dbl", arg) => {
                let mut p = Params::parse(spec, arg, &["eta", "target_gain"])?;
                PolicySpec::Dbl {
                    eta: p.positive("eta", 1.0)?,
                    target_gain: p.fraction("target_gain", reference)?,
                }
            }
            ("doremi", arg) => {
                let mut p = Params::parse(spec, arg, &["eta", "smoothing", "target_gain"])?;
                PolicySpec::DoReMi {
                    eta: p.positive("eta", 1.0)?,
                    smoothing: p.fraction("smoothing", 1e-3)?,
                    target_gain: p.fraction("target_gain", reference)?,
                }
            }
            ("odm", arg) => {
                let mut p = Params::parse(spec, arg, &["smoothing"])?;
                PolicySpec::Odm { smoothing: p.fraction("smoothing", 0.9)? }
            }
            ("online-reg", arg) => {
                let mut p = Params::parse(spec, arg, &["eta", "explore", "ridge"])?;
                let explore = p.fraction("explore", 0.2)?;
                // Without exploration a run that starts uniform never leaves it.
                let explore = p.check("explore", explore, explore > 0.0, "in (0, 1)")?;
                PolicySpec::OnlineReg {
                    eta: p.positive("eta", 0.5)?,
                    explore,
                    ridge: p.positive("ridge", 1.0)?,
                }
            }
            ("regmix", Some(a)) => {
                let (dir, rest) = a.split_once(',').map_or((a, None), |(d, r)| (d, Some(r)));
                let mut p = Params::parse(spec, rest, &["candidates", "top_k"])?;
                let candidates = p.count("candidates", 100_000)?;
                let top_k = p.count("top_k", 100)?;
                if top_k > candidates {
                    return Err(bad(format!(
                        "top_k = {top_k} is more than candidates = {candidates}"
                    )));
                }
                PolicySpec::RegMix { collection: dir.into(), candidates, top_k }
            }
            ("mixmin", Some(dir)) => PolicySpec::MixMin { dir: dir.into() },
            ("oracle", Some(dir)) => PolicySpec::Oracle { headroom: dir.into() },
            ("agent", Some(dir)) => PolicySpec::Agent { artifact: dir.into() },
            ("static", Some(weights)) => PolicySpec::Static { weights: weights.into() },
            ("schedule", Some(file)) => PolicySpec::Schedule { file: file.into() },
            _ => return Err(bad(format!("unknown policy; use one of: {POLICY_SPECS}"))),
        })
    }
}

/// The default reference's target gain, as a number for the parameter parser.
const DEFAULT_REFERENCE_GAIN: f64 = match DEFAULT_REFERENCE {
    Reference::FromBase { target_gain } => target_gain,
    Reference::Given(_) => unreachable!(),
};

/// `key=value,...` parameters of one spec; each read at most once, unknown keys refused.
struct Params<'a> {
    spec: &'a str,
    values: BTreeMap<&'a str, &'a str>,
}

impl<'a> Params<'a> {
    fn parse(spec: &'a str, arg: Option<&'a str>, allowed: &[&str]) -> Result<Self, CoreError> {
        let bad = |message: String| CoreError::Policy { policy: spec.into(), message };
        let mut values = BTreeMap::new();
        for item in arg.unwrap_or_default().split(',').filter(|s| !s.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| bad(format!("`{item}`: parameters are key=value")))?;
            if !allowed.contains(&k) {
                return Err(bad(format!(
                    "unknown parameter `{k}`; this policy takes: {}",
                    allowed.join(", ")
                )));
            }
            if values.insert(k, v).is_some() {
                return Err(bad(format!("parameter `{k}` given twice")));
            }
        }
        Ok(Params { spec, values })
    }

    fn number<T: std::str::FromStr>(&mut self, key: &str, default: T) -> Result<T, CoreError> {
        match self.values.remove(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| CoreError::Policy {
                policy: self.spec.into(),
                message: format!("{key} = `{v}` is not a number"),
            }),
        }
    }

    fn check<T: std::fmt::Display>(
        &self,
        key: &str,
        v: T,
        ok: bool,
        want: &str,
    ) -> Result<T, CoreError> {
        if ok {
            Ok(v)
        } else {
            Err(CoreError::Policy {
                policy: self.spec.into(),
                message: format!("{key} = {v}: must be {want}"),
            })
        }
    }

    fn positive(&mut self, key: &str, default: f64) -> Result<f64, CoreError> {
        let v = self.number(key, default)?;
        self.check(key, v, v > 0.0 && v.is_finite(), "positive and finite")
    }

    fn fraction(&mut self, key: &str, default: f64) -> Result<f64, CoreError> {
        let v = self.number(key, default)?;
        self.check(key, v, (0.0..1.0).contains(&v), "in [0, 1)")
    }

    fn count(&mut self, key: &str, default: usize) -> Result<usize, CoreError> {
        let v = self.number(key, default)?;
        self.check(key, v, v >= 1, "at least 1")
    }
}

impl PolicySpec {
    /// Whether the built policy reads the run's feedback (its per-stage observation): known
    /// from the spec, without reading any file. Equal to [`MixingPolicy::reads_feedback`] of
    /// what [`PolicySpec::build`] makes (a test checks every kind).
    pub fn reads_feedback(&self) -> bool {
        match self {
            PolicySpec::Uniform
            | PolicySpec::Fixed { .. }
            | PolicySpec::RegMix { .. }
            | PolicySpec::MixMin { .. }
            | PolicySpec::Oracle { .. }
            | PolicySpec::Static { .. }
            | PolicySpec::Schedule { .. } => false,
            PolicySpec::Dbl { .. }
            | PolicySpec::DoReMi { .. }
            | PolicySpec::Odm { .. }
            | PolicySpec::OnlineReg { .. }
            | PolicySpec::Agent { .. } => true,
        }
    }

    /// What [`MixingPolicy::identity`] of the built policy says, without building an agent:
    /// its identity is its files' hash, which a finished run's record is checked against even
    /// when this binary no longer loads the artifact's format.
    pub fn identity(&self, seed: u64) -> Result<String, CoreError> {
        match self {
            PolicySpec::Agent { artifact } => {
                Ok(format!("agent {}", crate::agent::fingerprint(artifact)?))
            }
            _ => Ok(self.build(seed)?.identity()),
        }
    }

    /// Builds the policy; `seed` seeds the policies that draw (RegMix's search, the online
    /// regression mixer's exploration). Reading its
    /// files (an agent artifact, a collection, a schedule) happens here.
    pub fn build(&self, seed: u64) -> Result<Box<dyn MixingPolicy>, CoreError> {
        let from_base = |target_gain| Reference::FromBase { target_gain };
        Ok(match self {
            PolicySpec::Uniform => Box::new(Uniform),
            PolicySpec::Fixed { source_share } if *source_share == 0.0 => {
                Box::new(FixedRatio::target_only())
            }
            PolicySpec::Fixed { source_share } => Box::new(FixedRatio::new(*source_share)?),
            PolicySpec::Dbl { eta, target_gain } => {
                Box::new(Dbl::new(from_base(*target_gain), *eta))
            }
            PolicySpec::DoReMi { eta, smoothing, target_gain } => {
                Box::new(DoReMi::new(from_base(*target_gain), *eta, *smoothing))
            }
            PolicySpec::Odm { smoothing } => Box::new(Odm::new(*smoothing)),
            PolicySpec::OnlineReg { eta, explore, ridge } => {
                Box::new(OnlineReg::new(*eta, *explore, *ridge, seed))
            }
            PolicySpec::RegMix { collection, candidates, top_k } => {
                let mut regmix = RegMix::new(regmix_samples(collection)?, seed);
                regmix.candidates = *candidates;
                regmix.top_k = *top_k;
                Box::new(regmix)
            }
            PolicySpec::MixMin { dir } => Box::new(MixMinResult::read(dir)?.policy()?),
            PolicySpec::Oracle { headroom } => Box::new(crate::oracle(headroom)?),
            PolicySpec::Agent { artifact } => Box::new(AgentPolicy::load(artifact)?),
            PolicySpec::Static { weights } => Box::new(Scheduled::parse_static(weights)?),
            PolicySpec::Schedule { file } => Box::new(Scheduled::load(file)?),
        })
    }
}

/// The proxy runs of a collection folder (or of its `trajectories` folder), as RegMix reads
/// them.
fn regmix_samples(dir: &Path) -> Result<Vec<RegMixSample>, CoreError> {
    let trajectories = mixagent_trajectory::read_collection(dir).map_err(|e| {
        CoreError::Policy { policy: format!("regmix:{}", dir.display()), message: e.to_string() }
    })?;
    trajectories.iter().map(RegMixSample::from_trajectory).collect()
}

/// Builds a policy from its spec (`uniform`, `fixed:0.9`, `dbl:eta=0.5`,
/// `regmix:runs/collect-demo`, `agent:runs/agent-demo`, …; see [`PolicySpec`]).
pub fn parse_policy(spec: &str, seed: u64) -> Result<Box<dyn MixingPolicy>, CoreError> {
    spec.parse::<PolicySpec>()?.build(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_feedback_is_known_from_the_spec() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("s.json");
        std::fs::write(&file, r#"{"name": "s", "stages": [{"g0": 1}]}"#).unwrap();
        let schedule = format!("schedule:{}", file.display());
        for spec in [
            "uniform",
            "fixed:0.5",
            "target-only",
            "dbl",
            "doremi",
            "odm",
            "online-reg",
            "static:g0=1",
            &schedule,
        ] {
            let parsed: PolicySpec = spec.parse().unwrap();
            let built = parsed.build(0).unwrap();
            assert_eq!(parsed.reads_feedback(), built.reads_feedback(), "{spec}");
        }
        // Those that need a collection, a MixMin result, a headroom report or an agent.
        for (spec, reads) in
            [("regmix:x", false), ("mixmin:x", false), ("oracle:x", false), ("agent:x", true)]
        {
            assert_eq!(spec.parse::<PolicySpec>().unwrap().reads_feedback(), reads, "{spec}");
        }
    }

    #[test]
    fn specs_parse_and_bad_ones_say_what_exists() {
        assert_eq!(parse_policy("fixed:0.9", 0).unwrap().name(), "fixed-0.9");
        assert_eq!(parse_policy("target-only", 0).unwrap().name(), "target-only");
        let e = parse_policy("regmx", 0).err().unwrap().to_string();
        assert!(e.contains("regmx") && e.contains("fixed:<source share>"), "{e}");
        let e = parse_policy("agent:/nowhere", 0).err().unwrap().to_string();
        assert!(e.contains("/nowhere") && e.contains("train-agent"), "{e}");
        let e = parse_policy("fixed:x", 0).err().unwrap().to_string();
        assert!(e.contains("not a number"), "{e}");
    }

    /// `compare` checks a finished run's record against its agent's identity; an artifact this
    /// binary no longer loads (an older format) still has one, so its finished runs re-table.
    #[test]
    fn an_agent_has_an_identity_even_where_its_format_does_not_load() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("agent.json"), r#"{"version": 5}"#).unwrap();
        std::fs::write(tmp.path().join("policy.safetensors"), b"weights").unwrap();
        let spec: PolicySpec = format!("agent:{}", tmp.path().display()).parse().unwrap();
        assert!(spec.build(0).is_err());
        let id = spec.identity(0).unwrap();
        std::fs::write(tmp.path().join("policy.safetensors"), b"other weights").unwrap();
        let other = spec.identity(0).unwrap();
        assert!(id.starts_with("agent ") && id != other, "{id} vs {other}");
        assert_eq!(
            PolicySpec::Uniform.identity(0).unwrap(),
            parse_policy("uniform", 0).unwrap().identity()
        );
        let e = "agent:/nowhere".parse::<PolicySpec>().unwrap().identity(0).unwrap_err();
        assert!(e.to_string().contains("/nowhere"), "{e}");
    }

    #[test]
    fn parameters_default_to_the_published_values_and_are_checked() {
        let dbl = PolicySpec::Dbl { eta: 1.0, target_gain: 0.2 };
        assert_eq!("dbl".parse::<PolicySpec>().unwrap(), dbl);
        assert_eq!(
            "doremi:smoothing=0.01,eta=0.5".parse::<PolicySpec>().unwrap(),
            PolicySpec::DoReMi { eta: 0.5, smoothing: 0.01, target_gain: 0.2 }
        );
        assert_eq!(
            "odm:smoothing=0.5".parse::<PolicySpec>().unwrap(),
            PolicySpec::Odm { smoothing: 0.5 }
        );
        assert_eq!(
            "regmix:runs/c,top_k=5,candidates=50".parse::<PolicySpec>().unwrap(),
            PolicySpec::RegMix { collection: "runs/c".into(), candidates: 50, top_k: 5 }
        );
        assert_eq!(
            "target-only".parse::<PolicySpec>().unwrap(),
            PolicySpec::Fixed { source_share: 0.0 }
        );
        for (spec, says) in [
            ("dbl:eat=1", "unknown parameter `eat`; this policy takes: eta, target_gain"),
            ("dbl:eta=-1", "eta = -1: must be positive"),
            ("dbl:eta=x", "eta = `x` is not a number"),
            ("dbl:eta", "`eta`: parameters are key=value"),
            ("odm:smoothing=1.5", "smoothing = 1.5: must be in [0, 1)"),
            ("online-reg:explore=0", "explore = 0: must be in (0, 1)"),
            ("doremi:eta=1,eta=2", "parameter `eta` given twice"),
            ("regmix:runs/c,top_k=10,candidates=5", "top_k = 10 is more than candidates = 5"),
            ("regmix:runs/c,candidates=0", "candidates = 0: must be at least 1"),
        ] {
            let e = spec.parse::<PolicySpec>().unwrap_err().to_string();
            assert!(e.contains(spec) && e.contains(says), "{spec}: {e}");
        }
    }
}
