//! Transitions from collected trajectories. Trajectory `i` with stages `0..T` gives T
//! transitions: the state before stage `t` (encoded by `mixagent_policy::encode`, the same
//! function the deployed policy uses), the mixture of stage `t`, the reward of stage `t`
//! (`RewardConfig`), the state after it, and whether it was the last stage.

use mixagent_policy::{encode, DomainInfo, FeatureSpec, History, RewardConfig, StageView};
use mixagent_shard::Manifest;
use mixagent_trajectory::Trajectory;

use crate::AgentError;

/// Transitions of a trajectory set over one space, as flat row-major arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Domains (tokens) per state.
    pub k: usize,
    /// Features per token.
    pub width: usize,
    /// States before each transition's stage, `(N, K, F)`, not normalised.
    pub states: Vec<f32>,
    /// States after it, `(N, K, F)`.
    pub next_states: Vec<f32>,
    /// The stage's mixture, `(N, K)`.
    pub actions: Vec<f32>,
    /// Rewards, `(N)`.
    pub rewards: Vec<f32>,
    /// 1 for a trajectory's last stage, `(N)`.
    pub dones: Vec<f32>,
    /// Index (into the set) of each transition's trajectory, `(N)`.
    pub trajectory: Vec<usize>,
    /// Final balanced score of each trajectory of the set.
    pub final_scores: Vec<f64>,
}

/// The agent's view of a trajectory's space: shares of field tokens from the corpus manifest,
/// and which corpus domains stand for each entry's loss.
pub fn domain_infos(t: &Trajectory, manifest: &Manifest) -> Result<Vec<DomainInfo>, AgentError> {
    let members = mixagent_trajectory::entry_members(&t.space, manifest)
        .map_err(|m| AgentError::Data(format!("{}: {m}", t.id)))?;
    Ok(t.space
        .iter()
        .zip(members)
        .map(|(e, (share_in_field, loss_domains))| DomainInfo {
            name: e.name.clone(),
            field: e.field.clone(),
            share_in_field,
            loss_domains,
        })
        .collect())
}

impl Dataset {
    /// Builds the transitions of `set` (finished trajectories over one space).
    pub fn build(
        set: &[Trajectory],
        manifest: &Manifest,
        reward: &RewardConfig,
    ) -> Result<Self, AgentError> {
        let first = set.first().ok_or_else(|| AgentError::Data("no trajectories".into()))?;
        let domains = domain_infos(first, manifest)?;
        let fields = first.fields();
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let k = domains.len();
        let mut d = Dataset {
            k,
            width: 0,
            states: Vec::new(),
            next_states: Vec::new(),
            actions: Vec::new(),
            rewards: Vec::new(),
            dones: Vec::new(),
            trajectory: Vec::new(),
            final_scores: Vec::new(),
        };
        for (i, t) in set.iter().enumerate() {
            if t.space != first.space {
                return Err(AgentError::Data(format!(
                    "{} mixes over another space than {}: train on one space at a time",
                    t.id, first.id
                )));
            }
            if !t.is_complete() {
                return Err(AgentError::Data(format!("{} is not finished", t.id)));
            }
            let views: Vec<StageView> = t
                .stages
                .iter()
                .map(|r| StageView { weights: &r.weights, observation: &r.observation })
                .collect();
            let total = t.config.stages;
            let state_at = |n: usize| {
                encode(&History {
                    domains: &domains,
                    initial: &t.initial,
                    stages: &views[..n],
                    total_stages: total,
                })
            };
            let mut prev = state_at(0);
            for (n, row) in t.stages.iter().enumerate() {
                let next = state_at(n + 1);
                let before = if n == 0 { &t.initial } else { &t.stages[n - 1].observation };
                let r =
                    reward.reward(&t.initial, before, &row.observation, &refs).map_err(|f| {
                        AgentError::Data(format!("{}: no feedback for field `{f}`", t.id))
                    })?;
                d.width = prev.width;
                d.states.extend_from_slice(&prev.values);
                d.next_states.extend_from_slice(&next.values);
                d.actions.extend(row.weights.iter().map(|&w| w as f32));
                d.rewards.push(r as f32);
                d.dones.push(f32::from(u8::from(n + 1 == t.stages.len())));
                d.trajectory.push(i);
                prev = next;
            }
            let last = &t.stages.last().expect("finished").observation;
            d.final_scores.push(
                mixagent_core::balanced_score(last, &t.initial, &refs).map_err(|f| {
                    AgentError::Data(format!("{}: no feedback for field `{f}`", t.id))
                })?,
            );
        }
        Ok(d)
    }

    /// Transitions.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    /// Per-feature mean and standard deviation over every token of every state (a floor of
    /// 1e-3 on the deviation keeps constant features finite).
    pub fn normalisation(&self, names: Vec<String>) -> FeatureSpec {
        let f = self.width;
        let n = (self.states.len() / f.max(1)).max(1) as f64;
        let mut mean = vec![0f64; f];
        for (i, &x) in self.states.iter().enumerate() {
            mean[i % f] += f64::from(x);
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0f64; f];
        for (i, &x) in self.states.iter().enumerate() {
            var[i % f] += (f64::from(x) - mean[i % f]).powi(2);
        }
        FeatureSpec {
            names,
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: var.iter().map(|&v| ((v / n).sqrt().max(1e-3)) as f32).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use mixagent_core::Observation;
    use mixagent_shard::synthetic::{write_synthetic_corpus, SyntheticDomain};
    use mixagent_trajectory::{
        BaseInfo, CollectConfig, Family, SpaceEntry, StageRow, TRAJECTORY_VERSION,
    };

    use super::*;

    fn obs(g: f64, m: f64) -> Observation {
        Observation {
            feedback: [("general".into(), g), ("math".into(), m)].into(),
            domain_loss: [("a".into(), 3.0), ("b".into(), 4.0), ("c".into(), 5.0)].into(),
        }
    }

    fn trajectory(id: &str, feedback: &[(f64, f64)]) -> Trajectory {
        let cfg =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/collect-smoke.toml");
        let stages = feedback.len().to_string();
        let config = CollectConfig::load(&cfg, &[format!("stages={stages}")]).unwrap();
        Trajectory {
            format_version: TRAJECTORY_VERSION,
            id: id.into(),
            index: 0,
            seed: 0,
            family: Family::Constant { target_share: 0.5 },
            concentration: 1.0,
            space: ["a:general", "b:general", "c:math"]
                .iter()
                .map(|s| {
                    let (n, f) = s.split_once(':').unwrap();
                    SpaceEntry { name: n.into(), field: f.into() }
                })
                .collect(),
            space_fingerprint: "x".into(),
            base: BaseInfo { checkpoint: "b".into(), fingerprint: "0".repeat(16), params: 1 },
            suites: BTreeMap::new(),
            config,
            initial: obs(-4.0, -8.0),
            stages: feedback
                .iter()
                .enumerate()
                .map(|(i, &(g, m))| StageRow {
                    stage: i,
                    weights: vec![0.25, 0.25, 0.5],
                    tokens: 10,
                    tokens_by_domain: BTreeMap::new(),
                    train_loss: 1.0,
                    observation: obs(g, m),
                    train_secs: 0.0,
                    eval_secs: 0.0,
                })
                .collect(),
        }
    }

    fn manifest(dir: &Path) -> Manifest {
        let d =
            |n: &str, f: &str, tokens| SyntheticDomain { name: n.into(), field: f.into(), tokens };
        write_synthetic_corpus(
            dir,
            &[d("a", "general", 3000), d("b", "general", 1000), d("c", "math", 2000)],
            64,
        )
        .unwrap()
    }

    #[test]
    fn transitions_carry_the_rewards_and_the_policys_own_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path());
        let set = [
            trajectory("t-00000", &[(-4.4, -6.0), (-4.8, -4.0)]),
            trajectory("t-00001", &[(-4.0, -7.2)]),
        ];
        let d = Dataset::build(&set, &m, &RewardConfig::default()).unwrap();
        assert_eq!((d.len(), d.k), (3, 3));
        // Stage 0 of t-00000: S 0 → (−0.1 + 0.25)/2; stage 1: → (−0.2 + 0.5)/2.
        let expect = [0.075, 0.15 - 0.075, 0.05];
        for (r, e) in d.rewards.iter().zip(expect) {
            assert!((f64::from(*r) - e).abs() < 1e-6, "{r} vs {e}");
        }
        assert_eq!(d.dones, [0.0, 1.0, 1.0]);
        assert_eq!(d.trajectory, [0, 0, 1]);
        assert!((d.final_scores[0] - 0.15).abs() < 1e-12);
        // share_in_field of `a` = 3000 / (3000 + 1000) (EOS tokens are counted by the corpus).
        let share = d.states[1];
        assert!((f64::from(share) - 0.75).abs() < 0.01, "{share}");
        // The next state of a transition is the state of the following one.
        let row = d.k * d.width;
        assert_eq!(d.next_states[..row], d.states[row..2 * row]);
        let spec = d.normalisation(vec!["x".into(); d.width]);
        assert_eq!(spec.mean.len(), d.width);
        assert!(spec.std.iter().all(|&s| s >= 1e-3));
    }

    #[test]
    fn mixed_spaces_and_unknown_domains_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(dir.path());
        let mut other = trajectory("t-00001", &[(-4.0, -7.0)]);
        other.space[0].name = "z".into();
        let e = Dataset::build(
            &[trajectory("t-00000", &[(-4.0, -7.0)]), other.clone()],
            &m,
            &RewardConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("t-00001") && e.contains("another space"), "{e}");
        let e = Dataset::build(&[other], &m, &RewardConfig::default()).unwrap_err().to_string();
        assert!(e.contains("`z`") && e.contains("not in the corpus"), "{e}");
    }
}
