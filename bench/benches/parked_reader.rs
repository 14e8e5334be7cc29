//! Readers' section rate while a grace period waits on one parked reader.
//!
//! `cargo bench --bench parked_reader -- [READERS] [ROUNDS]`
//!
//! One thread holds a read-side section open (as a reader preempted in
//! its section, or one waiting at a barrier, does); READERS threads enter
//! and leave sections in a loop. The rate is measured for 0.7 s with no
//! grace period pending, then for 0.7 s while a `synchronize_rcu` waits on
//! the parked reader. A grace period that any reader's exit wakes (and that
//! then re-arms with a heavy barrier, an IPI to every reader's CPU) slows
//! the busy readers down; one woken only by the readers it waits for
//! leaves them alone. Prints both rates, their ratio and the grace
//! period's sleeps (`Stats::grace_period_sleeps`) during the second phase.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};
use urcu::Domain;

const PHASE: Duration = Duration::from_millis(700);

fn round(readers: usize) -> (f64, f64, u64) {
    let d = Domain::new();
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..readers).map(|_| AtomicU64::new(0)).collect());
    let (held_tx, held_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let parked = {
        let d = d.clone();
        thread::spawn(move || {
            let g = d.read_lock();
            held_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            drop(g);
        })
    };
    held_rx.recv().unwrap();
    let busy: Vec<_> = (0..readers)
        .map(|i| {
            let (d, stop, counts) = (d.clone(), stop.clone(), counts.clone());
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1000 {
                        drop(std::hint::black_box(d.read_lock()));
                    }
                    n += 1000;
                    counts[i].store(n, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let total = || {
        counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let rate = || {
        let (a, t) = (total(), Instant::now());
        thread::sleep(PHASE);
        (total() - a) as f64 / t.elapsed().as_secs_f64()
    };
    thread::sleep(Duration::from_millis(100));
    let quiet = rate();
    let waiter = {
        let d = d.clone();
        thread::spawn(move || d.synchronize_rcu())
    };
    thread::sleep(Duration::from_millis(100));
    let before = d.stats().grace_period_sleeps;
    let waiting = rate();
    let sleeps = d.stats().grace_period_sleeps - before;
    release_tx.send(()).unwrap();
    waiter.join().unwrap();
    parked.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    busy.into_iter().for_each(|h| h.join().unwrap());
    (quiet, waiting, sleeps)
}

fn main() {
    // `cargo bench` passes `--bench`; take the numbers after it.
    let nums: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let readers = nums.first().copied().unwrap_or(1);
    let rounds = nums.get(1).copied().unwrap_or(3);
    println!("busy readers: {readers}; M sections/s, no grace period pending vs one waiting on a parked reader");
    for _ in 0..rounds {
        let (quiet, waiting, sleeps) = round(readers);
        println!(
            "  {:7.1}  {:7.1}  ({:.2}x)  grace-period sleeps while waiting: {sleeps}",
            quiet / 1e6,
            waiting / 1e6,
            waiting / quiet
        );
    }
}
