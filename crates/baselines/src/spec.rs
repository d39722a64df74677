//! Policies by name, as `--policy` takes them.

use mixagent_core::{CoreError, MixingPolicy};

use crate::{AgentPolicy, FixedRatio, Uniform};

/// The accepted specs, for help texts and errors.
pub const POLICY_SPECS: &str =
    "uniform, fixed:<source share> (e.g. fixed:0.7), target-only, agent:<artifact folder>";

/// Builds a policy from its spec (`uniform`, `fixed:0.9`, `target-only`, `agent:runs/agent-demo`).
pub fn parse_policy(spec: &str) -> Result<Box<dyn MixingPolicy>, CoreError> {
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
        ("agent", Some(dir)) => Ok(Box::new(AgentPolicy::load(std::path::Path::new(dir))?)),
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_say_what_exists() {
        assert_eq!(parse_policy("fixed:0.9").unwrap().name(), "fixed-0.9");
        assert_eq!(parse_policy("target-only").unwrap().name(), "target-only");
        let e = parse_policy("regmx").err().unwrap().to_string();
        assert!(e.contains("regmx") && e.contains("fixed:<source share>"), "{e}");
        let e = parse_policy("agent:/nowhere").err().unwrap().to_string();
        assert!(e.contains("/nowhere") && e.contains("train-agent"), "{e}");
        let e = parse_policy("fixed:x").err().unwrap().to_string();
        assert!(e.contains("not a number"), "{e}");
    }
}
