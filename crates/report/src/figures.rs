//! The report's figures from finished steered runs: a policy's mixture over stages (mean over
//! seeds) and every policy's scores over stages.

use mixagent_core::{balanced_score, Observation};
use mixagent_trajectory::SteeredRun;

use crate::plot::{field_color, line_panels_svg, policy_color, stacked_area_svg, Band, Line};

/// The mean mixture over `runs` (one policy's seeds) as stacked bands, entries grouped and
/// coloured by field.
pub fn mixture_bands(runs: &[SteeredRun]) -> Vec<Band> {
    let Some(first) = runs.first() else { return Vec::new() };
    let fields = first.fields();
    let stages = runs.iter().map(|r| r.stages.len()).min().unwrap_or(0);
    first
        .space
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let fi = fields.iter().position(|f| f == &e.field).unwrap_or(0);
            let members: Vec<usize> = first
                .space
                .iter()
                .enumerate()
                .filter(|(_, x)| x.field == e.field)
                .map(|(i, _)| i)
                .collect();
            let pos = members.iter().position(|&i| i == k).unwrap_or(0);
            let values = (0..stages)
                .map(|t| {
                    runs.iter()
                        .map(|r| r.stages[t].weights.get(k).copied().unwrap_or(0.0))
                        .sum::<f64>()
                        / runs.len() as f64
                })
                .collect();
            Band {
                label: format!("{} ({})", e.name, e.field),
                color: field_color(fi, pos, members.len()),
                values,
            }
        })
        .collect()
}

/// The stacked-area plot of one policy's mean mixture.
pub fn mixture_svg(policy: &str, runs: &[SteeredRun]) -> String {
    stacked_area_svg(
        &format!("Mixture chosen by {policy} over stages (mean over {} seed(s))", runs.len()),
        &mixture_bands(runs),
    )
}

/// Per stage `0..=T` (0 = the base): the mean over runs of `value(run, stage)`.
fn per_stage(runs: &[SteeredRun], value: impl Fn(&SteeredRun, usize) -> f64) -> Vec<f64> {
    let stages = runs.iter().map(|r| r.stages.len()).min().unwrap_or(0);
    (0..=stages)
        .map(|t| runs.iter().map(|r| value(r, t)).sum::<f64>() / runs.len().max(1) as f64)
        .collect()
}

/// The observation after `t` stages (the base's at 0).
fn observation(r: &SteeredRun, t: usize) -> &Observation {
    if t == 0 {
        &r.initial
    } else {
        &r.stages[t - 1].observation
    }
}

/// A field's feedback change after `t` stages, relative to the base.
fn change(r: &SteeredRun, t: usize, field: &str) -> f64 {
    observation(r, t).relative_change(&r.initial, field).unwrap_or(f64::NAN)
}

/// Four panels over stages, one line per policy (mean over seeds): the source field's
/// feedback change, the target fields' mean change, the balanced score and the target share.
pub fn scores_svg(groups: &[(String, Vec<SteeredRun>)]) -> String {
    let groups: Vec<&(String, Vec<SteeredRun>)> =
        groups.iter().filter(|(_, r)| !r.is_empty()).collect();
    let Some(fields) = groups.first().map(|(_, r)| r[0].fields()) else {
        return line_panels_svg("Scores over stages", &[]);
    };
    // The first agent is drawn bold in black; any other (another alpha, say) as a baseline.
    let lead = groups.iter().map(|(p, _)| p.as_str()).find(|p| p.starts_with("agent"));
    let line = |i: usize, p: &str, values: Vec<f64>| Line {
        label: p.to_string(),
        color: if Some(p) == lead { "#000".into() } else { policy_color(i) },
        values,
        bold: Some(p) == lead,
    };
    let target = |r: &SteeredRun, t: usize| {
        let ts = &fields[1..];
        ts.iter().map(|f| change(r, t, f)).sum::<f64>() / ts.len().max(1) as f64
    };
    let mut panels: Vec<(String, Vec<Line>)> = vec![
        (format!("source ({}) Δ", fields[0]), Vec::new()),
        (format!("target ({}) Δ", fields[1..].join(", ")), Vec::new()),
        ("balanced score".into(), Vec::new()),
        ("target share of the stage".into(), Vec::new()),
    ];
    for (i, (p, runs)) in groups.iter().enumerate() {
        panels[0].1.push(line(i, p, per_stage(runs, |r, t| change(r, t, &fields[0]))));
        panels[1].1.push(line(i, p, per_stage(runs, target)));
        panels[2].1.push(line(
            i,
            p,
            per_stage(runs, |r, t| {
                let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                balanced_score(observation(r, t), &r.initial, &refs).unwrap_or(f64::NAN)
            }),
        ));
        // The share has no value before the first stage.
        let share = per_stage(runs, |r, t| {
            if t == 0 {
                f64::NAN
            } else {
                r.target_share(&r.stages[t - 1].weights)
            }
        });
        panels[3].1.push(line(i, p, share));
    }
    line_panels_svg("Feedback change relative to the base over stages (mean over seeds)", &panels)
}
