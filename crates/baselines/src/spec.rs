//! Policies by name, as `--policy` takes them.

use mixagent_core::{CoreError, MixingPolicy};

use crate::{
    AgentPolicy, Dbl, DoReMi, FixedRatio, Odm, Reference, RegMix, RegMixSample, Scheduled, Uniform,
};

/// The accepted specs, for help texts and errors.
pub const POLICY_SPECS: &str = "uniform, fixed:<source share> (e.g. fixed:0.7), target-only, \
     regmix:<collection folder>, dbl, doremi, odm, agent:<artifact folder>, \
     static:<DOMAIN=W,...>, schedule:<file.json>";

/// Reference losses of DBL and DoReMi when none are given: the base model's own losses for
/// source entries, 20% below them for target entries.
pub const DEFAULT_REFERENCE: Reference = Reference::FromBase { target_gain: 0.2 };

/// Builds a policy from its spec (`uniform`, `fixed:0.9`, `target-only`, `regmix:runs/collect-demo`,
/// `dbl`, `doremi`, `odm`, `agent:runs/agent-demo`); `seed` seeds the policies that draw.
pub fn parse_policy(spec: &str, seed: u64) -> Result<Box<dyn MixingPolicy>, CoreError> {
    let unknown = || CoreError::Policy {
        policy: spec.into(),
        message: format!("unknown policy; use one of: {POLICY_SPECS}"),
    };
    let (name, arg) = spec.split_once(':').map_or((spec, None), |(n, a)| (n, Some(a)));
    match (name, arg) {
        ("uniform", None) => Ok(Box::new(Uniform)),
        ("target-only", None) => Ok(Box::new(FixedRatio::target_only())),
        ("fixed", Some(a)) => {
            let share: f64 = a.parse().map_err(|_| CoreError::Policy {
                policy: spec.into(),
                message: format!("`{a}` is not a number: give the source share, e.g. fixed:0.7"),
            })?;
            Ok(Box::new(FixedRatio::new(share)?))
        }
        ("dbl", None) => Ok(Box::new(Dbl::new(DEFAULT_REFERENCE, 1.0))),
        ("doremi", None) => Ok(Box::new(DoReMi::new(DEFAULT_REFERENCE, 1.0, 1e-3))),
        ("odm", None) => Ok(Box::new(Odm::new(0.9))),
        ("regmix", Some(dir)) => {
            let dir = std::path::Path::new(dir);
            let store = if dir.join("trajectories").is_dir() {
                dir.join("trajectories")
            } else {
                dir.to_path_buf()
            };
            let files = mixagent_trajectory::list_trajectories(&store)
                .map_err(|e| CoreError::Policy { policy: spec.into(), message: e.to_string() })?;
            let samples = files
                .iter()
                .map(|f| {
                    let t = mixagent_trajectory::Trajectory::read(f).map_err(|e| {
                        CoreError::Policy { policy: spec.into(), message: e.to_string() }
                    })?;
                    RegMixSample::from_trajectory(&t)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Box::new(RegMix::new(samples, seed)))
        }
        ("agent", Some(dir)) => Ok(Box::new(AgentPolicy::load(std::path::Path::new(dir))?)),
        ("static", Some(weights)) => Ok(Box::new(Scheduled::parse_static(weights)?)),
        ("schedule", Some(file)) => Ok(Box::new(Scheduled::load(std::path::Path::new(file))?)),
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
