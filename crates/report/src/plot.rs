//! Plots as self-contained SVG (no plotting library, no fonts to fetch): the mixture over
//! stages as a stacked area (the paper's figures 4-6) and scores over stages as lines (its
//! figure 7). The report inlines them; `compare` also writes them as `.svg` files.

use std::fmt::Write;

use crate::render::escape as esc;

/// One band of a stacked area: label, colour, one value per stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Legend label.
    pub label: String,
    /// CSS colour.
    pub color: String,
    /// Value per stage (shares; the bands of one stage sum to 1).
    pub values: Vec<f64>,
}

/// One line: label, colour, one value per x, drawn thicker when `bold`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Legend label.
    pub label: String,
    /// CSS colour.
    pub color: String,
    /// Value per x.
    pub values: Vec<f64>,
    /// Drawn thicker (the agent).
    pub bold: bool,
}

/// Colour of entry `i` of `n` in field `field_index` (0 = source: blues, 1 = first target:
/// oranges, then greens and purples), lighter along the field's entries.
pub fn field_color(field_index: usize, i: usize, n: usize) -> String {
    const HUES: [f64; 4] = [212.0, 24.0, 140.0, 280.0];
    let hue = HUES[field_index % HUES.len()];
    let light = 28.0 + 50.0 * (i as f64 / n.max(2).saturating_sub(1).max(1) as f64);
    format!("hsl({hue:.0},{:.0}%,{light:.0}%)", if field_index == 0 { 60.0 } else { 80.0 })
}

/// Categorical colours for policies (the agent gets black).
pub fn policy_color(i: usize) -> String {
    const P: [&str; 10] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ];
    P[i % P.len()].to_string()
}

/// Round tick values covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step =
        [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(mag);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10()).ceil() as usize };
    format!("{v:.decimals$}")
}

/// The stacked area of `bands` over stages `1..=n` (one column per stage, drawn as steps:
/// a stage's mixture holds for the whole stage), with a legend on the right.
pub fn stacked_area_svg(title: &str, bands: &[Band]) -> String {
    let stages = bands.iter().map(|b| b.values.len()).max().unwrap_or(0);
    let (w, h, left, top, pw, ph) = (760.0, 380.0, 56.0, 36.0, 480.0, 290.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{left}" y="20" font-size="14" font-weight="bold">{}</text>"#,
        esc(title)
    );
    if stages == 0 {
        s.push_str("</svg>");
        return s;
    }
    let x = |t: f64| left + pw * t / stages as f64;
    let y = |v: f64| top + ph * (1.0 - v);
    let mut below = vec![0.0; stages];
    for b in bands {
        let mut pts = Vec::new();
        for (t, base) in below.iter().enumerate() {
            let v = base + b.values.get(t).copied().unwrap_or(0.0);
            pts.push(format!("{:.1},{:.1}", x(t as f64), y(v)));
            pts.push(format!("{:.1},{:.1}", x(t as f64 + 1.0), y(v)));
        }
        for (t, base) in below.iter().enumerate().rev() {
            pts.push(format!("{:.1},{:.1}", x(t as f64 + 1.0), y(*base)));
            pts.push(format!("{:.1},{:.1}", x(t as f64), y(*base)));
        }
        let _ = write!(
            s,
            r#"<polygon points="{}" fill="{}" stroke="white" stroke-width="0.4"><title>{}</title></polygon>"#,
            pts.join(" "),
            b.color,
            esc(&b.label)
        );
        for (t, base) in below.iter_mut().enumerate() {
            *base += b.values.get(t).copied().unwrap_or(0.0);
        }
    }
    axes(&mut s, left, top, pw, ph, 0.0, 1.0, stages, "stage", "share of the stage's tokens");
    let rows = bands.len().max(1);
    let line_h = (ph / rows as f64).min(16.0);
    for (i, b) in bands.iter().enumerate() {
        let ly = top + line_h * i as f64;
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{ly:.1}" width="10" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="{:.0}">{}</text>"#,
            left + pw + 16.0,
            line_h - 2.0,
            b.color,
            left + pw + 30.0,
            ly + line_h - 4.0,
            (line_h - 3.0).min(11.0),
            esc(&b.label)
        );
    }
    s.push_str("</svg>");
    s
}

#[allow(clippy::too_many_arguments)]
fn axes(
    s: &mut String,
    left: f64,
    top: f64,
    pw: f64,
    ph: f64,
    lo: f64,
    hi: f64,
    stages: usize,
    x_label: &str,
    y_label: &str,
) {
    let y = |v: f64| top + ph * (1.0 - (v - lo) / (hi - lo).max(1e-12));
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let ts = ticks(lo, hi);
    let step = if ts.len() > 1 { ts[1] - ts[0] } else { 1.0 };
    for t in &ts {
        let yy = y(*t);
        let _ = write!(
            s,
            r##"<line x1="{:.1}" y1="{yy:.1}" x2="{left}" y2="{yy:.1}" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left - 4.0,
            left - 6.0,
            yy + 4.0,
            fmt_tick(*t, step)
        );
    }
    let every = stages.div_ceil(12).max(1);
    for t in (0..=stages).step_by(every) {
        let xx = left + pw * t as f64 / stages.max(1) as f64;
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="#333"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{t}</text>"##,
            top + ph,
            top + ph + 4.0,
            top + ph + 16.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        left + pw / 2.0,
        top + ph + 32.0,
        esc(x_label),
        left - 44.0,
        top + ph / 2.0,
        esc(y_label)
    );
}

/// Panels of lines over stages `0..n` in a grid two panels wide (e.g. source, target and
/// balanced change, target share), one shared legend below.
pub fn line_panels_svg(title: &str, panels: &[(String, Vec<Line>)]) -> String {
    let n = panels.len().max(1);
    let cols = n.min(2);
    let grid_rows = n.div_ceil(cols);
    let (pw, ph, left, top, gap, vgap) = (380.0, 220.0, 64.0, 56.0, 90.0, 76.0);
    let labels: Vec<&Line> = panels.first().map(|(_, l)| l.iter().collect()).unwrap_or_default();
    let legend_cols = 3;
    let legend_rows = labels.len().div_ceil(legend_cols);
    let w = left + cols as f64 * (pw + gap);
    let legend_top = top + grid_rows as f64 * (ph + vgap) - 10.0;
    let h = legend_top + 16.0 * legend_rows as f64 + 12.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{left}" y="20" font-size="14" font-weight="bold">{}</text>"#,
        esc(title)
    );
    for (p, (name, lines)) in panels.iter().enumerate() {
        let x0 = left + (p % cols) as f64 * (pw + gap);
        let top = top + (p / cols) as f64 * (ph + vgap);
        let stages = lines.iter().map(|l| l.values.len()).max().unwrap_or(1).saturating_sub(1);
        let finite = lines.iter().flat_map(|l| l.values.iter().copied()).filter(|v| v.is_finite());
        let (mut lo, mut hi) = finite.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        if lo > hi {
            (lo, hi) = (0.0, 1.0);
        }
        let pad = ((hi - lo) * 0.05).max(1e-6);
        let (lo, hi) = (lo - pad, hi + pad);
        let x = |t: usize| x0 + pw * t as f64 / stages.max(1) as f64;
        let y = |v: f64| top + ph * (1.0 - (v - lo) / (hi - lo));
        if lo < 0.0 && hi > 0.0 {
            let _ = write!(
                s,
                r##"<line x1="{x0}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#bbb" stroke-dasharray="4 3"/>"##,
                y(0.0),
                x0 + pw,
                y(0.0)
            );
        }
        for l in lines.iter().rev() {
            let pts: Vec<String> = l
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(t, v)| format!("{:.1},{:.1}", x(t), y(*v)))
                .collect();
            let _ = write!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="{}"><title>{}</title></polyline>"#,
                pts.join(" "),
                l.color,
                if l.bold { 3.0 } else { 1.4 },
                esc(&l.label)
            );
        }
        axes(&mut s, x0, top, pw, ph, lo, hi, stages, "stage", "");
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"#,
            x0 + pw / 2.0,
            top - 6.0,
            esc(name)
        );
    }
    for (i, l) in labels.iter().enumerate() {
        let lx = left + (i % legend_cols) as f64 * 280.0;
        let ly = legend_top + 16.0 * (i / legend_cols) as f64;
        let _ = write!(
            s,
            r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="{}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
            ly - 4.0,
            lx + 18.0,
            ly - 4.0,
            l.color,
            if l.bold { 3.0 } else { 1.4 },
            lx + 24.0,
            esc(&l.label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let t = ticks(0.0, 1.0);
        let want = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
        assert_eq!(t.len(), want.len());
        assert!(t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12), "{t:?}");
        let t = ticks(-0.03, 0.21);
        assert_eq!(t.first().copied(), Some(0.0));
        assert!((t[1] - 0.05).abs() < 1e-12 && *t.last().unwrap() <= 0.21);
    }

    #[test]
    fn stacked_area_stacks_to_one_and_escapes_labels() {
        let bands = vec![
            Band { label: "a<b".into(), color: "red".into(), values: vec![0.25, 0.5] },
            Band { label: "c".into(), color: "blue".into(), values: vec![0.75, 0.5] },
        ];
        let svg = stacked_area_svg("mix", &bands);
        assert_eq!(svg.matches("<polygon").count(), 2);
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"));
        // The top band's upper edge is at share 1 (y = top = 36) across both stages.
        assert!(svg.contains("56.0,36.0 296.0,36.0 296.0,36.0 536.0,36.0"), "{svg}");
    }

    #[test]
    fn line_panels_draw_every_line_once_per_panel() {
        let line = |l: &str, v: Vec<f64>| Line {
            label: l.into(),
            color: "black".into(),
            values: v,
            bold: false,
        };
        let panels = vec![
            ("source".to_string(), vec![line("p", vec![0.0, -0.1]), line("q", vec![0.0, 0.1])]),
            ("target".to_string(), vec![line("p", vec![0.0, 0.3]), line("q", vec![0.0, f64::NAN])]),
        ];
        let svg = line_panels_svg("scores", &panels);
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(!svg.contains("NaN"));
    }
}
