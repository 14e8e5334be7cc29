//! Batched lookups: `Pinned::get_many` against one `get` per key, and
//! against the peers' single lookups, on a table larger than the caches.
//!
//! `cargo bench --bench batch_get -- [CAPACITY_LOG2] [ROUNDS]` (defaults 21
//! and 5)
//!
//! Each map holds `u64 -> u64` pairs for 3/4 of 2^CAPACITY_LOG2 keys (all
//! hashed with `ahash`), built with that capacity. One thread then looks up
//! 8 M keys drawn at random from the present ones, holding its guard (or
//! handle) for 128 keys at a time, as the map bench's peers do. Keys are
//! computed, not loaded from an array, so the only cache misses are the
//! maps' own. Cases alternate within each round; the figure is the median
//! round, in ns per key, and the ratio is the best peer's time over ours.
//!
//! A single lookup waits for its bucket line (and a boxed entry) before
//! the next can start, as far as the CPU's window lets lookups overlap;
//! `get_many` requests all `N` bucket lines first, so their misses overlap.

use std::hint::black_box;
use std::time::Instant;
use urcu::{Boxed, Inline, MapStorage, RcuHashMap};

const LOOKUPS: u64 = 8 << 20;
const PER_GUARD: u64 = 128;

/// The `i`-th present key.
fn key(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Indices of present keys: a fast generator, so that the loop measures
/// the maps.
struct Lcg(u64);
impl Lcg {
    #[inline(always)]
    fn next_below(&mut self, present: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % present
    }
}

type Urcu<M> = RcuHashMap<u64, u64, ahash::RandomState, M>;

fn build<M: MapStorage<u64, u64>>(capacity: usize, present: u64) -> Urcu<M> {
    let map: Urcu<M> = RcuHashMap::builder()
        .capacity(capacity)
        .storage::<M>()
        .build();
    let m = map.pin();
    for i in 0..present {
        m.insert(key(i), i);
    }
    drop(m);
    map
}

/// ns per key: `guarded` does one guard's worth of lookups (`PER_GUARD`
/// keys drawn from the generator) and returns how many it found.
fn ns_per_key(seed: u64, mut guarded: impl FnMut(&mut Lcg) -> u64) -> f64 {
    let mut rng = Lcg(seed);
    let mut hits = 0u64;
    let t = Instant::now();
    for _ in 0..LOOKUPS / PER_GUARD {
        hits += guarded(&mut rng);
    }
    let ns = t.elapsed().as_secs_f64() * 1e9 / LOOKUPS as f64;
    assert_eq!(black_box(hits), LOOKUPS, "every key is present");
    ns
}

/// One `get` per key.
fn urcu_single<M: MapStorage<u64, u64>>(map: &Urcu<M>, present: u64, seed: u64) -> f64 {
    ns_per_key(seed, |rng| {
        let m = map.pin();
        (0..PER_GUARD)
            .map(|_| u64::from(m.get(&key(rng.next_below(present))).is_some()))
            .sum()
    })
}

/// `get_many` over `N` keys at a time.
fn urcu_batched<M: MapStorage<u64, u64>, const N: usize>(
    map: &Urcu<M>,
    present: u64,
    seed: u64,
) -> f64 {
    ns_per_key(seed, |rng| {
        let m = map.pin();
        (0..PER_GUARD / N as u64)
            .map(|_| {
                let keys: [u64; N] = std::array::from_fn(|_| key(rng.next_below(present)));
                let found = m.get_many(keys.each_ref());
                found.iter().filter(|v| v.is_some()).count() as u64
            })
            .sum()
    })
}

fn papaya_single(
    map: &papaya::HashMap<u64, u64, ahash::RandomState>,
    present: u64,
    seed: u64,
) -> f64 {
    ns_per_key(seed, |rng| {
        let g = map.guard();
        (0..PER_GUARD)
            .map(|_| u64::from(map.get(&key(rng.next_below(present)), &g).is_some()))
            .sum()
    })
}

fn scc_single(map: &scc::HashIndex<u64, u64, ahash::RandomState>, present: u64, seed: u64) -> f64 {
    ns_per_key(seed, |rng| {
        let g = scc::Guard::new();
        (0..PER_GUARD)
            .map(|_| u64::from(map.peek(&key(rng.next_below(present)), &g).is_some()))
            .sum()
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let log2: u32 = args
        .first()
        .map_or(21, |a| a.parse().expect("CAPACITY_LOG2"));
    let rounds: usize = args.get(1).map_or(5, |a| a.parse().expect("ROUNDS"));
    let capacity = 1usize << log2;
    let present = (capacity * 3 / 4) as u64;

    let inline = build::<Inline>(capacity, present);
    let boxed = build::<Boxed>(capacity, present);
    let papaya = papaya::HashMap::with_capacity_and_hasher(capacity, ahash::RandomState::new());
    let scc = scc::HashIndex::with_capacity_and_hasher(capacity, ahash::RandomState::new());
    {
        let p = papaya.pin();
        for i in 0..present {
            p.insert(key(i), i);
            let _ = scc.insert_sync(key(i), i);
        }
    }

    type Case<'a> = (&'a str, Box<dyn Fn(u64) -> f64 + 'a>);
    let cases: Vec<Case> = vec![
        (
            "urcu-inline get",
            Box::new(|s| urcu_single(&inline, present, s)),
        ),
        (
            "urcu-inline get_many x8",
            Box::new(|s| urcu_batched::<_, 8>(&inline, present, s)),
        ),
        (
            "urcu-inline get_many x16",
            Box::new(|s| urcu_batched::<_, 16>(&inline, present, s)),
        ),
        (
            "urcu-inline get_many x32",
            Box::new(|s| urcu_batched::<_, 32>(&inline, present, s)),
        ),
        ("urcu get", Box::new(|s| urcu_single(&boxed, present, s))),
        (
            "urcu get_many x8",
            Box::new(|s| urcu_batched::<_, 8>(&boxed, present, s)),
        ),
        (
            "urcu get_many x16",
            Box::new(|s| urcu_batched::<_, 16>(&boxed, present, s)),
        ),
        (
            "urcu get_many x32",
            Box::new(|s| urcu_batched::<_, 32>(&boxed, present, s)),
        ),
        (
            "papaya get",
            Box::new(|s| papaya_single(&papaya, present, s)),
        ),
        (
            "scc-hashindex peek",
            Box::new(|s| scc_single(&scc, present, s)),
        ),
    ];
    let mut times = vec![Vec::new(); cases.len()];
    for round in 0..rounds {
        eprintln!("round {} of {rounds}", round + 1);
        for (i, (_, run)) in cases.iter().enumerate() {
            times[i].push(run(round as u64 * 7919 + i as u64));
        }
    }
    let medians: Vec<f64> = times.into_iter().map(median).collect();
    let best_peer = medians[8].min(medians[9]);
    println!(
        "batch_get: {present} keys present, capacity 2^{log2}, {LOOKUPS} lookups a case, median of {rounds} rounds"
    );
    println!("{:<28} {:>9} {:>14}", "case", "ns/key", "vs best peer");
    for ((name, _), ns) in cases.iter().zip(&medians) {
        println!("{name:<28} {ns:>9.1} {:>13.2}x", best_peer / ns);
    }
}
