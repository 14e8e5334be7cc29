//! What the two harness-free drivers (`scaling`, `map`) share: running a
//! case in a fresh child process, reading its `RESULT key=value ...` line,
//! `/proc/self/status` figures, number formatting, where the CSV goes,
//! (in [`rounds`]) rounds of cases, their medians and ratios to the best
//! peer, (in [`map_session`]) the maps under test, and (in [`plot`]) the
//! SVG plots drawn next to the CSV.
#![allow(dead_code)]

pub mod map_session;
pub mod plot;
pub mod rounds;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `exe --case WORKLOAD:NAME --threads N ARGS...` and returns the
/// `key=value` fields of the `RESULT` line it prints, or `None` (with a
/// line on stderr) if it failed.
pub fn run_case(
    exe: &Path,
    workload: &str,
    name: &str,
    threads: usize,
    args: &[String],
) -> Option<Vec<(String, String)>> {
    let output = Command::new(exe)
        .args(["--case", &format!("{workload}:{name}")])
        .args(["--threads", &threads.to_string()])
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output();
    match output {
        Ok(out) if out.status.success() => result_fields(&String::from_utf8_lossy(&out.stdout)),
        Ok(out) => {
            eprintln!(
                "  case {workload}:{name} threads={threads} failed: {}",
                out.status
            );
            None
        }
        Err(e) => {
            eprintln!("  could not start {}: {e}", exe.display());
            None
        }
    }
}

/// The `key=value` fields of the first `RESULT` line of `stdout`.
pub fn result_fields(stdout: &str) -> Option<Vec<(String, String)>> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("RESULT "))?;
    line.split_whitespace()
        .map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// A `/proc/self/status` field in KiB (`VmRSS:`, `VmHWM:`); NaN if absent.
pub fn status_kib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN)
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

/// `$CARGO_TARGET_DIR/<name>` (or `target/<name>`), created.
pub fn output_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
        .join(name);
    std::fs::create_dir_all(&dir).expect("create the output directory");
    dir
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

/// Prints `rows` under `header` in aligned columns: left-aligned where
/// `left(column)` says so, right-aligned otherwise.
pub fn print_table<R: AsRef<[String]>>(header: &[&str], rows: &[R], left: impl Fn(usize) -> bool) {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r.as_ref()[c].len())
                .chain([header[c].len()])
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

/// xorshift64* (Marsaglia's xorshift with Vigna's multiplier): the drivers'
/// per-thread key generator (the C shim's lfht loop uses the same).
pub struct XorShift(u64);

impl XorShift {
    /// A generator for stream (thread) `stream`.
    pub fn new(stream: u64) -> Self {
        XorShift((stream + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    #[inline(always)]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
