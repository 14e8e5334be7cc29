//! `RcuBox<T>`: one RCU-published pointer. Readers load it inside a
//! read-side section; writers replace it and the old value goes to the
//! reclamation queue. The structures of `urcu-structures` are built on it.

use crate::domain::{default_domain, Domain};
use crate::guard::ReadGuard;
use crate::sync::{AtomicPtr, Ordering};

/// A heap value published through RCU: wait-free loads that write nothing
/// shared, and replacements whose old value is dropped after a grace period.
///
/// ```
/// use urcu_reclaim::{read_lock, RcuBox};
/// let cfg = RcuBox::new(String::from("v1"));
/// {
///     let g = read_lock();
///     let v = cfg.load(&g);
///     cfg.replace(String::from("v2")); // "v1" stays valid while `g` lives
///     assert_eq!(v, "v1");
/// }
/// assert_eq!(cfg.load(&read_lock()), "v2");
/// ```
pub struct RcuBox<T: Send + 'static> {
    /// Never null. Stored with release (new values are fully built before
    /// readers can see them), loaded with acquire (pairs with that store).
    ptr: AtomicPtr<T>,
    domain: Domain,
}

// SAFETY: readers on any thread get `&T` (needs `T: Sync`); the value is
// dropped on whichever thread reclaims it (needs `T: Send`).
unsafe impl<T: Send + Sync + 'static> Sync for RcuBox<T> {}
// SAFETY: moving the box moves ownership of the current `T` (needs `Send`).
unsafe impl<T: Send + 'static> Send for RcuBox<T> {}

impl<T: Send + 'static> RcuBox<T> {
    /// Publishes `value` in the default domain.
    ///
    /// ```
    /// use urcu_reclaim::{read_lock, RcuBox};
    /// let b = RcuBox::new(vec![1, 2]);
    /// assert_eq!(b.load(&read_lock()).len(), 2);
    /// ```
    pub fn new(value: T) -> Self {
        Self::new_in(value, default_domain())
    }

    /// Publishes `value` in `domain`.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let b = urcu_reclaim::RcuBox::new_in(7, &d);
    /// assert_eq!(*b.load(&d.read_lock()), 7);
    /// ```
    pub fn new_in(value: T, domain: &Domain) -> Self {
        RcuBox {
            ptr: AtomicPtr::new(Box::into_raw(Box::new(value))),
            domain: domain.clone(),
        }
    }

    /// The domain whose grace periods protect this value.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let b = urcu_reclaim::RcuBox::new_in(0, &d);
    /// let g = b.domain().read_lock(); // a guard that protects `b`
    /// assert_eq!(*b.load(&g), 0);
    /// ```
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    #[inline(always)]
    fn check(&self, guard: &ReadGuard<'_>) {
        if !guard.belongs_to(&self.domain) {
            wrong_domain();
        }
    }

    /// The current value, valid as long as both the box and the guard.
    ///
    /// # Panics
    /// If `guard` belongs to another domain (it would not protect the value).
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let b = urcu_reclaim::RcuBox::new_in([1, 2, 3], &d);
    /// let g = d.read_lock();
    /// let v = b.load(&g); // borrowed from both `b` and `g`
    /// assert_eq!(v[1], 2);
    /// ```
    ///
    /// An [`OwnedReadGuard`](crate::OwnedReadGuard) protects it too:
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let b = urcu_reclaim::RcuBox::new_in(String::from("v1"), &d);
    /// let g = d.read_lock_owned();
    /// let v = b.load(&g);
    /// b.replace(String::from("v2"));
    /// assert_eq!(v, "v1"); // still valid: `g` holds it, on any thread
    /// ```
    #[inline]
    pub fn load<'g>(&'g self, guard: &'g impl crate::Guard) -> &'g T {
        if !guard.belongs_to(&self.domain) {
            wrong_domain();
        }
        // SAFETY: the pointer is never null and points to a value published
        // with release; it is reclaimed only after a grace period that
        // started after it was replaced, which waits for `guard`'s section.
        unsafe { &*self.ptr.load(Ordering::Acquire) }
    }

    /// The current pointer (never null), without a guard check: for
    /// structures that checked their guard's domain once, up front.
    /// Dereferencing it is sound only inside a read-side section of
    /// [`domain`](Self::domain).
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let b = urcu_reclaim::RcuBox::new_in(7u32, &d);
    /// let g = d.read_lock();
    /// assert!(g.belongs_to(b.domain())); // checked once, up front
    /// // SAFETY: inside a read-side section of the box's domain.
    /// let v = unsafe { *b.as_ptr() };
    /// assert_eq!(v, 7);
    /// ```
    #[inline]
    pub fn as_ptr(&self) -> *const T {
        // Acquire pairs with the release stores that publish values.
        self.ptr.load(Ordering::Acquire)
    }

    /// Publishes `value`; the old value is dropped after a grace period.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let b = urcu_reclaim::RcuBox::new_in(String::from("old"), &d);
    /// b.replace(String::from("new"));
    /// assert_eq!(b.load(&d.read_lock()), "new");
    /// d.rcu_barrier(); // "old" has been dropped by now
    /// assert_eq!(d.stats().pending(), 0);
    /// ```
    pub fn replace(&self, value: T) {
        // AcqRel: the release publishes the new value to readers' acquire
        // loads; the acquire pairs with the release that published the old
        // one, whose contents we hand on.
        let old = self
            .ptr
            .swap(Box::into_raw(Box::new(value)), Ordering::AcqRel);
        // SAFETY: `old` came from `Box::into_raw`, is now unreachable for new
        // readers, and is queued once; the queue drops it after a grace period.
        unsafe { self.domain.rcu_reclaim_queue_raw(old) };
    }

    /// Publishes `value` and hands back the old value as an
    /// [`Unpublished`] handle, which queues it for reclamation when dropped.
    /// For writers that publish under a lock: queueing may wait for a grace
    /// period (when this thread's queue is full), and waiting while holding
    /// a lock that a reader inside its section may be blocked on would
    /// deadlock. Leave the lock first, then drop the handle.
    ///
    /// ```
    /// use std::sync::Mutex;
    /// let d = urcu_reclaim::Domain::new();
    /// let b = urcu_reclaim::RcuBox::new_in(1, &d);
    /// let writers = Mutex::new(());
    /// let old = {
    ///     let _w = writers.lock().unwrap();
    ///     b.swap_out(2)
    /// }; // the lock is released here, before the old value is queued
    /// drop(old);
    /// assert_eq!(*b.load(&d.read_lock()), 2);
    /// ```
    pub fn swap_out(&self, value: T) -> Unpublished<'_, T> {
        // AcqRel: release publishes `value`; acquire takes over the old one.
        let old = self
            .ptr
            .swap(Box::into_raw(Box::new(value)), Ordering::AcqRel);
        Unpublished {
            ptr: old,
            domain: &self.domain,
        }
    }

    /// Publishes `value` and returns the old value, still readable while
    /// `guard` lives; it is dropped after a grace period.
    ///
    /// ```
    /// let b = urcu_reclaim::RcuBox::new(1);
    /// let g = urcu_reclaim::read_lock();
    /// assert_eq!(*b.swap(2, &g), 1);
    /// assert_eq!(*b.load(&g), 2);
    /// ```
    pub fn swap<'g>(&'g self, value: T, guard: &'g ReadGuard<'_>) -> &'g T {
        self.check(guard);
        // AcqRel: release publishes `value`; acquire lets us read the old one.
        // AcqRel: the release publishes the new value to readers' acquire
        // loads; the acquire pairs with the release that published the old
        // one, whose contents we hand on.
        let old = self
            .ptr
            .swap(Box::into_raw(Box::new(value)), Ordering::AcqRel);
        // SAFETY: as in `replace`; `old` stays valid until a grace period
        // after this point, which `guard`'s section holds off.
        unsafe {
            self.domain.rcu_reclaim_queue_raw(old);
            &*old
        }
    }

    /// Publishes `new` only if the current value is `current` (compared by
    /// address). On success returns the old value (dropped after a grace
    /// period); on failure gives `new` back with the value actually there.
    ///
    /// ```
    /// let b = urcu_reclaim::RcuBox::new(1);
    /// let g = urcu_reclaim::read_lock();
    /// let cur = b.load(&g);
    /// assert_eq!(b.compare_exchange(cur, *cur + 1, &g).map(|old| *old), Ok(1));
    /// // `cur` is stale now:
    /// assert_eq!(b.compare_exchange(cur, 9, &g).unwrap_err().0, 9);
    /// ```
    pub fn compare_exchange<'g>(
        &'g self,
        current: &T,
        new: T,
        guard: &'g ReadGuard<'_>,
    ) -> Result<&'g T, (T, &'g T)> {
        self.check(guard);
        let new = Box::into_raw(Box::new(new));
        let expected = current as *const T as *mut T;
        // Success AcqRel: release publishes `new`, acquire reads the old.
        // Failure Acquire: we hand out a reference to the value we saw.
        match self
            .ptr
            // As in `replace`; on failure, the acquire pairs with the release
            // that published the current value we hand back.
            .compare_exchange(expected, new, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: as in `swap`.
            Ok(old) => unsafe {
                self.domain.rcu_reclaim_queue_raw(old);
                Ok(&*old)
            },
            // SAFETY: `new` was never published, so we still own it; `actual`
            // is protected by `guard` like any loaded value.
            Err(actual) => unsafe { Err((*Box::from_raw(new), &*actual)) },
        }
    }

    /// Exclusive access: no reader can hold a reference while `&mut self`
    /// exists.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let mut b = urcu_reclaim::RcuBox::new_in(vec![1], &d);
    /// b.get_mut().push(2); // no guard, no copy: nobody else can read now
    /// assert_eq!(b.load(&d.read_lock()), &[1, 2]);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every `load` borrow.
        unsafe { &mut *self.ptr.load(Ordering::Relaxed) }
    }

    /// Takes the value back.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let b = urcu_reclaim::RcuBox::new_in(String::from("v1"), &d);
    /// b.replace(String::from("v2"));
    /// assert_eq!(b.into_inner(), "v2");
    /// ```
    pub fn into_inner(self) -> T {
        let mut this = std::mem::ManuallyDrop::new(self);
        // SAFETY: we own the box (no borrows, `self` consumed), and `Drop`
        // will not run, so the value is taken and the domain dropped once.
        unsafe {
            let v = *Box::from_raw(this.ptr.load(Ordering::Relaxed));
            std::ptr::drop_in_place(&mut this.domain);
            v
        }
    }
}

impl<T: Send + 'static> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // SAFETY: no reader can hold a reference: `load` borrows `self`, and
        // values from `swap`/`compare_exchange` were queued, not this one.
        drop(unsafe { Box::from_raw(self.ptr.load(Ordering::Relaxed)) });
    }
}

impl<T: Send + std::fmt::Debug + 'static> std::fmt::Debug for RcuBox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.domain.read_lock();
        f.debug_tuple("RcuBox").field(self.load(&g)).finish()
    }
}

impl<T: Send + Default + 'static> Default for RcuBox<T> {
    fn default() -> Self {
        RcuBox::new(T::default())
    }
}

#[cold]
#[track_caller]
fn wrong_domain() -> ! {
    panic!("RcuBox used with a ReadGuard of another domain: that guard does not protect this value")
}

/// An old value that [`RcuBox::swap_out`] has unpublished: new readers can
/// no longer reach it, readers that loaded it earlier may still be using
/// it. Dropping the handle queues it for reclamation after a grace period
/// (like [`RcuBox::replace`], which may wait when the queue is full).
///
/// ```
/// use urcu_reclaim::{Domain, RcuBox};
/// let d = Domain::new();
/// let b = RcuBox::new_in(String::from("v1"), &d);
/// let old = b.swap_out(String::from("v2")); // new readers see "v2"
/// assert_eq!(d.stats().queued, 0);          // "v1" is not queued yet
/// drop(old);                                // now it is
/// d.rcu_barrier();
/// assert_eq!((d.stats().queued, d.stats().reclaimed), (1, 1));
/// ```
#[must_use = "dropping the handle queues the old value at once"]
pub struct Unpublished<'b, T: Send + 'static> {
    /// From `Box::into_raw`; owned by this handle until it is queued.
    ptr: *mut T,
    domain: &'b Domain,
}

impl<T: Send + 'static> Drop for Unpublished<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `Box::into_raw`, was swapped out of its
        // `RcuBox` (unreachable for new readers), and this handle queues it
        // exactly once.
        unsafe { self.domain.rcu_reclaim_queue_raw(self.ptr) };
    }
}

impl<T: Send + 'static> std::fmt::Debug for Unpublished<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unpublished").finish_non_exhaustive()
    }
}
