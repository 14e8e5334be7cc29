//! # 2. Read-side sections and grace periods
//!
//! A **read-side section** is the time between [`read_lock`](crate::read_lock)
//! and the drop of its [`ReadGuard`](crate::ReadGuard). Inside it, a thread
//! may hold references to RCU-protected objects.
//!
//! A **grace period** is any span of time that every section which was
//! running at its start has left. Sections that begin *during* the grace
//! period do not matter: they started after the old object was unpublished,
//! so they can only find the new one.
//!
//! ```text
//!                 writer publishes v2            v1 may be freed
//!                 (v1 unpublished)               |
//!                 |<------- grace period ------->|
//! time ──────────────────────────────────────────────────────────────▶
//!
//! reader A   [==== sees v1 ==========]                 ends before: waited for
//! reader B          [=== sees v1 ====================] ends last: the grace
//!                                                       period lasts until here
//! reader C                     [= sees v2 =]            began after: not waited for
//! reader D  [= v1 =]                                    ended before: irrelevant
//! ```
//!
//! Readers A and B may hold v1, so v1 must outlive them both; C can only
//! see v2; D was gone before anything happened. The grace period ends at
//! the end of B's section, the last one that was running when v2 was
//! published. (The picture shows the idea; a real grace period may end a
//! little later than the last such section, never earlier.)
//!
//! # Waiting for one
//!
//! [`synchronize_rcu`](crate::synchronize_rcu) waits for one grace period
//! and returns. After it, nothing unpublished before the call is reachable
//! by any reader, so the caller may free it:
//!
//! ```
//! use urcu::{read_lock, synchronize_rcu};
//! use std::sync::atomic::{AtomicPtr, Ordering};
//!
//! let shared = AtomicPtr::new(Box::into_raw(Box::new(1u64)));
//!
//! {
//!     let _g = read_lock();
//!     // SAFETY: the pointer is only freed after a grace period, and this
//!     // section holds any grace period off.
//!     let v = unsafe { *shared.load(Ordering::Acquire) };
//!     assert_eq!(v, 1);
//! }
//!
//! let old = shared.swap(Box::into_raw(Box::new(2u64)), Ordering::AcqRel);
//! synchronize_rcu(); // every section that could have seen `old` has ended
//! // SAFETY: unpublished before the grace period; nobody can reach it now.
//! drop(unsafe { Box::from_raw(old) });
//! # drop(unsafe { Box::from_raw(shared.load(Ordering::Relaxed)) });
//! ```
//!
//! That is the "classic" RCU update, and it is how the C world did it for
//! years. Most code should not write it this way: [`RcuBox`](crate::RcuBox)
//! and the structures do the pointer work safely, and
//! [`rcu_reclaim_queue`](crate::rcu_reclaim_queue) frees the old object
//! after a grace period *without making the writer wait*. The
//! [`reclamation`](super::reclamation) page compares the three ways.
//!
//! # How the library detects a grace period
//!
//! Each reader thread owns one word, written only by that thread. Under
//! `Memb` and `Mb` it is zero outside any section, and inside one it holds
//! the domain's *phase* as it was when the section began. A grace period
//! waits until no reader is in a section of the other phase, flips the
//! phase, and waits again (a reader may have read the phase just before
//! the flip and stored it just after, so one wait is not enough). Under
//! `Qsbr` a grace period advances a counter and waits until every online
//! thread has reported a quiescent state (see [`qsbr`](super::qsbr)).
//! Either way readers never wait and never write a shared cache line; the
//! writer does the scanning. Concurrent callers of `synchronize_rcu` share
//! one grace period instead of running one each.
//!
//! # Polling instead of waiting
//!
//! A thread that has other work can take a ticket and check it later:
//! [`Domain::start_poll`](crate::Domain::start_poll) returns a
//! [`GracePeriod`](crate::GracePeriod), [`Domain::poll`](crate::Domain::poll)
//! says whether it has elapsed (never blocks), and
//! [`Domain::cond_synchronize`](crate::Domain::cond_synchronize) waits only
//! if it has not.
//!
//! ```
//! let d = urcu::Domain::new();
//! let ticket = d.start_poll();
//! // ... do other work; a grace period may complete meanwhile ...
//! d.cond_synchronize(&ticket); // returns at once if it already has
//! assert!(d.poll(&ticket));
//! ```
//!
//! # Domains
//!
//! The free functions ([`read_lock`](crate::read_lock),
//! [`synchronize_rcu`](crate::synchronize_rcu), ...) use one process-wide
//! [`default_domain`](crate::default_domain). A [`Domain`](crate::Domain)
//! of your own has its own readers, grace periods, queues and settings
//! (flavor, queue capacity, stall timeout): a grace period of one domain
//! never waits for readers of another. Objects published in a domain must
//! be read with a guard of the same domain; mixing them up panics.
