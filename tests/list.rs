//! RcuList: a model check against `VecDeque`, concurrent walks under
//! writers, and exact drop counts.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use urcu::{read_lock, Domain, Flavor, RcuList};

mod common;
use common::{scaled, spin_for, stress, within, Counted, Rng};

#[test]
fn random_operations_match_a_vecdeque() {
    for seed in 1..=(200 * stress() as u64) {
        let mut rng = Rng::new(seed);
        let list = RcuList::new();
        let mut model: VecDeque<u64> = VecDeque::new();
        for step in 0..200 {
            let x = rng.below(16);
            match rng.below(7) {
                0 => {
                    list.push_front(x);
                    model.push_front(x);
                }
                1 | 2 => {
                    list.push_back(x);
                    model.push_back(x);
                }
                3 => {
                    let at = rng.below(16);
                    let got = list.insert_after(|v| *v == at, x);
                    match model.iter().position(|v| *v == at) {
                        Some(i) => {
                            assert!(got.is_ok());
                            model.insert(i + 1, x);
                        }
                        None => assert_eq!(got, Err(x)),
                    }
                }
                4 | 5 => {
                    let removed = list.remove_first(|v| *v == x);
                    let i = model.iter().position(|v| *v == x);
                    assert_eq!(removed, i.is_some(), "seed {seed} step {step}");
                    if let Some(i) = i {
                        model.remove(i);
                    }
                }
                _ => {
                    if rng.below(8) == 0 {
                        list.clear();
                        model.clear();
                    } else {
                        let k = rng.below(5) + 2;
                        list.retain(|v| v % k != 0);
                        model.retain(|v| v % k != 0);
                    }
                }
            }
            let g = read_lock();
            let seen: Vec<u64> = list.iter(&g).copied().collect();
            assert_eq!(seen, Vec::from(model.clone()), "seed {seed} step {step}");
            assert_eq!(list.len(), model.len());
            assert_eq!(list.is_empty(), model.is_empty());
            assert_eq!(list.contains(&x), model.contains(&x));
        }
    }
}

const ALIVE: u64 = 0xA11C_E5A1_1CE5_0001;
const DEAD: u64 = 0xDEAD_DEAD_DEAD_DEAD;

/// An element that poisons itself when dropped.
struct Item {
    magic: AtomicU64,
    key: u64,
    stable: bool,
}

impl Item {
    fn new(key: u64, stable: bool) -> Self {
        Item {
            magic: AtomicU64::new(ALIVE),
            key,
            stable,
        }
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        self.magic.store(DEAD, Ordering::Relaxed);
    }
}

/// Stable elements (never removed) sit between transient ones that writers
/// keep inserting and removing. Every walk must see each stable element
/// exactly once, in order, and never a dropped element.
fn walks_under_writers(flavor: Flavor) {
    const STABLE: u64 = 64;
    let d = Domain::builder().flavor(flavor).queue_capacity(64).build();
    let list = RcuList::new_in(&d);
    for k in 0..STABLE {
        list.push_back(Item::new(k * 10, true));
    }
    let stop = AtomicBool::new(false);
    let walks = AtomicUsize::new(0);
    let churn = AtomicUsize::new(0);
    let rounds = 300 * stress();
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let (list, stop, churn) = (&list, &stop, &churn);
            s.spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let after = (i * 7 + w) % STABLE * 10;
                    let key = after + 1 + w;
                    let _ = list.insert_after(|v| v.key == after, Item::new(key, false));
                    if i % 3 == 0 {
                        list.push_front(Item::new(1_000_000 + i, false));
                        list.remove_first(|v| v.key == 1_000_000 + i);
                    }
                    list.remove_first(|v| !v.stable && v.key == key);
                    churn.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            });
        }
        for _ in 0..2 {
            let (d, list, walks) = (&d, &list, &walks);
            s.spawn(move || {
                let mut h = d.register_thread();
                for _ in 0..rounds {
                    let g = h.read_lock();
                    let mut next_stable = 0;
                    for item in list.iter(&g) {
                        assert_eq!(
                            item.magic.load(Ordering::Relaxed),
                            ALIVE,
                            "walked onto a dropped element"
                        );
                        if item.stable {
                            assert_eq!(
                                item.key,
                                next_stable * 10,
                                "stable elements out of order or repeated"
                            );
                            next_stable += 1;
                        }
                    }
                    assert_eq!(next_stable, STABLE, "a stable element was missed");
                    drop(g);
                    h.quiescent_state();
                    walks.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while walks.load(Ordering::Relaxed) < 2 * rounds {
            std::thread::yield_now();
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(
        churn.load(Ordering::Relaxed) > 0,
        "the writers must have run"
    );
    let g = d.read_lock();
    assert_eq!(list.iter(&g).filter(|v| v.stable).count() as u64, STABLE);
    assert_eq!(list.iter(&g).filter(|v| !v.stable).count(), 0);
}

#[test]
fn walks_under_writers_memb() {
    walks_under_writers(Flavor::Memb);
}

#[test]
fn walks_under_writers_mb() {
    walks_under_writers(Flavor::Mb);
}

#[test]
fn walks_under_writers_qsbr() {
    walks_under_writers(Flavor::Qsbr);
}

#[test]
fn every_element_is_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Domain::new();
    let list = RcuList::new_in(&d);
    for _ in 0..100 {
        list.push_back(Counted(drops.clone()));
    }
    let mut n = 0;
    list.retain(|_| {
        n += 1;
        n % 2 == 0
    });
    assert_eq!(list.len(), 50);
    d.rcu_barrier();
    assert_eq!(
        drops.load(Ordering::Relaxed),
        50,
        "removed elements are dropped after a grace period"
    );
    list.clear();
    for _ in 0..10 {
        list.push_front(Counted(drops.clone()));
    }
    drop(list);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        60,
        "dropping the list drops what it still holds"
    );
    drop(d);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        110,
        "dropping the domain reclaims what was queued"
    );
}

#[test]
fn debug_and_collect() {
    let list: RcuList<i32> = (1..=3).collect();
    assert_eq!(format!("{list:?}"), "[1, 2, 3]");
    let mut more = list;
    more.extend([4, 5]);
    assert_eq!(format!("{more:?}"), "[1, 2, 3, 4, 5]");
}

#[test]
#[should_panic(expected = "another domain")]
fn a_guard_of_another_domain_is_refused() {
    let list: RcuList<i32> = RcuList::new_in(&Domain::new());
    let g = read_lock();
    let _ = list.iter(&g).count();
}

/// Removal queues its nodes only after it lets go of the list's writer
/// lock: with a full queue it waits for a grace period, and a thread inside
/// its section may be blocked on that lock (here: removing while it
/// iterates), which would deadlock.
#[test]
fn a_full_queue_never_makes_a_remover_wait_under_the_list_lock() {
    within(
        std::time::Duration::from_secs(30),
        "removal with a full queue vs removal inside a section",
        || {
            let d = Domain::builder()
                .flavor(Flavor::Mb)
                .queue_capacity(4)
                .build();
            let list = RcuList::new_in(&d);
            let stop = AtomicBool::new(false);
            std::thread::scope(|s| {
                s.spawn(|| {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        list.push_back(i);
                        list.remove_first(|&v| v == i);
                        i += 1;
                    }
                });
                s.spawn(|| {
                    for i in 0..scaled(50) as u64 {
                        let g = d.read_lock();
                        list.push_front(u64::MAX - i);
                        // Hold the section a little: the remover's grace
                        // period now waits for it, with the lock held if
                        // it waited under the lock.
                        spin_for(std::time::Duration::from_micros(300));
                        assert!(list.iter(&g).count() <= 3);
                        list.remove_first(|&v| v == u64::MAX - i);
                    }
                    stop.store(true, Ordering::Relaxed);
                });
            });
            assert!(
                d.stats().caller_fallbacks > 0,
                "the removal queue really filled"
            );
            assert!(list.is_empty());
        },
    );
}
