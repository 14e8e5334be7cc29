//! A guide to RCU with this crate, one page per topic. Read it in order;
//! every code block is a test that compiles and runs.
//!
//! 1. [`what_is_rcu`]: what RCU is, when it is the right tool, and when it
//!    is not.
//! 2. [`grace_periods`]: read-side sections and grace periods, on a
//!    timeline.
//! 3. [`flavors`]: `Memb` (the default), `Mb` and `Qsbr`, what each costs
//!    (measured) and how to choose.
//! 4. [`reclamation`]: [`rcu_reclaim_queue`](crate::rcu_reclaim_queue) vs
//!    [`synchronize_rcu`](crate::synchronize_rcu) vs
//!    [`defer`](crate::defer), and why memory stays bounded.
//! 5. [`qsbr`]: the QSBR rules, and how the borrow checker enforces them.
//! 6. [`patterns`]: read-copy-update of a struct, a routing table, a
//!    configuration reload, a subscriber list.
//! 7. [`pitfalls`]: blocking inside a section, long sections, waiting
//!    inside a section, and what the library does about each.
//! 8. [`comparison`]: how this crate compares with crossbeam-epoch, seize,
//!    arc-swap, papaya, dashmap, scc and liburcu, including where it loses.
//!
//! Beside the guide, in the repository:
//!
//! - `examples/` (`cargo run --release --example tour`, then the others in
//!   the order of `examples/README.md`): runnable programs that print what
//!   happens in plain words;
//! - `BENCHMARKS.md`: every measured figure, with its command and machine
//!   (the guide quotes from it and names the section each time);
//! - `RELIABILITY.md`: what the library promises, how each promise is
//!   tested, and what each misuse does.
//!
//! This module holds no code: it exists for its documentation.

pub mod comparison;
pub mod flavors;
pub mod grace_periods;
pub mod patterns;
pub mod pitfalls;
pub mod qsbr;
pub mod reclamation;
pub mod what_is_rcu;
