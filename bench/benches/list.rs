//! List traversal cost, one thread: sum a 1,000-element list of `u64`.
//!
//! One iteration is one whole traversal (including taking the read-side
//! section or the read lock); criterion also reports elements per second.
//! Nobody writes during these runs; the `list` workload of
//! `benches/scaling.rs` measures traversals next to a writer and across
//! threads.
//!
//! ```text
//! cargo bench -p urcu-bench --bench list -- --warm-up-time 1 --measurement-time 2
//! ```

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::LinkedList;
use std::hint::black_box;
use std::sync::RwLock;
use urcu::RcuList;

/// Elements in each list (the values `0..LEN`).
const LEN: u64 = 1000;

fn list(c: &mut Criterion) {
    let mut group = c.benchmark_group("list");
    group.throughput(Throughput::Elements(LEN));

    // RcuList in the default domain: read_lock() + iter.
    let rcu: RcuList<u64> = (0..LEN).collect();
    group.bench_function("urcu-list", |b| {
        b.iter(|| {
            let g = urcu::read_lock();
            black_box(rcu.iter(&g).sum::<u64>())
        })
    });

    let vec = RwLock::new((0..LEN).collect::<Vec<u64>>());
    group.bench_function("rwlock-vec", |b| {
        b.iter(|| black_box(vec.read().expect("not poisoned").iter().sum::<u64>()))
    });

    let linked = RwLock::new((0..LEN).collect::<LinkedList<u64>>());
    group.bench_function("rwlock-linkedlist", |b| {
        b.iter(|| black_box(linked.read().expect("not poisoned").iter().sum::<u64>()))
    });

    group.finish();
}

criterion_group!(benches, list);
criterion_main!(benches);
