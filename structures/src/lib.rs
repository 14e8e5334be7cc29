//! RCU data structures built on [`urcu_reclaim`]: readers never wait and
//! write nothing shared; writers publish new objects and hand the old ones
//! to the reclamation queue.
//!
//! - [`ConfigCell`]: copy-on-write configuration reload.
//! - [`RcuList`]: a linked list with wait-free readers.
//! - [`RcuHashMap`]: a hash map whose lookups write nothing shared.
//!
//! ```
//! use urcu_structures::{ConfigCell, RcuHashMap, RcuList};
//!
//! let config = ConfigCell::new(String::from("v1"));  // copy-on-write value
//! config.store(String::from("v2"));                  // "v1" is freed later
//! assert_eq!(*config.read(), "v2");
//!
//! let users: RcuList<&str> = ["ann", "bob"].into_iter().collect();
//! let routes: RcuHashMap<&str, u32> = RcuHashMap::new();
//! routes.pin().insert("/home", 1);
//!
//! let g = urcu_structures::urcu_reclaim::read_lock(); // one read-side section
//! assert_eq!(users.iter(&g).count(), 2);
//! assert_eq!(routes.get("/home", &g), Some(&1));
//! ```
#![deny(missing_docs)]

mod config_cell;
mod list;
#[cfg(all(test, loom))]
mod loom_tests;
mod map;
#[cfg(feature = "serde")]
mod serde_impls;
mod sync;
#[cfg(test)]
mod test_hashers;
#[cfg(all(test, not(loom)))]
mod tests;

pub use config_cell::{CachedReader, ConfigCell, ConfigRef};
pub use list::{ListIter, RcuList};
#[cfg(feature = "rayon")]
pub use map::MapParIter;
pub use map::{
    Boxed, Compute, Computed, Inline, MapBuilder, MapIter, MapKeys, MapStorage, MapValues, Pinned,
    PinnedOwned, RcuHashMap, TableStats,
};
pub use urcu_reclaim;
