//! The read side: [`Domain::read_lock`] and its [`ReadGuard`], and
//! [`Domain::register_thread`] and its per-thread [`ThreadHandle`]. (The
//! free `read_lock` is the same through the default domain; the reader
//! word protocol itself is in `record` and `flavor`.)

use crate::domain::Domain;
use crate::flavor::Flavor;
use crate::hot::Hot;
use crate::record::ThreadRecord;
use crate::registry;
use crate::state::DEFAULT_DOMAIN_ID;
use crate::sync::{Arc, Ordering};
use std::marker::PhantomData;

impl Domain {
    /// Enters a read-side section: until the guard drops, objects this
    /// thread can reach through RCU-protected pointers are not reclaimed.
    /// Nestable; the guard is `!Send`.
    ///
    /// Under [`Flavor::Qsbr`] without an online [`ThreadHandle`], the thread
    /// comes online for the guard's lifetime (a fence each way). Use
    /// [`register_thread`](Self::register_thread) for QSBR's free read side.
    ///
    /// A thread that only reads never waits here. One whose previous
    /// section had to spill objects past its full queue (many writes under
    /// one guard) first waits, at most
    /// [`max_writer_wait`](crate::DomainBuilder::max_writer_wait), for
    /// their grace period: that keeps its pending memory bounded.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, RcuBox};
    /// let d = Domain::new();
    /// let b = RcuBox::new_in(String::from("old"), &d);
    /// let g = d.read_lock();
    /// let s = b.load(&g);
    /// b.replace(String::from("new"));
    /// assert_eq!(s, "old"); // not reclaimed while `g` lives
    /// ```
    #[inline]
    pub fn read_lock(&self) -> ReadGuard<'_> {
        if self.is_default() {
            // The free function's guard: its domain id is a constant.
            return crate::read_lock();
        }
        let rec = self.record();
        let hot = rec.read_lock();
        ReadGuard::new(rec, hot)
    }

    /// Registers the calling thread and returns its handle: a `read_lock`
    /// without the thread-local lookup (about the same instruction count
    /// as the free one, for memb) and, under QSBR, the quiescent state and
    /// offline/online calls. The thread starts online.
    ///
    /// # Panics
    /// If this thread already holds a live handle for this domain.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Qsbr).build();
    /// let mut h = d.register_thread();
    /// assert!(h.is_online());
    /// drop(h.read_lock()); // free under QSBR
    /// h.quiescent_state(); // between "events": no references held
    /// ```
    pub fn register_thread(&self) -> ThreadHandle {
        let rec = self.record();
        assert!(
            !rec.handle_live.get(),
            "register_thread: this thread already holds a ThreadHandle for this domain; \
             use that one (handles are per thread)"
        );
        let arc = registry::registered_arc(self.core()).expect("record registered above");
        if self.flavor() == Flavor::Qsbr {
            assert!(
                rec.nesting() == 0,
                "register_thread: a QSBR handle cannot be created inside a read-side section"
            );
            rec.qsbr_online();
        }
        rec.handle_live.set(true);
        ThreadHandle::new(self.clone(), arc)
    }
}

/// A read-side section: while it lives, objects reachable through
/// RCU-protected pointers of its domain are not reclaimed. Dropping it ends
/// the section. Guards nest, and are `!Send` (a section belongs to a
/// thread).
///
/// ```
/// let outer = urcu_reclaim::read_lock();
/// let inner = urcu_reclaim::read_lock(); // nesting is fine
/// drop(inner);
/// drop(outer);
/// ```
///
/// A guard cannot cross threads:
///
/// ```compile_fail
/// let g = urcu_reclaim::read_lock();
/// std::thread::spawn(move || drop(g));
/// ```
#[must_use = "a read-side section ends when its guard is dropped"]
pub struct ReadGuard<'a> {
    record: &'a ThreadRecord,
    /// The id of the record's domain, copied here so that the check every
    /// protected load makes (`belongs_to`) is one load from the `Domain`
    /// (its id lives inline) compared with a value the compiler can keep in
    /// a register across a loop of loads.
    domain_id: u64,
    /// The domain's readers' line, copied from the record when the section
    /// began (the lock has just read it), so that the unlock and
    /// `quiescent_state` find it in a register rather than reload it.
    hot: &'a Hot,
    /// What this guard last saw in the thread's reader word, or 0 (never a
    /// grace-period counter) before its first `quiescent_state`: while it
    /// equals the counter, nothing is to report, and `quiescent_state`
    /// costs one load and a compare. Only a quiescent state of the
    /// thread's sole guard changes the word mid-section (nested ones report
    /// nothing), so this stays true while the guard lives.
    seen: usize,
    /// `!Send` and `!Sync`: the section is this thread's.
    _not_send: PhantomData<*mut ()>,
}

impl<'a> ReadGuard<'a> {
    #[inline(always)]
    pub(crate) fn new(record: &'a ThreadRecord, hot: &'a Hot) -> Self {
        ReadGuard::with_domain_id(record, hot, record.domain_id())
    }

    /// [`new`](Self::new) for the default domain's record, whose id is a
    /// constant (the compiler then compares it with an immediate).
    #[inline(always)]
    pub(crate) fn new_default(record: &'a ThreadRecord, hot: &'a Hot) -> Self {
        debug_assert_eq!(record.domain_id(), DEFAULT_DOMAIN_ID);
        ReadGuard::with_domain_id(record, hot, DEFAULT_DOMAIN_ID)
    }

    #[inline(always)]
    fn with_domain_id(record: &'a ThreadRecord, hot: &'a Hot, domain_id: u64) -> Self {
        ReadGuard {
            record,
            domain_id,
            hot,
            seen: 0,
            _not_send: PhantomData,
        }
    }

    /// Whether this guard protects reads of `domain`'s objects (a structure
    /// checks this before trusting a guard it was handed).
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// assert!(d.read_lock().belongs_to(&d));
    /// assert!(!urcu_reclaim::read_lock().belongs_to(&d));
    /// ```
    #[inline(always)]
    pub fn belongs_to(&self, domain: &Domain) -> bool {
        self.domain_id == domain.id()
    }
}

impl ReadGuard<'_> {
    /// Reports a quiescent state without leaving the section: nothing read
    /// through this guard is referenced any more (`&mut self` proves it),
    /// so grace periods need not wait for it. A no-op when an outer guard
    /// of the same domain is alive on this thread (its references may be).
    ///
    /// This lets a long-lived guard (a worker loop, a cached reader) keep
    /// reading without holding up reclamation. Cheap when no grace period is
    /// waiting: a load and a compare.
    ///
    /// ```
    /// let b = urcu_reclaim::RcuBox::new(1);
    /// let mut g = urcu_reclaim::read_lock();
    /// for i in 0..3 {
    ///     let v = *b.load(&g);
    ///     b.replace(v + 1);
    ///     g.quiescent_state(); // the old values may now be reclaimed
    /// }
    /// assert_eq!(*b.load(&g), 4);
    /// ```
    #[inline]
    pub fn quiescent_state(&mut self) {
        // Relaxed: only a hint; the report orders what it stores.
        if self.hot.gp_ctr.load(Ordering::Relaxed) != self.seen {
            // Only the record goes out to the call, not the guard, so that
            // a loop can keep the guard's fields in registers.
            self.seen = report_quiescent_state(self.record);
        }
    }

    /// Ends this section and begins a new one, so that what the thread
    /// read or retired before may be reclaimed (`&mut self` proves that no
    /// reference read through the guard is still held). Unlike
    /// [`quiescent_state`](Self::quiescent_state) it also settles what a
    /// full queue made the section set aside, so a long-lived guard that
    /// writes stays within the queue's bound.
    ///
    /// Use it rather than `g = d.read_lock()`: that assignment begins the
    /// new section before the old guard drops, so the thread never leaves
    /// its section and nothing it retires is freed. A no-op when an outer
    /// guard of the same domain is alive on this thread (its section goes
    /// on).
    ///
    /// ```
    /// use urcu_reclaim::{Domain, RcuBox};
    /// let d = Domain::new();
    /// let b = RcuBox::new_in(0u64, &d);
    /// let mut g = d.read_lock();
    /// for i in 1..=8 {
    ///     b.replace(i);
    ///     if i % 4 == 0 {
    ///         g.repin(); // the values replaced so far may now be freed
    ///     }
    /// }
    /// assert_eq!(*b.load(&g), 8);
    /// ```
    #[inline]
    pub fn repin(&mut self) {
        self.hot = self.record.repin(self.hot);
        // Ending the section is not a quiescent state for a QSBR thread
        // online through its handle: report one (for the other cases a
        // load and a compare). `seen` belonged to the old section.
        self.seen = 0;
        self.quiescent_state();
    }
}

/// A grace period began since a guard's `seen` was taken (or it never
/// was): report if this is the thread's only guard, and return the reader
/// word as it now is.
#[cold]
#[inline(never)]
fn report_quiescent_state(record: &ThreadRecord) -> usize {
    record.guard_quiescent_state();
    record.own_reader_word()
}

impl Drop for ReadGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.record.read_unlock(self.hot);
    }
}

impl std::fmt::Debug for ReadGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadGuard")
            .field("nesting", &self.record.nesting())
            .finish()
    }
}

/// A thread's registration in a domain: a faster
/// [`read_lock`](Self::read_lock), and for [`Flavor::Qsbr`] the calls that
/// drive grace periods: [`quiescent_state`](Self::quiescent_state),
/// [`offline`](Self::offline), [`online`](Self::online). `!Send`.
///
/// Under QSBR a reference read through this handle cannot outlive the
/// thread's next quiescent state: guards borrow the handle, and
/// `quiescent_state` takes `&mut self`. This does not compile:
///
/// ```compile_fail
/// use urcu_reclaim::{Domain, Flavor, RcuBox};
/// let d = Domain::builder().flavor(Flavor::Qsbr).build();
/// let b = RcuBox::new_in(1u32, &d);
/// let mut h = d.register_thread();
/// let g = h.read_lock();
/// let r = b.load(&g);
/// h.quiescent_state(); // error: `h` is borrowed by `g`, which `r` still needs
/// println!("{r}");
/// ```
///
/// With the borrow ended first, it does:
///
/// ```
/// use urcu_reclaim::{Domain, Flavor, RcuBox};
/// let d = Domain::builder().flavor(Flavor::Qsbr).build();
/// let b = RcuBox::new_in(1u32, &d);
/// let mut h = d.register_thread();
/// for _ in 0..3 {
///     let g = h.read_lock();
///     assert_eq!(*b.load(&g), 1);
///     drop(g);
///     h.quiescent_state();
/// }
/// ```
pub struct ThreadHandle {
    domain: Domain,
    record: Arc<ThreadRecord>,
    _not_send: PhantomData<*mut ()>,
}

impl std::fmt::Debug for ThreadHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadHandle")
            .field("domain", &self.domain)
            .field("online", &self.is_online())
            .finish()
    }
}

impl ThreadHandle {
    pub(crate) fn new(domain: Domain, record: Arc<ThreadRecord>) -> Self {
        ThreadHandle {
            domain,
            record,
            _not_send: PhantomData,
        }
    }

    /// The domain this handle belongs to.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let h = d.register_thread();
    /// assert!(h.read_lock().belongs_to(h.domain()));
    /// ```
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// Enters a read-side section. Under QSBR it writes nothing shared and
    /// fences nothing: an online check and the thread's nesting count.
    ///
    /// # Panics
    /// Under QSBR, if the handle is [`offline`](Self::offline).
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor, RcuBox};
    /// let d = Domain::builder().flavor(Flavor::Qsbr).build();
    /// let b = RcuBox::new_in(5, &d);
    /// let h = d.register_thread();
    /// let g = h.read_lock(); // QSBR: no fence, no shared write
    /// assert_eq!(*b.load(&g), 5);
    /// ```
    #[inline]
    pub fn read_lock(&self) -> ReadGuard<'_> {
        let hot = if self.record.is_qsbr() {
            self.record.qsbr_handle_read_lock();
            self.record.hot()
        } else {
            self.record.read_lock()
        };
        ReadGuard::new(&self.record, hot)
    }

    #[cold]
    fn assert_no_guard(&self, what: &str) {
        assert!(
            self.record.nesting() == 0,
            "ThreadHandle::{what} called while a ReadGuard of this domain is alive on this thread \
             (from Domain::read_lock): references it protects would be freed under it"
        );
    }

    /// Announces that this thread holds no references to RCU-protected
    /// data (QSBR). A no-op for the other flavors. Cheap when no grace
    /// period is waiting: one load and a compare.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Qsbr).build();
    /// let mut h = d.register_thread();
    /// let d2 = d.clone();
    /// let writer = std::thread::spawn(move || d2.synchronize_rcu()); // waits for us
    /// while !writer.is_finished() {
    ///     // ... handle one event, then: no references held
    ///     h.quiescent_state();
    ///     std::thread::yield_now();
    /// }
    /// writer.join().unwrap();
    /// ```
    #[inline]
    pub fn quiescent_state(&mut self) {
        if self.record.is_qsbr() {
            if self.record.nesting() != 0 {
                self.assert_no_guard("quiescent_state");
            }
            self.record.qsbr_quiescent();
            // A handle's sections skip the backlog check of `read_lock`
            // (they cost nothing under QSBR): its quiescent states, outside
            // any section, relieve the backlog instead.
            if self.record.has_backlog() {
                self.domain.core().relieve_backlog(&self.record);
            }
        }
    }

    /// Goes offline (QSBR): grace periods stop waiting for this thread until
    /// [`online`](Self::online). Call it before blocking (I/O, sleeping,
    /// waiting on a lock). A no-op for the other flavors.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Qsbr).build();
    /// let mut h = d.register_thread();
    /// h.offline(); // about to block: grace periods stop waiting for us
    /// let d2 = d.clone();
    /// std::thread::spawn(move || d2.synchronize_rcu()).join().unwrap();
    /// h.online();
    /// ```
    pub fn offline(&mut self) {
        if self.domain.flavor() == Flavor::Qsbr {
            self.assert_no_guard("offline");
            self.record.qsbr_offline();
        }
    }

    /// Comes back online (QSBR). A no-op for the other flavors.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor, RcuBox};
    /// let d = Domain::builder().flavor(Flavor::Qsbr).build();
    /// let b = RcuBox::new_in(1, &d);
    /// let mut h = d.register_thread();
    /// h.offline();
    /// // ... block on I/O ...
    /// h.online(); // before reading again
    /// assert_eq!(*b.load(&h.read_lock()), 1);
    /// ```
    pub fn online(&mut self) {
        if self.domain.flavor() == Flavor::Qsbr {
            self.record.qsbr_online();
        }
    }

    /// Whether grace periods wait for this thread's quiescent states (always
    /// `true` for the non-QSBR flavors, whose sections announce themselves).
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let qsbr = Domain::builder().flavor(Flavor::Qsbr).build();
    /// let mut h = qsbr.register_thread();
    /// assert!(h.is_online());
    /// h.offline();
    /// assert!(!h.is_online());
    /// let mb = Domain::builder().flavor(Flavor::Mb).build();
    /// assert!(mb.register_thread().is_online()); // always, outside QSBR
    /// ```
    pub fn is_online(&self) -> bool {
        self.domain.flavor() != Flavor::Qsbr || self.record.handle_online()
    }
}

impl Drop for ThreadHandle {
    fn drop(&mut self) {
        if self.domain.flavor() == Flavor::Qsbr {
            self.record.qsbr_release_handle();
        }
        self.record.handle_live.set(false);
    }
}
