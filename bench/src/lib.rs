//! Benchmarks of urcu against its peers. Not published: this crate holds
//! every benchmark of the workspace, so that building the `urcu` facade's
//! examples and tests compiles none of the peers.
//!
//! - `benches/read_side.rs`, `reclaim.rs`, `grace_period.rs`,
//!   `config_cell.rs`, `list.rs`: criterion benches.
//! - `benches/scaling.rs` and `benches/map.rs`: the two harness-free
//!   drivers, which run every case in a fresh child process, against every
//!   peer in the same invocation, and print ratios to the best peer.
//!
//! What the drivers share lives here: [`driver`] (command line, child
//! processes, results, rounds, tables, CSV), [`plot`] (SVG plots of a
//! run), [`map_session`] (the maps under test, written once for both
//! drivers) and, with the `liburcu` feature, `liburcu` (the C library's
//! loops, for the scaling driver).

pub mod driver;
#[cfg(feature = "liburcu")]
pub mod liburcu;
pub mod map_session;
pub mod plot;

/// A `/proc/self/status` field in KiB (`VmRSS:`, `VmHWM:`); NaN if absent.
pub fn status_kib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

/// xorshift64* (Marsaglia's xorshift with Vigna's multiplier): the drivers'
/// per-thread key generator (the C shim's lfht loop uses the same).
pub struct XorShift(u64);

impl XorShift {
    /// A generator for stream (thread) `stream`.
    pub fn new(stream: u64) -> Self {
        XorShift((stream + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    #[inline(always)]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
