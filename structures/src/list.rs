//! `RcuList<T>`: Linux's `list_add_rcu` / `list_del_rcu`, in safe Rust.
//!
//! A singly linked list. Readers walk it with acquire loads inside a
//! read-side section and never wait. Writers serialize on a mutex (the
//! classic RCU choice), link a fully built node with one release store, and
//! unlink a node by pointing its predecessor past it, leaving the removed
//! node's own `next` intact so a reader standing on it can go on; the node
//! goes to the reclamation queue.
//!
//! # What a concurrent walk sees
//!
//! Every element present for the whole walk is seen exactly once, in list
//! order. An element inserted or removed during the walk may or may not be
//! seen. Nothing freed is ever touched.

use crate::sync::{ptr_mut, AtomicPtr, AtomicUsize, Mutex, MutexGuard, Ordering};
use urcu_reclaim::{default_domain, Domain, ReadGuard};

struct Node<T> {
    value: T,
    /// Stored with release by writers (the node it points to is fully
    /// built), loaded with acquire by readers (pairs with that store).
    next: AtomicPtr<Node<T>>,
}

/// What only the lock holder touches.
struct WriterState<T> {
    /// The last node (null when empty), for `push_back` in O(1).
    tail: *mut Node<T>,
}

// SAFETY: `tail` points to a node owned by the list; it is only used under
// the writer mutex, by whichever thread holds it.
unsafe impl<T: Send> Send for WriterState<T> {}

/// The nodes one `unlink_where` call has unlinked, with the writer lock it
/// holds. Its drop runs on a normal return and when the caller's predicate
/// panics alike: it takes the unlinked nodes off `len` while the lock is
/// still held, lets go of the lock, and only then queues the nodes
/// (queueing may wait for a grace period, and a reader inside its section
/// may be waiting for this lock).
struct Unlinked<'a, T: Send + Sync + 'static> {
    list: &'a RcuList<T>,
    lock: Option<MutexGuard<'a, WriterState<T>>>,
    nodes: Vec<*mut Node<T>>,
}

impl<T: Send + Sync + 'static> Drop for Unlinked<'_, T> {
    fn drop(&mut self) {
        self.list.len.fetch_sub(self.nodes.len(), Ordering::Relaxed);
        drop(self.lock.take());
        for node in self.nodes.drain(..) {
            // SAFETY: `node` came from `Box::into_raw`, was unlinked under
            // the lock (unreachable for new readers), keeps its `next` for
            // current ones, and is recorded, hence queued, exactly once.
            unsafe { self.list.domain.rcu_reclaim_queue_raw(node) };
        }
    }
}

/// The rest of a list being dropped, from its first node not yet freed. If
/// an element's destructor panics, its drop frees the rest (a second panic
/// aborts, as in std's collections).
struct DropRest<T>(*mut Node<T>);

impl<T> DropRest<T> {
    fn pop(&mut self) -> Option<Box<Node<T>>> {
        if self.0.is_null() {
            return None;
        }
        // SAFETY: every linked node came from `Box::into_raw`, is owned by
        // the list being dropped, and is taken here once: `self.0` moves
        // past it before it is handed out.
        let node = unsafe { Box::from_raw(self.0) };
        self.0 = node.next.load(Ordering::Relaxed);
        Some(node)
    }
}

impl<T> Drop for DropRest<T> {
    fn drop(&mut self) {
        while let Some(node) = self.pop() {
            drop(node);
        }
    }
}

/// A linked list for read-mostly data: lock-free, wait-free readers; writers
/// serialize on a mutex.
///
/// ```
/// use urcu_structures::RcuList;
///
/// let subscribers: RcuList<String> = ["ann", "bob"].iter().map(|s| s.to_string()).collect();
/// subscribers.push_back("cy".into());
/// subscribers.remove_first(|s| s == "bob");
/// let g = urcu_reclaim::read_lock();
/// let names: Vec<&str> = subscribers.iter(&g).map(|s| s.as_str()).collect();
/// assert_eq!(names, ["ann", "cy"]);
/// ```
pub struct RcuList<T: Send + Sync + 'static> {
    head: AtomicPtr<Node<T>>,
    writer: Mutex<WriterState<T>>,
    len: AtomicUsize,
    domain: Domain,
}

// SAFETY: readers on any thread get `&T` (needs `T: Sync`); nodes are
// dropped on whichever thread reclaims them (needs `T: Send`).
unsafe impl<T: Send + Sync + 'static> Sync for RcuList<T> {}
// SAFETY: the list owns its nodes.
unsafe impl<T: Send + Sync + 'static> Send for RcuList<T> {}

/// A forward walk over an [`RcuList`], valid while its guard lives.
///
/// ```
/// use urcu_structures::{ListIter, RcuList};
/// let list: RcuList<u32> = (1..=3).collect();
/// let g = urcu_reclaim::read_lock();
/// let it: ListIter<'_, u32> = list.iter(&g);
/// assert_eq!(it.sum::<u32>(), 6);
/// ```
pub struct ListIter<'g, T> {
    next: *const Node<T>,
    _guard: std::marker::PhantomData<&'g T>,
}

impl<'g, T> Iterator for ListIter<'g, T> {
    type Item = &'g T;

    #[inline]
    fn next(&mut self) -> Option<&'g T> {
        // SAFETY: `next` is null or a node that was reachable during the
        // guard's section; unlinked nodes are reclaimed only after a grace
        // period, which that section holds off, and keep their `next`.
        let node = unsafe { self.next.as_ref()? };
        self.next = node.next.load(Ordering::Acquire);
        Some(&node.value)
    }
}

impl<T: Send + Sync + 'static> RcuList<T> {
    /// An empty list in the default domain.
    ///
    /// ```
    /// let list = urcu_structures::RcuList::new();
    /// list.push_back(1);
    /// assert_eq!(list.len(), 1);
    /// ```
    pub fn new() -> Self {
        Self::new_in(default_domain())
    }

    /// An empty list in `domain`.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let list = urcu_structures::RcuList::new_in(&d);
    /// list.push_back("a");
    /// let g = d.read_lock(); // a guard of the list's domain
    /// assert_eq!(list.iter(&g).next(), Some(&"a"));
    /// ```
    pub fn new_in(domain: &Domain) -> Self {
        RcuList {
            head: AtomicPtr::new(std::ptr::null_mut()),
            writer: Mutex::new(WriterState {
                tail: std::ptr::null_mut(),
            }),
            len: AtomicUsize::new(0),
            domain: domain.clone(),
        }
    }

    /// The domain whose grace periods protect the nodes.
    ///
    /// ```
    /// let list: urcu_structures::RcuList<i32> = [1, 2].into_iter().collect();
    /// let g = list.domain().read_lock(); // a guard that protects the nodes
    /// assert_eq!(list.iter(&g).count(), 2);
    /// ```
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    fn lock(&self) -> MutexGuard<'_, WriterState<T>> {
        // Poison is ignored: a panicking predicate leaves the list
        // consistent. Every store a writer makes leaves a well-formed list
        // (with `tail` updated alongside), and `Unlinked` settles `len` and
        // the nodes unlinked before the panic.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_node(value: T) -> *mut Node<T> {
        Box::into_raw(Box::new(Node {
            value,
            next: AtomicPtr::new(std::ptr::null_mut()),
        }))
    }

    /// Walks the list from the front.
    ///
    /// # Panics
    /// If `guard` belongs to another domain.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let mut list = urcu_structures::RcuList::new_in(&d);
    /// list.extend([1, 2, 3]);
    /// let g = d.read_lock();
    /// let mut it = list.iter(&g);
    /// assert_eq!(it.next(), Some(&1));
    /// list.remove_first(|&v| v == 1); // the walk goes on safely
    /// assert_eq!(it.collect::<Vec<_>>(), [&2, &3]);
    /// ```
    #[inline]
    pub fn iter<'g>(&'g self, guard: &'g ReadGuard<'_>) -> ListIter<'g, T> {
        assert!(
            guard.belongs_to(&self.domain),
            "RcuList::iter with a ReadGuard of another domain"
        );
        // Acquire pairs with the release stores that publish nodes.
        ListIter {
            next: self.head.load(Ordering::Acquire),
            _guard: std::marker::PhantomData,
        }
    }

    /// Number of elements (exact once writers are quiet).
    ///
    /// ```
    /// let list: urcu_structures::RcuList<char> = "abc".chars().collect();
    /// assert_eq!(list.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether the list is empty.
    ///
    /// ```
    /// let list = urcu_structures::RcuList::new();
    /// assert!(list.is_empty());
    /// list.push_front(1);
    /// assert!(!list.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.head.load(Ordering::Relaxed).is_null()
    }

    /// Whether some element equals `value`.
    ///
    /// ```
    /// let list: urcu_structures::RcuList<&str> = ["ann", "bob"].into_iter().collect();
    /// assert!(list.contains(&"bob"));
    /// assert!(!list.contains(&"cy"));
    /// ```
    pub fn contains(&self, value: &T) -> bool
    where
        T: PartialEq,
    {
        let g = self.domain.read_lock();
        let found = self.iter(&g).any(|v| v == value);
        found
    }

    /// Inserts at the front.
    ///
    /// ```
    /// let list = urcu_structures::RcuList::new();
    /// list.push_front(2);
    /// list.push_front(1);
    /// assert_eq!(format!("{list:?}"), "[1, 2]");
    /// ```
    pub fn push_front(&self, value: T) {
        let mut w = self.lock();
        let node = Self::new_node(value);
        let head = self.head.load(Ordering::Relaxed);
        // SAFETY: `node` is ours until published below.
        unsafe { (*node).next.store(head, Ordering::Relaxed) };
        // Release: the node is fully built before readers can reach it.
        self.head.store(node, Ordering::Release);
        if w.tail.is_null() {
            w.tail = node;
        }
        self.len.fetch_add(1, Ordering::Relaxed);
    }

    /// Inserts at the back.
    ///
    /// ```
    /// let list = urcu_structures::RcuList::new();
    /// list.push_back(1);
    /// list.push_back(2);
    /// assert_eq!(format!("{list:?}"), "[1, 2]");
    /// ```
    pub fn push_back(&self, value: T) {
        let mut w = self.lock();
        let node = Self::new_node(value);
        let link = if w.tail.is_null() {
            &self.head
        } else {
            // SAFETY: `tail` is a live node of this list; we hold the lock.
            unsafe { &(*w.tail).next }
        };
        // Release: the node is fully built before readers can reach it.
        link.store(node, Ordering::Release);
        w.tail = node;
        self.len.fetch_add(1, Ordering::Relaxed);
    }

    /// Inserts `value` after the first element matching `pred`, or gives it
    /// back if none matches.
    ///
    /// # Panics
    /// If `pred` panics: the panic propagates, `value` is dropped and the
    /// list is unchanged and usable.
    ///
    /// ```
    /// let list: urcu_structures::RcuList<i32> = [1, 3].into_iter().collect();
    /// assert_eq!(list.insert_after(|&v| v == 1, 2), Ok(()));
    /// assert_eq!(list.insert_after(|&v| v == 9, 4), Err(4)); // no match: given back
    /// assert_eq!(format!("{list:?}"), "[1, 2, 3]");
    /// ```
    pub fn insert_after(&self, mut pred: impl FnMut(&T) -> bool, value: T) -> Result<(), T> {
        let mut w = self.lock();
        let mut cur = self.head.load(Ordering::Relaxed);
        // SAFETY: nodes reachable from `head` under the lock are live.
        while let Some(node) = unsafe { cur.as_ref() } {
            if pred(&node.value) {
                let new = Self::new_node(value);
                // SAFETY: `new` is ours until published below.
                unsafe {
                    (*new)
                        .next
                        .store(node.next.load(Ordering::Relaxed), Ordering::Relaxed)
                };
                node.next.store(new, Ordering::Release);
                if w.tail == cur {
                    w.tail = new;
                }
                self.len.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            cur = node.next.load(Ordering::Relaxed);
        }
        Err(value)
    }

    /// Unlinks every element for which `remove` says so, stopping after the
    /// first if `only_first`. Returns how many were removed.
    ///
    /// `remove` is user code and may panic with some nodes already
    /// unlinked: the [`Unlinked`] guard then still fixes `len`, lets go of
    /// the lock and queues those nodes, as on a normal return.
    fn unlink_where(&self, mut remove: impl FnMut(&T) -> bool, only_first: bool) -> usize {
        let mut done = Unlinked {
            list: self,
            lock: Some(self.lock()),
            nodes: Vec::new(),
        };
        let w = done.lock.as_mut().expect("held until `done` drops");
        let mut link: &AtomicPtr<Node<T>> = &self.head;
        let mut prev: *mut Node<T> = std::ptr::null_mut();
        loop {
            let cur = link.load(Ordering::Relaxed);
            // SAFETY: nodes reachable from `head` under the lock are live.
            let Some(node) = (unsafe { cur.as_ref() }) else {
                break;
            };
            if remove(&node.value) {
                // Release: readers that follow `link` to the successor see it
                // fully built (it was published under this same lock).
                link.store(node.next.load(Ordering::Relaxed), Ordering::Release);
                if w.tail == cur {
                    w.tail = prev;
                }
                // Recorded at once, so a later panic of `remove` cannot
                // lose it.
                done.nodes.push(cur);
                if only_first {
                    break;
                }
            } else {
                prev = cur;
                link = &node.next;
            }
        }
        done.nodes.len()
    }

    /// Removes the first element matching `pred`; returns whether one did.
    ///
    /// # Panics
    /// If `pred` panics: the panic propagates and nothing is removed. The
    /// list stays usable.
    ///
    /// ```
    /// let list: urcu_structures::RcuList<i32> = [1, 2, 1].into_iter().collect();
    /// assert!(list.remove_first(|&v| v == 1));
    /// assert!(!list.remove_first(|&v| v == 7));
    /// assert_eq!(format!("{list:?}"), "[2, 1]");
    /// ```
    pub fn remove_first(&self, pred: impl FnMut(&T) -> bool) -> bool {
        self.unlink_where(pred, true) == 1
    }

    /// Keeps only the elements for which `keep` returns true.
    ///
    /// # Panics
    /// If `keep` panics: the panic propagates; the elements it rejected
    /// before are removed (and dropped after a grace period), the one it
    /// panicked on and the rest stay. `len()` stays exact and the list stays
    /// usable.
    ///
    /// ```
    /// let list: urcu_structures::RcuList<i32> = (1..=6).collect();
    /// list.retain(|v| v % 2 == 0);
    /// assert_eq!(format!("{list:?}"), "[2, 4, 6]");
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&T) -> bool) {
        self.unlink_where(|v| !keep(v), false);
    }

    /// Removes every element.
    ///
    /// ```
    /// let list: urcu_structures::RcuList<i32> = (1..=3).collect();
    /// list.clear(); // the nodes are dropped after a grace period
    /// assert!(list.is_empty() && list.len() == 0);
    /// ```
    pub fn clear(&self) {
        self.unlink_where(|_| true, false);
    }
}

impl<T: Send + Sync + 'static> Default for RcuList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + Sync + 'static> Drop for RcuList<T> {
    fn drop(&mut self) {
        // `&mut self`: no reader holds a reference (iterators borrow the
        // list), so nodes still linked can be freed at once.
        // An element whose destructor panics does not leak the ones after
        // it: `rest` frees them while the panic unwinds.
        let mut rest = DropRest(ptr_mut(&mut self.head));
        while let Some(node) = rest.pop() {
            drop(node);
        }
    }
}

impl<T: Send + Sync + 'static> FromIterator<T> for RcuList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut list = RcuList::new();
        list.extend(iter);
        list
    }
}

impl<T: Send + Sync + 'static> Extend<T> for RcuList<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for v in iter {
            self.push_back(v);
        }
    }
}

impl<T: Send + Sync + 'static> Extend<T> for &RcuList<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for v in iter {
            self.push_back(v);
        }
    }
}

impl<T: Send + Sync + std::fmt::Debug + 'static> std::fmt::Debug for RcuList<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.domain.read_lock();
        f.debug_list().entries(self.iter(&g)).finish()
    }
}
