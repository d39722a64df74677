//! Pre-flight check of a schedule against the tokens each domain has: how many epochs of each
//! domain the schedule reads, which domains run out and where (stage, optimizer step, token),
//! and which are starved (far below an even share). Run it before a long job: a domain that
//! runs out repeats its data from then on, and one read for many epochs loses most of its value.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::export::PlannedSchedule;
use crate::ControllerError;

/// Thresholds of the check.
#[derive(Debug, Clone, PartialEq)]
pub struct PreflightOptions {
    /// A domain is starved when its share of all tokens is below this fraction of an even
    /// share (1 / domains).
    pub starved_below: f64,
    /// Epochs above which a domain's repetition is flagged.
    pub max_epochs: f64,
    /// Tokens per optimizer step, to place an exhaustion at a step (none: tokens only).
    pub tokens_per_step: Option<u64>,
}

impl Default for PreflightOptions {
    fn default() -> Self {
        PreflightOptions { starved_below: 0.2, max_epochs: 4.0, tokens_per_step: None }
    }
}

/// Where a domain's tokens run out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exhaustion {
    /// The stage it happens in (0-based).
    pub stage: usize,
    /// Training tokens of the run read by then.
    pub token: u64,
    /// The optimizer step (0-based), when tokens per step are known.
    pub step: Option<u64>,
}

/// The check of one domain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainCheck {
    /// The domain.
    pub name: String,
    /// Training tokens it has.
    pub available: u64,
    /// Tokens the schedule reads from it.
    pub planned: f64,
    /// Its share of all the schedule's tokens.
    pub share: f64,
    /// `planned / available` (infinite when it has none but is read).
    pub epochs: f64,
    /// Where it runs out, if it does.
    pub exhausted: Option<Exhaustion>,
    /// Below the starvation threshold.
    pub starved: bool,
}

/// The whole check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreflightReport {
    /// Tokens of the whole schedule.
    pub total_tokens: u64,
    /// Stages.
    pub stages: usize,
    /// One row per domain, in the schedule's order.
    pub domains: Vec<DomainCheck>,
    /// What to look at, one sentence each (empty when nothing is wrong).
    pub problems: Vec<String>,
}

/// Checks `schedule` against `available` (domain → training tokens).
pub fn preflight(
    schedule: &PlannedSchedule,
    available: &BTreeMap<String, u64>,
    options: &PreflightOptions,
) -> Result<PreflightReport, ControllerError> {
    schedule.validate()?;
    let total: u64 = schedule.stages.iter().map(|s| s.tokens).sum();
    let even = 1.0 / schedule.domains.len() as f64;
    let mut domains = Vec::new();
    let mut problems = Vec::new();
    for (i, name) in schedule.domains.iter().enumerate() {
        let have = *available.get(name).ok_or_else(|| {
            ControllerError::Schedule(format!(
                "domain `{name}` has no token count; the counts cover: {}",
                available.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let (mut read, mut before) = (0.0f64, 0u64);
        let mut exhausted = None;
        for (k, stage) in schedule.stages.iter().enumerate() {
            let draw = stage.weights[i] * stage.tokens as f64;
            if exhausted.is_none() && draw > 0.0 && read + draw > have as f64 {
                let into = ((have as f64 - read) / draw).max(0.0);
                let token = before + (into * stage.tokens as f64).floor() as u64;
                let step = options.tokens_per_step.map(|t| token / t.max(1));
                exhausted = Some(Exhaustion { stage: k, token, step });
            }
            read += draw;
            before += stage.tokens;
        }
        let share = read / total as f64;
        let epochs = if have > 0 {
            read / have as f64
        } else if read > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        let starved = share < options.starved_below * even;
        if let Some(x) = &exhausted {
            let at = x.step.map_or(String::new(), |s| format!(", step {s}"));
            problems.push(format!(
                "`{name}` runs out in stage {}{at} (after {} of the run's tokens) and repeats from then on: {epochs:.2} epochs in all",
                x.stage,
                human(x.token as f64)
            ));
        }
        if epochs > options.max_epochs {
            problems.push(format!(
                "`{name}` is read for {epochs:.1} epochs, above {}: repeated tokens are worth less with each epoch; lower its weight or add data",
                options.max_epochs
            ));
        }
        if starved {
            problems.push(format!(
                "`{name}` is starved: {:.2}% of the tokens, under {:.0}% of an even share ({:.2}%)",
                100.0 * share,
                100.0 * options.starved_below,
                100.0 * even
            ));
        }
        domains.push(DomainCheck {
            name: name.clone(),
            available: have,
            planned: read,
            share,
            epochs,
            exhausted,
            starved,
        });
    }
    Ok(PreflightReport { total_tokens: total, stages: schedule.stages.len(), domains, problems })
}

/// `1.23M`, `456.0K`, `12`.
fn human(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2}B", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}K", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

impl PreflightReport {
    /// The report as a text table followed by the problems.
    pub fn render(&self) -> String {
        let width = self.domains.iter().map(|d| d.name.len()).max().unwrap_or(6).max(6);
        let mut out = format!(
            "pre-flight: {} stages, {} tokens, {} domains\n\n{:<width$}  {:>10}  {:>10}  {:>7}  {:>7}  runs out at\n",
            self.stages,
            human(self.total_tokens as f64),
            self.domains.len(),
            "domain",
            "available",
            "planned",
            "share",
            "epochs",
        );
        for d in &self.domains {
            let out_at = d.exhausted.as_ref().map_or("–".to_string(), |x| match x.step {
                Some(s) => format!("stage {}, step {s}", x.stage),
                None => format!("stage {}, token {}", x.stage, human(x.token as f64)),
            });
            let flag = if d.starved { "  (starved)" } else { "" };
            let _ = writeln!(
                out,
                "{:<width$}  {:>10}  {:>10}  {:>6.2}%  {:>7.2}  {out_at}{flag}",
                d.name,
                human(d.available as f64),
                human(d.planned),
                100.0 * d.share,
                d.epochs
            );
        }
        if self.problems.is_empty() {
            out.push_str("\nno problems: every domain lasts the run and none is starved\n");
        } else {
            let _ = writeln!(out, "\n{} problem(s):", self.problems.len());
            for p in &self.problems {
                let _ = writeln!(out, "- {p}");
            }
        }
        out
    }
}
