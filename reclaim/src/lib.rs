//! Grace periods, read guards and the bounded per-thread reclamation queue
//! of urcu-rs: userspace RCU for Rust.
//!
//! Readers enter a read-side section with [`read_lock`], which writes only
//! the calling thread's own cache line. Writers publish a new object and
//! hand the old one to [`rcu_reclaim_queue`]; it is dropped after a *grace
//! period*, once every section that could still see it has ended.
//!
//! ```
//! use urcu_reclaim::{rcu_barrier, rcu_reclaim_queue, read_lock, RcuBox};
//!
//! let config = RcuBox::new(vec![1, 2, 3]);
//! let g = read_lock();                  // readers: no lock, no shared write
//! let v = config.load(&g);
//! config.replace(vec![4, 5, 6]);        // writer publishes; old value queued
//! assert_eq!(v, &[1, 2, 3]);            // still valid: `g` holds it
//! drop(g);
//! rcu_reclaim_queue(Box::new([0u8; 64])); // queue anything you unpublished
//! rcu_barrier();                        // wait until the queue is empty
//! ```
//!
//! # Pieces
//!
//! - [`Flavor`]: how readers announce themselves (membarrier-based
//!   [`Flavor::Memb`] by default, [`Flavor::Mb`], [`Flavor::Qsbr`]).
//! - [`synchronize_rcu`], [`Domain::start_poll`]/[`Domain::poll`]: wait for,
//!   or poll, a grace period.
//! - [`rcu_reclaim_queue`], [`defer`]: a per-thread ring of words, wait-free
//!   while it has room, drained after a grace period by a reclaimer thread
//!   or by the queueing thread itself; when full, the caller waits and
//!   frees, so pending memory is bounded by threads × capacity.
//! - [`rcu_barrier`], [`stats()`], stall reports ([`StallReport`]).
//! - [`Domain`]: all of the above for an independent set of readers.
#![deny(missing_docs)]
#![warn(unsafe_op_in_unsafe_fn)]

mod builder;
mod domain;
mod enqueue;
mod flavor;
mod grace_period;
mod guard;
mod hot;
#[cfg(all(test, loom))]
mod loom_tests;
mod owned;
mod queue;
mod rcu_box;
mod reclaimer;
mod record;
mod registry;
mod stall;
mod state;
mod stats;
mod sync;
mod sys;
#[cfg(all(test, not(loom)))]
mod tests;

pub use builder::{
    DomainBuilder, DEFAULT_QUEUE_CAPACITY, DEFAULT_RECLAIM_INTERVAL, DEFAULT_STALL_TIMEOUT,
};
pub use domain::{default_domain, Domain, GracePeriod};
pub use flavor::Flavor;
pub use guard::{ReadGuard, ThreadHandle};
pub use owned::{Guard, OwnedReadGuard};
pub use rcu_box::{RcuBox, Unpublished};
pub use stall::StallReport;
pub use stats::Stats;

/// Enters a read-side section of the default domain. See [`ReadGuard`].
///
/// ```
/// let config = urcu_reclaim::RcuBox::new(5);
/// let g = urcu_reclaim::read_lock(); // nests; writes only this thread's line
/// assert_eq!(*config.load(&g), 5);   // valid while `g` lives
/// drop(g);                           // leave before waiting for grace periods
/// ```
#[inline]
pub fn read_lock() -> ReadGuard<'static> {
    let rec = domain::default_record();
    let hot = rec.read_lock();
    ReadGuard::new_default(rec, hot)
}

/// Enters a read-side section of the default domain that is not tied to
/// this thread: the guard may move to another thread or live across an
/// `.await`. See [`OwnedReadGuard`].
///
/// ```
/// let g = urcu_reclaim::read_lock_owned();
/// std::thread::spawn(move || drop(g)).join().unwrap(); // ends over there
/// ```
pub fn read_lock_owned() -> OwnedReadGuard {
    default_domain().read_lock_owned()
}

/// Waits for a grace period of the default domain: every read-side section
/// that began before the call has ended when it returns.
///
/// # Panics
/// Inside a read-side section of the default domain (it would wait forever).
///
/// ```
/// let before = urcu_reclaim::stats().grace_periods;
/// urcu_reclaim::synchronize_rcu(); // no reader in a section: returns soon
/// assert!(urcu_reclaim::stats().grace_periods > before);
/// ```
pub fn synchronize_rcu() {
    default_domain().synchronize_rcu();
}

/// Drops `obj` after a grace period of the default domain. Wait-free while
/// this thread's queue has room. See [`Domain::rcu_reclaim_queue`].
///
/// ```
/// urcu_reclaim::rcu_reclaim_queue(Box::new(String::from("old")));
/// assert!(urcu_reclaim::stats().queued >= 1);
/// urcu_reclaim::rcu_barrier(); // the string has been dropped
/// assert_eq!(urcu_reclaim::stats().pending(), 0);
/// ```
#[inline]
pub fn rcu_reclaim_queue<T: Send + 'static>(obj: Box<T>) {
    let (rec, core) = domain::default_record_and_core();
    core.enqueue(rec, queue::Retired::of_box(obj));
}

/// Runs `f` after a grace period of the default domain (`call_rcu`).
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// static RAN: AtomicBool = AtomicBool::new(false);
/// urcu_reclaim::defer(|| RAN.store(true, Ordering::Relaxed)); // after a grace period
/// urcu_reclaim::rcu_barrier();
/// assert!(RAN.load(Ordering::Relaxed));
/// ```
#[inline]
pub fn defer<F: FnOnce() + Send + 'static>(f: F) {
    default_domain().defer(f);
}

/// Returns once everything queued in the default domain before the call
/// has been reclaimed.
///
/// # Panics
/// Inside a read-side section, or from a reclamation callback.
///
/// ```
/// for i in 0..3 {
///     urcu_reclaim::rcu_reclaim_queue(Box::new(i));
/// }
/// urcu_reclaim::rcu_barrier(); // all three have been dropped
/// assert_eq!(urcu_reclaim::stats().pending(), 0);
/// ```
pub fn rcu_barrier() {
    default_domain().rcu_barrier();
}

/// Counters of the default domain.
///
/// ```
/// urcu_reclaim::rcu_reclaim_queue(Box::new(1u64));
/// urcu_reclaim::rcu_barrier();
/// let s = urcu_reclaim::stats();
/// assert!(s.queued >= 1 && s.reclaimed >= 1 && s.grace_periods >= 1);
/// println!("{s:?}");
/// ```
pub fn stats() -> Stats {
    default_domain().stats()
}
