//! # 6. Patterns
//!
//! The shapes that cover most uses of RCU. Each has a longer, runnable
//! version under `examples/`.
//!
//! # Read-copy-update of a struct
//!
//! The pattern that gives RCU its name: read the current value, copy it,
//! change the copy, publish the copy. With one writer at a time (or a lock
//! around writers) [`ConfigCell::update`](crate::ConfigCell::update) does
//! all three; writers serialize inside it, so no update is lost:
//!
//! ```
//! use urcu::ConfigCell;
//!
//! #[derive(Clone, Debug, PartialEq)]
//! struct Limits { max_conn: u32, timeout_ms: u64 }
//!
//! let limits = ConfigCell::new(Limits { max_conn: 100, timeout_ms: 500 });
//! limits.update(|old| Limits { max_conn: old.max_conn * 2, ..old.clone() });
//! assert_eq!(*limits.read(), Limits { max_conn: 200, timeout_ms: 500 });
//! ```
//!
//! Without a lock, on a bare [`RcuBox`](crate::RcuBox), the update is a
//! compare-and-swap loop: if another writer published first, read again
//! and redo the copy.
//!
//! ```
//! use urcu::{read_lock, RcuBox};
//!
//! #[derive(Clone)]
//! struct Stats { requests: u64, errors: u64 }
//!
//! let stats = RcuBox::new(Stats { requests: 0, errors: 0 });
//! let g = read_lock();
//! let mut current = stats.load(&g);
//! loop {
//!     let copy = Stats { requests: current.requests + 1, ..current.clone() };
//!     match stats.compare_exchange(current, copy, &g) {
//!         Ok(_old) => break,                 // published; `_old` is queued
//!         Err((_copy, actual)) => current = actual, // lost the race: retry
//!     }
//! }
//! assert_eq!(stats.load(&g).requests, 1);
//! ```
//!
//! # A routing table
//!
//! A table that every packet or request reads and an operator changes now
//! and then. [`RcuHashMap`](crate::RcuHashMap) changes one entry at a time
//! (no copy of the whole table); lookups are lock-free and write nothing
//! shared. A pinned handle holds one read-side section for several
//! operations:
//!
//! ```
//! use urcu::RcuHashMap;
//!
//! let routes: RcuHashMap<&str, &str> = RcuHashMap::new();
//! routes.pin().insert("10.0.0.0/8", "eth0");
//!
//! std::thread::scope(|s| {
//!     s.spawn(|| {
//!         // A request thread: one section per batch of lookups.
//!         let m = routes.pin();
//!         for _ in 0..1000 {
//!             assert!(matches!(m.get("10.0.0.0/8"), Some(&"eth0" | &"eth1")));
//!         }
//!     });
//!     // The operator moves the route; the old entry is freed after a grace period.
//!     routes.pin().insert("10.0.0.0/8", "eth1");
//! });
//! assert_eq!(routes.get_cloned("10.0.0.0/8"), Some("eth1"));
//! ```
//!
//! A request that needs several keys at once (a packet batch, the flags
//! of one page) can look them up together: `m.get_many([&a, &b, &c])`
//! requests every bucket line before reading any, so the cache misses
//! overlap. With 16 keys that took about half the time per key of single
//! `get`s on a table larger than the caches (BENCHMARKS.md, `batch_get`).
//!
//! For a small table that changes as a whole (say, a few dozen prefixes
//! recomputed together), an `RcuBox<Vec<Route>>` replaced whole is simpler
//! and its readers scan contiguous memory. Runnable:
//! `examples/read_heavy_service.rs` (a session cache under a writer).
//!
//! # Counters and other read-modify-writes of one key
//!
//! "Update the entry, or insert it if absent" as two calls (`update`, then
//! `insert`) loses updates when two threads race. One call does both under
//! the key's bucket lock, running exactly one of its closures once:
//! [`Pinned::update_or_insert_with`](crate::Pinned::update_or_insert_with),
//! or [`Pinned::compute`](crate::Pinned::compute) to insert, replace,
//! remove or keep from what the entry holds now.
//!
//! ```
//! use urcu::{Compute, RcuHashMap};
//!
//! let hits: RcuHashMap<&str, u64> = RcuHashMap::new();
//! std::thread::scope(|s| {
//!     for _ in 0..4 {
//!         s.spawn(|| {
//!             for _ in 0..1000 {
//!                 hits.pin().update_or_insert_with("/", |n| n + 1, || 1);
//!             }
//!         });
//!     }
//! });
//! assert_eq!(hits.get_cloned("/"), Some(4000)); // no update lost
//!
//! // Expire a session once its last use is old enough, atomically.
//! let last_use: RcuHashMap<u32, u64> = RcuHashMap::new();
//! last_use.insert(7, 100);
//! let now = 500;
//! let m = last_use.pin();
//! let r = m.compute(7, |t| match t {
//!     Some(&t) if now - t > 300 => Compute::Remove,
//!     _ => Compute::Keep,
//! });
//! assert_eq!((r.old, r.new), (Some(&100), None));
//! ```
//!
//! # Across an `.await`, or another thread
//!
//! A pinned handle and a [`ReadGuard`](crate::ReadGuard) belong to their
//! thread. To keep references across an `.await` in a future that may
//! move between threads, or to hand them to another thread, use an owned
//! section: [`RcuHashMap::pin_owned`](crate::RcuHashMap::pin_owned), or
//! [`read_lock_owned`](crate::read_lock_owned()) for an
//! [`RcuBox`](crate::RcuBox) or a [`ConfigCell`](crate::ConfigCell). It
//! costs a registry lock and a fence to enter and leave, and it holds
//! grace periods up for as long as it lives, like any section: keep it
//! across one `.await`, not a whole connection. When a copy is cheap, take
//! one instead and hold nothing: `map.get_cloned(&k)`, or
//! [`ConfigCell::snapshot`](crate::ConfigCell::snapshot) (store an
//! `Arc<T>` in the cell to make that a reference count).
//!
//! ```
//! use urcu::{ConfigCell, RcuHashMap};
//!
//! let sessions: RcuHashMap<u64, String> = RcuHashMap::new();
//! sessions.insert(1, "alice".to_string());
//! let m = sessions.pin_owned(); // `Send`
//! let alice: &String = m.get(&1).unwrap();
//! std::thread::scope(|s| {
//!     // The handle (and the reference) may be used from another thread.
//!     s.spawn(|| assert_eq!(alice, "alice"));
//! });
//!
//! let cfg = ConfigCell::new(std::sync::Arc::new(vec![1, 2, 3]));
//! let snap = cfg.snapshot(); // an Arc: no section held while it lives
//! assert_eq!(snap.len(), 3);
//! ```
//!
//! With the `serde` feature the map, the list and the config cell
//! serialize as a map, a sequence and their value, each read inside one
//! section; deserializing builds a new structure.
//!
//! # Configuration reload
//!
//! Every request reads the configuration; a reloader publishes a new one
//! when a file changes. Readers never wait for the reloader, and a request
//! that started with the old configuration finishes with it.
//! [`version`](crate::ConfigCell::version) lets a reader notice a reload
//! without entering a section, and a
//! [`CachedReader`](crate::urcu_structures::CachedReader) from
//! [`reader`](crate::ConfigCell::reader) makes the hottest loops cheaper
//! still:
//!
//! ```
//! use std::sync::Arc;
//! use urcu::ConfigCell;
//!
//! #[derive(Debug)]
//! struct Config { greeting: String }
//!
//! let cfg = Arc::new(ConfigCell::new(Config { greeting: "hello".into() }));
//! let seen = cfg.version();
//!
//! let reloader = {
//!     let cfg = cfg.clone();
//!     std::thread::spawn(move || cfg.store(Config { greeting: "welcome".into() }))
//! };
//! reloader.join().unwrap();
//!
//! if cfg.version() != seen {
//!     println!("reloaded: {}", cfg.read().greeting);
//! }
//! let mut hot = cfg.reader();           // for a tight loop on this thread
//! assert_eq!(hot.load().greeting, "welcome");
//! ```
//!
//! A `CachedReader` keeps its thread inside a read-side section between
//! loads (each load reports a quiescent state); drop it before the thread
//! blocks. Runnable: `examples/config_reload.rs` (a reloader watching a
//! file; a bad file is rejected and the old configuration stays live).
//!
//! # A subscriber list
//!
//! An event source walks its subscribers for every event; subscribers
//! come and go. [`RcuList`](crate::RcuList) lets the walk run while the
//! list changes: a removed subscriber is unlinked at once for new walks,
//! and freed only after the walks that could still be standing on it have
//! finished.
//!
//! ```
//! use urcu::{read_lock, RcuList};
//!
//! let subscribers: RcuList<String> = RcuList::new();
//! subscribers.push_back("logger".to_string());
//! subscribers.push_back("metrics".to_string());
//!
//! let g = read_lock();
//! let mut walk = subscribers.iter(&g);           // an event is being delivered
//! assert_eq!(walk.next().map(String::as_str), Some("logger"));
//! subscribers.remove_first(|s| s == "metrics");  // meanwhile, metrics leaves
//! subscribers.push_back("alerts".to_string());   // and alerts joins
//! let rest: Vec<&String> = walk.collect();       // the walk goes on safely
//! println!("the rest of that walk: {rest:?}");
//! drop(g); // `rest` borrows `g`: using it after this line would not compile
//!
//! let g = read_lock();
//! let now: Vec<&str> = subscribers.iter(&g).map(String::as_str).collect();
//! assert_eq!(now, ["logger", "alerts"]);        // the next event sees the change
//! ```
//!
//! Runnable: `examples/subscriber_list.rs`.
//!
//! A list is pointer chasing. When the subscribers are few and change
//! rarely, a copy-on-write vector in a [`ConfigCell`](crate::ConfigCell)
//! scans contiguously instead (each change copies it):
//!
//! ```
//! use urcu::ConfigCell;
//!
//! let subscribers = ConfigCell::new(vec!["logger".to_string()]);
//! subscribers.update(|v| {
//!     let mut next = v.clone();
//!     next.push("metrics".to_string());
//!     next
//! });
//! let names: Vec<String> = subscribers.read().iter().cloned().collect();
//! assert_eq!(names, ["logger", "metrics"]);
//! ```
