//! The `mixagent` Python module: [`mixagent_controller::Controller`] for trainers written in
//! Python (a Hugging Face `TrainerCallback`, a plain PyTorch loop). Pure Rust underneath, no
//! libtorch, so it loads into a PyTorch process without a second copy of torch.
//!
//! ```python
//! import mixagent
//! c = mixagent.Controller.load("runs/agent-demo", domains=[("web", "general"), ("proofs", "math")],
//!                              total_stages=10)
//! c.observe({"general": -2.91, "math": -3.84})     # the base model, before stage 0
//! for stage in range(10):
//!     weights = c.next_mixture()                     # {"web": 0.63, "proofs": 0.37}
//!     ...train one stage on `weights`, then measure the feedback...
//!     c.observe({"general": -2.95, "math": -3.41})
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use mixagent_controller::{Controller as Inner, ControllerError, ControllerState, DomainEntry};
use mixagent_core::{FileError, Observation};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

create_exception!(
    mixagent,
    MixagentError,
    PyValueError,
    "A bad state, feedback or mixture, or a policy that cannot decide (a ValueError)."
);

fn to_py(e: ControllerError) -> PyErr {
    match e {
        ControllerError::File(FileError::Io { .. }) => PyOSError::new_err(e.to_string()),
        other => MixagentError::new_err(other.to_string()),
    }
}

/// Domains as `[(name, field), ...]` or `{name: field}` (in order; the first entry's field is
/// the source field).
fn domain_list(domains: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    if let Ok(d) = domains.cast::<PyDict>() {
        return d.iter().map(|(k, v)| Ok((k.extract()?, v.extract()?))).collect();
    }
    domains.extract::<Vec<(String, String)>>().map_err(|_| {
        MixagentError::new_err(
            "domains: give a list of (name, field) pairs or a dict of name -> field, source field first",
        )
    })
}

/// A token count: an int, or a float with a whole value such as `8e9`, not negative.
fn token_count(what: &str, v: &Bound<'_, PyAny>) -> PyResult<u64> {
    if let Ok(n) = v.extract::<u64>() {
        return Ok(n);
    }
    if let Ok(x) = v.extract::<f64>() {
        if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x < u64::MAX as f64 {
            return Ok(x as u64);
        }
    }
    let shown = v.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into());
    Err(MixagentError::new_err(format!(
        "{what}: expected a whole number of tokens (an int, or a float such as 8e9), got {shown}"
    )))
}

/// A reported observation and the stage's token count (0 when not given), as `observe` and
/// `record` take them.
fn observation(
    feedback: BTreeMap<String, f64>,
    domain_loss: Option<BTreeMap<String, f64>>,
    tokens: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Observation, u64)> {
    let tokens = tokens.map_or(Ok(0), |t| token_count("tokens", t))?;
    Ok((Observation { feedback, domain_loss: domain_loss.unwrap_or_default() }, tokens))
}

/// Token counts per domain, `{name: count}`.
fn token_counts(tokens: Option<&Bound<'_, PyDict>>) -> PyResult<Option<BTreeMap<String, u64>>> {
    let Some(d) = tokens else { return Ok(None) };
    let mut out = BTreeMap::new();
    for (k, v) in d.iter() {
        let name: String = k.extract()?;
        let n = token_count(&format!("tokens[{name:?}]"), &v)?;
        out.insert(name, n);
    }
    Ok(Some(out))
}

/// The controller: a mixing policy (the trained agent or a baseline) steering one run.
#[pyclass(module = "mixagent", name = "Controller", unsendable)]
pub struct Controller {
    inner: Inner,
}

#[pymethods]
impl Controller {
    /// A controller for a new run under `policy` (as `mixagent cpt --policy` takes it:
    /// `agent:<artifact folder>`, `uniform`, `fixed:0.7`, `doremi`, ...).
    #[new]
    #[pyo3(signature = (policy, domains, total_stages, tokens=None, seed=0))]
    fn new(
        policy: &str,
        domains: &Bound<'_, PyAny>,
        total_stages: usize,
        tokens: Option<&Bound<'_, PyDict>>,
        seed: u64,
    ) -> PyResult<Self> {
        let list = domain_list(domains)?;
        let tokens = token_counts(tokens)?;
        if let Some(t) = &tokens {
            if let Some(unknown) = t.keys().find(|k| !list.iter().any(|(n, _)| n == *k)) {
                return Err(MixagentError::new_err(format!(
                    "tokens: `{unknown}` is not one of the domains"
                )));
            }
        }
        let entries = list
            .into_iter()
            .map(|(name, field)| DomainEntry {
                tokens: tokens.as_ref().and_then(|t| t.get(&name).copied()),
                name,
                field,
                members: None,
            })
            .collect();
        Ok(Controller { inner: Inner::new(policy, seed, entries, total_stages).map_err(to_py)? })
    }

    /// The trained agent of an artifact folder (`mixagent train-agent --out DIR`).
    #[staticmethod]
    #[pyo3(signature = (artifact, domains, total_stages, tokens=None, seed=0))]
    fn load(
        artifact: PathBuf,
        domains: &Bound<'_, PyAny>,
        total_stages: usize,
        tokens: Option<&Bound<'_, PyDict>>,
        seed: u64,
    ) -> PyResult<Self> {
        Self::new(&format!("agent:{}", artifact.display()), domains, total_stages, tokens, seed)
    }

    /// A controller rebuilt from a state saved with `save` or `state_json` (a path or the JSON
    /// text); it decides what the saved one would have.
    #[staticmethod]
    fn from_state(state: &Bound<'_, PyAny>) -> PyResult<Self> {
        let state = if let Ok(text) = state.extract::<String>() {
            if text.trim_start().starts_with('{') {
                ControllerState::from_json(&text, "the state").map_err(to_py)?
            } else {
                ControllerState::read(&PathBuf::from(text)).map_err(to_py)?
            }
        } else {
            ControllerState::read(&state.extract::<PathBuf>()?).map_err(to_py)?
        };
        Ok(Controller { inner: Inner::from_state(state).map_err(to_py)? })
    }

    /// Reports feedback: first the base model's, then after each stage the model's after it.
    /// `feedback` is field -> mean per-token log-probability of the gold answers of the field's
    /// feedback suite; `domain_loss` is domain -> held-out loss (nats per token), optional.
    #[pyo3(signature = (feedback, domain_loss=None, tokens=None))]
    fn observe(
        &mut self,
        feedback: BTreeMap<String, f64>,
        domain_loss: Option<BTreeMap<String, f64>>,
        tokens: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (obs, tokens) = observation(feedback, domain_loss, tokens)?;
        self.inner.observe(obs, tokens).map_err(to_py)
    }

    /// Reports a stage trained on a mixture of the trainer's own choosing, with its feedback.
    #[pyo3(signature = (weights, feedback, domain_loss=None, tokens=None))]
    fn record(
        &mut self,
        weights: BTreeMap<String, f64>,
        feedback: BTreeMap<String, f64>,
        domain_loss: Option<BTreeMap<String, f64>>,
        tokens: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (obs, tokens) = observation(feedback, domain_loss, tokens)?;
        self.inner.record(weights, obs, tokens).map_err(to_py)
    }

    /// The next stage's mixture: domain -> weight, summing to 1. Asking again before the
    /// stage's feedback is reported gives the same mixture.
    fn next_mixture<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = self.inner.next_mixture().map_err(to_py)?;
        let out = PyDict::new(py);
        for (name, w) in m.space().names().zip(m.weights()) {
            out.set_item(name, *w)?;
        }
        Ok(out)
    }

    /// The state as JSON text.
    fn state_json(&self) -> String {
        self.inner.state().to_json()
    }

    /// Writes the state to `path` atomically.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.inner.state().write(&path).map_err(to_py)
    }

    /// Whether the base model's feedback has been reported (`observe` before stage 0).
    #[getter]
    fn has_base(&self) -> bool {
        self.inner.state().initial.is_some()
    }

    /// Index of the stage the next mixture is for.
    #[getter]
    fn stage(&self) -> usize {
        self.inner.stage()
    }

    /// Stages planned in the run.
    #[getter]
    fn total_stages(&self) -> usize {
        self.inner.state().total_stages
    }

    /// The policy's name (`agent`, `fixed-0.7`, ...).
    #[getter]
    fn policy(&self) -> String {
        self.inner.policy_name()
    }

    /// The domain names, in order.
    #[getter]
    fn domains<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.inner.space().names())
    }

    fn __repr__(&self) -> String {
        format!(
            "Controller(policy={:?}, domains={}, stage={}/{})",
            self.inner.policy_name(),
            self.inner.space().len(),
            self.inner.stage(),
            self.inner.state().total_stages
        )
    }
}

/// The native module.
#[pymodule]
fn _mixagent(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Controller>()?;
    m.add("MixagentError", m.py().get_type::<MixagentError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
