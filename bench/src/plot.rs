//! A small SVG line-plot writer for the harness-free drivers: one plot per
//! workload, threads on the x axis, one coloured line with markers per
//! implementation, a legend, and a logarithmic y axis when the values span
//! more than a decade or so (throughputs here span 1000×).
//!
//! No crate: an SVG is text. [`write_workload_plots`] groups result rows by
//! workload and writes `<dir>/<workload>.svg`; [`check_svg`] is the smoke
//! check the drivers run on what they drew.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One measured value: what a driver's result row contributes to a plot.
pub struct Point<'a> {
    pub workload: &'a str,
    /// The x value (thread count). See [`leading_number`] for labels such
    /// as `"1r+1w"`.
    pub threads: f64,
    pub implementation: &'a str,
    /// `None` (a failed case) or a non-finite value leaves a gap.
    pub value: Option<f64>,
    /// The y axis label of this point's workload (e.g. `"Mops/s"`).
    pub unit: &'a str,
}

/// One line of a plot.
pub struct Series {
    pub name: String,
    /// (x, y) pairs in x order; a non-finite y leaves a gap.
    pub points: Vec<(f64, f64)>,
    /// Drawn thicker (our own implementations).
    pub emphasis: bool,
}

/// A whole plot.
pub struct Plot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

/// The number a thread label starts with (`"4"` → 4, `"1r+1w"` → 1); NaN
/// when it starts with none.
pub fn leading_number(label: &str) -> f64 {
    let end = label
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(label.len());
    label[..end].parse().unwrap_or(f64::NAN)
}

/// Groups `points` by workload (in order of first appearance) and writes
/// one `<dir>/<workload>.svg` each, titled `"<title_prefix>: <workload>"`.
/// `emphasize(implementation)` picks the lines drawn thicker. Returns the
/// paths written; a file that cannot be written is reported on stderr.
pub fn write_workload_plots<'a>(
    dir: &Path,
    title_prefix: &str,
    points: impl IntoIterator<Item = Point<'a>>,
    emphasize: impl Fn(&str) -> bool,
) -> Vec<PathBuf> {
    let mut written = Vec::new();
    for plot in plots_of(title_prefix, points, emphasize) {
        let workload = plot.title.rsplit(": ").next().unwrap_or("plot");
        let file: String = workload
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{file}.svg"));
        match std::fs::write(&path, plot.to_svg()) {
            Ok(()) => written.push(path),
            Err(e) => eprintln!("could not write {}: {e}", path.display()),
        }
    }
    written
}

/// The plots [`write_workload_plots`] would write, one per workload.
pub fn plots_of<'a>(
    title_prefix: &str,
    points: impl IntoIterator<Item = Point<'a>>,
    emphasize: impl Fn(&str) -> bool,
) -> Vec<Plot> {
    let mut plots: Vec<(String, String, Vec<Series>)> = Vec::new();
    for p in points {
        let idx = match plots.iter().position(|(w, _, _)| w == p.workload) {
            Some(i) => i,
            None => {
                plots.push((p.workload.to_string(), p.unit.to_string(), Vec::new()));
                plots.len() - 1
            }
        };
        if !p.threads.is_finite() {
            continue;
        }
        let series = &mut plots[idx].2;
        let s = match series.iter().position(|s| s.name == p.implementation) {
            Some(i) => &mut series[i],
            None => {
                series.push(Series {
                    name: p.implementation.to_string(),
                    points: Vec::new(),
                    emphasis: emphasize(p.implementation),
                });
                series.last_mut().expect("just pushed")
            }
        };
        s.points.push((
            p.threads,
            p.value.filter(|v| v.is_finite()).unwrap_or(f64::NAN),
        ));
    }
    plots
        .into_iter()
        .map(|(workload, unit, mut series)| {
            for s in &mut series {
                s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            Plot {
                title: format!("{title_prefix}: {workload}"),
                x_label: "threads".into(),
                y_label: unit,
                series,
            }
        })
        .collect()
}

/// Colours that stay apart from each other on white (Tableau 10, then
/// darker variants).
const PALETTE: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
];

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 230.0; // room for the legend
const TOP: f64 = 44.0;
const BOTTOM: f64 = 56.0;

/// An axis: a value range, linear or logarithmic.
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    /// Base of the logarithm (2 for threads, 10 for values).
    base: f64,
}

impl Axis {
    fn new(values: &[f64], base: f64, log_ratio: f64) -> Axis {
        let (mut lo, mut hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        let log = lo > 0.0 && hi / lo >= log_ratio;
        if log {
            if base == 10.0 {
                // Whole decades, so the ticks are round.
                lo = 10f64.powf(lo.log10().floor());
                hi = 10f64.powf(hi.log10().ceil());
            }
        } else if base == 10.0 {
            // Values: from zero, with a little headroom.
            lo = lo.min(0.0);
            hi = if hi > 0.0 { hi * 1.1 } else { 1.0 };
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        Axis { lo, hi, log, base }
    }

    /// Where `v` falls, from 0 (lo) to 1 (hi).
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            (v / self.lo).log(self.base) / (self.hi / self.lo).log(self.base)
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// Tick values for a value axis.
    fn value_ticks(&self) -> Vec<f64> {
        if self.log {
            let decades = (self.hi / self.lo).log10().round() as i32;
            let mults: &[f64] = match decades {
                0..=2 => &[1.0, 2.0, 5.0],
                3..=4 => &[1.0, 3.0],
                _ => &[1.0],
            };
            let mut ticks = Vec::new();
            let mut d = self.lo;
            while d <= self.hi * 1.0001 {
                for m in mults {
                    if d * m <= self.hi * 1.0001 {
                        ticks.push(d * m);
                    }
                }
                d *= 10.0;
            }
            ticks
        } else {
            let raw = (self.hi - self.lo) / 6.0;
            let mag = 10f64.powf(raw.log10().floor());
            let step = [1.0, 2.0, 5.0, 10.0]
                .iter()
                .map(|m| m * mag)
                .find(|s| *s >= raw)
                .unwrap_or(raw);
            let mut ticks = Vec::new();
            let mut t = (self.lo / step).ceil() * step;
            while t <= self.hi + step * 1e-9 {
                ticks.push(t);
                t += step;
            }
            ticks
        }
    }
}

/// A tick label: short, without trailing zeros.
fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e6 {
        format!("{:.0e}", v)
    } else if a >= 1.0 {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `&`, `<`, `>` and quotes escaped for SVG text and attributes.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Plot {
    /// The plot as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let xs: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        let ys: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
            .collect();
        let x_axis = Axis::new(&xs, 2.0, 4.0);
        let y_axis = Axis::new(&ys, 10.0, 20.0);
        let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        let px = |x: f64| LEFT + x_axis.frac(x) * pw;
        let py = |y: f64| TOP + (1.0 - y_axis.frac(y)) * ph;

        let mut svg = String::new();
        let w = &mut svg;
        let _ = writeln!(
            w,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(w, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            w,
            r#"<text x="{:.1}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
            LEFT + pw / 2.0,
            escape(&self.title)
        );

        // Grid and ticks: y at round values, x at every thread count seen.
        for t in y_axis.value_ticks() {
            let y = py(t);
            let _ = writeln!(
                w,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e0e0e0"/>"##,
                LEFT + pw
            );
            let _ = writeln!(
                w,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT - 6.0,
                y + 4.0,
                tick_label(t)
            );
        }
        let mut x_ticks = xs.clone();
        x_ticks.sort_by(f64::total_cmp);
        x_ticks.dedup();
        for t in &x_ticks {
            let x = px(*t);
            let _ = writeln!(
                w,
                r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#e0e0e0"/>"##,
                TOP + ph
            );
            let _ = writeln!(
                w,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                TOP + ph + 18.0,
                tick_label(*t)
            );
        }
        let _ = writeln!(
            w,
            r#"<rect x="{LEFT}" y="{TOP}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="black"/>"#
        );
        let _ = writeln!(
            w,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            HEIGHT - 14.0,
            escape(&self.x_label)
        );
        let y_label = if y_axis.log {
            format!("{} (log scale)", self.y_label)
        } else {
            self.y_label.clone()
        };
        let (lx, ly) = (20.0, TOP + ph / 2.0);
        let _ = writeln!(
            w,
            r#"<text x="{lx}" y="{ly:.1}" text-anchor="middle" transform="rotate(-90 {lx} {ly:.1})">{}</text>"#,
            escape(&y_label)
        );

        // One polyline per unbroken run of points, markers on every point.
        for (i, s) in self.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let width = if s.emphasis { 3.0 } else { 1.5 };
            let radius = if s.emphasis { 4.5 } else { 3.0 };
            let drawable = |y: f64| y.is_finite() && (!y_axis.log || y > 0.0);
            let mut run: Vec<(f64, f64)> = Vec::new();
            let flush = |run: &mut Vec<(f64, f64)>, w: &mut String| {
                if !run.is_empty() {
                    let pts: Vec<String> = run
                        .iter()
                        .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                        .collect();
                    let _ = writeln!(
                        w,
                        r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="{width}"/>"#,
                        pts.join(" ")
                    );
                    run.clear();
                }
            };
            for &(x, y) in &s.points {
                if drawable(y) {
                    run.push((x, y));
                } else {
                    flush(&mut run, w);
                }
            }
            flush(&mut run, w);
            for &(x, y) in s.points.iter().filter(|p| drawable(p.1)) {
                let _ = writeln!(
                    w,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="{radius}" fill="{colour}"><title>{}: {}</title></circle>"#,
                    px(x),
                    py(y),
                    escape(&s.name),
                    tick_label(y)
                );
            }
        }

        // Legend, to the right of the plot area.
        let lx = LEFT + pw + 16.0;
        for (i, s) in self.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let y = TOP + 8.0 + i as f64 * 20.0;
            let width = if s.emphasis { 3.0 } else { 1.5 };
            let _ = writeln!(
                w,
                r#"<line x1="{lx:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="{width}"/>"#,
                lx + 24.0
            );
            let _ = writeln!(
                w,
                r#"<circle cx="{:.1}" cy="{y:.1}" r="3" fill="{colour}"/>"#,
                lx + 12.0
            );
            let weight = if s.emphasis { "bold" } else { "normal" };
            let _ = writeln!(
                w,
                r#"<text x="{:.1}" y="{:.1}" font-weight="{weight}">{}</text>"#,
                lx + 30.0,
                y + 4.0,
                escape(&s.name)
            );
        }
        let _ = writeln!(w, "</svg>");
        svg
    }
}

/// A light well-formedness check of an SVG document: every element is
/// closed in order, the root is `<svg>`. Returns the number of
/// `<polyline>` elements, or what is wrong.
pub fn check_svg(svg: &str) -> Result<usize, String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut polylines = 0;
    let mut rest = svg;
    let mut seen_root = false;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after
            .find('>')
            .ok_or_else(|| "unterminated tag".to_string())?;
        let tag = &after[..close];
        rest = &after[close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(top) if top == name.trim() => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            continue;
        }
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        if name.is_empty() || tag.contains('<') {
            return Err(format!("malformed tag <{tag}>"));
        }
        if !seen_root {
            if name != "svg" {
                return Err(format!("root element is <{name}>, not <svg>"));
            }
            seen_root = true;
        } else if stack.is_empty() {
            return Err(format!("<{name}> after the root element closed"));
        }
        if name == "polyline" {
            polylines += 1;
        }
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    if !seen_root {
        return Err("no <svg> element".into());
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{open}> never closed"));
    }
    Ok(polylines)
}

/// Writes one small plot into a temporary directory, reads it back and
/// checks it: the drivers' smoke pass calls this. `series` lines with
/// `points` points each, one point of the last line missing, so that line
/// is drawn as two polylines.
pub fn smoke_check(series: usize, points: usize) -> Result<(), String> {
    assert!(series >= 1 && points >= 3);
    let mut rows: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for s in 0..series {
        for p in 0..points {
            rows.insert((s, p), 10f64.powi(s as i32) * (p + 1) as f64);
        }
    }
    let names: Vec<String> = (0..series).map(|s| format!("impl-{s}<&>")).collect();
    let pts = rows.iter().map(|(&(s, p), &v)| Point {
        workload: "smoke",
        threads: (1usize << p) as f64,
        implementation: &names[s],
        value: (s + 1 < series || p != 1).then_some(v),
        unit: "Mops/s",
    });
    let dir = std::env::temp_dir().join(format!("urcu-plot-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let written = write_workload_plots(&dir, "smoke", pts, |n| n.ends_with("0<&>"));
    let result = (|| {
        let [path] = written.as_slice() else {
            return Err(format!("expected one SVG, wrote {written:?}"));
        };
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let polylines = check_svg(&text)?;
        if polylines != series + 1 {
            return Err(format!("{polylines} polylines, expected {}", series + 1));
        }
        if !text.contains("impl-0&lt;&amp;&gt;") || !text.contains("(log scale)") {
            return Err("legend text or log axis missing".into());
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
