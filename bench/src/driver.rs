//! What the two harness-free drivers (`scaling`, `map`) stand on: the
//! command line ([`Args`]), a case run in a fresh child process
//! ([`run_child`]) that prints its [`Outcome`] as a `RESULT key=value ...`
//! line, rounds of cases with their medians and per-round ratios to the
//! best peer ([`run_rounds`]), and the table and CSV of a run
//! ([`print_table`], [`write_csv`]).
//!
//! A driver names its workloads ([`Spec`]), says for each case whether the
//! implementation is ours, a peer or a baseline and which figure compares
//! it ([`Role`], [`Metric`]), and which fields of its outcomes become
//! columns ([`Column`]). Ratios are always to the peer with the best
//! median in the same group (workload, thread count and keys); baselines
//! (an unprotected pointer, a non-concurrent map) are shown, not compared.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

/// What a driver is: its name (the output folder and the usage line), its
/// workloads (in the order `--workloads all` runs them) and the usage of
/// its own flags.
pub struct Spec {
    pub name: &'static str,
    pub workloads: &'static [&'static str],
    /// The driver's own flags, for `--help` (`"[--keys u64]"`).
    pub usage: &'static str,
}

/// The flags both drivers take. A child (`--case`) gets the same flags.
pub struct Args {
    /// `--threads 1,2,4`; a child runs with the first.
    pub threads: Vec<usize>,
    /// `--secs`: how long a timed case runs.
    pub secs: f64,
    /// `--rounds N`: runs of every case, all cases once per round.
    pub rounds: usize,
    /// `--workloads a,b` or `all`.
    pub workloads: Vec<String>,
    /// Hidden `--case WORKLOAD:IMPL`: run one case in this process and
    /// print its `RESULT` line.
    pub case: Option<String>,
    /// `cargo bench` passes `--bench`; without it (under `cargo test
    /// --all-targets`) a driver only runs a short smoke pass.
    pub bench: bool,
}

impl Args {
    /// Parses the command line. `own(flag, value)` sees every flag that is
    /// not a common one and takes its value with `value()`; flags nobody
    /// knows (cargo's, criterion-style filters) are ignored.
    pub fn parse(
        spec: &Spec,
        default_threads: Vec<usize>,
        mut own: impl FnMut(&str, &mut dyn FnMut() -> String),
    ) -> Args {
        let mut args = Args {
            threads: default_threads,
            secs: 1.0,
            rounds: 1,
            workloads: spec.workloads.iter().map(|w| w.to_string()).collect(),
            case: None,
            bench: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
            match flag.as_str() {
                "--threads" => args.threads = parse_threads(&value()),
                "--secs" => {
                    args.secs = value()
                        .parse()
                        .ok()
                        .filter(|s: &f64| *s > 0.0)
                        .expect("--secs takes a positive number of seconds")
                }
                "--rounds" => {
                    args.rounds = value()
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .expect("--rounds takes a positive count")
                }
                "--workloads" => args.workloads = parse_workloads(&value(), spec.workloads),
                "--case" => args.case = Some(value()),
                "--bench" => args.bench = true,
                "--help" | "-h" => {
                    println!(
                        "usage: {} [--threads 1,2] [--secs 1] [--rounds 1] {} \
                         [--workloads all | {}]",
                        spec.name,
                        spec.usage,
                        spec.workloads.join(",")
                    );
                    std::process::exit(0);
                }
                _ => own(&flag, &mut value),
            }
        }
        args
    }

    /// A child's thread count.
    pub fn child_threads(&self) -> usize {
        self.threads.first().copied().unwrap_or(1)
    }

    /// A child's `(workload, implementation)`.
    pub fn split_case(case: &str) -> (&str, &str) {
        case.split_once(':').expect("--case takes WORKLOAD:IMPL")
    }
}

/// `--threads 1,2,4`: positive counts.
pub fn parse_threads(list: &str) -> Vec<usize> {
    let threads: Vec<usize> = list
        .split(',')
        .map(|t| {
            t.trim()
                .parse()
                .expect("--threads takes a comma-separated list of counts")
        })
        .collect();
    assert!(
        threads.iter().all(|&t| t > 0),
        "--threads: counts must be positive"
    );
    threads
}

/// `--workloads a,b` or `all`, checked against `known`.
pub fn parse_workloads(list: &str, known: &[&str]) -> Vec<String> {
    let workloads: Vec<String> = list
        .split(',')
        .map(str::trim)
        .flat_map(|w| if w == "all" { known.to_vec() } else { vec![w] })
        .map(String::from)
        .collect();
    for w in &workloads {
        assert!(
            known.contains(&w.as_str()),
            "unknown workload {w:?} (expected all or some of {})",
            known.join(",")
        );
    }
    workloads
}

// ---------------------------------------------------------------------------
// What a case measured
// ---------------------------------------------------------------------------

/// One run of one case: operations and seconds (their rate is the Mops/s
/// column), and the workload's own fields (`rss_mib`, `p99_ns`, ...). A
/// child prints it as `RESULT ops=N secs=S key=value ...`.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub ops: u64,
    pub secs: f64,
    fields: Vec<(String, f64)>,
}

impl From<(u64, f64)> for Outcome {
    fn from((ops, secs): (u64, f64)) -> Outcome {
        Outcome::new(ops, secs)
    }
}

impl Outcome {
    pub fn new(ops: u64, secs: f64) -> Outcome {
        Outcome {
            ops,
            secs,
            fields: Vec::new(),
        }
    }

    /// Sets field `key` (`None` leaves it absent).
    pub fn with(mut self, key: &str, value: impl Into<Option<f64>>) -> Outcome {
        self.set(key, value);
        self
    }

    /// Sets field `key` (`None` removes it).
    pub fn set(&mut self, key: &str, value: impl Into<Option<f64>>) {
        assert!(
            !key.contains(['=', ' ']) && !matches!(key, "ops" | "secs" | "mops"),
            "bad field name {key:?}"
        );
        self.fields.retain(|(k, _)| k != key);
        if let Some(v) = value.into() {
            self.fields.push((key.to_string(), v));
        }
    }

    /// Millions of operations per second (`None` without time).
    pub fn mops(&self) -> Option<f64> {
        Some(self.ops as f64 / self.secs / 1e6).filter(|m| self.secs > 0.0 && m.is_finite())
    }

    /// A field's finite value; `"mops"` is [`Outcome::mops`].
    pub fn get(&self, key: &str) -> Option<f64> {
        if key == "mops" {
            return self.mops();
        }
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|&(_, v)| v)
            .filter(|v| v.is_finite())
    }

    /// The `RESULT` line a child prints on stdout.
    pub fn result_line(&self) -> String {
        let mut line = format!("RESULT ops={} secs={}", self.ops, self.secs);
        for (k, v) in &self.fields {
            line.push_str(&format!(" {k}={v}"));
        }
        line
    }

    /// The outcome in the first `RESULT` line of `stdout`.
    pub fn parse(stdout: &str) -> Option<Outcome> {
        let line = stdout.lines().find_map(|l| l.strip_prefix("RESULT "))?;
        let mut out = Outcome::default();
        for field in line.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            match k {
                "ops" => out.ops = v.parse().ok()?,
                "secs" => out.secs = v.parse().ok()?,
                _ => {
                    if let Ok(v) = v.parse() {
                        out.fields.push((k.to_string(), v));
                    }
                }
            }
        }
        Some(out)
    }
}

// ---------------------------------------------------------------------------
// Cases, run in child processes
// ---------------------------------------------------------------------------

/// One case: a workload on one implementation at one thread count.
#[derive(Clone)]
pub struct Case {
    pub workload: String,
    /// The thread count passed to the child.
    pub threads: usize,
    /// The thread count as shown (`"1r+1w"` for a case with fixed roles).
    pub shown: String,
    /// The key type, for a driver that has several (passed as `--keys`).
    pub keys: Option<&'static str>,
    pub implementation: &'static str,
    /// A pause before the case's child starts, so that it does not start
    /// on memory the previous child just freed (see the map driver's
    /// `--settle`). Zero by default.
    pub settle: Duration,
}

impl Case {
    pub fn new(workload: &str, threads: usize, implementation: &'static str) -> Case {
        Case {
            workload: workload.to_string(),
            threads,
            shown: threads.to_string(),
            keys: None,
            implementation,
            settle: Duration::ZERO,
        }
    }

    /// The case less its implementation: what compares with what
    /// (`"read_heavy threads=2 keys=u64"`).
    pub fn group(&self) -> String {
        match self.keys {
            Some(k) => format!("{} threads={} keys={k}", self.workload, self.shown),
            None => format!("{} threads={}", self.workload, self.shown),
        }
    }
}

/// Runs `exe --case WORKLOAD:IMPL --threads N [--keys K] ARGS...` and
/// returns the outcome it prints, or `None` (with a line on stderr) if it
/// failed. The child's stderr goes to ours.
pub fn run_child(exe: &Path, case: &Case, args: &[String]) -> Option<Outcome> {
    let mut cmd = Command::new(exe);
    cmd.args([
        "--case",
        &format!("{}:{}", case.workload, case.implementation),
    ])
    .args(["--threads", &case.threads.to_string()]);
    if let Some(k) = case.keys {
        cmd.args(["--keys", k]);
    }
    let output = cmd.args(args).stderr(Stdio::inherit()).output();
    match output {
        Ok(out) if out.status.success() => Outcome::parse(&String::from_utf8_lossy(&out.stdout)),
        Ok(out) => {
            eprintln!(
                "  case {}:{} threads={} failed: {}",
                case.workload, case.implementation, case.threads, out.status
            );
            None
        }
        Err(e) => {
            eprintln!("  could not start {}: {e}", exe.display());
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Rows and rounds
// ---------------------------------------------------------------------------

/// What an implementation is to the ratios.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    /// urcu: compared with the best peer.
    Ours,
    /// What ours are compared with.
    Peer,
    /// Shown for reference, neither compared nor compared with.
    Baseline,
}

/// The figure a workload compares.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// As the "ratio of" column shows it.
    pub label: &'static str,
    /// The [`Outcome`] field (`"mops"`: the rate).
    pub field: &'static str,
    pub higher_is_better: bool,
}

impl Metric {
    /// Millions of operations per second.
    pub const MOPS: Metric = Metric {
        label: "Mops/s",
        field: "mops",
        higher_is_better: true,
    };
}

/// A case with what it measured (its median run, after [`run_rounds`]).
pub struct Row {
    pub case: Case,
    pub role: Role,
    pub metric: Metric,
    /// `None` when the child failed.
    pub outcome: Option<Outcome>,
}

impl Row {
    /// A field of the outcome.
    pub fn get(&self, field: &str) -> Option<f64> {
        self.outcome.as_ref()?.get(field)
    }

    /// The compared figure.
    pub fn figure(&self) -> Option<f64> {
        self.get(self.metric.field)
    }
}

/// Runs every case in a child (`run_child` with `args`), `rounds` times,
/// round-major (a burst of noise on a shared machine hits one run of many
/// cases, not every run of one case), with a progress line per run on
/// stderr. With several rounds, prints each case's runs and each of our
/// cases' per-round ratios to the best peer (on stderr). Returns each
/// case's median run, in the order of `cases`. `classify` gives a case's
/// role and metric.
pub fn run_rounds(
    exe: &Path,
    cases: &[Case],
    rounds: usize,
    args: &[String],
    classify: impl Fn(&Case) -> (Role, Metric),
) -> Vec<Row> {
    let started = Instant::now();
    let total = cases.len() * rounds;
    let mut runs: Vec<Vec<Row>> = cases.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (k, case) in cases.iter().enumerate() {
            eprintln!(
                "[{}/{total}] {} {} (elapsed {:.1} s)",
                round * cases.len() + k + 1,
                case.group(),
                case.implementation,
                started.elapsed().as_secs_f64()
            );
            let (role, metric) = classify(case);
            std::thread::sleep(case.settle);
            runs[k].push(Row {
                case: case.clone(),
                role,
                metric,
                outcome: run_child(exe, case, args),
            });
        }
    }
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
    if rounds > 1 {
        print_round_ratios(&runs);
    }
    runs.into_iter().map(median_run).collect()
}

/// The median of `xs` (the lower middle of an even count).
fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len().checked_sub(1)? / 2).copied()
}

/// For each of our cases, its ratio, round by round, to the same round's
/// run of the peer of its group with the best median, and the median of
/// those ratios (to stderr). A round's cases run minutes apart at most, so
/// these ratios shrug off a machine that is slower in one round than in
/// the next. (Taking, per round, whichever peer happened to be fastest
/// would compare us with the luckiest of several noisy draws: peers that
/// run level have a maximum biased upwards by the noise.)
fn print_round_ratios(runs: &[Vec<Row>]) {
    for case in runs.iter().filter(|c| c[0].role == Role::Ours) {
        let group = case[0].case.group();
        let higher = case[0].metric.higher_is_better;
        let best = runs
            .iter()
            .filter(|c| c[0].role == Role::Peer && c[0].case.group() == group)
            .filter_map(|c| Some((c, median(c.iter().filter_map(Row::figure).collect())?)))
            .reduce(|a, b| if (b.1 > a.1) == higher { b } else { a });
        let Some((peer, _)) = best else { continue };
        let ratios: Vec<f64> = case
            .iter()
            .zip(peer)
            .filter_map(|(ours, peer)| Some(ours.figure()? / peer.figure()?))
            .collect();
        let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        let Some(mid) = median(ratios) else { continue };
        eprintln!(
            "{group} {}: vs best peer ({}) per round {} (median {mid:.2})",
            case[0].case.implementation,
            peer[0].case.implementation,
            shown.join(" "),
        );
    }
}

/// The run whose figure is the median of a case's runs (the lower middle
/// of an even count); a failed run is left out, and the case counts as
/// failed only if every run failed. With several runs, their figures go to
/// stderr.
fn median_run(mut runs: Vec<Row>) -> Row {
    if runs.len() > 1 {
        let values: Vec<String> = runs
            .iter()
            .map(|r| r.figure().map_or("failed".into(), num))
            .collect();
        eprintln!(
            "{} {}: runs {}",
            runs[0].case.group(),
            runs[0].case.implementation,
            values.join(" ")
        );
    }
    if runs.iter().any(|r| r.figure().is_some()) {
        runs.retain(|r| r.figure().is_some());
    } else {
        runs.truncate(1);
    }
    runs.sort_by(|a, b| a.figure().partial_cmp(&b.figure()).expect("finite figures"));
    let middle = (runs.len() - 1) / 2;
    runs.swap_remove(middle)
}

/// Each row's ratio to the best peer of its group (`None` where the row
/// failed, is not ours or a peer, or its group has no peer with a figure).
pub fn ratios_to_best_peer(rows: &[Row]) -> Vec<Option<f64>> {
    rows.iter()
        .map(|r| {
            if r.role == Role::Baseline {
                return None;
            }
            let group = r.case.group();
            let higher = r.metric.higher_is_better;
            let best = rows
                .iter()
                .filter(|p| p.role == Role::Peer && p.case.group() == group)
                .filter_map(Row::figure)
                .reduce(|a, b| if higher { a.max(b) } else { a.min(b) })?;
            Some(r.figure()? / best)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Table and CSV
// ---------------------------------------------------------------------------

/// A column of a driver's table and CSV beyond the common ones (workload,
/// threads, keys, implementation, Mops/s, vs best peer, ratio of).
pub struct Column {
    /// The table's header; `None`: in the CSV only.
    pub header: Option<&'static str>,
    /// The CSV's header.
    pub csv: &'static str,
    /// The [`Outcome`] field shown.
    pub field: &'static str,
    pub format: Format,
}

/// How a [`Column`] shows its values in the table (the CSV gives six
/// decimals, or an integer for a count).
#[derive(Clone, Copy)]
pub enum Format {
    /// About four significant digits ([`num`]).
    Num,
    /// One decimal.
    Fixed1,
    /// Two decimals.
    Fixed2,
    /// An integer.
    Count,
}

impl Format {
    fn table(self, v: f64) -> String {
        match self {
            Format::Num => num(v),
            Format::Fixed1 => format!("{v:.1}"),
            Format::Fixed2 => format!("{v:.2}"),
            Format::Count => format!("{v:.0}"),
        }
    }

    fn csv(self, v: f64) -> String {
        match self {
            Format::Count => format!("{v:.0}"),
            _ => format!("{v:.6}"),
        }
    }
}

/// Four significant digits or so, for throughput and latency columns.
pub fn num(x: f64) -> String {
    match x.abs() {
        v if v.is_nan() => "-".into(),
        v if v >= 100.0 => format!("{x:.1}"),
        v if v >= 10.0 => format!("{x:.2}"),
        v if v >= 1.0 => format!("{x:.3}"),
        _ => format!("{x:.4}"),
    }
}

/// The label cells of a row: workload, threads, keys (where the run has
/// keys), implementation.
fn labels(r: &Row, keys: bool) -> Vec<String> {
    let mut cells = vec![r.case.workload.clone(), r.case.shown.clone()];
    if keys {
        cells.push(r.case.keys.unwrap_or("-").to_string());
    }
    cells.push(r.case.implementation.to_string());
    cells
}

/// Prints the run's table on stdout: the labels, Mops/s, the ratio to the
/// best peer and what it is a ratio of, then `columns`.
pub fn print_table(rows: &[Row], columns: &[Column]) {
    let keys = rows.iter().any(|r| r.case.keys.is_some());
    let ratios = ratios_to_best_peer(rows);
    let shown: Vec<&Column> = columns.iter().filter(|c| c.header.is_some()).collect();
    let mut header = vec!["workload", "threads"];
    if keys {
        header.push("keys");
    }
    header.extend(["implementation", "Mops/s", "vs best peer", "ratio of"]);
    header.extend(shown.iter().filter_map(|c| c.header));
    let dash = || "-".to_string();
    let table: Vec<Vec<String>> = rows
        .iter()
        .zip(&ratios)
        .map(|(r, ratio)| {
            let mut cells = labels(r, keys);
            cells.push(match &r.outcome {
                None => "failed".into(),
                Some(o) => o.mops().map_or_else(dash, num),
            });
            cells.push(ratio.map_or_else(dash, |x| format!("{x:.3}")));
            cells.push(r.metric.label.to_string());
            for c in &shown {
                cells.push(r.get(c.field).map_or_else(dash, |v| c.format.table(v)));
            }
            cells
        })
        .collect();
    let label_columns = if keys { 4 } else { 3 };
    print_aligned(&header, &table, |c| {
        c < label_columns || c == label_columns + 2
    });
}

/// Writes the run as CSV to `path` (after a `# comment` line, if any):
/// the table's columns, every figure with six decimals, empty where
/// absent.
pub fn write_csv(path: &Path, comment: Option<&str>, rows: &[Row], columns: &[Column]) {
    let keys = rows.iter().any(|r| r.case.keys.is_some());
    let ratios = ratios_to_best_peer(rows);
    let mut csv = comment.map_or(String::new(), |c| format!("# {c}\n"));
    let mut header = vec!["workload", "threads"];
    if keys {
        header.push("keys");
    }
    header.extend(["implementation", "mops", "ratio_to_best_peer", "ratio_of"]);
    header.extend(columns.iter().map(|c| c.csv));
    csv.push_str(&header.join(","));
    csv.push('\n');
    let six = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
    for (r, ratio) in rows.iter().zip(&ratios) {
        let mut cells = labels(r, keys);
        cells.push(six(r.get("mops")));
        cells.push(six(*ratio));
        cells.push(r.metric.label.to_string());
        for c in columns {
            cells.push(r.get(c.field).map_or(String::new(), |v| c.format.csv(v)));
        }
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    std::fs::write(path, csv).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("wrote {}", path.display());
}

/// Prints `rows` under `header` in aligned columns: left-aligned where
/// `left(column)` says so, right-aligned otherwise.
pub fn print_aligned<R: AsRef<[String]>>(
    header: &[&str],
    rows: &[R],
    left: impl Fn(usize) -> bool,
) {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r.as_ref()[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let cols: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, &w))| {
                if left(c) {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
                }
            })
            .collect();
        println!("{}", cols.join("  ").trim_end());
    };
    line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for r in rows {
        line(r.as_ref());
    }
}

/// `$CARGO_TARGET_DIR/<name>` (or `target/<name>`), created.
pub fn output_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
        .join(name);
    std::fs::create_dir_all(&dir).expect("create the output directory");
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(implementation: &'static str, role: Role, mops: Option<f64>) -> Row {
        Row {
            case: Case::new("w", 1, implementation),
            role,
            metric: Metric::MOPS,
            outcome: mops.map(|m| Outcome::new((m * 1e6) as u64, 1.0)),
        }
    }

    #[test]
    fn outcome_round_trips_through_its_result_line() {
        let o = Outcome::new(42, 0.5)
            .with("p99_ns", 12.5)
            .with("absent", None)
            .with("nan", f64::NAN);
        let back = Outcome::parse(&format!("noise\n{}\n", o.result_line())).unwrap();
        assert_eq!((back.ops, back.secs), (42, 0.5));
        assert_eq!(back.get("p99_ns"), Some(12.5));
        assert_eq!(back.get("absent"), None);
        assert_eq!(back.get("nan"), None);
        assert_eq!(back.get("mops"), Some(42.0 / 0.5 / 1e6));
        assert!(Outcome::parse("no result here").is_none());
    }

    #[test]
    fn ratios_compare_with_the_best_peer_only() {
        let rows = [
            row("urcu", Role::Ours, Some(3.0)),
            row("a", Role::Peer, Some(2.0)),
            row("b", Role::Peer, Some(1.0)),
            row("unprotected", Role::Baseline, Some(9.0)),
            row("urcu-failed", Role::Ours, None),
        ];
        let r = ratios_to_best_peer(&rows);
        assert_eq!(r[0], Some(1.5));
        assert_eq!(r[1], Some(1.0));
        assert_eq!(r[2], Some(0.5));
        assert_eq!(r[3], None);
        assert_eq!(r[4], None);
    }

    #[test]
    fn median_run_skips_failed_runs() {
        let runs = vec![
            row("urcu", Role::Ours, Some(3.0)),
            row("urcu", Role::Ours, None),
            row("urcu", Role::Ours, Some(1.0)),
            row("urcu", Role::Ours, Some(2.0)),
        ];
        assert_eq!(median_run(runs).figure(), Some(2.0));
    }
}
