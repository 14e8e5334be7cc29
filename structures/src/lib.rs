//! RCU data structures built on [`urcu_reclaim`]: readers never wait and
//! write nothing shared; writers publish new objects and hand the old ones
//! to the reclamation queue.
//!
//! - [`ConfigCell`]: copy-on-write configuration reload.
//! - [`RcuList`]: a linked list with wait-free readers.
//! - `RcuHashMap`: coming with issue #3.
#![deny(missing_docs)]

mod config_cell;
mod list;
#[cfg(test)]
mod tests;

pub use config_cell::{ConfigCell, ConfigRef};
pub use list::{Iter as ListIter, RcuList};
pub use urcu_reclaim;
