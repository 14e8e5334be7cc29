//! The C liburcu side by side (`--features liburcu`): safe wrappers over the
//! C shim in `bench/liburcu/`, which `build.rs` compiles against the system's
//! liburcu 0.13 with its inline fast paths (`_LGPL_SOURCE`). Each call runs
//! a whole measured loop in C on threads the shim starts itself, so no FFI
//! call sits in a measured loop.

use std::ffi::{c_double, c_uint, c_void};

extern "C" {
    fn shim_memb_read(readers: c_uint, secs: c_double, elapsed: *mut c_double) -> u64;
    fn shim_mb_read(readers: c_uint, secs: c_double, elapsed: *mut c_double) -> u64;
    fn shim_qsbr_read(readers: c_uint, secs: c_double, elapsed: *mut c_double) -> u64;
    fn shim_memb_gp(
        threads: c_uint,
        secs: c_double,
        elapsed: *mut c_double,
        samples: *mut *mut u64,
    ) -> u64;
    fn shim_mb_gp(
        threads: c_uint,
        secs: c_double,
        elapsed: *mut c_double,
        samples: *mut *mut u64,
    ) -> u64;
    fn shim_qsbr_gp(
        threads: c_uint,
        secs: c_double,
        elapsed: *mut c_double,
        samples: *mut *mut u64,
    ) -> u64;
    fn shim_free(p: *mut c_void);
    fn shim_memb_read_loop(n: u64);
    fn shim_mb_read_loop(n: u64);
    fn shim_qsbr_read_loop(n: u64);
    fn shim_defer_rcu(threads: c_uint, secs: c_double, elapsed: *mut c_double) -> u64;
    fn shim_call_rcu(threads: c_uint, secs: c_double, elapsed: *mut c_double) -> u64;
    fn shim_lfht(
        threads: c_uint,
        secs: c_double,
        keys: u64,
        batch: c_uint,
        elapsed: *mut c_double,
    ) -> u64;
}

/// The `liburcu-*` implementations of a workload of `benches/scaling.rs`.
pub fn impls_of(workload: &str) -> &'static [&'static str] {
    match workload {
        "read" | "gp" => &["liburcu-memb", "liburcu-mb", "liburcu-qsbr"],
        "reclaim" => &["liburcu-defer_rcu", "liburcu-call_rcu"],
        "map" => &["liburcu-lfht"],
        _ => &[],
    }
}

fn threads(n: usize) -> c_uint {
    c_uint::try_from(n).expect("thread count fits a C unsigned")
}

/// `read`: `readers` threads loop "rcu_read_lock, rcu_dereference,
/// rcu_read_unlock" (QSBR: a quiescent state every 1024 reads) while one
/// more thread replaces the object every 1 ms and frees the old one through
/// `call_rcu`. Returns (reads, seconds).
pub fn read(name: &str, readers: usize, secs: f64) -> (u64, f64) {
    let f = match name {
        "liburcu-memb" => shim_memb_read,
        "liburcu-mb" => shim_mb_read,
        "liburcu-qsbr" => shim_qsbr_read,
        other => panic!("unknown liburcu read implementation {other:?}"),
    };
    let mut elapsed = 0.0;
    // SAFETY: the shim's entry points take plain values and write only
    // through `elapsed`, which points to a live f64; they start and join
    // their own threads before returning.
    let ops = unsafe { f(threads(readers), secs, &mut elapsed) };
    (ops, elapsed)
}

/// `n` reads of the `read` loop on the calling thread, nobody writing:
/// for instruction counts (`bench/examples/hot_loops.rs`). The loop is the
/// C function `shim_<flavor>_read_loop_body`.
pub fn read_loop(name: &str, n: u64) {
    let f = match name {
        "liburcu-memb" => shim_memb_read_loop,
        "liburcu-mb" => shim_mb_read_loop,
        "liburcu-qsbr" => shim_qsbr_read_loop,
        other => panic!("unknown liburcu read implementation {other:?}"),
    };
    // SAFETY: the shim registers the calling thread for the loop and
    // unregisters it after; it touches nothing of ours.
    unsafe { f(n) }
}

/// `gp`: thread 0 calls `synchronize_rcu` in a loop while `n - 1` threads
/// run empty read-side sections (QSBR: a quiescent state after each).
/// Returns (grace periods, seconds, each one's latency in ns).
pub fn gp(name: &str, n: usize, secs: f64) -> (u64, f64, Vec<u64>) {
    let f = match name {
        "liburcu-memb" => shim_memb_gp,
        "liburcu-mb" => shim_mb_gp,
        "liburcu-qsbr" => shim_qsbr_gp,
        other => panic!("unknown liburcu gp implementation {other:?}"),
    };
    let mut elapsed = 0.0;
    let mut samples: *mut u64 = std::ptr::null_mut();
    // SAFETY: as in `read`; the shim also stores in `samples` a malloc'd
    // array of as many u64 as it returns.
    let count = unsafe { f(threads(n), secs, &mut elapsed, &mut samples) };
    let lat = if samples.is_null() {
        Vec::new()
    } else {
        // SAFETY: `samples` holds `count` initialized u64 (see above), and
        // is not used by C any more; we copy it out, then free it with the
        // shim's `free`, which allocated it.
        unsafe {
            let v = std::slice::from_raw_parts(samples, count as usize).to_vec();
            shim_free(samples.cast());
            v
        }
    };
    (count, elapsed, lat)
}

/// `reclaim`: `n` producers each allocate a 64-byte object, publish it in
/// their own slot and retire the old one with `defer_rcu(free, old)` or
/// `call_rcu` (whose objects carry a 16-byte `rcu_head`: 80 bytes).
pub fn reclaim(name: &str, n: usize, secs: f64) -> (u64, f64) {
    let f = match name {
        "liburcu-defer_rcu" => shim_defer_rcu,
        "liburcu-call_rcu" => shim_call_rcu,
        other => panic!("unknown liburcu reclaim implementation {other:?}"),
    };
    let mut elapsed = 0.0;
    // SAFETY: as in `read`.
    let ops = unsafe { f(threads(n), secs, &mut elapsed) };
    (ops, elapsed)
}

/// `map`: `cds_lfht` (memb flavor, automatic resizing) prefilled with the
/// even keys of a `keys` key space (a power of two), then `n` threads doing
/// 98% lookup / 1% insert-or-replace / 1% remove of random keys, `batch`
/// operations per read-side section; replaced and removed nodes go to
/// `call_rcu`.
pub fn lfht(n: usize, secs: f64, keys: u64, batch: u32) -> (u64, f64) {
    assert!(keys.is_power_of_two() && batch > 0);
    let mut elapsed = 0.0;
    // SAFETY: as in `read`; `keys` is a power of two and `batch` positive,
    // as the shim requires (it aborts otherwise).
    let ops = unsafe { shim_lfht(threads(n), secs, keys, batch, &mut elapsed) };
    (ops, elapsed)
}
