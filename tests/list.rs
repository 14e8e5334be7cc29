//! RcuList: a model check against `VecDeque`, concurrent walks under
//! writers, and exact drop counts.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use urcu::{read_lock, Domain, Flavor, RcuList};

mod common;
use common::{expect_panic, scaled, spin_for, stress, within, Counted, Rng};

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

/// An element that counts its own drops, by id, so a test can tell "dropped
/// exactly once" from "one leaked and another dropped twice".
struct Tracked {
    id: usize,
    drops: Arc<Vec<AtomicUsize>>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops[self.id].fetch_add(1, Ordering::SeqCst);
    }
}

fn tracked_list(d: &Domain, n: usize) -> (RcuList<Tracked>, Arc<Vec<AtomicUsize>>) {
    let drops: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    let list = RcuList::new_in(d);
    for id in 0..n {
        list.push_back(Tracked {
            id,
            drops: drops.clone(),
        });
    }
    (list, drops)
}

fn ids(list: &RcuList<Tracked>) -> Vec<usize> {
    let g = list.domain().read_lock();
    let v = list.iter(&g).map(|t| t.id).collect();
    v
}

/// A `retain` predicate that panics at its k-th call, for every k: the
/// panic reaches the caller, the nodes unlinked before it go to the
/// reclamation queue (a reader that was already walking still sees them
/// alive), `len()` counts what is still linked, the list keeps working,
/// and in the end every element is dropped exactly once.
#[test]
fn a_panicking_retain_predicate_leaks_nothing_and_keeps_len_exact() {
    const N: usize = 8;
    for k in 0..=N {
        let d = Domain::new();
        let (list, drops) = tracked_list(&d, N);
        // A walk started before the retain, still going after the panic.
        let g = d.read_lock();
        let mut walk = list.iter(&g);
        assert_eq!(walk.next().map(|t| t.id), Some(0));
        let mut calls = 0;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            list.retain(|t| {
                if calls == k {
                    panic!("predicate panics at call {k}");
                }
                calls += 1;
                t.id % 2 == 1 // drop the even ids
            })
        }));
        // Elements before the k-th call were judged (evens unlinked), the
        // rest stay.
        let expect: Vec<usize> = (0..N).filter(|&i| i >= k || i % 2 == 1).collect();
        assert_eq!(r.is_err(), k < N, "k = {k}: the panic reaches the caller");
        // The old walk goes on safely; whatever it reaches is alive, and it
        // sees every element that stayed, in order.
        let rest: Vec<usize> = walk
            .map(|t| {
                assert_eq!(t.drops[t.id].load(Ordering::SeqCst), 0, "k = {k}: freed");
                t.id
            })
            .collect();
        assert!(rest.windows(2).all(|w| w[0] < w[1]), "k = {k}: {rest:?}");
        assert!(
            expect.iter().all(|i| *i == 0 || rest.contains(i)),
            "k = {k}: the walk missed a linked element: {rest:?}"
        );
        for (id, c) in drops.iter().enumerate() {
            assert_eq!(
                c.load(Ordering::SeqCst),
                0,
                "k = {k}: id {id} freed under a reader"
            );
        }
        drop(g);
        assert_eq!(ids(&list), expect, "k = {k}: contents");
        assert_eq!(
            list.len(),
            expect.len(),
            "k = {k}: len counts what is linked"
        );
        // The writer lock was released (and its poison is ignored).
        list.push_back(Tracked {
            id: 0,
            drops: Arc::new((0..1).map(|_| AtomicUsize::new(0)).collect()),
        });
        assert!(list.remove_first(|t| t.id == 0 && t.drops.len() == 1));
        list.retain(|_| true);
        assert_eq!(list.len(), expect.len(), "k = {k}: len after later writes");
        drop(list);
        d.rcu_barrier();
        for (id, c) in drops.iter().enumerate() {
            assert_eq!(
                c.load(Ordering::SeqCst),
                1,
                "k = {k}: element {id} dropped exactly once"
            );
        }
    }
}

/// `remove_first` with a predicate that panics: nothing is unlinked, the
/// list stays usable, nothing leaks.
#[test]
fn a_panicking_remove_first_predicate_leaves_the_list_usable() {
    const N: usize = 5;
    for k in 0..N {
        let d = Domain::new();
        let (list, drops) = tracked_list(&d, N);
        let mut calls = 0;
        let msg = expect_panic("remove_first", || {
            list.remove_first(|_| {
                if calls == k {
                    panic!("remove_first predicate boom");
                }
                calls += 1;
                false
            });
        });
        assert!(msg.contains("boom"), "{msg}");
        assert_eq!(list.len(), N);
        assert!(list.remove_first(|t| t.id == k));
        assert_eq!(list.len(), N - 1);
        list.clear();
        assert_eq!(list.len(), 0);
        drop(list);
        d.rcu_barrier();
        assert!(
            drops.iter().all(|c| c.load(Ordering::SeqCst) == 1),
            "k = {k}"
        );
    }
}

/// An element whose destructor panics while the list is dropped: the
/// panic propagates, and every other element is still dropped once.
#[test]
fn a_panicking_element_drop_does_not_leak_the_rest_of_the_list() {
    struct Bomb(usize, Arc<Vec<AtomicUsize>>);
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.1[self.0].fetch_add(1, Ordering::SeqCst);
            if self.0 == 2 {
                panic!("element 2 panics in drop");
            }
        }
    }
    let drops: Arc<Vec<AtomicUsize>> = Arc::new((0..6).map(|_| AtomicUsize::new(0)).collect());
    let list: RcuList<Bomb> = (0..6).map(|i| Bomb(i, drops.clone())).collect();
    let msg = expect_panic("drop(list)", || drop(list));
    assert!(msg.contains("element 2"), "{msg}");
    for (id, c) in drops.iter().enumerate() {
        assert_eq!(c.load(Ordering::SeqCst), 1, "element {id} dropped once");
    }
}
