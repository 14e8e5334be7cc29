//! Helpers shared by the integration tests: the `URCU_STRESS` scale, a
//! watchdog that turns a deadlock into a failure, and drop counters.
#![allow(dead_code)]

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// `URCU_STRESS` (default 1): every loop count is multiplied by it.
pub fn stress() -> usize {
    std::env::var("URCU_STRESS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// `n × URCU_STRESS`.
pub fn scaled(n: usize) -> usize {
    n * stress()
}

/// Runs `f` on a fresh thread and returns its result; fails the test if it
/// has not finished within `limit` (a deadlock, or a wait that never ends).
/// A panic inside `f` is re-raised here with its message.
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::Builder::new()
        .name(format!("watchdog: {what}"))
        .spawn(move || {
            let r = f();
            let _ = tx.send(());
            r
        })
        .expect("spawn");
    match rx.recv_timeout(limit) {
        Ok(()) => h.join().expect("sent before returning"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match h.join() {
            Ok(_) => unreachable!("the thread sends before it returns"),
            Err(e) => std::panic::resume_unwind(e),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not finish within {limit:?} (deadlock or lost wake-up?)")
        }
    }
}

/// Polls `cond` every millisecond until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return cond();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The text of a panic payload (`&str` or `String`).
pub fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Runs `f`, expects it to panic, and returns the panic message.
pub fn expect_panic(what: &str, f: impl FnOnce()) -> String {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(()) => panic!("{what}: expected a panic, but it returned normally"),
        Err(p) => panic_message(&*p),
    }
}

/// A shared drop counter.
#[derive(Clone, Default, Debug)]
pub struct DropCount(pub Arc<AtomicUsize>);

impl DropCount {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// A new object whose drop bumps this counter.
    pub fn obj(&self) -> Counted {
        Counted(self.0.clone())
    }
}

/// Bumps its counter when dropped.
#[derive(Debug)]
pub struct Counted(pub Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// xorshift64*: cheap, deterministic per-thread randomness, so that a
/// failing seed replays.
pub struct Rng(pub u64);

impl Rng {
    /// A generator from any seed (zero included).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Spins for a random short while (up to 47 pause instructions).
    pub fn spin(&mut self) {
        for _ in 0..self.next() % 48 {
            std::hint::spin_loop();
        }
    }
}

/// A reader (online through a handle) that stays in a section until the
/// returned sender is used or dropped: no grace period can end meanwhile.
pub fn stall(d: &urcu::Domain) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (in_tx, in_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let d = d.clone();
    let h = std::thread::spawn(move || {
        let h = d.register_thread();
        let g = h.read_lock();
        in_tx.send(()).unwrap();
        let _ = go_rx.recv();
        drop(g);
    });
    in_rx.recv().unwrap();
    (go_tx, h)
}

/// Busy-waits for `d` (keeps a read-side section open without sleeping).
pub fn spin_for(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// Re-runs the test binary for the single test `test` with `env=1` set,
/// and checks that it passed and printed `mark` (so a child that was
/// filtered out or returned early cannot pass for it). Returns the child's
/// stderr.
pub fn run_test_in_child(test: &str, env: &str, mark: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(env, "1")
        .output()
        .expect("re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(mark) && stdout.contains("1 passed"),
        "the child test must actually run:\n{stdout}\n{stderr}"
    );
    stderr.into_owned()
}
