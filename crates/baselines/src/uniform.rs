//! Uniform: the same weight on every entry of the space, every stage.

use mixagent_core::{CoreError, MixingPolicy, Mixture, PolicyInput};

/// Equal weights over the space's entries (so a field's share grows with its domain count).
#[derive(Debug, Clone, Default)]
pub struct Uniform;

impl MixingPolicy for Uniform {
    fn reads_feedback(&self) -> bool {
        false
    }

    fn name(&self) -> String {
        "uniform".into()
    }

    fn next_mixture(&mut self, input: &PolicyInput<'_>) -> Result<Mixture, CoreError> {
        Ok(Mixture::uniform(input.space.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{fixture_input, Fixture};

    #[test]
    fn equal_weights_on_every_entry() {
        let f = Fixture::k_d();
        let m = Uniform.next_mixture(&fixture_input(&f, &[])).unwrap();
        assert_eq!(m.weights(), &[1.0 / 6.0; 6]);
    }
}
