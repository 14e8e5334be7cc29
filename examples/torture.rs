//! rcutorture for urcu-rs, from the command line: readers, writers and
//! fake writers hammer each flavor and each structure, and every reader
//! checks that what it holds was neither freed nor aged past what its
//! read-side section allows.
//!
//! ```text
//! cargo run --release --example torture -- [--secs N] [--flavor memb|mb|qsbr|all]
//!     [--structure core|queue|rcubox|map|list|config|map-stall|come-and-go|all]
//! ```
//!
//! `--secs` is per case (flavor × structure; default 3; `--help` lists the
//! options). The program prints one line per case, then a table, and exits
//! with status 1 on any error (3 if a case deadlocks). The checks of each
//! structure are described in the engine, `examples/common/torture/mod.rs`,
//! which `tests/torture.rs` runs too. The hidden `--inject-bug skip-gp`
//! (one pipe step without a grace period) and `--inject-bug free-early`
//! (free on removal, in `core` and `queue`) show that the checks fire.

use std::process::ExitCode;
use std::time::Duration;
use torture::{flavor_name, Bug, Case, Structure, FLAVORS};
use urcu::Flavor;

#[path = "common/args.rs"]
mod args;
#[path = "common/torture/mod.rs"]
mod torture;

struct Args {
    secs: f64,
    flavors: Vec<Flavor>,
    structures: Vec<Structure>,
    bug: Option<Bug>,
}

/// `--help` (`--inject-bug` stays hidden: it is for showing the checks fire).
const CLI: args::Cli = args::Cli {
    name: "torture",
    about: "rcutorture for urcu-rs: readers, writers and fake writers hammer each flavor and \
            structure; exits with status 1 on any error.",
    synopsis: "[--secs N] [--flavor F] [--structure S]",
    options: "  --secs N        seconds per case (flavor x structure; default 3; more than 0, \
              at most 86400)
  --flavor F      memb|mb|qsbr|all, or a comma-separated list (default all)
  --structure S   core|queue|rcubox|map|list|config|map-stall|come-and-go|all, or a
                  comma-separated list (default all)",
};

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        secs: 3.0,
        flavors: FLAVORS.to_vec(),
        structures: Structure::ALL.to_vec(),
        bug: None,
    };
    let mut it = CLI.args().into_iter();
    while let Some(flag) = it.next() {
        if !matches!(
            flag.as_str(),
            "--secs" | "--flavor" | "--structure" | "--inject-bug"
        ) {
            return Err(format!("unknown argument `{flag}`"));
        }
        let val = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--secs" => a.secs = args::secs(&val).map_err(|e| format!("--secs: {e}"))?,
            "--flavor" => a.flavors = parse_list(&val, parse_flavor)?,
            "--structure" => a.structures = parse_list(&val, parse_structure)?,
            _ => a.bug = Some(parse_bug(&val)?),
        }
    }
    Ok(a)
}

fn parse_list<T>(v: &str, one: fn(&str) -> Result<Vec<T>, String>) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for part in v.split(',') {
        out.extend(one(part)?);
    }
    Ok(out)
}

fn parse_flavor(v: &str) -> Result<Vec<Flavor>, String> {
    if v == "all" {
        return Ok(FLAVORS.to_vec());
    }
    match FLAVORS.into_iter().find(|&f| flavor_name(f) == v) {
        Some(f) => Ok(vec![f]),
        None => Err(format!("unknown flavor {v} (memb|mb|qsbr|all)")),
    }
}

fn parse_structure(v: &str) -> Result<Vec<Structure>, String> {
    if v == "all" {
        return Ok(Structure::ALL.to_vec());
    }
    match Structure::ALL.into_iter().find(|s| s.name() == v) {
        Some(s) => Ok(vec![s]),
        None => {
            let names: Vec<&str> = Structure::ALL.iter().map(|s| s.name()).collect();
            Err(format!("unknown structure {v} ({}|all)", names.join("|")))
        }
    }
}

fn parse_bug(v: &str) -> Result<Bug, String> {
    match v {
        "skip-gp" => Ok(Bug::SkipGp),
        "free-early" => Ok(Bug::FreeEarly),
        _ => Err(format!("unknown bug {v} (skip-gp|free-early)")),
    }
}

fn main() -> ExitCode {
    let args = parse_args().unwrap_or_else(|e| CLI.fail(&e));
    if let Err(e) = torture::check_the_quarantine() {
        eprintln!("FAIL the harness: {e}");
        return ExitCode::FAILURE;
    }
    let duration = Duration::from_secs_f64(args.secs);
    let mut reports = Vec::new();
    for &flavor in &args.flavors {
        for &structure in &args.structures {
            let case = Case {
                bug: args.bug,
                ..Case::new(flavor, structure, duration)
            };
            let r = torture::run_case_with_watchdog(case);
            println!("{}", r.row());
            reports.push(r);
        }
    }
    torture::print_table(&reports);
    if reports.iter().any(|r| r.errors > 0) {
        for r in reports.iter().filter(|r| r.errors > 0) {
            eprintln!("FAIL {}: {:?}", r.name(), r.first_errors);
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
