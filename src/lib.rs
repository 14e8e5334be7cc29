//! Userspace RCU for Rust: readers that never wait and write nothing
//! shared, writers that publish new versions, and a bounded queue that
//! frees old versions once no reader can see them.
//!
//! ```
//! use urcu::{read_lock, RcuBox};
//!
//! let config = RcuBox::new(String::from("v1")); // publish a value
//!
//! let guard = read_lock();             // a reader: no lock, no shared write
//! let seen = config.load(&guard);      // a reference, valid while `guard` lives
//! config.replace(String::from("v2"));  // a writer publishes; "v1" is queued
//! assert_eq!(seen, "v1");              // the reader still sees its version
//! drop(guard);                         // the reader is done
//!
//! assert_eq!(config.load(&read_lock()), "v2");
//! urcu::rcu_barrier();                 // "v1" has been freed after a grace period
//! ```
//!
//! # Where to start
//!
//! - **The guide**, [`guide`]: what RCU is and when to use it, grace
//!   periods on a timeline, the three flavors, freeing old objects,
//!   QSBR, patterns, pitfalls, and a comparison with other crates.
//! - **The examples** in the repository, read in the order of
//!   `examples/README.md`, starting with `cargo run --release --example tour`.
//! - **`BENCHMARKS.md`**: every measured figure, with its command and
//!   machine. **`RELIABILITY.md`**: what the library promises, how each
//!   promise is tested, and what each misuse does.
//!
//! # What is here
//!
//! This facade re-exports [`urcu_reclaim`] (grace periods, read guards,
//! the reclamation queue) and the data structures of [`urcu_structures`]:
//!
//! - reading: [`read_lock`] and [`ReadGuard`]; [`Domain::register_thread`]
//!   and [`ThreadHandle`] for QSBR;
//! - publishing: [`RcuBox`], [`ConfigCell`], [`RcuList`], [`RcuHashMap`]
//!   (entries [`Boxed`], the default, or [`Inline`] for small `Copy` pairs:
//!   see [`MapBuilder::inline`]);
//! - freeing: [`rcu_reclaim_queue`], [`defer`], [`synchronize_rcu`],
//!   [`rcu_barrier`]; watching: [`stats`];
//! - configuring: [`Domain::builder`] ([`Flavor`], queue capacity, stall
//!   reports).
//!
//! ```
//! use urcu::{Inline, RcuHashMap};
//!
//! // A routing table whose `u32 -> u64` pairs live in the bucket lines.
//! let routes: RcuHashMap<u32, u64, _, Inline> =
//!     RcuHashMap::builder().inline().build();
//! routes.pin().insert(0x0a00_0000, 7);
//! assert_eq!(routes.get_cloned(&0x0a00_0000), Some(7));
//! ```
#![deny(missing_docs)]

pub mod guide;

pub use urcu_reclaim::*;
pub use urcu_structures;
pub use urcu_structures::{
    Boxed, CachedReader, Compute, Computed, ConfigCell, ConfigRef, Inline, ListIter, MapBuilder,
    MapIter, MapKeys, MapStorage, MapValues, Pinned, PinnedOwned, RcuHashMap, RcuList, TableStats,
};
