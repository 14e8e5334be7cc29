//! Config read cost, one thread: read a 256-byte config and touch two of its
//! fields.
//!
//! Every case times `iters` reads in one tight loop (`iter_custom`), so the
//! time criterion reports is the cost of **one** read: get the current
//! config, add `a + b` to a `black_box`ed accumulator, let the config go.
//! Nobody writes during these runs; the `config` workload of
//! `benches/scaling.rs` measures the same reads next to a writer and across
//! threads.
//!
//! ```text
//! cargo bench -p urcu-bench --bench config_cell -- --warm-up-time 1 --measurement-time 2
//! ```

use arc_swap::ArcSwap;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use urcu::{ConfigCell, Domain, Flavor};

/// The config: 256 bytes, of which a read touches `a` and `b`.
struct Config {
    a: u64,
    b: u64,
    _pad: [u64; 30],
}
const _: () = assert!(std::mem::size_of::<Config>() == 256);

fn config() -> Config {
    Config {
        a: 1,
        b: 2,
        _pad: [0; 30],
    }
}

/// Under QSBR a registered reader reports a quiescent state every this many
/// reads (a real reader would do it between requests).
const QSBR_EVERY: u64 = 1024;

/// Times `iters` reads; `read` returns `a + b` of the config it read.
#[inline(always)]
fn time_reads(iters: u64, mut read: impl FnMut() -> u64) -> Duration {
    let mut acc = 0u64;
    let start = Instant::now();
    for _ in 0..iters {
        acc = black_box(acc.wrapping_add(read()));
    }
    start.elapsed()
}

#[inline(always)]
fn touch(c: &Config) -> u64 {
    c.a.wrapping_add(c.b)
}

fn config_cell(c: &mut Criterion) {
    let mut group = c.benchmark_group("config_cell");

    // ConfigCell::read(): the default (memb) domain's free read_lock.
    let cell = ConfigCell::new(config());
    group.bench_function("urcu-config-read", |b| {
        b.iter_custom(|iters| time_reads(iters, || touch(&cell.read())))
    });

    // A QSBR-domain ConfigCell read through a registered ThreadHandle; the
    // quiescent_state() every QSBR_EVERY reads is included in the time.
    let qsbr = Domain::builder().flavor(Flavor::Qsbr).build();
    let qsbr_cell = ConfigCell::new_in(config(), &qsbr);
    let mut handle = qsbr.register_thread();
    group.bench_function("urcu-config-qsbr", |b| {
        b.iter_custom(|iters| {
            let mut acc = 0u64;
            let start = Instant::now();
            for i in 0..iters {
                {
                    let g = handle.read_lock();
                    acc = black_box(acc.wrapping_add(touch(qsbr_cell.load(&g))));
                }
                if i % QSBR_EVERY == QSBR_EVERY - 1 {
                    handle.quiescent_state();
                }
            }
            start.elapsed()
        })
    });
    drop(handle);

    // arc-swap: load() (a debt slot; no reference count in the fast path).
    let swap = ArcSwap::from_pointee(config());
    group.bench_function("arc-swap-load", |b| {
        b.iter_custom(|iters| time_reads(iters, || touch(&swap.load())))
    });

    // arc-swap: a Cache (one load and a compare while nothing changes).
    let mut cache = arc_swap::Cache::new(&swap);
    group.bench_function("arc-swap-cache", |b| {
        b.iter_custom(|iters| time_reads(iters, || touch(cache.load())))
    });

    // std RwLock<Arc<_>> and Mutex<Arc<_>>: read the fields under the lock,
    // without cloning the Arc.
    let rwlock = RwLock::new(Arc::new(config()));
    group.bench_function("rwlock-arc", |b| {
        b.iter_custom(|iters| time_reads(iters, || touch(&rwlock.read().expect("not poisoned"))))
    });
    let mutex = Mutex::new(Arc::new(config()));
    group.bench_function("mutex-arc", |b| {
        b.iter_custom(|iters| time_reads(iters, || touch(&mutex.lock().expect("not poisoned"))))
    });

    group.finish();
}

criterion_group!(benches, config_cell);
criterion_main!(benches);
