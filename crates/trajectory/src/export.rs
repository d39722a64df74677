//! Flat exports of a trajectory set for pandas or polars: one record per (trajectory, stage),
//! with the mixture, the feedback per field, the balanced score and its change (the default
//! reward), the held-out loss per domain and the costs. Columns are the same for every record.

use std::io::Write;

use mixagent_core::balanced_score;

use crate::{Trajectory, TrajectoryError};

/// A cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A number.
    Num(f64),
}

/// Column names and one row of cells per (trajectory, stage).
#[derive(Debug, Clone, PartialEq)]
pub struct StageRecord {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<Cell>>,
}

/// Flattens `trajectories` (which must share one space) into records. Stage −1 rows hold the
/// base observation.
pub fn stage_records(trajectories: &[Trajectory]) -> Result<StageRecord, TrajectoryError> {
    let Some(first) = trajectories.first() else {
        return Ok(StageRecord { columns: vec![], rows: vec![] });
    };
    let fields = first.fields();
    let domains: Vec<String> = first.initial.domain_loss.keys().cloned().collect();
    let mut columns: Vec<String> = ["trajectory", "family", "stage", "tokens", "target_share"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    columns.extend(first.space.iter().map(|e| format!("w_{}", e.name)));
    columns.extend(fields.iter().map(|f| format!("feedback_{f}")));
    columns
        .extend(["balanced", "reward", "train_loss", "train_secs", "eval_secs"].map(String::from));
    columns.extend(domains.iter().map(|d| format!("loss_{d}")));
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let mut rows = Vec::new();
    for t in trajectories {
        if t.space != first.space {
            return Err(TrajectoryError::Config(format!(
                "{} mixes over another space than {}: export one space at a time",
                t.id, first.id
            )));
        }
        let mut prev = 0.0;
        let base_row = std::iter::once((-1i64, None));
        let stage_rows = t.stages.iter().map(|r| (r.stage as i64, Some(r)));
        for (stage, row) in base_row.chain(stage_rows) {
            let obs = row.map_or(&t.initial, |r| &r.observation);
            let balanced = balanced_score(obs, &t.initial, &field_refs)
                .map_err(|e| TrajectoryError::Config(format!("{}: {e}", t.id)))?;
            let mut cells = vec![
                Cell::Text(t.id.clone()),
                Cell::Text(t.family.name().into()),
                Cell::Num(stage as f64),
            ];
            match row {
                Some(r) => {
                    let target = t.target_share(&r.weights);
                    cells.push(Cell::Num(r.tokens as f64));
                    cells.push(Cell::Num(target));
                    cells.extend(r.weights.iter().map(|&w| Cell::Num(w)));
                }
                None => {
                    cells.push(Cell::Num(0.0));
                    cells.extend((0..=t.space.len()).map(|_| Cell::Num(f64::NAN)));
                }
            }
            cells.extend(fields.iter().map(|f| Cell::Num(obs.feedback[f])));
            cells.push(Cell::Num(balanced));
            cells.push(Cell::Num(if row.is_some() { balanced - prev } else { f64::NAN }));
            prev = balanced;
            let nan = f64::NAN;
            cells.push(Cell::Num(row.map_or(nan, |r| r.train_loss)));
            cells.push(Cell::Num(row.map_or(nan, |r| r.train_secs)));
            cells.push(Cell::Num(row.map_or(nan, |r| r.eval_secs)));
            cells
                .extend(domains.iter().map(|d| Cell::Num(*obs.domain_loss.get(d).unwrap_or(&nan))));
            rows.push(cells);
        }
    }
    Ok(StageRecord { columns, rows })
}

/// Writes records as CSV (RFC 4180 quoting; NaN as an empty cell).
pub fn export_csv(records: &StageRecord, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "{}", records.columns.join(","))?;
    for row in &records.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Cell::Text(s) if s.contains([',', '"', '\n']) => {
                    format!("\"{}\"", s.replace('"', "\"\""))
                }
                Cell::Text(s) => s.clone(),
                Cell::Num(x) if x.is_finite() => format!("{x}"),
                Cell::Num(_) => String::new(),
            })
            .collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    Ok(())
}

/// Writes records as JSON lines (NaN as `null`), columns in order.
pub fn export_jsonl(records: &StageRecord, out: &mut impl Write) -> std::io::Result<()> {
    for row in &records.rows {
        let parts: Vec<String> = records
            .columns
            .iter()
            .zip(row)
            .map(|(k, c)| {
                let v = match c {
                    Cell::Text(s) => serde_json::Value::from(s.as_str()),
                    Cell::Num(x) if x.is_finite() => serde_json::Value::from(*x),
                    Cell::Num(_) => serde_json::Value::Null,
                };
                format!("{}:{}", serde_json::Value::from(k.as_str()), v)
            })
            .collect();
        writeln!(out, "{{{}}}", parts.join(","))?;
    }
    Ok(())
}
