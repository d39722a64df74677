//! Fixed schedules named by entry: `static:NAME=W,NAME=W,…` (one mixture, every stage) and
//! `schedule:FILE` (a JSON list of per-stage mixtures, the last one repeated). They read no
//! feedback; they are the instruments of `mixagent headroom` (single-domain ablations, random
//! static mixtures, ramps, replay and anneal schedules) and a way to run a hand-made mixture.
//!
//! Entries not named get weight 0; weights are normalised per stage. A name the space does not
//! have, a negative or non-finite weight, or a stage whose weights sum to 0 is an error naming it.

use std::collections::BTreeMap;
use std::path::Path;

use mixagent_core::{fnv64_hex, CoreError, MixingPolicy, Mixture, PolicyInput};

use crate::bad_state;

/// A schedule of named mixtures, one per stage (the last one repeats).
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    name: String,
    stages: Vec<BTreeMap<String, f64>>,
}

impl Scheduled {
    /// One mixture for every stage, from `NAME=W,NAME=W,…`.
    pub fn parse_static(spec: &str) -> Result<Self, CoreError> {
        let name = format!("static:{spec}");
        let mut stage = BTreeMap::new();
        for item in spec.split(',').filter(|s| !s.trim().is_empty()) {
            let (d, w) = item
                .split_once('=')
                .ok_or_else(|| bad_state(&name, format!("`{item}`: expected NAME=WEIGHT")))?;
            let w: f64 = w
                .trim()
                .parse()
                .map_err(|_| bad_state(&name, format!("`{item}`: not a number")))?;
            stage.insert(d.trim().to_string(), w);
        }
        Self::new(name, vec![stage])
    }

    /// A schedule file: `{"name": "ramp", "stages": [{"NAME": W, …}, …]}`.
    pub fn load(path: &Path) -> Result<Self, CoreError> {
        #[derive(serde::Deserialize)]
        struct File {
            name: String,
            stages: Vec<BTreeMap<String, f64>>,
        }
        let label = format!("schedule:{}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| bad_state(&label, e.to_string()))?;
        let f: File = serde_json::from_str(&text).map_err(|e| {
            bad_state(
                &label,
                format!(
                    "{e}; expected {{\"name\": …, \"stages\": [{{\"DOMAIN\": weight, …}}, …]}}"
                ),
            )
        })?;
        Self::new(f.name, f.stages)
    }

    /// Checks the weights (names are checked against the space at the first decision).
    pub fn new(name: String, stages: Vec<BTreeMap<String, f64>>) -> Result<Self, CoreError> {
        if stages.is_empty() {
            return Err(bad_state(&name, "no stages"));
        }
        for (i, s) in stages.iter().enumerate() {
            if let Some((d, w)) = s.iter().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
                return Err(bad_state(&name, format!("stage {i}: weight of `{d}` is {w}: weights must be finite and not negative")));
            }
            if s.values().sum::<f64>() <= 0.0 {
                return Err(bad_state(&name, format!("stage {i}: the weights sum to 0")));
            }
        }
        Ok(Scheduled { name, stages })
    }
}

impl MixingPolicy for Scheduled {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn identity(&self) -> String {
        let stages = serde_json::to_string(&self.stages).expect("weights serialise");
        format!("{}#{}", self.name, fnv64_hex(stages.as_bytes()))
    }

    fn reads_feedback(&self) -> bool {
        false
    }

    fn next_mixture(&mut self, input: &PolicyInput<'_>) -> Result<Mixture, CoreError> {
        let stage = &self.stages[input.stage().min(self.stages.len() - 1)];
        let names: Vec<&str> = input.space.names().collect();
        // A weight names an entry, or a corpus domain an entry stands for (a schedule over
        // domains steers a field-level or re-grouped space: each entry gets its members' sum).
        let mut weights = vec![0.0; names.len()];
        for (key, &w) in stage {
            let entry = names.iter().position(|n| n == key).or_else(|| {
                input.domains.iter().position(|info| info.members.iter().any(|m| m == key))
            });
            let Some(i) = entry else {
                return Err(bad_state(
                    &self.name,
                    format!(
                        "`{key}` is not an entry of the space, nor a domain of one (it has: {})",
                        names.join(", ")
                    ),
                ));
            };
            weights[i] += w;
        }
        Mixture::from_unnormalised(input.space.clone(), weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{fixture_input, simulate, Fixture};

    #[test]
    fn a_static_mixture_by_name_normalised() {
        let f = Fixture::k_d();
        let mut p = Scheduled::parse_static("g1=3, m2=1").unwrap();
        let m = p.next_mixture(&fixture_input(&f, &[])).unwrap();
        assert_eq!(m.weights(), &[0.0, 0.75, 0.0, 0.0, 0.0, 0.25]);
        assert!(!p.reads_feedback());
        let e = Scheduled::parse_static("g1=3,poems=1")
            .unwrap()
            .next_mixture(&fixture_input(&f, &[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`poems` is not an entry") && e.contains("g0, g1"), "{e}");
        for bad in ["g1=-1", "g1=nan", "g1", "g1=0", "g1=x"] {
            assert!(Scheduled::parse_static(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domain_weights_steer_a_coarser_space_by_their_sums() {
        let mut f = Fixture::k_d();
        let members: Vec<Vec<String>> =
            f.domains.iter().map(|d| d.members.clone()).collect::<Vec<_>>();
        // Merge the first two entries into one group standing for both.
        let merged = f.space.grouped(&[vec![members[0][0].clone(), members[1][0].clone()]]);
        f.space = std::sync::Arc::new(merged.unwrap());
        let group = f.space.names().next().unwrap().to_string();
        let mut infos = f.domains.split_off(1);
        infos[0].name = group;
        infos[0].members = [members[0].clone(), members[1].clone()].concat();
        f.domains = infos;
        let mut p = Scheduled::parse_static("g0=1, g1=2, m2=1").unwrap();
        let m = p.next_mixture(&fixture_input(&f, &[])).unwrap();
        assert_eq!(m.weights(), &[0.75, 0.0, 0.0, 0.0, 0.25]);
    }

    #[test]
    fn a_schedule_follows_its_stages_then_repeats_the_last() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ramp.json");
        std::fs::write(&path, r#"{"name": "ramp", "stages": [{"g0": 1}, {"g0": 1, "m0": 1}]}"#)
            .unwrap();
        let f = Fixture::k_d();
        let mut p = Scheduled::load(&path).unwrap();
        let mut history = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let m = p.next_mixture(&fixture_input(&f, &history)).unwrap();
            seen.push(m.weights().to_vec());
            history.push(simulate(&f, &history, &m));
        }
        assert_eq!(seen[0], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(seen[1], [0.5, 0.0, 0.0, 0.5, 0.0, 0.0]);
        assert_eq!(seen[2], seen[1]);
        assert_eq!(p.name(), "ramp");
        std::fs::write(&path, r#"{"stages": []}"#).unwrap();
        let e = Scheduled::load(&path).unwrap_err().to_string();
        assert!(e.contains("name") || e.contains("expected"), "{e}");
    }
}
