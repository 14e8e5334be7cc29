//! Bulk loads: `Extend` of 2^N `u64 -> u64` pairs into an empty map built
//! with room for them, one thread, against the peers' fastest way to do
//! the same.
//!
//! `cargo bench --bench bulk_load -- [N_LOG2] [ROUNDS]` (defaults 22 and 3)
//!
//! Each (case, round) runs in a fresh child process, so that one case's
//! freed memory (millions of small chunks that glibc coalesces later)
//! does not slow the next. Prints ns per pair, the median round, and the
//! ratio of the best concurrent peer's time to each case's (`std`'s
//! `HashMap`, not concurrent, is shown as a reference).

use std::process::Command;
use std::time::Instant;
use urcu::RcuHashMap;

const CASES: [&str; 8] = [
    "urcu-inline",
    "urcu",
    "dashmap",
    "papaya",
    "scc-hashindex",
    "std-hashmap",
    // Rayon's `par_extend` on all the machine's threads (the others load
    // from one thread).
    "urcu-inline-par",
    "urcu-par",
];

/// The `k`-th pair: keys spread by a multiplication, so that loads in key
/// order still touch buckets at random.
fn pair(k: u64) -> (u64, u64) {
    (k.wrapping_mul(0x9E37_79B9_7F4A_7C15), k)
}

fn pairs(n: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..n).map(pair)
}

/// Loads `n` pairs with `case`; returns ns per pair.
fn load(case: &str, n: u64) -> f64 {
    let cap = n as usize;
    let t = Instant::now();
    let len = match case {
        "urcu-inline" => {
            let m: RcuHashMap<u64, u64, _, urcu::Inline> =
                RcuHashMap::builder().inline().capacity(cap).build();
            (&m).extend(pairs(n));
            m.len()
        }
        "urcu" => {
            let m: RcuHashMap<u64, u64> = RcuHashMap::with_capacity(cap);
            (&m).extend(pairs(n));
            m.len()
        }
        "dashmap" => {
            let mut m = dashmap::DashMap::with_capacity_and_hasher(cap, ahash::RandomState::new());
            m.extend(pairs(n));
            m.len()
        }
        "papaya" => {
            let m = papaya::HashMap::with_capacity_and_hasher(cap, ahash::RandomState::new());
            let p = m.pin();
            for (k, v) in pairs(n) {
                p.insert(k, v);
            }
            p.len()
        }
        "scc-hashindex" => {
            let m = scc::HashIndex::with_capacity_and_hasher(cap, ahash::RandomState::new());
            for (k, v) in pairs(n) {
                let _ = m.insert_sync(k, v);
            }
            m.len()
        }
        "urcu-inline-par" => {
            use rayon::prelude::*;
            let m: RcuHashMap<u64, u64, _, urcu::Inline> =
                RcuHashMap::builder().inline().capacity(cap).build();
            (&m).par_extend(
                (0..n)
                    .into_par_iter()
                    .map(|k| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15), k)),
            );
            m.len()
        }
        "urcu-par" => {
            use rayon::prelude::*;
            let m: RcuHashMap<u64, u64> = RcuHashMap::with_capacity(cap);
            (&m).par_extend(
                (0..n)
                    .into_par_iter()
                    .map(|k| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15), k)),
            );
            m.len()
        }
        "std-hashmap" => {
            let mut m =
                std::collections::HashMap::with_capacity_and_hasher(cap, ahash::RandomState::new());
            m.extend(pairs(n));
            m.len()
        }
        other => panic!("unknown case {other}"),
    };
    let ns = t.elapsed().as_secs_f64() * 1e9 / n as f64;
    assert_eq!(len as u64, n, "{case}: every pair loaded");
    // The map is dropped here, outside the timing (and the process ends).
    ns
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        let case = &args[i + 1];
        let log2: u32 = args[i + 2].parse().expect("N_LOG2");
        println!("{}", load(case, 1 << log2));
        return;
    }
    let args: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let log2: u32 = args.first().map_or(22, |a| a.parse().expect("N_LOG2"));
    let rounds: usize = args.get(1).map_or(3, |a| a.parse().expect("ROUNDS"));
    let exe = std::env::current_exe().expect("own path");
    let mut times = vec![Vec::new(); CASES.len()];
    for round in 0..rounds {
        for (i, case) in CASES.iter().enumerate() {
            eprintln!("round {} of {rounds}: {case}", round + 1);
            let out = Command::new(&exe)
                .args(["--case", case, &log2.to_string()])
                .output()
                .expect("run a case");
            assert!(
                out.status.success(),
                "{case} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let ns: f64 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("ns per pair");
            times[i].push(ns);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = times.iter_mut().map(median).collect();
    // dashmap, papaya, scc: the concurrent peers.
    let best_peer = medians[2..5].iter().copied().fold(f64::MAX, f64::min);
    println!(
        "bulk_load: 2^{log2} pairs into a map built with room for them, median of {rounds} rounds"
    );
    println!("{:<16} {:>10} {:>14}", "case", "ns/pair", "vs best peer");
    for (case, ns) in CASES.iter().zip(&medians) {
        println!("{case:<16} {ns:>10.1} {:>13.2}x", best_peer / ns);
    }
}
