//! Owned read guards: a read-side section that belongs to a value, not to a
//! thread, so it can move to another thread or live across an `.await`.
//!
//! A thread's sections share one reader word on the thread's own cache
//! line, which is why a [`ReadGuard`] cannot leave its
//! thread. An owned guard gets a reader word of its own instead: a small
//! record registered in the domain for the guard's lifetime, which grace
//! periods scan like a thread's. Entering and leaving it cost a registry
//! lock, a small allocation and a full fence each way, so it suits a
//! section that spans a blocking call or an `.await`, not a tight loop.
//!
//! While any owned guard of a domain lives, its writers never *wait* for a
//! grace period on their own (a full queue, or the backpressure at a
//! section's entry after a spill): the guard may be held by the very task
//! whose thread would wait, and a grace period must wait for the guard.
//! They spill instead, and pending memory is bounded again once the owned
//! guards are gone (they hold grace periods up anyway while they live).

use crate::domain::Domain;
use crate::flavor::{mb, qsbr, Flavor};
use crate::guard::ReadGuard;
use crate::record::ThreadRecord;
use crate::sync::{fence, lock, Arc, Ordering};

impl Domain {
    /// Enters a read-side section that is not tied to this thread: the
    /// guard is `Send` and `Sync`, so it may be moved to another thread or
    /// held across an `.await`. Costs a registry lock, an allocation and a
    /// fence to enter and to leave; see [`OwnedReadGuard`].
    ///
    /// ```
    /// use urcu_reclaim::{Domain, RcuBox};
    /// let d = Domain::new();
    /// let b = RcuBox::new_in(7u32, &d);
    /// let g = d.read_lock_owned();
    /// let ticket = d.start_poll();
    /// assert!(!d.poll(&ticket)); // grace periods wait for the owned section
    /// std::thread::spawn(move || drop(g)).join().unwrap();
    /// d.cond_synchronize(&ticket);
    /// assert_eq!(*b.load(&d.read_lock()), 7);
    /// ```
    pub fn read_lock_owned(&self) -> crate::OwnedReadGuard {
        crate::OwnedReadGuard::new(self)
    }
}

/// A read-side section that is `Send` and `Sync`: it may move to another
/// thread, or be held across an `.await`, and ends when it is dropped,
/// wherever that is. From [`Domain::read_lock_owned`] or
/// [`read_lock_owned`](crate::read_lock_owned()).
///
/// While it lives, grace periods of its domain wait for it exactly as
/// for a thread's [`ReadGuard`], and a stall report
/// names it ("owned read guard created on …"). It costs more than a
/// thread's guard (see the module docs of `owned`: a registry lock, an
/// allocation and a fence to enter and to leave).
///
/// Do not wait for a grace period of its domain (`synchronize_rcu`,
/// `rcu_barrier`) on a thread or task that holds one: it would wait for
/// itself. Unlike with a `ReadGuard`, this cannot be checked, since the
/// guard may have moved.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// let d = urcu_reclaim::Domain::new();
/// let freed = Arc::new(AtomicBool::new(false));
/// let owned = d.read_lock_owned();
/// let f = freed.clone();
/// d.defer(move || f.store(true, Ordering::Relaxed)); // after a grace period
/// let t = std::thread::spawn(move || {
///     // The section moved here; grace periods still wait for it.
///     std::thread::sleep(std::time::Duration::from_millis(20));
///     drop(owned); // ends the section on this thread
/// });
/// d.rcu_barrier(); // returns only after `owned` is dropped over there
/// assert!(freed.load(Ordering::Relaxed));
/// t.join().unwrap();
/// ```
#[must_use = "a read-side section ends when its guard is dropped"]
pub struct OwnedReadGuard {
    domain: Domain,
    record: Arc<ThreadRecord>,
}

impl std::fmt::Debug for OwnedReadGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedReadGuard")
            .field("domain", &self.domain)
            .field("name", &self.record.name)
            .finish()
    }
}

impl OwnedReadGuard {
    pub(crate) fn new(domain: &Domain) -> OwnedReadGuard {
        let core = domain.core();
        let record = Arc::new(ThreadRecord::new_owned(core));
        // Counted before the section begins: from here on, writers of this
        // domain do not wait on their own (see the module docs).
        core.owned_guards.fetch_add(1, Ordering::Relaxed);
        // Registered before entering, as a thread registers before its
        // first section (see `Core::run_grace_period`).
        lock(&core.registry).push(record.clone());
        let ctr = &record.reader.ctr;
        match core.flavor {
            // A full fence after the store for every flavor: the guard's
            // loads may run on another thread, which memb's membarrier
            // argument would have to cover too; a fence makes it `mb`'s
            // simple one (pairs with the detector's fence before its scan).
            Flavor::Memb | Flavor::Mb => mb::enter(ctr, &core.hot.gp_ctr),
            // Online with the current counter, and never a quiescent state:
            // grace periods wait until the guard goes offline at its drop.
            Flavor::Qsbr => qsbr::online(ctr, &core.hot.gp_ctr),
        }
        OwnedReadGuard {
            domain: domain.clone(),
            record,
        }
    }

    /// Whether this guard protects reads of `domain`'s objects.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// assert!(d.read_lock_owned().belongs_to(&d));
    /// assert!(!urcu_reclaim::Domain::new().read_lock_owned().belongs_to(&d));
    /// ```
    pub fn belongs_to(&self, domain: &Domain) -> bool {
        self.domain.id() == domain.id()
    }

    /// The domain whose section this is.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let g = d.read_lock_owned();
    /// assert!(g.belongs_to(g.domain()));
    /// ```
    pub fn domain(&self) -> &Domain {
        &self.domain
    }
}

impl Drop for OwnedReadGuard {
    fn drop(&mut self) {
        let core = self.domain.core();
        let r = &self.record;
        match core.flavor {
            // Release pairs with the detector's acquire load of the word:
            // every read made under the guard, on whichever thread (the
            // guard moved by a synchronizing hand-over), completes first.
            Flavor::Memb | Flavor::Mb => mb::exit(&r.reader.ctr),
            Flavor::Qsbr => qsbr::offline(&r.reader.ctr),
        }
        // Orders the store above before the look at the writer's futex
        // word, so a writer going to sleep on us is woken, whatever the
        // flavor (pairs with the heavy barrier in `wait_for_readers`).
        fence(Ordering::SeqCst);
        core.hot.wake_writer(r.wake_bit());
        lock(&core.registry).retain(|x| !Arc::ptr_eq(x, r));
        core.owned_guards.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A read-side section of some domain: a thread's [`ReadGuard`] or an
/// [`OwnedReadGuard`]. Functions that only need a proof that a section is
/// open (such as [`RcuBox::load`](crate::RcuBox::load)) take either.
/// Sealed: only this crate's guards are sections.
///
/// ```
/// use urcu_reclaim::{Domain, Guard};
/// fn in_section_of(g: &impl Guard, d: &Domain) -> bool {
///     g.belongs_to(d)
/// }
/// let d = Domain::new();
/// assert!(in_section_of(&d.read_lock(), &d));
/// assert!(in_section_of(&d.read_lock_owned(), &d));
/// ```
pub trait Guard: private::Sealed {
    /// Whether this guard protects reads of `domain`'s objects.
    fn belongs_to(&self, domain: &Domain) -> bool;
}

impl Guard for ReadGuard<'_> {
    #[inline(always)]
    fn belongs_to(&self, domain: &Domain) -> bool {
        ReadGuard::belongs_to(self, domain)
    }
}

impl Guard for OwnedReadGuard {
    #[inline]
    fn belongs_to(&self, domain: &Domain) -> bool {
        OwnedReadGuard::belongs_to(self, domain)
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for crate::ReadGuard<'_> {}
    impl Sealed for crate::OwnedReadGuard {}
}
