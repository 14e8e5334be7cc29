//! `synchronize_rcu` latency per flavor, with 0, 1 and 2 busy reader
//! threads. Each reader loops `read_lock()`/unlock through its own
//! `ThreadHandle`; QSBR readers also call `quiescent_state()` on every turn
//! of their loop. The time criterion reports is one `synchronize_rcu` call.
//!
//! crossbeam-epoch and seize have no blocking "wait for readers" call, so
//! there is no peer here.
//!
//! ```text
//! cargo bench -p urcu-bench --bench grace_period -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! With more busy threads than cores, a grace period may have to wait for a
//! preempted reader to be scheduled again: expect milliseconds there.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use urcu::{Domain, Flavor};

/// Reader threads spinning on read-side sections until dropped.
struct BusyReaders {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl BusyReaders {
    fn start(domain: &Domain, count: usize) -> BusyReaders {
        let stop = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(Barrier::new(count + 1));
        let threads = (0..count)
            .map(|_| {
                let (domain, stop, ready) = (domain.clone(), stop.clone(), ready.clone());
                std::thread::spawn(move || {
                    let mut handle = domain.register_thread();
                    let qsbr = domain.flavor() == Flavor::Qsbr;
                    ready.wait();
                    while !stop.load(Ordering::Relaxed) {
                        drop(black_box(handle.read_lock()));
                        if qsbr {
                            handle.quiescent_state();
                        }
                    }
                })
            })
            .collect();
        ready.wait();
        BusyReaders { stop, threads }
    }
}

impl Drop for BusyReaders {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join().expect("reader thread panicked");
        }
    }
}

fn grace_period(c: &mut Criterion) {
    let mut group = c.benchmark_group("synchronize_rcu");
    let flavors = [
        ("urcu-memb", urcu::default_domain().clone()),
        ("urcu-mb", Domain::builder().flavor(Flavor::Mb).build()),
        ("urcu-qsbr", Domain::builder().flavor(Flavor::Qsbr).build()),
    ];
    if flavors[0].1.flavor() != Flavor::Memb {
        eprintln!(
            "note: membarrier is unavailable here; urcu-memb runs as {:?}",
            flavors[0].1.flavor()
        );
    }
    for (i, (name, domain)) in flavors.iter().enumerate() {
        // The default domain goes through the free function.
        let is_default = i == 0;
        for readers in [0, 1, 2] {
            let busy = BusyReaders::start(domain, readers);
            group.bench_function(BenchmarkId::new(*name, format!("{readers}-readers")), |b| {
                if is_default {
                    b.iter(urcu::synchronize_rcu)
                } else {
                    b.iter(|| domain.synchronize_rcu())
                }
            });
            drop(busy);
        }
    }
    group.finish();
}

criterion_group!(benches, grace_period);
criterion_main!(benches);
