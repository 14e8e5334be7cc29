//! RCU data structures built on [`urcu_reclaim`]: a hash map, a list and a
//! copy-on-write configuration cell. They arrive with issues #3 and #4; this
//! crate exists now so the workspace layout is the final one.
#![deny(missing_docs)]

pub use urcu_reclaim;
