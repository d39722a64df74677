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
        tokens: Option<BTreeMap<String, u64>>,
        seed: u64,
    ) -> PyResult<Self> {
        let list = domain_list(domains)?;
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
        tokens: Option<BTreeMap<String, u64>>,
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
    #[pyo3(signature = (feedback, domain_loss=None, tokens=0))]
    fn observe(
        &mut self,
        feedback: BTreeMap<String, f64>,
        domain_loss: Option<BTreeMap<String, f64>>,
        tokens: u64,
    ) -> PyResult<()> {
        let obs = Observation { feedback, domain_loss: domain_loss.unwrap_or_default() };
        self.inner.observe(obs, tokens).map_err(to_py)
    }

    /// Reports a stage trained on a mixture of the trainer's own choosing, with its feedback.
    #[pyo3(signature = (weights, feedback, domain_loss=None, tokens=0))]
    fn record(
        &mut self,
        weights: BTreeMap<String, f64>,
        feedback: BTreeMap<String, f64>,
        domain_loss: Option<BTreeMap<String, f64>>,
        tokens: u64,
    ) -> PyResult<()> {
        let obs = Observation { feedback, domain_loss: domain_loss.unwrap_or_default() };
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
