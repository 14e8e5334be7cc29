//! Command-line handling shared by the examples: `--help`, no stray
//! arguments, and durations that make sense. Tiny and dependency-free; each
//! example includes it with `#[path = "common/args.rs"] mod args;`.

// Each example uses only part of this file.
#![allow(dead_code)]

use std::process::exit;

/// The longest run an example accepts, in seconds (one day).
pub const MAX_SECS: f64 = 86_400.0;

/// What an example says about itself; `--help` prints it.
pub struct Cli {
    /// The example's name, as in `cargo run --example NAME`.
    pub name: &'static str,
    /// What it does, in one line.
    pub about: &'static str,
    /// The arguments after `--`, e.g. `[SECONDS]`; empty if it takes none.
    pub synopsis: &'static str,
    /// One line per argument, with its default; empty if it takes none.
    pub options: &'static str,
}

impl Cli {
    /// The text `--help` prints.
    pub fn usage(&self) -> String {
        let (name, about) = (self.name, self.about);
        let u = format!("{name}: {about}\n\nusage: cargo run --release --example {name}");
        if self.synopsis.is_empty() {
            return u + "\n\nIt takes no arguments; -h or --help prints this help.\n";
        }
        // Line the help flag up with the options' descriptions.
        let first = self.options.trim_start();
        let flag = first.find("  ").unwrap_or(first.len());
        let column = self.options.len() - first[flag..].trim_start().len();
        let help = format!("{:column$}print this help and exit", "  -h, --help");
        let options = self.options.trim_end();
        u + &format!(" -- {}\n\n{options}\n{help}\n", self.synopsis)
    }

    /// The command-line arguments; prints the usage and exits with status 0
    /// if one of them is `--help` or `-h`.
    pub fn args(&self) -> Vec<String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "--help" || a == "-h") {
            print!("{}", self.usage());
            exit(0);
        }
        args
    }

    /// For an example that takes no arguments: `--help`, or nothing.
    pub fn no_args(&self) {
        if let Some(a) = self.args().first() {
            self.fail(&format!("unexpected argument `{a}`"));
        }
    }

    /// Prints `msg` and the usage to stderr and exits with status 2.
    pub fn fail(&self, msg: &str) -> ! {
        eprint!("{}: error: {msg}\n\n{}", self.name, self.usage());
        exit(2)
    }
}

/// Parses a duration in seconds: a number more than 0 and at most
/// [`MAX_SECS`] (so not negative, NaN or infinite).
pub fn secs(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    // Written so that NaN fails too.
    if !(v > 0.0 && v <= MAX_SECS) {
        return Err(format!(
            "{s} seconds makes no sense: give more than 0 and at most {MAX_SECS} (one day)"
        ));
    }
    Ok(v)
}
