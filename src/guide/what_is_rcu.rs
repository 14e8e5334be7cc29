//! # 1. What RCU is, and when to use it
//!
//! RCU (*read-copy-update*) is a way to share data between threads when
//! reads vastly outnumber writes. It splits the work unevenly on purpose:
//!
//! - **Readers** do almost nothing. A reader enters a *read-side section*
//!   ([`read_lock`](crate::read_lock) returns a [`ReadGuard`](crate::ReadGuard)),
//!   follows a pointer, and leaves. It takes no lock, writes no memory that
//!   another thread reads, and never waits for a writer.
//! - **Writers** never modify an object that readers may be looking at.
//!   They *read* the current object, *copy* it, change the copy, and
//!   *update* the shared pointer to the copy in one atomic store. Readers
//!   that already hold the old object keep a valid, unchanged old object;
//!   readers that arrive later see the new one.
//! - **Reclamation** is the hard part: the old object can only be freed
//!   once no reader can still hold it. RCU waits for a *grace period* — a
//!   span of time in which every read-side section that existed at the
//!   start has ended — and frees the old object after it. The next page,
//!   [`grace_periods`](super::grace_periods), draws this on a timeline.
//!
//! Here is the whole idea in a few lines, with [`RcuBox`](crate::RcuBox),
//! a pointer published through RCU:
//!
//! ```
//! use urcu::{read_lock, RcuBox};
//!
//! let greeting = RcuBox::new(String::from("hello"));
//!
//! let guard = read_lock();                  // a reader enters a section
//! let seen = greeting.load(&guard);         // and follows the pointer
//!
//! greeting.replace(String::from("bonjour")); // a writer publishes a copy
//!
//! assert_eq!(seen, "hello");                // the reader's object is intact
//! drop(guard);                              // the reader leaves
//!
//! assert_eq!(greeting.load(&read_lock()), "bonjour"); // new readers see the copy
//! urcu::rcu_barrier(); // "hello" has now been freed, after a grace period
//! ```
//!
//! The borrow checker keeps the reader honest: `seen` borrows `guard`, so
//! it cannot be used after the section ends, and the guard is `!Send`, so a
//! section cannot wander to another thread.
//!
//! # When RCU is the right tool
//!
//! - **Read-mostly shared state**: a routing table, a feature-flag set, a
//!   session cache, a list of subscribers, a configuration that is reloaded
//!   now and then. Readers run on every request; writers run rarely.
//! - **Readers that must never wait**: latency-sensitive paths where a
//!   reader blocked behind a writer (as with `RwLock`) is unacceptable.
//! - **Many reader threads**: a read-side section writes only the reader's
//!   own cache line (and nothing at all under QSBR), so reads scale with
//!   cores instead of fighting over a lock word. The measured figures are in
//!   [`flavors`](super::flavors) and `BENCHMARKS.md`.
//!
//! # When it is not
//!
//! - **Write-heavy data.** Every write allocates a new object and retires
//!   the old one; if writes are as common as reads, a lock or a sharded map
//!   is simpler and often faster. This crate's own hash map is slower than
//!   scc's and dashmap's under heavy writes (see
//!   [`comparison`](super::comparison)).
//! - **Big objects that change a little.** Copying a 10 MB table to change
//!   one entry is wasteful; use a structure made of small RCU-published
//!   pieces ([`RcuHashMap`](crate::RcuHashMap), [`RcuList`](crate::RcuList))
//!   instead of one [`RcuBox`](crate::RcuBox) around everything.
//! - **Readers that need the latest value at every instant.** An RCU reader
//!   may be working on a version that was just replaced. That is the point
//!   (it never waits), but if two fields must be read atomically with a
//!   write that happens elsewhere, you need a lock or a transaction.
//! - **Readers that hold a reference for a long time** (across I/O, across
//!   `.await`, for seconds). Nothing can be freed while they do; see
//!   [`pitfalls`](super::pitfalls). Clone what you need and leave the
//!   section instead.
//! - **Single-threaded code.** There is nothing to protect against.
