//! Mixtures: points on the probability simplex over a [`DomainSpace`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::{CoreError, DomainId, DomainSpace, Field};

/// How far from 1 the weights given by a user may sum (then they are renormalised exactly).
pub const SIMPLEX_TOLERANCE: f64 = 1e-6;

/// The serialised form of a mixture: domain name → weight. Domains left out weigh 0.
pub type MixtureSpec = BTreeMap<String, f64>;

/// Sampling weights over a domain space. Invariant: one finite, non-negative weight per domain
/// of `space`, summing to 1 (to rounding). The only constructors check it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    space: Arc<DomainSpace>,
    weights: Vec<f64>,
}

impl Mixture {
    /// Checks that `weights` is a simplex point over `space` (finite, ≥ 0, summing to 1 within
    /// [`SIMPLEX_TOLERANCE`]); it is then rescaled to sum to 1 exactly.
    pub fn new(space: Arc<DomainSpace>, weights: Vec<f64>) -> Result<Self, CoreError> {
        let sum = check_entries(&space, &weights)?;
        if (sum - 1.0).abs() > SIMPLEX_TOLERANCE {
            return Err(CoreError::NotNormalised { sum, tolerance: SIMPLEX_TOLERANCE });
        }
        Ok(Mixture { weights: weights.iter().map(|w| w / sum).collect(), space })
    }

    /// Normalises finite, non-negative scores with a positive sum into a mixture. For policies
    /// that produce unnormalised preferences; NaN, negative or all-zero input is still an error.
    pub fn from_unnormalised(space: Arc<DomainSpace>, scores: Vec<f64>) -> Result<Self, CoreError> {
        let sum = check_entries(&space, &scores)?;
        if sum <= 0.0 {
            return Err(CoreError::NotNormalised { sum, tolerance: SIMPLEX_TOLERANCE });
        }
        Ok(Mixture { weights: scores.iter().map(|w| w / sum).collect(), space })
    }

    /// Equal weight on every domain.
    pub fn uniform(space: Arc<DomainSpace>) -> Self {
        let n = space.len();
        Mixture { weights: vec![1.0 / n as f64; n], space }
    }

    /// Builds a mixture from named weights; names must exist in `space`, missing ones weigh 0.
    pub fn from_spec(space: Arc<DomainSpace>, spec: &MixtureSpec) -> Result<Self, CoreError> {
        let mut weights = vec![0.0; space.len()];
        for (name, &w) in spec {
            weights[space.id(name)?.index()] = w;
        }
        Mixture::new(space, weights)
    }

    /// The named form, listing every domain.
    pub fn to_spec(&self) -> MixtureSpec {
        self.space.names().map(str::to_string).zip(self.weights.iter().copied()).collect()
    }

    /// The weights, in the space's domain order.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The weight of one domain.
    pub fn weight(&self, id: DomainId) -> f64 {
        self.weights[id.index()]
    }

    /// The space the mixture is over.
    pub fn space(&self) -> &Arc<DomainSpace> {
        &self.space
    }

    /// Total weight per field, in the space's field order.
    pub fn field_shares(&self) -> Vec<(Field, f64)> {
        let mut out: Vec<(Field, f64)> =
            self.space.fields().into_iter().map(|f| (f, 0.0)).collect();
        for (d, w) in self.space.domains().iter().zip(&self.weights) {
            if let Some(slot) = out.iter_mut().find(|(f, _)| *f == d.field) {
                slot.1 += w;
            }
        }
        out
    }

    /// Errors unless the mixture is over `space` (same fingerprint).
    pub fn check_space(&self, space: &DomainSpace) -> Result<(), CoreError> {
        if std::ptr::eq(self.space.as_ref(), space) || self.space.as_ref() == space {
            return Ok(());
        }
        Err(CoreError::SpaceMismatch {
            expected: space.fingerprint(),
            got: self.space.fingerprint(),
        })
    }
}

/// `weights` with each field's split moved by a log-normal factor: every entry's weight off the
/// floor (`floor/K` each) is multiplied by `exp(σ·z)`, `z` from `normal` (a standard normal
/// draw per entry, in `fields` order), each field (`fields`: the entries of each) is rescaled
/// to its total, and the floor goes back on. The field totals, so the target share, are kept.
/// What the collection's `families.within_jitter` and the agent's `decision.explore` do, so a
/// run's history can tell the entries of a field apart.
pub fn jitter_within_fields(
    weights: &[f64],
    fields: &[Vec<usize>],
    sigma: f64,
    floor: f64,
    mut normal: impl FnMut() -> f64,
) -> Vec<f64> {
    let k = weights.len() as f64;
    let mut m: Vec<f64> =
        weights.iter().map(|w| ((w - floor / k) / (1.0 - floor)).max(0.0)).collect();
    for members in fields {
        let total: f64 = members.iter().map(|&i| m[i]).sum();
        let moved: Vec<f64> = members.iter().map(|&i| m[i] * (sigma * normal()).exp()).collect();
        let sum: f64 = moved.iter().sum();
        if sum > 0.0 {
            members.iter().zip(moved).for_each(|(&i, x)| m[i] = total * x / sum);
        }
    }
    let v: Vec<f64> = m.iter().map(|x| (1.0 - floor) * x + floor / k).collect();
    let sum: f64 = v.iter().sum();
    v.into_iter().map(|x| x / sum).collect()
}

/// `weights` with each entry's weight off the floor multiplied by `exp(κ·e)`, `e` its
/// `evidence` (one value per entry, in weight order), each field keeping its total: a tilt
/// toward a prior (the agent's `decision.tilt`, the collection's `families.tilted`). The
/// jitter's arithmetic with the evidence for its draws.
pub fn tilt_within_fields(
    weights: &[f64],
    fields: &[Vec<usize>],
    kappa: f64,
    floor: f64,
    evidence: &[f64],
) -> Vec<f64> {
    // `jitter_within_fields` draws its factors in field order: here they are the evidence.
    let mut e = fields.iter().flatten().map(|&i| evidence[i]);
    jitter_within_fields(weights, fields, kappa, floor, || e.next().expect("one value an entry"))
}

impl Serialize for Mixture {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_spec().serialize(s)
    }
}

/// Checks length, finiteness and sign; returns the sum.
fn check_entries(space: &DomainSpace, weights: &[f64]) -> Result<f64, CoreError> {
    if weights.len() != space.len() {
        return Err(CoreError::WrongLength { expected: space.len(), got: weights.len() });
    }
    for (d, &w) in space.domains().iter().zip(weights) {
        if !w.is_finite() {
            return Err(CoreError::NonFinite { domain: d.name.clone(), value: w });
        }
        if w < 0.0 {
            return Err(CoreError::Negative { domain: d.name.clone(), value: w });
        }
    }
    Ok(weights.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Domain;
    use proptest::prelude::*;

    #[test]
    fn jitter_moves_each_fields_split_by_hand_and_keeps_its_total() {
        // Two fields {0, 1} and {2, 3}, no floor; draws z = ln 2 / σ for entry 0, 0 otherwise:
        // entry 0 doubles against entry 1 within the first field, whose total stays 0.6.
        let sigma = 0.5;
        let mut draws = [2f64.ln() / sigma, 0.0, 0.0, 0.0].into_iter();
        let w = jitter_within_fields(
            &[0.3, 0.3, 0.2, 0.2],
            &[vec![0, 1], vec![2, 3]],
            sigma,
            0.0,
            || draws.next().unwrap(),
        );
        for (a, b) in w.iter().zip([0.4, 0.2, 0.2, 0.2]) {
            assert!((a - b).abs() < 1e-12, "{w:?}");
        }
        // With a floor of 0.04 (0.01 each) the same draws act on the weights off the floor.
        let mut draws = [2f64.ln() / sigma, 0.0, 0.0, 0.0].into_iter();
        let floored: Vec<f64> = [0.3, 0.3, 0.2, 0.2].iter().map(|v| 0.96 * v + 0.01).collect();
        let w = jitter_within_fields(&floored, &[vec![0, 1], vec![2, 3]], sigma, 0.04, || {
            draws.next().unwrap()
        });
        for (a, b) in w.iter().zip([0.96 * 0.4 + 0.01, 0.96 * 0.2 + 0.01, floored[2], floored[3]]) {
            assert!((a - b).abs() < 1e-12, "{w:?}");
        }
    }

    fn space(n: usize) -> Arc<DomainSpace> {
        let f = Field::new("general").unwrap();
        Arc::new(
            DomainSpace::new(
                (0..n).map(|i| Domain::new(format!("d{i}"), f.clone()).unwrap()).collect(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn rejects_bad_weights_naming_the_domain() {
        let s = space(3);
        let e = Mixture::new(s.clone(), vec![0.5, f64::NAN, 0.5]).unwrap_err();
        assert!(e.to_string().contains("`d1`"), "{e}");
        let e = Mixture::new(s.clone(), vec![0.5, -0.1, 0.6]).unwrap_err();
        assert!(matches!(e, CoreError::Negative { ref domain, .. } if domain == "d1"));
        assert!(matches!(
            Mixture::new(s.clone(), vec![0.5, 0.5, 0.5]),
            Err(CoreError::NotNormalised { .. })
        ));
        assert!(matches!(Mixture::new(s.clone(), vec![1.0]), Err(CoreError::WrongLength { .. })));
        assert!(Mixture::from_unnormalised(s, vec![0.0; 3]).is_err());
    }

    #[test]
    fn spec_round_trip_and_unknown_names() {
        let s = space(3);
        let spec: MixtureSpec = [("d0".to_string(), 0.25), ("d2".to_string(), 0.75)].into();
        let m = Mixture::from_spec(s.clone(), &spec).unwrap();
        assert_eq!(m.weights(), &[0.25, 0.0, 0.75]);
        assert_eq!(Mixture::from_spec(s.clone(), &m.to_spec()).unwrap(), m);
        let bad: MixtureSpec = [("nope".to_string(), 1.0)].into();
        assert!(matches!(Mixture::from_spec(s, &bad), Err(CoreError::UnknownDomain { .. })));
    }

    proptest! {
        #[test]
        fn normalised_scores_stay_on_the_simplex(raw in prop::collection::vec(0.0f64..1e6, 1..40)) {
            prop_assume!(raw.iter().sum::<f64>() > 0.0);
            let m = Mixture::from_unnormalised(space(raw.len()), raw).unwrap();
            let sum: f64 = m.weights().iter().sum();
            prop_assert!((sum - 1.0).abs() < 1e-12);
            prop_assert!(m.weights().iter().all(|w| (0.0..=1.0).contains(w)));
            // A valid mixture passes the strict constructor unchanged (to rounding).
            let again = Mixture::new(m.space().clone(), m.weights().to_vec()).unwrap();
            for (a, b) in again.weights().iter().zip(m.weights()) {
                prop_assert!((a - b).abs() < 1e-12);
            }
            let shares: f64 = m.field_shares().iter().map(|(_, w)| w).sum();
            prop_assert!((shares - 1.0).abs() < 1e-12);
        }

        #[test]
        fn strict_constructor_never_accepts_off_simplex(w in prop::collection::vec(-1.0f64..2.0, 1..10)) {
            let s = space(w.len());
            let ok_entries = w.iter().all(|x| *x >= 0.0);
            let sum: f64 = w.iter().sum();
            match Mixture::new(s, w) {
                Ok(m) => {
                    prop_assert!(ok_entries && (sum - 1.0).abs() <= SIMPLEX_TOLERANCE);
                    prop_assert!(m.weights().iter().all(|x| *x >= 0.0));
                }
                Err(_) => prop_assert!(!ok_entries || (sum - 1.0).abs() > SIMPLEX_TOLERANCE),
            }
        }
    }
}
