//! urcu-rs: userspace RCU for Rust.
//!
//! This facade re-exports [`urcu_reclaim`] (grace periods, read guards, the
//! reclamation queue) and [`urcu_structures`] (RCU data structures).
//!
//! ```
//! use urcu::{read_lock, RcuBox};
//!
//! let routes = RcuBox::new(vec!["10.0.0.0/8"]);
//! let g = read_lock();
//! let current = routes.load(&g);
//! routes.replace(vec!["10.0.0.0/8", "192.168.0.0/16"]);
//! assert_eq!(current.len(), 1); // readers keep what they loaded
//! drop(g);
//! urcu::rcu_barrier();
//! ```
#![deny(missing_docs)]

pub use urcu_reclaim::*;
pub use urcu_structures;
pub use urcu_structures::{ConfigCell, ConfigRef, RcuHashMap, RcuList};
