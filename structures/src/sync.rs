//! The one door to concurrency primitives, so that loom can replace them
//! (as in urcu-reclaim). Normal builds get std's (and crossbeam's
//! `Backoff`); under `--cfg loom`, loom's, so that the models in
//! `loom_tests` check the orderings of the real structures.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicIsize, AtomicPtr, AtomicU16, AtomicU64, AtomicUsize,
};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    AtomicBool, AtomicIsize, AtomicPtr, AtomicU16, AtomicU64, AtomicUsize,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

pub(crate) use std::sync::atomic::Ordering;

/// Thread-locals, loom's under `cfg(loom)`: loom runs its model threads on
/// one OS thread, so std's would be shared between them.
#[cfg(loom)]
pub(crate) use loom::thread_local;
#[cfg(not(loom))]
pub(crate) use std::thread_local;

#[cfg(not(loom))]
pub(crate) use crossbeam_utils::Backoff;

/// A spin-wait that yields to the other model threads, so that a model
/// whose thread spins on a lock makes progress.
#[cfg(loom)]
pub(crate) struct Backoff;

#[cfg(loom)]
impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff
    }

    pub(crate) fn snooze(&self) {
        loom::thread::yield_now();
    }
}

/// The pointer in an atomic we own exclusively (`AtomicPtr::get_mut`,
/// which loom's atomics lack).
#[inline]
pub(crate) fn ptr_mut<T>(a: &mut AtomicPtr<T>) -> *mut T {
    #[cfg(loom)]
    {
        a.with_mut(|p| *p)
    }
    #[cfg(not(loom))]
    {
        *a.get_mut()
    }
}
