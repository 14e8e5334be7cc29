//! ConfigCell: readers see whole configs, no update is lost, versions only
//! grow, and every published value is dropped exactly once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use urcu::{ConfigCell, Domain, Flavor};

mod common;
use common::{expect_panic, scaled, spin_for, stress, within, Counted};

/// Fields that must agree with each other in every published config.
#[derive(Clone, Debug)]
struct Config {
    generation: u64,
    doubled: u64,
    name: String,
}

impl Config {
    fn new(generation: u64) -> Self {
        Config {
            generation,
            doubled: generation * 2,
            name: format!("gen-{generation}"),
        }
    }
    fn check(&self) {
        assert_eq!(self.doubled, self.generation * 2, "torn config");
        assert_eq!(self.name, format!("gen-{}", self.generation), "torn config");
    }
}

fn readers_see_whole_configs(flavor: Flavor) {
    let d = Domain::builder().flavor(flavor).queue_capacity(32).build();
    let cell = ConfigCell::new_in(Config::new(0), &d);
    let stop = AtomicBool::new(false);
    let stores = 2000 * stress() as u64;
    let reads = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (d, cell, stop, reads) = (&d, &cell, &stop, &reads);
            s.spawn(move || {
                let mut h = d.register_thread();
                let (mut last_version, mut last_generation) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let v = cell.version();
                    assert!(v >= last_version, "version went backwards");
                    last_version = v;
                    {
                        let g = h.read_lock();
                        let c = cell.load(&g);
                        c.check();
                        assert!(c.generation >= last_generation, "an older config came back");
                        last_generation = c.generation;
                    }
                    cell.read().check();
                    reads.fetch_add(1, Ordering::Relaxed);
                    h.quiescent_state();
                }
            });
        }
        // Start once the readers run (on 2 busy cores they may start late).
        while reads.load(Ordering::Relaxed) < 100 {
            std::thread::yield_now();
        }
        for g in 1..=stores {
            cell.store(Config::new(g));
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(cell.version(), stores);
    assert_eq!(cell.read().generation, stores);
}

#[test]
fn readers_see_whole_configs_memb() {
    readers_see_whole_configs(Flavor::Memb);
}

#[test]
fn readers_see_whole_configs_mb() {
    readers_see_whole_configs(Flavor::Mb);
}

#[test]
fn readers_see_whole_configs_qsbr() {
    readers_see_whole_configs(Flavor::Qsbr);
}

#[test]
fn concurrent_updates_are_never_lost() {
    let cell = Arc::new(ConfigCell::new(0u64));
    let per_thread = 500 * stress() as u64;
    let calls = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (cell, calls) = (cell.clone(), calls.clone());
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    cell.update(|v| {
                        calls.fetch_add(1, Ordering::Relaxed);
                        v + 1
                    });
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*cell.read(), 4 * per_thread);
    assert_eq!(
        calls.load(Ordering::Relaxed) as u64,
        4 * per_thread,
        "each closure ran exactly once"
    );
    assert_eq!(cell.version(), 4 * per_thread);
}

#[test]
fn compare_and_set_publishes_only_over_the_value_read() {
    let cell = ConfigCell::new(String::from("a"));
    let g = urcu::read_lock();
    let cur = cell.load(&g);
    assert_eq!(cell.compare_and_set(cur, "b".into()), Ok(()));
    assert_eq!(
        cell.compare_and_set(cur, "c".into()),
        Err("c".into()),
        "stale current"
    );
    drop(g);
    assert_eq!(&*cell.read(), "b");
    assert_eq!(cell.version(), 1);
    let g = urcu::read_lock();
    assert_eq!(cell.swap("d".into(), &g), "b");
    drop(g);
    assert_eq!(&*cell.read(), "d");
    assert_eq!(cell.version(), 2);
}

#[test]
fn every_published_value_is_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Domain::new();
    let cell = ConfigCell::new_in(Counted(drops.clone()), &d);
    for _ in 0..100 {
        cell.store(Counted(drops.clone()));
    }
    cell.update(|_| Counted(drops.clone()));
    d.rcu_barrier();
    assert_eq!(
        drops.load(Ordering::Relaxed),
        101,
        "replaced values go after a grace period"
    );
    drop(cell);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        102,
        "the current value goes with the cell"
    );
}

fn cached_readers_keep_up_with_a_writer(flavor: Flavor) {
    let d = Domain::builder().flavor(flavor).queue_capacity(16).build();
    let cell = ConfigCell::new_in(Config::new(0), &d);
    let stop = AtomicBool::new(false);
    let stores = 3000 * stress() as u64;
    let started = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (d, cell, stop, started) = (&d, &cell, &stop, &started);
            s.spawn(move || {
                let h = d.register_thread();
                let mut reader = cell.reader_in(h.read_lock());
                let mut last = 0;
                while !stop.load(Ordering::Relaxed) {
                    let c = reader.load();
                    c.check();
                    assert!(c.generation >= last, "an older config came back");
                    last = c.generation;
                    started.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while started.load(Ordering::Relaxed) < 100 {
            std::thread::yield_now();
        }
        for g in 1..=stores {
            cell.store(Config::new(g));
        }
        stop.store(true, Ordering::Relaxed);
    });
    // The writer was never stuck behind the cached readers: every store
    // went through (a full queue waited for grace periods they allowed).
    assert_eq!(cell.version(), stores);
}

#[test]
fn cached_readers_keep_up_with_a_writer_memb() {
    cached_readers_keep_up_with_a_writer(Flavor::Memb);
}

#[test]
fn cached_readers_keep_up_with_a_writer_qsbr() {
    cached_readers_keep_up_with_a_writer(Flavor::Qsbr);
}

#[test]
#[should_panic(expected = "inside a read-side section")]
fn a_live_cached_reader_is_a_section() {
    let cell = ConfigCell::new(1u8);
    let mut r = cell.reader();
    let _ = r.load();
    urcu::synchronize_rcu();
}

/// A writer whose queue is full waits for a grace period. It must not wait
/// while holding the cell's writer lock: `compare_and_set` takes that lock
/// inside a read-side section, and the grace period would wait for that
/// section while the section waits for the lock (a deadlock the torture
/// binary found).
#[test]
fn a_full_queue_never_makes_a_writer_wait_under_the_cell_lock() {
    within(
        std::time::Duration::from_secs(30),
        "store with a full queue vs compare_and_set inside a section",
        || {
            let d = Domain::builder()
                .flavor(Flavor::Mb)
                .queue_capacity(4)
                .build();
            let cell = ConfigCell::new_in(0u64, &d);
            let stop = AtomicBool::new(false);
            std::thread::scope(|s| {
                s.spawn(|| {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        cell.store(i); // a 4-word ring is full every other store
                        i += 1;
                    }
                });
                s.spawn(|| {
                    for _ in 0..scaled(50) {
                        let g = d.read_lock();
                        // Hold the section a little: the writer's grace
                        // period now waits for it, with the lock held if
                        // it waited under the lock.
                        spin_for(std::time::Duration::from_micros(300));
                        let cur = cell.load(&g);
                        let _ = cell.compare_and_set(cur, *cur + 1);
                    }
                    stop.store(true, Ordering::Relaxed);
                });
            });
            assert!(
                d.stats().caller_fallbacks > 0,
                "the store queue really filled"
            );
        },
    );
}

/// Calling the cell's own writers from inside its `update` closure used to
/// deadlock on the writer mutex; now each is a clear panic, and the cell is
/// left as it was before the failed update, and usable.
#[test]
fn writing_a_cell_inside_its_own_update_closure_panics_instead_of_deadlocking() {
    within(
        std::time::Duration::from_secs(10),
        "a ConfigCell writer re-entered from its update closure",
        || {
            let cell = ConfigCell::new(1u64);
            type Reenter = fn(&ConfigCell<u64>);
            let cases: [(&str, Reenter); 4] = [
                ("ConfigCell::store", |c| c.store(100)),
                ("ConfigCell::update", |c| c.update(|v| v + 100)),
                ("ConfigCell::swap", |c| {
                    let g = c.domain().read_lock();
                    let _ = c.swap(100, &g);
                }),
                ("ConfigCell::compare_and_set", |c| {
                    let cur = c.read();
                    let _ = c.compare_and_set(&cur, 100);
                }),
            ];
            for (i, (name, reenter)) in cases.iter().enumerate() {
                let before = (*cell.read(), cell.version());
                let msg = expect_panic(name, || {
                    cell.update(|v| {
                        reenter(&cell);
                        v + 1
                    })
                });
                assert!(
                    msg.contains(&format!("{name} called inside this cell's update closure")),
                    "{name}: {msg}"
                );
                assert_eq!(
                    (*cell.read(), cell.version()),
                    before,
                    "{name}: the failed update published nothing"
                );
                // Still usable: both kinds of writer work afterwards.
                cell.store(10 * (i as u64 + 1));
                cell.update(|v| v + 1);
                assert_eq!(*cell.read(), 10 * (i as u64 + 1) + 1);
            }
        },
    );
}

/// Re-entry is tracked per cell and per thread: another cell's writers
/// inside an update are fine, and a writer on another thread waits for the
/// update instead of panicking.
#[test]
fn writers_of_other_cells_and_other_threads_are_not_reentry() {
    within(
        std::time::Duration::from_secs(10),
        "ConfigCell writers nested across cells and threads",
        || {
            let a = ConfigCell::new(0u64);
            let b = ConfigCell::new(0u64);
            a.update(|v| {
                b.store(7);
                b.update(|w| {
                    a.version(); // reads are always fine
                    assert_eq!(*a.read(), 0);
                    w + 1
                });
                v + 1
            });
            assert_eq!((*a.read(), *b.read()), (1, 8));

            let started = AtomicBool::new(false);
            std::thread::scope(|s| {
                a.update(|v| {
                    s.spawn(|| {
                        started.store(true, Ordering::SeqCst);
                        a.store(100); // waits for the update, then wins
                    });
                    while !started.load(Ordering::SeqCst) {
                        std::thread::yield_now();
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    v + 1
                });
            });
            assert_eq!(*a.read(), 100);
        },
    );
}
