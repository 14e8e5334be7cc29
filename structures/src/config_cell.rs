//! `ConfigCell<T>`: configuration that readers never wait for.
//!
//! One published pointer. A read is a read-side section plus one acquire
//! load; a store swaps the pointer and queues the old value for reclamation.
//! Writers serialize on a mutex, so an `update` closure runs exactly once
//! and no update is lost.

use crate::sync::{AtomicU64, Mutex, MutexGuard, Ordering};
use crossbeam_utils::CachePadded;
use std::ops::Deref;
#[cfg(doc)]
use urcu_reclaim::ThreadHandle;
use urcu_reclaim::{default_domain, Domain, RcuBox, ReadGuard, Unpublished};

/// A copy-on-write cell for configuration: wait-free reads, and writers
/// that publish whole new values.
///
/// ```
/// use urcu_structures::ConfigCell;
///
/// #[derive(Clone)]
/// struct Config { port: u16, workers: usize }
///
/// let cfg = ConfigCell::new(Config { port: 8080, workers: 4 });
/// let v = cfg.version();
/// assert_eq!(cfg.read().port, 8080);
/// cfg.update(|old| Config { workers: old.workers * 2, ..old.clone() });
/// assert_eq!(cfg.read().workers, 8);
/// assert!(cfg.version() > v);
/// ```
pub struct ConfigCell<T: Send + Sync + 'static> {
    value: RcuBox<T>,
    /// Bumped (release) after each publish: a reader that sees version `v`
    /// then reads sees a value at least that new.
    version: CachePadded<AtomicU64>,
    /// Writers serialize here: `update` closures run once, nothing is lost.
    writer: Mutex<()>,
    /// The [`thread_id`] of the thread holding `writer`, 0 when none: a
    /// writer that finds its own id here was called from under the lock it
    /// would wait for (from an `update` closure), and panics instead of
    /// deadlocking. Touched by writers only, never by `read`.
    writer_owner: AtomicU64,
}

/// A number for the calling thread: never 0, never reused (unlike an
/// address of a thread-local, which a later thread may get).
fn thread_id() -> u64 {
    // std's atomic, not `crate::sync`'s: a `static` needs a const
    // constructor, which loom's lacks, and a counter that only hands out
    // distinct numbers has no ordering for loom to check.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    crate::sync::thread_local! {
        static ID: u64 = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    ID.with(|id| *id)
}

/// A [`ConfigCell`]'s writer lock, with its owner recorded.
struct WriterLock<'a> {
    owner: &'a AtomicU64,
    _lock: MutexGuard<'a, ()>,
}

impl Drop for WriterLock<'_> {
    fn drop(&mut self) {
        // Before `_lock` unlocks (fields drop after this), on a normal
        // return and when an `update` closure panics alike.
        self.owner.store(0, Ordering::Relaxed);
    }
}

/// A read of a [`ConfigCell`]: derefs to the value, and holds a read-side
/// section so the value stays valid while it lives. `!Send`.
///
/// ```
/// use urcu_structures::ConfigCell;
/// let cell = ConfigCell::new(String::from("a"));
/// let r = cell.read(); // a ConfigRef<String>
/// cell.store(String::from("b"));
/// assert_eq!(*r, "a"); // the old value lives as long as `r`
/// drop(r);
/// assert_eq!(*cell.read(), "b");
/// ```
pub struct ConfigRef<'a, T> {
    value: &'a T,
    _guard: ReadGuard<'a>,
}

impl<T> Deref for ConfigRef<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        self.value
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ConfigRef<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: Send + Sync + 'static> ConfigCell<T> {
    /// A cell in the default domain.
    ///
    /// ```
    /// let cell = urcu_structures::ConfigCell::new(42);
    /// assert_eq!(*cell.read(), 42);
    /// ```
    pub fn new(value: T) -> Self {
        Self::new_in(value, default_domain())
    }

    /// A cell in `domain` (for example a QSBR domain, where a read through
    /// a [`ThreadHandle`] costs one load).
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Qsbr).build();
    /// let cell = urcu_structures::ConfigCell::new_in(8080u16, &d);
    /// let h = d.register_thread();
    /// assert_eq!(*cell.load(&h.read_lock()), 8080);
    /// ```
    pub fn new_in(value: T, domain: &Domain) -> Self {
        ConfigCell {
            value: RcuBox::new_in(value, domain),
            version: CachePadded::new(AtomicU64::new(0)),
            writer: Mutex::new(()),
            writer_owner: AtomicU64::new(0),
        }
    }

    /// The domain whose grace periods protect the values.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let cell = urcu_structures::ConfigCell::new_in(1, &d);
    /// let g = cell.domain().read_lock(); // a guard that protects the cell
    /// assert_eq!(*cell.load(&g), 1);
    /// ```
    pub fn domain(&self) -> &Domain {
        self.value.domain()
    }

    /// The current value, held for as long as the returned reference lives.
    /// Costs a read-side section and one load; never waits for writers.
    ///
    /// ```
    /// let cell = urcu_structures::ConfigCell::new(vec!["a.example", "b.example"]);
    /// let hosts = cell.read();
    /// assert_eq!(hosts.len(), 2); // derefs to the value
    /// ```
    #[inline]
    pub fn read(&self) -> ConfigRef<'_, T> {
        let guard = self.domain().read_lock();
        // No guard check: the guard was just made from the cell's own domain.
        let value: *const T = self.value.as_ptr();
        // SAFETY: protected by `guard`'s section (of the cell's domain), which
        // lasts as long as the `ConfigRef` that owns the guard (moving a
        // guard does not end its section); the cell outlives `'_`.
        let value = unsafe { &*value };
        ConfigRef {
            value,
            _guard: guard,
        }
    }

    /// The current value within an existing read-side section (for example
    /// a QSBR handle's guard).
    ///
    /// # Panics
    /// If `guard` belongs to another domain.
    ///
    /// ```
    /// use urcu_structures::ConfigCell;
    /// let d = urcu_reclaim::Domain::new();
    /// let (limits, name) = (ConfigCell::new_in(10, &d), ConfigCell::new_in("svc", &d));
    /// let g = d.read_lock(); // one section for several reads
    /// assert_eq!((*limits.load(&g), *name.load(&g)), (10, "svc"));
    /// ```
    ///
    /// An [`OwnedReadGuard`](urcu_reclaim::OwnedReadGuard) works too, for a
    /// config kept across a blocking call or an `.await`, on any thread:
    ///
    /// ```
    /// use urcu_structures::ConfigCell;
    /// let cell = ConfigCell::new(String::from("v1"));
    /// let g = cell.domain().read_lock_owned(); // `Send`: may cross threads
    /// let cfg = cell.load(&g);
    /// cell.store(String::from("v2"));
    /// assert_eq!(cfg, "v1"); // still valid while `g` lives
    /// ```
    #[inline]
    pub fn load<'g>(&'g self, guard: &'g impl urcu_reclaim::Guard) -> &'g T {
        self.value.load(guard)
    }

    /// A copy of the current value, to keep as long as you like (across a
    /// blocking call or an `.await`) without holding a read-side section.
    /// For large configs, store an `Arc<T>` in the cell and clone that.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use urcu_structures::ConfigCell;
    /// let cell = ConfigCell::new(Arc::new(vec![1, 2, 3]));
    /// let snap: Arc<Vec<i32>> = cell.snapshot(); // a reference count, no copy of the Vec
    /// cell.store(Arc::new(vec![4]));
    /// assert_eq!(*snap, [1, 2, 3]);
    /// ```
    #[doc(alias = "load_full")]
    pub fn snapshot(&self) -> T
    where
        T: Clone,
    {
        self.read().clone()
    }

    /// A number that grows on every publish: compare it to notice a reload
    /// without entering a read-side section.
    ///
    /// ```
    /// let cell = urcu_structures::ConfigCell::new(0);
    /// let seen = cell.version();
    /// cell.store(1);
    /// assert!(cell.version() > seen); // a reload, noticed without reading the value
    /// ```
    #[inline]
    pub fn version(&self) -> u64 {
        // Acquire pairs with the release increment in `publish`.
        self.version.load(Ordering::Acquire)
    }

    /// Publishes `value` (the caller holds the writer lock) and returns the
    /// old value, for the caller to queue once it has let go of the lock:
    /// queueing may wait for a grace period, and a reader inside its
    /// section may be blocked on that lock (`swap`, `compare_and_set`).
    fn publish(&self, value: T) -> Unpublished<'_, T> {
        let old = self.value.swap_out(value);
        // Release: the new value is published before the version says so.
        self.version.fetch_add(1, Ordering::Release);
        old
    }

    /// Takes the writer lock for `op` (the public method's name).
    ///
    /// # Panics
    /// If this thread already holds it: `op` was called from inside this
    /// cell's `update` closure (or a destructor run under the lock), where
    /// waiting would deadlock.
    #[track_caller] // a re-entry panic points at the caller's line
    fn lock(&self, op: &str) -> WriterLock<'_> {
        let me = thread_id();
        // Relaxed is enough: only this thread ever stores `me` here, and it
        // stores 0 before it unlocks, so it reads `me` exactly while it
        // holds the lock (a thread sees its own stores in program order);
        // other threads' ids are never `me`.
        if self.writer_owner.load(Ordering::Relaxed) == me {
            panic!(
                "{op} called inside this cell's update closure: this thread \
                 already holds the cell's writer lock, so waiting for it would \
                 deadlock; return the new value from the closure instead, or \
                 write to the cell after `update` returns"
            );
        }
        // A panicking `update` closure poisons nothing we rely on: the value
        // was not replaced.
        let lock = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.writer_owner.store(me, Ordering::Relaxed);
        WriterLock {
            owner: &self.writer_owner,
            _lock: lock,
        }
    }

    /// Publishes `value`; the old value is dropped after a grace period.
    ///
    /// # Panics
    /// If called from inside this cell's own [`update`](Self::update)
    /// closure on the same thread (it would deadlock on the writer lock).
    ///
    /// ```
    /// let cell = urcu_structures::ConfigCell::new("v1");
    /// cell.store("v2");
    /// assert_eq!(*cell.read(), "v2");
    /// ```
    #[track_caller]
    pub fn store(&self, value: T) {
        let old = {
            let _w = self.lock("ConfigCell::store");
            self.publish(value)
        };
        drop(old); // queued outside the lock
    }

    /// Publishes `value` and hands back a read of the old one, valid while
    /// `guard` lives (the old value is dropped after a grace period).
    ///
    /// # Panics
    /// If called from inside this cell's own [`update`](Self::update)
    /// closure on the same thread (it would deadlock on the writer lock).
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let cell = urcu_structures::ConfigCell::new_in(1, &d);
    /// let g = d.read_lock();
    /// let old = cell.swap(2, &g);
    /// assert_eq!((*old, *cell.load(&g)), (1, 2));
    /// ```
    #[track_caller]
    pub fn swap<'g>(&'g self, value: T, guard: &'g ReadGuard<'_>) -> &'g T {
        let _w = self.lock("ConfigCell::swap");
        let old = self.value.swap(value, guard);
        // Release: as in `publish`.
        self.version.fetch_add(1, Ordering::Release);
        old
    }

    /// Read-copy-update: publishes `f(current)`. Writers serialize, so `f`
    /// runs exactly once and concurrent updates are never lost.
    ///
    /// `f` runs under the cell's writer lock: it must not write to this
    /// cell itself (return the new value instead). Reads, and writes to
    /// other cells, are fine.
    ///
    /// # Panics
    /// If `f` panics: the panic propagates and nothing is published; the
    /// cell stays usable. If `f` calls `store`, `update`, `swap` or
    /// `compare_and_set` on this same cell (on the same thread), that call
    /// panics, naming itself, instead of deadlocking on the writer lock;
    /// the outcome is the same.
    ///
    /// ```
    /// let cell = urcu_structures::ConfigCell::new(0u32);
    /// std::thread::scope(|s| {
    ///     for _ in 0..4 {
    ///         s.spawn(|| cell.update(|n| n + 1));
    ///     }
    /// });
    /// assert_eq!(*cell.read(), 4); // no update lost
    /// ```
    #[track_caller]
    pub fn update(&self, f: impl FnOnce(&T) -> T) {
        let old = {
            let _w = self.lock("ConfigCell::update");
            let g = self.domain().read_lock();
            let next = f(self.value.load(&g));
            drop(g);
            self.publish(next)
        };
        drop(old); // queued outside the lock
    }

    /// Publishes `new` only if the current value is `current` (by address,
    /// as read from this cell). Returns `new` back otherwise.
    ///
    /// # Panics
    /// If called from inside this cell's own [`update`](Self::update)
    /// closure on the same thread (it would deadlock on the writer lock).
    ///
    /// ```
    /// let cell = urcu_structures::ConfigCell::new(1);
    /// let cur = cell.read();
    /// assert_eq!(cell.compare_and_set(&cur, 2), Ok(()));
    /// assert_eq!(cell.compare_and_set(&cur, 3), Err(3)); // `cur` is stale now
    /// assert_eq!(*cell.read(), 2);
    /// ```
    #[track_caller]
    pub fn compare_and_set(&self, current: &T, new: T) -> Result<(), T> {
        let _w = self.lock("ConfigCell::compare_and_set");
        let g = self.domain().read_lock();
        match self.value.compare_exchange(current, new, &g) {
            Ok(_) => {
                drop(g);
                // Release: as in `publish`.
                self.version.fetch_add(1, Ordering::Release);
                Ok(())
            }
            Err((new, _)) => Err(new),
        }
    }
}

/// The hottest read path: a per-thread reader that stays inside one
/// read-side section and reports a quiescent state on every
/// [`load`](Self::load). A load is about a compare and a load (like
/// arc-swap's `Cache`, but without a reference count).
///
/// `load` takes `&mut self`, so the value it returned last time is no longer
/// borrowed, which is exactly what a quiescent state says. At most one old
/// value per reader is kept alive, until its next `load` — but a reader
/// that stops loading holds up every grace period of its domain (as a QSBR
/// thread would): drop it before blocking. While it lives, its thread is
/// inside a read-side section (`synchronize_rcu` on that thread panics).
///
/// ```
/// use urcu_structures::ConfigCell;
///
/// let cell = ConfigCell::new(1u32);
/// let mut reader = cell.reader();
/// assert_eq!(*reader.load(), 1);
/// cell.store(2);
/// assert_eq!(*reader.load(), 2);
/// ```
pub struct CachedReader<'a, T: Send + Sync + 'static> {
    cell: &'a ConfigCell<T>,
    guard: ReadGuard<'a>,
}

impl<'a, T: Send + Sync + 'static> CachedReader<'a, T> {
    /// The current value, valid until the next `load` (or until the reader
    /// is dropped).
    ///
    /// ```
    /// let cell = urcu_structures::ConfigCell::new(String::from("a"));
    /// let mut reader = cell.reader();
    /// let len = reader.load().len(); // copy out what outlives the next load
    /// cell.store(String::from("bb"));
    /// assert_eq!(reader.load().len(), len + 1);
    /// ```
    #[inline]
    pub fn load(&mut self) -> &T {
        self.guard.quiescent_state();
        // SAFETY: the guard belongs to the cell's domain (checked when the
        // reader was made) and its section lasts until the next `load` or
        // the reader's drop, which this borrow of `self` outlives neither.
        unsafe { &*self.cell.value.as_ptr() }
    }
}

impl<T: Send + Sync + 'static> ConfigCell<T> {
    /// A [`CachedReader`] for this thread (in a QSBR domain, make it from a
    /// [`ThreadHandle`] guard with [`reader_in`](Self::reader_in)).
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let cell = urcu_structures::ConfigCell::new_in(5, &d);
    /// let mut reader = cell.reader();
    /// assert_eq!(*reader.load(), 5);
    /// drop(reader); // before blocking, or waiting for a grace period
    /// d.synchronize_rcu();
    /// ```
    pub fn reader(&self) -> CachedReader<'_, T> {
        CachedReader {
            cell: self,
            guard: self.domain().read_lock(),
        }
    }

    /// A [`CachedReader`] inside an existing guard's section, for example
    /// one from a QSBR [`ThreadHandle`], where a load then costs one compare
    /// and one load.
    ///
    /// # Panics
    /// If `guard` belongs to another domain.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Qsbr).build();
    /// let cell = urcu_structures::ConfigCell::new_in(1, &d);
    /// let h = d.register_thread();
    /// let mut reader = cell.reader_in(h.read_lock());
    /// assert_eq!(*reader.load(), 1);
    /// ```
    pub fn reader_in<'a>(&'a self, guard: ReadGuard<'a>) -> CachedReader<'a, T> {
        assert!(
            guard.belongs_to(self.domain()),
            "ConfigCell::reader_in with a ReadGuard of another domain"
        );
        CachedReader { cell: self, guard }
    }
}

/// ```
/// use urcu_structures::ConfigCell;
/// let cell: ConfigCell<u32> = 8080.into();
/// assert_eq!(*cell.read(), 8080);
/// ```
impl<T: Send + Sync + 'static> From<T> for ConfigCell<T> {
    fn from(value: T) -> Self {
        ConfigCell::new(value)
    }
}

impl<T: Send + Sync + Default + 'static> Default for ConfigCell<T> {
    fn default() -> Self {
        ConfigCell::new(T::default())
    }
}

impl<T: Send + Sync + std::fmt::Debug + 'static> std::fmt::Debug for ConfigCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigCell")
            .field("version", &self.version())
            .field("value", &*self.read())
            .finish()
    }
}
