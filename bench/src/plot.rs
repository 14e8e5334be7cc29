//! SVG line plots of a driver's run, drawn with `plotters` (its SVG
//! backend only): one plot per workload, threads on the x axis, one line
//! with markers per implementation (ours drawn thicker), both axes
//! logarithmic (thread counts double; throughputs span 1000×).

use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One measured value: what a driver's result row contributes to a plot.
pub struct Point<'a> {
    /// The plot it goes to (a workload, or `workload-keys`).
    pub workload: &'a str,
    /// The x value (thread count); see [`leading_number`].
    pub threads: f64,
    pub implementation: &'a str,
    /// `None` (a failed case) or a non-positive value leaves a gap.
    pub value: Option<f64>,
    /// The y axis label (`"Mops/s"`).
    pub unit: &'a str,
}

/// The number a thread label starts with (`"4"` → 4, `"1r+1w"` → 1); NaN
/// when it starts with none.
pub fn leading_number(label: &str) -> f64 {
    let end = label
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(label.len());
    label[..end].parse().unwrap_or(f64::NAN)
}

/// A plot's lines: implementation → (threads, value) in the order given.
type Lines = Vec<(String, Vec<(f64, f64)>)>;

/// Groups `points` by plot, in order of first appearance; each plot's
/// unit and lines.
fn group<'a>(points: impl IntoIterator<Item = Point<'a>>) -> Vec<(String, String, Lines)> {
    let mut plots: Vec<(String, String, Lines)> = Vec::new();
    for p in points {
        let i = match plots.iter().position(|(w, _, _)| w == p.workload) {
            Some(i) => i,
            None => {
                plots.push((p.workload.into(), p.unit.into(), Vec::new()));
                plots.len() - 1
            }
        };
        let lines = &mut plots[i].2;
        let j = match lines.iter().position(|(name, _)| name == p.implementation) {
            Some(j) => j,
            None => {
                lines.push((p.implementation.into(), Vec::new()));
                lines.len() - 1
            }
        };
        if let Some(v) = p.value.filter(|v| v.is_finite() && *v > 0.0) {
            if p.threads.is_finite() && p.threads > 0.0 {
                lines[j].1.push((p.threads, v));
            }
        }
    }
    plots
}

/// A log axis range around `lo..=hi`, padded so that a single value still
/// has room.
fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    (lo / 1.5)..(hi * 1.5)
}

/// Draws one plot as SVG text.
pub fn svg(
    title: &str,
    unit: &str,
    lines: &Lines,
    emphasize: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let all: Vec<(f64, f64)> = lines.iter().flat_map(|(_, l)| l.iter().copied()).collect();
    let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
        all.iter().map(pick).fold(init, f)
    };
    let (x0, x1) = (
        fold(f64::min, f64::MAX, |p| p.0),
        fold(f64::max, 0.0, |p| p.0),
    );
    let (y0, y1) = (
        fold(f64::min, f64::MAX, |p| p.1),
        fold(f64::max, 0.0, |p| p.1),
    );
    let (x0, x1, y0, y1) = if all.is_empty() {
        (1.0, 2.0, 1.0, 10.0)
    } else {
        (x0, x1, y0, y1)
    };
    // The thread counts measured: the x axis's labels.
    let mut xs: Vec<f64> = all.iter().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (960, 500)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        // The plot on the left, its legend on the right.
        let (left, legend) = root.split_horizontally(760);
        let mut chart = ChartBuilder::on(&left)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                padded(x0, x1).log_scale().with_key_points(xs),
                padded(y0, y1).log_scale(),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .x_desc("threads")
            .x_label_formatter(&|v| format!("{v}"))
            .y_desc(unit)
            .y_labels(8)
            .y_label_formatter(&|v| match *v {
                v if v >= 1.0 => format!("{v:.0}"),
                v => format!("{v:.3}"),
            })
            .draw()
            .map_err(e)?;
        for (i, (name, points)) in lines.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let width = if emphasize(name) { 3 } else { 1 };
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(width),
                ))
                .map_err(e)?;
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(e)?;
            let y = 50 + 20 * i as i32;
            legend
                .draw(&PathElement::new(
                    [(8, y), (32, y)],
                    color.stroke_width(width),
                ))
                .map_err(e)?;
            legend
                .draw(&Text::new(
                    name.as_str(),
                    (38, y - 7),
                    ("sans-serif", 13).into_font(),
                ))
                .map_err(e)?;
        }
        root.present().map_err(e)?;
    }
    Ok(out)
}

/// Groups `points` by plot and writes one `<dir>/<workload>.svg` each,
/// titled `"<title_prefix>: <workload>"`; `emphasize(implementation)`
/// picks the lines drawn thicker. Returns the paths written; a plot that
/// cannot be drawn or written is reported on stderr.
pub fn write_workload_plots<'a>(
    dir: &Path,
    title_prefix: &str,
    points: impl IntoIterator<Item = Point<'a>>,
    emphasize: impl Fn(&str) -> bool,
) -> Vec<PathBuf> {
    let mut written = Vec::new();
    for (workload, unit, lines) in group(points) {
        let path = dir.join(format!("{workload}.svg"));
        let drawn = svg(
            &format!("{title_prefix}: {workload}"),
            &unit,
            &lines,
            &emphasize,
        );
        match drawn.and_then(|s| std::fs::write(&path, s).map_err(|e| e.to_string())) {
            Ok(()) => written.push(path),
            Err(e) => eprintln!("plot {}: {e}", path.display()),
        }
    }
    written
}

/// Draws every plot of `points` in memory and checks it: an SVG document
/// with one line per implementation that has a value. Returns the number
/// of plots.
pub fn check_plots<'a>(
    title_prefix: &str,
    points: impl IntoIterator<Item = Point<'a>>,
    emphasize: impl Fn(&str) -> bool,
) -> Result<usize, String> {
    let plots = group(points);
    for (workload, unit, lines) in &plots {
        let s = svg(
            &format!("{title_prefix}: {workload}"),
            unit,
            lines,
            &emphasize,
        )?;
        let drawn = s.matches("<polyline").count();
        let expected = lines.iter().filter(|(_, l)| !l.is_empty()).count();
        if !s.trim_start().starts_with("<svg") || !s.trim_end().ends_with("</svg>") {
            return Err(format!("{workload}: not an SVG document"));
        }
        if drawn < expected {
            return Err(format!(
                "{workload}: {drawn} lines drawn, {expected} expected"
            ));
        }
    }
    Ok(plots.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_line_per_implementation_and_skips_gaps() {
        let p = |threads, implementation, value| Point {
            workload: "read",
            threads,
            implementation,
            value,
            unit: "Mops/s",
        };
        let points = [
            p(1.0, "urcu", Some(300.0)),
            p(2.0, "urcu", Some(600.0)),
            p(1.0, "seize", Some(70.0)),
            p(2.0, "seize", None),
            p(1.0, "failed", None),
        ];
        assert_eq!(check_plots("t", points, |n| n == "urcu"), Ok(1));
        assert_eq!(leading_number("1r+1w"), 1.0);
        assert!(leading_number("x").is_nan());
    }
}
