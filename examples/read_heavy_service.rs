//! A read-heavy service: a session cache in an `RcuHashMap`, looked up by
//! several request threads while one writer logs sessions in, renews them
//! and expires old ones. Readers never wait for the writer; the writer never
//! waits for readers (replaced and removed sessions go to the reclamation
//! queue).
//!
//! Run with `cargo run --release --example read_heavy_service [-- SECONDS]`
//! (default 2). A progress line shows lookups per second, the table size
//! and the objects waiting for a grace period.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use urcu::RcuHashMap;

#[path = "common/args.rs"]
mod args;

/// What the cache stores per session id.
struct Session {
    user: String,
    renewals: u32,
}

/// Small, fast, deterministic per-thread random numbers (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const LIVE_SESSIONS: u64 = 100_000;

fn main() {
    let cli = args::Cli {
        name: "read_heavy_service",
        about: "an RcuHashMap session cache: request threads look sessions up while a writer \
                logs in, renews and expires them.",
        synopsis: "[SECONDS]",
        options: "  SECONDS     how long to run (default 2; more than 0, at most 86400)",
    };
    let secs = match cli.args().as_slice() {
        [] => 2.0,
        [s] => args::secs(s).unwrap_or_else(|e| cli.fail(&e)),
        [_, extra, ..] => cli.fail(&format!("unexpected argument `{extra}`")),
    };
    let readers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2)
        - 1;
    let cache: Arc<RcuHashMap<u64, Session>> =
        Arc::new(RcuHashMap::with_capacity(LIVE_SESSIONS as usize));
    {
        let m = cache.pin();
        for id in 0..LIVE_SESSIONS {
            m.insert(
                id,
                Session {
                    user: format!("user{id}"),
                    renewals: 0,
                },
            );
        }
    }
    println!(
        "session cache: {} sessions, {readers} request thread(s), 1 writer, {secs} s",
        cache.len()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let lookups = Arc::new(AtomicU64::new(0));
    let hits = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for t in 0..readers {
        let (cache, stop, lookups, hits) =
            (cache.clone(), stop.clone(), lookups.clone(), hits.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng(0x1234_5678 + t as u64);
            while !stop.load(Ordering::Relaxed) {
                // One pinned handle per batch of requests: one read-side
                // section, no shared writes.
                let m = cache.pin();
                let mut found = 0;
                for _ in 0..256 {
                    // Ids around the live window: most hit, some miss.
                    let id = rng.next() % (LIVE_SESSIONS * 11 / 10) + writer_base(&cache);
                    if let Some(s) = m.get(&id) {
                        debug_assert!(s.user.starts_with("user"));
                        found += 1;
                    }
                }
                drop(m);
                lookups.fetch_add(256, Ordering::Relaxed);
                hits.fetch_add(found, Ordering::Relaxed);
            }
        }));
    }
    let writes = Arc::new(AtomicU64::new(0));
    {
        let (cache, stop, writes) = (cache.clone(), stop.clone(), writes.clone());
        threads.push(std::thread::spawn(move || {
            let mut next_id = LIVE_SESSIONS;
            let mut rng = Rng(42);
            while !stop.load(Ordering::Relaxed) {
                let m = cache.pin();
                for _ in 0..64 {
                    // Log in a new session, expire the oldest, renew a random one.
                    m.insert(
                        next_id,
                        Session {
                            user: format!("user{next_id}"),
                            renewals: 0,
                        },
                    );
                    m.remove(&(next_id - LIVE_SESSIONS));
                    let renew = next_id - rng.next() % LIVE_SESSIONS;
                    m.update(&renew, |s| Session {
                        user: s.user.clone(),
                        renewals: s.renewals + 1,
                    });
                    next_id += 1;
                }
                drop(m);
                BASE.store(next_id - LIVE_SESSIONS, Ordering::Relaxed);
                writes.fetch_add(64 * 3, Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(50));
            }
        }));
    }

    let start = Instant::now();
    let mut last = (start, 0u64);
    while start.elapsed().as_secs_f64() < secs {
        std::thread::sleep(Duration::from_millis(250));
        let now = (Instant::now(), lookups.load(Ordering::Relaxed));
        let rate = (now.1 - last.1) as f64 / now.0.duration_since(last.0).as_secs_f64();
        print!(
            "\r  {:>7.1} M lookups/s   sessions {:>7}   pending reclamation {:>6}   ",
            rate / 1e6,
            cache.len(),
            urcu::stats().pending()
        );
        std::io::stdout().flush().ok();
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (l, h, w) = (
        lookups.load(Ordering::Relaxed),
        hits.load(Ordering::Relaxed),
        writes.load(Ordering::Relaxed),
    );
    println!();
    println!(
        "done: {:.1} M lookups/s ({:.0}% hits), {:.0} k writes/s, {} sessions live",
        l as f64 / elapsed / 1e6,
        100.0 * h as f64 / l.max(1) as f64,
        w as f64 / elapsed / 1e3,
        cache.len()
    );
    urcu::rcu_barrier();
    let s = urcu::stats();
    println!(
        "reclamation: {} objects queued, {} reclaimed, {} grace periods, {} pending after rcu_barrier",
        s.queued,
        s.reclaimed,
        s.grace_periods,
        s.pending()
    );
    assert_eq!(cache.len() as u64, LIVE_SESSIONS);
}

/// The oldest live session id (published by the writer).
static BASE: AtomicU64 = AtomicU64::new(0);

fn writer_base(_cache: &RcuHashMap<u64, Session>) -> u64 {
    BASE.load(Ordering::Relaxed)
}
