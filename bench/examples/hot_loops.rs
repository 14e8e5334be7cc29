//! The read loops of the scaling driver's `read` and `config` workloads,
//! each alone in a function of its own (`loop_*`, never inlined), on one
//! thread with nobody writing: for instruction counts and for reading the
//! emitted code, where wall-clock time on a shared VM is too noisy.
//!
//! ```text
//! cargo build --release -p urcu-bench --example hot_loops [--features liburcu]
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     '--toggle-collect=hot_loops::loop_*' target/release/examples/hot_loops read-memb 1000000
//! objdump -d --no-show-raw-insn target/release/examples/hot_loops   # then find loop_*
//! ```
//!
//! With `--features liburcu`, `liburcu-memb` (and `-mb`, `-qsbr`) run the C
//! shim's same loop; count it with
//! `--toggle-collect=shim_memb_read_loop_body`.
//!
//! Each case reports "Collected" instructions for the whole loop: divide
//! by the iteration count for a per-read figure.

use std::hint::black_box;
use std::sync::Arc;
use urcu::{ConfigCell, Domain, Flavor, RcuBox};

/// The `read` workload's object (64 bytes).
type Obj = [u64; 8];

/// The `config` workload's value: 256 bytes, of which a read touches `a`
/// and `b` (as in `benches/scaling.rs`).
struct Config {
    a: u64,
    b: u64,
    _pad: [u64; 30],
}

impl Config {
    fn new(v: u64) -> Config {
        Config {
            a: v,
            b: v.wrapping_mul(3),
            _pad: [v; 30],
        }
    }
}

/// As in `benches/scaling.rs`: an empty `asm!` block that takes the pointer.
#[inline(always)]
fn sink<T>(p: *const T) {
    // SAFETY: the block is empty: it reads the register and nothing else.
    unsafe { std::arch::asm!("/* {0} */", in(reg) p, options(nostack, preserves_flags)) }
}

/// As in `benches/scaling.rs`: two fields into a `black_box`ed sum.
#[inline(always)]
fn touch(acc: &mut u64, c: &Config) {
    *acc = black_box(acc.wrapping_add(c.a).wrapping_add(c.b));
}

#[inline(never)]
fn loop_read_memb(b: &RcuBox<Obj>, n: u64) {
    for _ in 0..n {
        let g = urcu::read_lock();
        sink(b.load(&g));
    }
}

#[inline(never)]
fn loop_read_domain(d: &Domain, b: &RcuBox<Obj>, n: u64) {
    for _ in 0..n {
        let g = d.read_lock();
        sink(b.load(&g));
    }
}

#[inline(never)]
fn loop_read_handle(h: &urcu::ThreadHandle, b: &RcuBox<Obj>, n: u64) {
    for _ in 0..n {
        let g = h.read_lock();
        sink(b.load(&g));
    }
}

#[inline(never)]
fn loop_config_read(cell: &ConfigCell<Config>, n: u64) -> u64 {
    let mut acc = 0;
    for _ in 0..n {
        touch(&mut acc, &cell.read());
    }
    acc
}

#[inline(never)]
fn loop_config_cached(cell: &ConfigCell<Config>, n: u64) -> u64 {
    let mut reader = cell.reader();
    let mut acc = 0;
    for _ in 0..n {
        touch(&mut acc, reader.load());
    }
    acc
}

#[inline(never)]
fn loop_arc_swap_load(s: &arc_swap::ArcSwap<Config>, n: u64) -> u64 {
    let mut acc = 0;
    for _ in 0..n {
        touch(&mut acc, &s.load());
    }
    acc
}

#[inline(never)]
fn loop_arc_swap_cache(s: &arc_swap::ArcSwap<Config>, n: u64) -> u64 {
    let mut cache = arc_swap::Cache::new(s);
    let mut acc = 0;
    for _ in 0..n {
        touch(&mut acc, cache.load());
    }
    acc
}

#[inline(never)]
fn loop_hazarc_load(s: &hazarc::AtomicArc<Config>, n: u64) -> u64 {
    let mut acc = 0;
    for _ in 0..n {
        touch(&mut acc, &s.load());
    }
    acc
}

#[inline(never)]
fn loop_hazarc_cache(s: &hazarc::AtomicArc<Config>, n: u64) -> u64 {
    let mut cache = hazarc::Cache::new(s);
    let mut acc = 0;
    for _ in 0..n {
        touch(&mut acc, cache.load());
    }
    acc
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: hot_loops CASE [ITERATIONS]; CASE: read-memb, read-mb, read-qsbr-guard, \
                 read-memb-handle, read-qsbr-handle, config-read, config-cached, \
                 config-cached-qsbr, arc-swap-load, arc-swap-cache, hazarc-load, hazarc-cache, \
                 liburcu-memb, liburcu-mb, liburcu-qsbr";
    let case = args.get(1).expect(usage).as_str();
    let n: u64 = args.get(2).map_or(1_000_000, |s| s.parse().expect(usage));
    // A first short pass joins the domain (registration is not counted in
    // the measured call), then the measured one.
    let twice = |f: &dyn Fn(u64)| {
        f(16);
        f(n);
    };
    match case {
        "read-memb" => {
            let b = RcuBox::new([1; 8]);
            twice(&|n| loop_read_memb(&b, n));
        }
        "read-mb" | "read-qsbr-guard" => {
            let flavor = if case == "read-mb" {
                Flavor::Mb
            } else {
                Flavor::Qsbr
            };
            let d = Domain::builder().flavor(flavor).build();
            let b = RcuBox::new_in([1; 8], &d);
            twice(&|n| loop_read_domain(&d, &b, n));
        }
        "read-memb-handle" | "read-qsbr-handle" => {
            let flavor = if case == "read-memb-handle" {
                Flavor::Memb
            } else {
                Flavor::Qsbr
            };
            let d = Domain::builder().flavor(flavor).build();
            let b = RcuBox::new_in([1; 8], &d);
            let h = d.register_thread();
            twice(&|n| loop_read_handle(&h, &b, n));
        }
        "config-read" => {
            let cell = ConfigCell::new(Config::new(1));
            twice(&|n| {
                black_box(loop_config_read(&cell, n));
            });
        }
        "config-cached" | "config-cached-qsbr" => {
            let d = if case == "config-cached" {
                urcu::default_domain().clone()
            } else {
                Domain::builder().flavor(Flavor::Qsbr).build()
            };
            let cell = ConfigCell::new_in(Config::new(1), &d);
            twice(&|n| {
                black_box(loop_config_cached(&cell, n));
            });
        }
        "arc-swap-load" | "arc-swap-cache" => {
            let s = arc_swap::ArcSwap::from_pointee(Config::new(1));
            let f = if case == "arc-swap-load" {
                loop_arc_swap_load
            } else {
                loop_arc_swap_cache
            };
            twice(&|n| {
                black_box(f(&s, n));
            });
        }
        "hazarc-load" | "hazarc-cache" => {
            let s = hazarc::AtomicArc::new(Arc::new(Config::new(1)));
            let f = if case == "hazarc-load" {
                loop_hazarc_load
            } else {
                loop_hazarc_cache
            };
            twice(&|n| {
                black_box(f(&s, n));
            });
        }
        #[cfg(feature = "liburcu")]
        "liburcu-memb" | "liburcu-mb" | "liburcu-qsbr" => {
            twice(&|n| urcu_bench::liburcu::read_loop(case, n));
        }
        other => panic!("unknown case {other:?}\n{usage}"),
    }
}
