//! RCU data structures built on [`urcu_reclaim`]: readers never wait and
//! write nothing shared; writers publish new objects and hand the old ones
//! to the reclamation queue.
//!
//! - [`ConfigCell`]: copy-on-write configuration reload.
//! - `RcuList` and `RcuHashMap`: coming with issues #4 and #3.
#![deny(missing_docs)]

mod config_cell;

pub use config_cell::{ConfigCell, ConfigRef};
pub use urcu_reclaim;
