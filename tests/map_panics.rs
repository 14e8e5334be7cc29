//! RcuHashMap under a key whose `Hash` or `Eq` panics: at every call point
//! of inserts, removals, grows, shrinks and bulk loads, for both storages.
//!
//! Each sweep runs one scenario many times, each time with the panic
//! planned at the `n`-th `Hash`/`Eq` call (`n` swept over every call the
//! scenario makes, with a stride when there are more than the budget:
//! `URCU_STRESS` multiplies it). After the caught panic it checks:
//! - the map against a `std::collections::HashMap` model: operations that
//!   completed are there; the interrupted one's keys are in their state
//!   before or after it; iteration yields each key once; `len` is right;
//! - the map still grows (its capacity rises as keys are added) and still
//!   shrinks (it falls again once they are removed), and every key removed
//!   is gone (a key left twice in a chain would still be found);
//! - every value is dropped exactly once (boxed storage, whose values can
//!   count their drops) after `drop(map)` and `rcu_barrier`.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use urcu::{Boxed, Domain, Flavor, Inline, MapStorage, RcuHashMap};

mod common;
use common::{stress, Rng};

/// Every `Hash` and `Eq` call of a [`Touchy`] key counts here.
static CALLS: AtomicU64 = AtomicU64::new(0);
/// Whether a panic is planned.
static ARMED: AtomicBool = AtomicBool::new(false);
/// Calls left before the planned panic.
static COUNTDOWN: AtomicI64 = AtomicI64::new(0);
/// The sweeps share the counters above: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The payload of a planned panic.
struct Planned;

fn tick() {
    CALLS.fetch_add(1, Ordering::SeqCst);
    if ARMED.load(Ordering::SeqCst) && COUNTDOWN.fetch_sub(1, Ordering::SeqCst) == 0 {
        ARMED.store(false, Ordering::SeqCst);
        std::panic::panic_any(Planned);
    }
}

/// Plans a panic at the `n`-th call from now (0: the next one).
fn arm(n: u64) {
    COUNTDOWN.store(n as i64, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
}

fn disarm() {
    ARMED.store(false, Ordering::SeqCst);
}

/// Planned panics print nothing (there are thousands); others do.
fn quiet_planned_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Planned>() {
                default(info);
            }
        }));
    });
}

/// A key whose `Hash` and `Eq` tick the countdown (and panic when told).
#[derive(Clone, Copy, Debug)]
struct Touchy(u64);

impl Hash for Touchy {
    fn hash<H: Hasher>(&self, h: &mut H) {
        tick();
        h.write_u64(self.0);
    }
}

impl PartialEq for Touchy {
    fn eq(&self, other: &Self) -> bool {
        tick();
        self.0 == other.0
    }
}

impl Eq for Touchy {}

/// Deterministic (SipHash with fixed keys): a trial makes the same calls
/// each time it runs.
type Hasher0 = BuildHasherDefault<DefaultHasher>;
type Map<V, M> = RcuHashMap<Touchy, V, Hasher0, M>;

/// Values made and dropped in a trial.
#[derive(Default)]
struct Life {
    made: AtomicUsize,
    dropped: Arc<AtomicUsize>,
}

trait Val: Send + Sync + 'static {
    fn make(id: u64, life: &Life) -> Self;
    fn id(&self) -> u64;
}

/// Inline storage's value: `Copy`, so it cannot count its drops.
impl Val for u64 {
    fn make(id: u64, _: &Life) -> Self {
        id
    }
    fn id(&self) -> u64 {
        *self
    }
}

/// Boxed storage's value: counts its drop.
struct Tracked {
    id: u64,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl Val for Tracked {
    fn make(id: u64, life: &Life) -> Self {
        life.made.fetch_add(1, Ordering::SeqCst);
        Tracked {
            id,
            dropped: life.dropped.clone(),
        }
    }
    fn id(&self) -> u64 {
        self.id
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u64, u64),
    Remove(u64),
    GetOrInsert(u64, u64),
    /// Value id + 1.
    Update(u64),
    Clear,
    /// Keys `a..b`, value id = key.
    Extend(u64, u64),
    ParExtend(u64, u64),
}

type Model = HashMap<u64, u64>;

/// Applies `op` to the model: the result a completed op returns (a value
/// id), and the keys it affects with their states before it.
fn apply(model: &mut Model, op: &Op) -> (Option<u64>, Vec<(u64, Option<u64>)>) {
    match *op {
        Op::Insert(k, v) => {
            let before = model.insert(k, v);
            (before, vec![(k, before)])
        }
        Op::Remove(k) => {
            let before = model.remove(&k);
            (before, vec![(k, before)])
        }
        Op::GetOrInsert(k, v) => {
            let before = model.get(&k).copied();
            (Some(*model.entry(k).or_insert(v)), vec![(k, before)])
        }
        Op::Update(k) => {
            let before = model.get(&k).copied();
            let after = model.get_mut(&k).map(|v| {
                *v += 1;
                *v
            });
            (after, vec![(k, before)])
        }
        Op::Clear => {
            let before = model.drain().map(|(k, v)| (k, Some(v))).collect();
            (None, before)
        }
        Op::Extend(a, b) | Op::ParExtend(a, b) => {
            let before = (a..b).map(|k| (k, model.insert(k, k))).collect();
            (None, before)
        }
    }
}

fn run<V: Val, M: MapStorage<Touchy, V>>(map: &Map<V, M>, op: &Op, life: &Life) -> Option<u64> {
    use rayon::prelude::*;
    let m = map.pin();
    match *op {
        Op::Insert(k, v) => m.insert(Touchy(k), V::make(v, life)).map(V::id),
        Op::Remove(k) => m.remove(&Touchy(k)).map(V::id),
        Op::GetOrInsert(k, v) => Some(m.get_or_insert_with(Touchy(k), || V::make(v, life)).id()),
        Op::Update(k) => m
            .update(&Touchy(k), |old| V::make(old.id() + 1, life))
            .map(V::id),
        Op::Clear => {
            drop(m);
            map.clear();
            None
        }
        Op::Extend(a, b) => {
            drop(m);
            let mut map = map;
            map.extend((a..b).map(|k| (Touchy(k), V::make(k, life))));
            None
        }
        Op::ParExtend(a, b) => {
            drop(m);
            let mut map = map;
            map.par_extend(
                (a..b)
                    .into_par_iter()
                    .map(|k| (Touchy(k), V::make(k, life))),
            );
            None
        }
    }
}

/// A scenario: ops run unarmed to set the map up, then ops run with the
/// panic planned.
struct Scenario {
    name: &'static str,
    setup: Vec<Op>,
    ops: Vec<Op>,
    /// Every key the scenario touches is below this.
    universe: u64,
}

/// Fresh keys for the grow check, outside every universe.
const FRESH: u64 = 1 << 40;

/// What one trial saw.
struct Trial {
    calls: u64,
    panicked: bool,
}

/// Runs `sc` once, with a panic planned at call `panic_at` (or none), and
/// checks the map afterwards.
fn trial<V: Val, M: MapStorage<Touchy, V>>(
    d: &Domain,
    sc: &Scenario,
    panic_at: Option<u64>,
) -> Trial {
    let ctx = format!(
        "{} / {}: panic at call {panic_at:?}",
        sc.name,
        std::any::type_name::<M>()
    );
    let life = Life::default();
    let map: Map<V, M> = RcuHashMap::<Touchy, V>::builder()
        .hasher(Hasher0::default())
        .domain(d)
        .storage::<M>()
        .build();
    let mut model = Model::new();
    for op in &sc.setup {
        apply(&mut model, op);
        run(&map, op, &life);
    }
    CALLS.store(0, Ordering::SeqCst);
    if let Some(n) = panic_at {
        arm(n);
    }
    let mut panicked = false;
    for (i, op) in sc.ops.iter().enumerate() {
        let (want, before) = apply(&mut model, op);
        match catch_unwind(AssertUnwindSafe(|| run(&map, op, &life))) {
            Ok(got) => assert_eq!(got, want, "{ctx}: op {i} {op:?} returned"),
            Err(p) if p.is::<Planned>() => {
                panicked = true;
                // The interrupted op's keys: as before it, or as after.
                let m = map.pin();
                for (k, was) in before {
                    let now = m.get(&Touchy(k)).map(V::id);
                    let after = model.get(&k).copied();
                    assert!(
                        now == was || now == after,
                        "{ctx}: op {i} {op:?} interrupted: key {k} is {now:?}, \
                         neither {was:?} (before) nor {after:?} (after)"
                    );
                    match now {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
            }
            Err(p) => std::panic::resume_unwind(p),
        }
    }
    disarm();
    let calls = CALLS.load(Ordering::SeqCst);
    verify(&map, &model, sc.universe, &ctx);
    still_grows_and_shrinks(&map, &mut model, &life, &ctx);
    drop(map);
    d.rcu_barrier();
    assert_eq!(
        life.dropped.load(Ordering::SeqCst),
        life.made.load(Ordering::SeqCst),
        "{ctx}: every value made is dropped exactly once"
    );
    Trial { calls, panicked }
}

/// Lookups, `len` and iteration agree with the model.
fn verify<V: Val, M: MapStorage<Touchy, V>>(
    map: &Map<V, M>,
    model: &Model,
    universe: u64,
    ctx: &str,
) {
    let m = map.pin();
    for k in 0..universe {
        assert_eq!(
            m.get(&Touchy(k)).map(V::id),
            model.get(&k).copied(),
            "{ctx}: key {k}"
        );
    }
    assert_eq!(map.len(), model.len(), "{ctx}: len");
    let mut seen = Model::new();
    for (k, v) in m.iter() {
        assert!(
            seen.insert(k.0, v.id()).is_none(),
            "{ctx}: iteration yields key {} twice",
            k.0
        );
    }
    assert_eq!(&seen, model, "{ctx}: iteration");
}

/// The map grows when keys are added and shrinks when they are removed;
/// every removed key is gone (a key copied twice would still be found).
/// Empties the map and the model.
fn still_grows_and_shrinks<V: Val, M: MapStorage<Touchy, V>>(
    map: &Map<V, M>,
    model: &mut Model,
    life: &Life,
    ctx: &str,
) {
    let start = map.capacity();
    let mut k = FRESH;
    while map.capacity() <= start {
        assert!(
            k < FRESH + 8 * start as u64 + 1000,
            "{ctx}: the map never grew again (capacity {start}, {} entries, {:?})",
            map.len(),
            map.table_stats()
        );
        map.pin().insert(Touchy(k), V::make(k, life));
        model.insert(k, k);
        k += 1;
    }
    let peak = map.capacity();
    let mut keys: Vec<u64> = model.keys().copied().collect();
    keys.sort_unstable();
    for k in keys {
        let m = map.pin();
        assert_eq!(
            m.remove(&Touchy(k)).map(V::id),
            model.remove(&k),
            "{ctx}: removing key {k}"
        );
        assert_eq!(
            m.get(&Touchy(k)).map(V::id),
            None,
            "{ctx}: key {k} is still there after its removal"
        );
    }
    assert_eq!(map.len(), 0, "{ctx}: len after removing everything");
    assert_eq!(map.pin().iter().count(), 0, "{ctx}: entries left");
    // A thread checks for a shrink on one removal in 64: churn one key
    // until the table has shrunk.
    let mut churn = 0;
    while map.capacity() >= peak {
        assert!(
            churn < 64 * 64,
            "{ctx}: the map never shrank (capacity {peak}, {:?})",
            map.table_stats()
        );
        let m = map.pin();
        m.insert(Touchy(FRESH - 1), V::make(0, life));
        assert!(m.remove(&Touchy(FRESH - 1)).is_some());
        churn += 1;
    }
}

/// Runs `f` on a fresh thread: the map's per-thread counters (which
/// removal checks for a shrink) start again, so a trial repeats exactly.
/// Fails if it takes longer than a minute (a resize that never ends makes
/// `clear` wait forever).
fn fresh_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    common::within(std::time::Duration::from_secs(60), "a trial", f)
}

/// Sweeps the planned panic over the calls of `sc`'s ops.
fn sweep<V: Val, M: MapStorage<Touchy, V>>(sc: &Arc<Scenario>) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    quiet_planned_panics();
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let run = |at: Option<u64>| {
        let (d, sc) = (d.clone(), sc.clone());
        fresh_thread(move || trial::<V, M>(&d, &sc, at))
    };
    let calls = run(None).calls;
    let budget = 1100 * stress() as u64;
    let stride = calls.div_ceil(budget).max(1);
    let mut rng = Rng::new(calls);
    let mut n = rng.below(stride);
    let (mut trials, mut panicked) = (0, 0);
    while n < calls {
        if run(Some(n)).panicked {
            panicked += 1;
        }
        trials += 1;
        n += stride;
    }
    eprintln!(
        "{} / {}: {calls} calls, {trials} trials (stride {stride}), {panicked} panicked",
        sc.name,
        std::any::type_name::<M>()
    );
    assert!(
        panicked * 10 >= trials * 9,
        "{}: only {panicked} of {trials} trials panicked (of {calls} calls)",
        sc.name
    );
}

fn both_storages(sc: Scenario) {
    let sc = Arc::new(sc);
    sweep::<u64, Inline>(&sc);
    sweep::<Tracked, Boxed>(&sc);
}

/// Inserts, replacements, upserts and updates from a small table through
/// several grows (the largest moves its buckets in more than one chunk).
#[test]
fn a_panic_in_hash_or_eq_during_inserts_and_grows_leaves_a_sound_map() {
    let mut ops = Vec::new();
    for i in 10..300 {
        ops.push(Op::Insert(i, i));
        match i % 9 {
            0 => ops.push(Op::Insert(i / 2, 1000 + i)),
            3 => ops.push(Op::GetOrInsert(i / 3, 2000 + i)),
            6 => ops.push(Op::Update(i / 4)),
            _ => {}
        }
    }
    both_storages(Scenario {
        name: "inserts and grows",
        setup: (0..10).map(|i| Op::Insert(i, i)).collect(),
        ops,
        universe: 300,
    });
}

/// Removals (and a few re-inserts) from a table of several chunks down
/// through its shrinks.
#[test]
fn a_panic_in_hash_or_eq_during_removals_and_shrinks_leaves_a_sound_map() {
    let n = 1200;
    let mut ops = Vec::new();
    for i in 0..n {
        ops.push(Op::Remove(i));
        if i % 50 == 0 {
            ops.push(Op::Insert(i / 2, 3000 + i));
        }
    }
    both_storages(Scenario {
        name: "removals and shrinks",
        setup: (0..n).map(|i| Op::Insert(i, i)).collect(),
        ops,
        universe: n,
    });
}

/// Bulk loads (`Extend`, sequential and rayon's `par_extend`) through
/// grows, and a `clear` that meets a resize under way.
#[test]
fn a_panic_in_hash_or_eq_during_bulk_loads_and_clear_leaves_a_sound_map() {
    both_storages(Scenario {
        name: "extend",
        setup: (0..20).map(|i| Op::Insert(i, i)).collect(),
        ops: vec![Op::Extend(20, 400), Op::Clear, Op::Extend(100, 300)],
        universe: 400,
    });
    both_storages(Scenario {
        name: "par_extend",
        setup: (0..20).map(|i| Op::Insert(i, i)).collect(),
        ops: vec![Op::ParExtend(20, 400), Op::Insert(5, 55)],
        universe: 400,
    });
}

/// `FromIterator` and rayon's `collect` (default hasher and storage, the
/// default domain): a panicking load drops every value it made, once.
#[test]
fn a_panic_in_hash_or_eq_while_collecting_a_map_drops_every_value_once() {
    use rayon::prelude::*;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    quiet_planned_panics();
    let n = 300;
    for parallel in [false, true] {
        // One attempt, with a panic planned at `at` (or none); the calls made.
        let attempt = |at: Option<u64>| {
            let life = Life::default();
            CALLS.store(0, Ordering::SeqCst);
            if let Some(at) = at {
                arm(at);
            }
            let made = catch_unwind(AssertUnwindSafe(|| {
                let pairs = (0..n).map(|k| (Touchy(k), Tracked::make(k, &life)));
                if parallel {
                    let v: Vec<_> = pairs.collect();
                    v.into_par_iter().collect::<RcuHashMap<Touchy, Tracked>>()
                } else {
                    pairs.collect::<RcuHashMap<Touchy, Tracked>>()
                }
            }));
            disarm();
            let calls = CALLS.load(Ordering::SeqCst);
            match made {
                Ok(map) => {
                    assert_eq!(map.len(), n as usize);
                    let m = map.pin();
                    assert!((0..n).all(|k| m.get(&Touchy(k)).map(Tracked::id) == Some(k)));
                    drop(m);
                    drop(map);
                }
                Err(p) if p.is::<Planned>() => {}
                Err(p) => std::panic::resume_unwind(p),
            }
            urcu::rcu_barrier();
            assert_eq!(
                life.dropped.load(Ordering::SeqCst),
                life.made.load(Ordering::SeqCst),
                "parallel {parallel}, panic at {at:?}: every value dropped once"
            );
            calls
        };
        let calls = attempt(None);
        let stride = calls.div_ceil(100 * stress() as u64).max(1);
        for at in (0..calls).step_by(stride as usize) {
            attempt(Some(at));
        }
    }
}
