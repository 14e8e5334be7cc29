//! # 5. QSBR: the rules, and why the compiler enforces them
//!
//! Under [`Flavor::Qsbr`](crate::Flavor::Qsbr) (quiescent-state-based
//! reclamation) a reader announces nothing when it starts or ends a
//! section. Instead, each registered thread says from time to time "I hold
//! no references to RCU-protected data right now": a **quiescent state**.
//! A grace period ends once every online thread has reported one since it
//! began. The read side is free; the price is discipline. The rules:
//!
//! 1. **Register** each reader thread: [`Domain::register_thread`](crate::Domain::register_thread)
//!    returns a [`ThreadHandle`](crate::ThreadHandle) (one per thread and
//!    domain; it is `!Send`). The thread starts *online*.
//! 2. **Report quiescent states** regularly, between units of work, with
//!    [`ThreadHandle::quiescent_state`](crate::ThreadHandle::quiescent_state)
//!    (a load and a compare when no grace period is waiting). A thread that
//!    forgets holds up every grace period of the domain.
//! 3. **Go offline before blocking** (I/O, sleeping, waiting on a lock or a
//!    channel) with [`offline`](crate::ThreadHandle::offline), and come
//!    back with [`online`](crate::ThreadHandle::online). Grace periods do
//!    not wait for offline threads.
//! 4. **No reference may survive a quiescent state**: a quiescent state
//!    *means* "I hold nothing", so anything read before it may be freed
//!    right after it.
//!
//! A worker loop that follows the rules:
//!
//! ```
//! use urcu::{Domain, Flavor, RcuBox};
//!
//! let d = Domain::builder().flavor(Flavor::Qsbr).build();
//! let table = RcuBox::new_in(vec![10, 20, 30], &d);
//! let mut h = d.register_thread();
//!
//! let mut total = 0;
//! for event in 0..3 {
//!     {
//!         let g = h.read_lock();          // free: writes nothing
//!         total += table.load(&g)[event]; // the reference ends with `g`
//!     }
//!     h.quiescent_state();                // rule 2: between events
//! }
//! h.offline();                            // rule 3: about to block
//! std::thread::sleep(std::time::Duration::from_millis(1));
//! h.online();
//! assert_eq!(total, 60);
//! ```
//!
//! # Rule 4 is checked at compile time
//!
//! A guard from [`ThreadHandle::read_lock`](crate::ThreadHandle::read_lock)
//! borrows the handle (`&self`), a reference loaded through the guard
//! borrows the guard, and `quiescent_state` takes the handle by `&mut self`.
//! Rust does not allow a `&mut` borrow while a shared borrow is alive, so a
//! reference that would outlive the quiescent state is a compile error:
//!
//! ```compile_fail,E0502
//! use urcu::{Domain, Flavor, RcuBox};
//!
//! let d = Domain::builder().flavor(Flavor::Qsbr).build();
//! let table = RcuBox::new_in(vec![10, 20, 30], &d);
//! let mut h = d.register_thread();
//! let g = h.read_lock();
//! let first = &table.load(&g)[0];
//! h.quiescent_state(); // error[E0502]: `h` is still borrowed by `g` for `first`
//! println!("{first}"); // ...which is used here, after the quiescent state
//! ```
//!
//! [`offline`](crate::ThreadHandle::offline) takes `&mut self` too, so
//! "blocked while holding a reference" is caught the same way. What the
//! borrow checker cannot see is a guard of the domain taken with
//! [`Domain::read_lock`](crate::Domain::read_lock) rather than through the
//! handle; for that case `quiescent_state` and `offline` check at run time
//! and panic (see `RELIABILITY.md`, section "Misuse").
//!
//! A long-lived guard can also report a quiescent state itself, with
//! [`ReadGuard::quiescent_state`](crate::ReadGuard::quiescent_state),
//! which takes `&mut` on the guard and so ends every borrow made through
//! it:
//!
//! ```
//! use urcu::{Domain, Flavor, RcuBox};
//!
//! let d = Domain::builder().flavor(Flavor::Qsbr).build();
//! let counter = RcuBox::new_in(0u64, &d);
//! let h = d.register_thread();
//! let mut g = h.read_lock();
//! for _ in 0..3 {
//!     let v = *counter.load(&g); // copy out; no reference is kept
//!     counter.replace(v + 1);
//!     g.quiescent_state();       // old values may be freed from here on
//! }
//! assert_eq!(*counter.load(&g), 3);
//! ```
//!
//! # What the library does for you
//!
//! - [`synchronize_rcu`](crate::Domain::synchronize_rcu),
//!   [`rcu_barrier`](crate::Domain::rcu_barrier), and a full queue's wait
//!   put an online thread that holds no guard offline while they wait, and
//!   back online after (it is quiescent by construction).
//! - A thread that forgets rule 2 or 3 is named by a stall report after the
//!   domain's [`stall_timeout`](crate::DomainBuilder::stall_timeout); see
//!   [`pitfalls`](super::pitfalls).
//! - [`ThreadHandle::read_lock`](crate::ThreadHandle::read_lock) on an
//!   offline handle panics, since grace periods are not waiting for it.
//! - Dropping the handle takes the thread offline (grace periods stop
//!   waiting for it).
//!
//! The example `examples/qsbr_event_loop.rs` (`cargo run --release
//! --example qsbr_event_loop`) is a worker following these rules while a
//! writer publishes new versions, with a line for each step.
