//! `pin_owned`: a pinned map handle that is `Send`, for holding across an
//! `.await` or handing to another thread.
//!
//! [`Pinned`](super::Pinned) holds a thread's read guard, so it stays on its
//! thread. [`PinnedOwned`] holds an [`OwnedReadGuard`] instead: a section
//! with a reader word of its own, which grace periods wait for wherever the
//! handle is. The map's operations need nothing else from the guard (they
//! only need *a* section open for as long as the references they return
//! live), so the handle offers the same reads and writes as `Pinned`.

use super::{Compute, Computed, MapIter, MapKeys, MapStorage, MapValues, RcuHashMap};
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use urcu_reclaim::OwnedReadGuard;

/// A pinned map handle that is `Send` and `Sync`: it may move to another
/// thread or be held across an `.await`. From [`RcuHashMap::pin_owned`].
///
/// Its references live as long as the handle, as with [`map.pin()`]
/// (`Pinned`). The price: entering and leaving its section cost a registry
/// lock, an allocation and a fence each (a thread's `pin()` costs a store),
/// and while any owned section of the map's domain lives, that domain's
/// writers do not wait for grace periods on their own: they spill past a
/// full queue instead of waiting (an owned handle may be held by the very
/// task that would wait). Keep it for sections that must span a blocking
/// call or an `.await`; use `pin()` for the rest.
///
/// Do not wait for a grace period of the map's domain (`synchronize_rcu`,
/// `rcu_barrier`) in a task that holds one: it would wait for itself.
///
/// [`map.pin()`]: RcuHashMap::pin
///
/// ```
/// use urcu_structures::RcuHashMap;
///
/// let map: RcuHashMap<u64, String> = RcuHashMap::new();
/// map.pin().insert(1, "one".to_string());
/// let m = map.pin_owned();
/// std::thread::scope(|s| {
///     // The handle moves to another thread, and its section with it.
///     let t = s.spawn(move || {
///         let one = m.get(&1).cloned();
///         m.insert(2, "two".to_string());
///         one
///     });
///     assert_eq!(t.join().unwrap().as_deref(), Some("one"));
/// });
/// assert_eq!(map.get_cloned(&2).as_deref(), Some("two"));
/// ```
pub struct PinnedOwned<'m, K, V, S = ahash::RandomState, M = super::Boxed>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    M: MapStorage<K, V>,
{
    map: &'m RcuHashMap<K, V, S, M>,
    guard: OwnedReadGuard,
}

impl<K, V, S, M> RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    /// Pins the map with a section that is not tied to this thread: the
    /// handle is `Send`, so it may be held across an `.await` or moved to
    /// another thread. See [`PinnedOwned`] for its cost.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    ///
    /// // A tiny executor stands in for an async runtime here: the handle
    /// // lives across an `.await` point of a future that must be `Send`.
    /// fn block_on<F: std::future::Future + Send>(f: F) -> F::Output {
    ///     use std::task::{Context, Poll, Waker};
    ///     let mut f = Box::pin(f);
    ///     let mut cx = Context::from_waker(Waker::noop());
    ///     loop {
    ///         if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
    ///             return v;
    ///         }
    ///     }
    /// }
    /// async fn yield_once() {
    ///     let mut yielded = false;
    ///     std::future::poll_fn(|cx| {
    ///         if yielded {
    ///             std::task::Poll::Ready(())
    ///         } else {
    ///             yielded = true;
    ///             cx.waker().wake_by_ref();
    ///             std::task::Poll::Pending
    ///         }
    ///     })
    ///     .await
    /// }
    ///
    /// let sessions: RcuHashMap<u64, String> = RcuHashMap::new();
    /// sessions.pin().insert(7, "alice".to_string());
    /// let user = block_on(async {
    ///     let m = sessions.pin_owned();
    ///     let user = m.get(&7).unwrap(); // a reference into the map...
    ///     yield_once().await;            // ...kept across an await
    ///     user.clone()
    /// });
    /// assert_eq!(user, "alice");
    /// ```
    #[doc(alias = "pin_send")]
    pub fn pin_owned(&self) -> PinnedOwned<'_, K, V, S, M> {
        PinnedOwned {
            map: self,
            guard: self.domain().read_lock_owned(),
        }
    }
}

impl<'m, K, V, S, M> PinnedOwned<'m, K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    // Every method calls the map's internals, which need the caller to be
    // in a read-side section that outlives the references they return:
    // `self.guard` is one, and the returned references borrow `self`.

    /// The owned section this handle holds.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = RcuHashMap::new();
    /// let m = map.pin_owned();
    /// assert!(m.guard().belongs_to(map.domain()));
    /// ```
    pub fn guard(&self) -> &OwnedReadGuard {
        &self.guard
    }

    /// The value for `key`.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<String, u32> = RcuHashMap::new();
    /// map.pin().insert("a".to_string(), 1);
    /// let m = map.pin_owned();
    /// assert_eq!((m.get("a"), m.get("b")), (Some(&1), None));
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find(key).map(|(_, v)| v)
    }

    /// The key and value stored for `key`.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<String, u32> = RcuHashMap::new();
    /// map.pin().insert("a".to_string(), 1);
    /// let m = map.pin_owned();
    /// assert_eq!(m.get_key_value("a").map(|(k, v)| (k.as_str(), *v)), Some(("a", 1)));
    /// ```
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find(key)
    }

    /// Whether `key` is present.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = RcuHashMap::new();
    /// let m = map.pin_owned();
    /// m.insert(3, 9);
    /// assert!(m.contains_key(&3) && !m.contains_key(&4));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find(key).is_some()
    }

    /// Inserts or replaces; returns the old value (readable while this
    /// handle lives). See [`Pinned::insert`](super::Pinned::insert).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<&str, u32> = RcuHashMap::new();
    /// let m = map.pin_owned();
    /// assert_eq!(m.insert("hits", 1), None);
    /// assert_eq!(m.insert("hits", 2), Some(&1));
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<&V> {
        self.map.insert_entry(key, value).map(|(_, v)| v)
    }

    /// Removes `key`; returns its value (readable while this handle lives).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, &str> = RcuHashMap::new();
    /// let m = map.pin_owned();
    /// m.insert(1, "one");
    /// assert_eq!((m.remove(&1), m.get(&1)), (Some(&"one"), None));
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove_entry(key).map(|(_, v)| v)
    }

    /// The value for `key`, inserting `make()` if absent. See
    /// [`Pinned::get_or_insert_with`](super::Pinned::get_or_insert_with).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, String> = RcuHashMap::new();
    /// let m = map.pin_owned();
    /// assert_eq!(m.get_or_insert_with(1, || "one".into()), "one");
    /// assert_eq!(m.get_or_insert_with(1, || "uno".into()), "one");
    /// ```
    pub fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> V) -> &V {
        self.map.get_or_insert_entry(key, make).1
    }

    /// Replaces the value for `key` with `f(old)`; returns the new value,
    /// or `None` if absent. See [`Pinned::update`](super::Pinned::update).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<&str, u32> = RcuHashMap::new();
    /// let m = map.pin_owned();
    /// m.insert("n", 1);
    /// assert_eq!(m.update("n", |v| v + 1), Some(&2));
    /// assert_eq!(m.update("absent", |v| v + 1), None);
    /// ```
    pub fn update<Q>(&self, key: &Q, f: impl FnMut(&V) -> V) -> Option<&V>
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
    {
        self.map.update_entry(key, f).map(|(_, v)| v)
    }

    /// Updates the value for `key` with `update(old)`, or inserts
    /// `insert()` if absent, atomically for that key; exactly one of the
    /// closures runs, once. See
    /// [`Pinned::update_or_insert_with`](super::Pinned::update_or_insert_with).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let hits: RcuHashMap<&str, u64> = RcuHashMap::new();
    /// let m = hits.pin_owned();
    /// assert_eq!(*m.update_or_insert_with("/", |n| n + 1, || 1), 1);
    /// assert_eq!(*m.update_or_insert_with("/", |n| n + 1, || 1), 2);
    /// ```
    #[doc(alias = "upsert")]
    pub fn update_or_insert_with(
        &self,
        key: K,
        update: impl FnOnce(&V) -> V,
        insert: impl FnOnce() -> V,
    ) -> &V {
        self.map.upsert_entry(key, update, insert)
    }

    /// Decides from the current entry of `key` whether to insert, replace,
    /// remove or keep it, atomically for that key; `f` runs once. See
    /// [`Pinned::compute`](super::Pinned::compute).
    ///
    /// ```
    /// use urcu_structures::{Compute, RcuHashMap};
    /// let stock: RcuHashMap<&str, u32> = RcuHashMap::new();
    /// let m = stock.pin_owned();
    /// m.insert("apples", 1);
    /// let r = m.compute("apples", |n| match n {
    ///     Some(1) => Compute::Remove, // the last one sold
    ///     Some(n) => Compute::Insert(n - 1),
    ///     None => Compute::Keep,
    /// });
    /// assert_eq!((r.old, r.new), (Some(&1), None));
    /// ```
    pub fn compute(&self, key: K, f: impl FnOnce(Option<&V>) -> Compute<V>) -> Computed<'_, V> {
        self.map.compute_entry(key, f)
    }

    /// The keys (weakly consistent, as [`iter`](Self::iter)).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = (0..4).map(|i| (i, 0)).collect();
    /// assert_eq!(map.pin_owned().keys().sum::<u32>(), 6);
    /// ```
    pub fn keys(&self) -> MapKeys<'_, K, V, S, M> {
        MapKeys(self.iter())
    }

    /// The values (weakly consistent, as [`iter`](Self::iter)).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = (0..4).map(|i| (i, i * 10)).collect();
    /// assert_eq!(map.pin_owned().values().sum::<u32>(), 60);
    /// ```
    pub fn values(&self) -> MapValues<'_, K, V, S, M> {
        MapValues(self.iter())
    }

    /// Iterates the entries (weakly consistent, as
    /// [`Pinned::iter`](super::Pinned::iter)).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
    /// let m = map.pin_owned();
    /// assert_eq!(m.iter().map(|(_, v)| v).sum::<u32>(), 45);
    /// ```
    pub fn iter(&self) -> MapIter<'_, K, V, S, M> {
        MapIter::new(self.map.root(), &self.map.hasher)
    }

    /// Number of entries (see [`RcuHashMap::len`]).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
    /// assert_eq!(map.pin_owned().len(), 10);
    /// ```
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = RcuHashMap::new();
    /// assert!(map.pin_owned().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl<K, V, S, M> std::fmt::Debug for PinnedOwned<'_, K, V, S, M>
where
    K: Hash + Eq + Send + Sync + std::fmt::Debug + 'static,
    V: Send + Sync + std::fmt::Debug + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
