//! Configuration reload with `ConfigCell`: worker threads read the config on
//! every request and never wait; a reloader watches a file (polling its
//! modification time), parses each new version and publishes it. A bad file
//! is rejected with a clear message and the old config stays live.
//!
//! Run with `cargo run --release --example config_reload`. The example
//! edits its own config file (in a temporary directory) a few times, one of
//! them with a mistake, so it runs on its own and then ends.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use urcu::ConfigCell;

#[path = "common/args.rs"]
mod args;

/// The service's configuration.
#[derive(Debug, Clone, PartialEq)]
struct Config {
    greeting: String,
    max_connections: u32,
    rate_limit: u32,
}

/// Parses `key = value` lines; `#` starts a comment.
fn parse(text: &str) -> Result<Config, String> {
    let (mut greeting, mut max_connections, mut rate_limit) = (None, None, None);
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or(format!(
            "line {}: expected `key = value`, got `{line}`",
            n + 1
        ))?;
        let (key, value) = (key.trim(), value.trim());
        let number = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| format!("line {}: `{key}` must be a number, got `{v}`", n + 1))
        };
        match key {
            "greeting" => greeting = Some(value.to_string()),
            "max_connections" => max_connections = Some(number(value)?),
            "rate_limit" => rate_limit = Some(number(value)?),
            other => return Err(format!("line {}: unknown setting `{other}`", n + 1)),
        }
    }
    Ok(Config {
        greeting: greeting.ok_or("missing setting `greeting`")?,
        max_connections: max_connections.ok_or("missing setting `max_connections`")?,
        rate_limit: rate_limit.ok_or("missing setting `rate_limit`")?,
    })
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Watches `path` and publishes every valid new version into `cell`.
fn reloader(
    path: PathBuf,
    cell: Arc<ConfigCell<Config>>,
    stop: Arc<AtomicBool>,
    handled: Arc<AtomicU64>,
) {
    let mut seen = modified(&path);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(5));
        let now = modified(&path);
        if now == seen {
            continue;
        }
        seen = now;
        handle(&path, &cell);
        handled.fetch_add(1, Ordering::Release);
    }
}

/// Reads, checks and (if valid and new) publishes the file.
fn handle(path: &Path, cell: &ConfigCell<Config>) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            println!(
                "  reloader: cannot read {}: {e}; keeping the current config",
                path.display()
            );
            return;
        }
    };
    match parse(&text) {
        Ok(new) if new == *cell.read() => {
            println!("  reloader: file touched, config unchanged")
        }
        Ok(new) => {
            println!("  reloader: publishing {new:?}");
            cell.store(new);
        }
        Err(e) => {
            println!("  reloader: REJECTED the new file ({e}); the old config stays live")
        }
    }
}

/// A worker: handles "requests", reading the config for each one.
fn worker(id: usize, cell: Arc<ConfigCell<Config>>, stop: Arc<AtomicBool>, served: Arc<AtomicU64>) {
    let (mut n, mut last_version) = (0u64, cell.version());
    while !stop.load(Ordering::Relaxed) {
        let cfg = cell.read(); // a read-side section and one load
        assert!(cfg.max_connections > 0 && !cfg.greeting.is_empty());
        n += 1;
        drop(cfg);
        let v = cell.version();
        if v != last_version {
            println!(
                "  worker {id}: noticed reload (version {last_version} -> {v}) after {n} requests"
            );
            last_version = v;
        }
    }
    served.fetch_add(n, Ordering::Relaxed);
}

/// Replaces the file whole, then waits until the reloader has looked at it
/// (so that each edit of this scripted demo is seen on its own).
fn write_config(path: &Path, text: &str, handled: &AtomicU64) {
    // Give the file system clock room to move on.
    std::thread::sleep(Duration::from_millis(20));
    let before = handled.load(Ordering::Acquire);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write config");
    std::fs::rename(&tmp, path).expect("replace config");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while handled.load(Ordering::Acquire) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the reloader did not notice the edit"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn main() {
    args::Cli {
        name: "config_reload",
        about: "ConfigCell: workers read a config that a reloader publishes from a file it \
                edits; a bad version is rejected.",
        synopsis: "",
        options: "",
    }
    .no_args();
    let dir = std::env::temp_dir().join(format!("urcu-config-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("service.conf");
    let first = "greeting = hello\nmax_connections = 100\nrate_limit = 10\n";
    std::fs::write(&path, first).expect("write config");

    let cell = Arc::new(ConfigCell::new(
        parse(first).expect("the first config is valid"),
    ));
    println!("started with {:?}", *cell.read());
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let handled = Arc::new(AtomicU64::new(0));
    let mut threads = vec![{
        let (p, c, s, h) = (path.clone(), cell.clone(), stop.clone(), handled.clone());
        std::thread::spawn(move || reloader(p, c, s, h))
    }];
    for id in 0..2 {
        let (c, s, n) = (cell.clone(), stop.clone(), served.clone());
        threads.push(std::thread::spawn(move || worker(id, c, s, n)));
    }

    println!("editing the file: more connections");
    write_config(
        &path,
        "greeting = hello\nmax_connections = 200\nrate_limit = 10\n",
        &handled,
    );
    println!("editing the file: a typo in a number");
    write_config(
        &path,
        "greeting = hello\nmax_connections = 2O0\nrate_limit = 10\n",
        &handled,
    );
    println!("editing the file: a new greeting, and the typo fixed");
    write_config(
        &path,
        "greeting = welcome\nmax_connections = 250 # busier now\nrate_limit = 20\n",
        &handled,
    );
    std::thread::sleep(Duration::from_millis(20));

    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let last = cell.read().clone();
    println!(
        "done: workers served {} requests without ever waiting; {} reloads published; live config {:?}",
        served.load(Ordering::Relaxed),
        cell.version(),
        last
    );
    assert_eq!(last.max_connections, 250, "the last valid file is live");
    assert_eq!(
        cell.version(),
        2,
        "two valid edits were published, the bad one was not"
    );
    std::fs::remove_dir_all(&dir).ok();
}
