//! The one door to concurrency primitives, so that loom can replace them.
//!
//! Everything in this crate that loom should see goes through here. Under
//! `--cfg loom`, a compiler fence becomes a full fence: loom cannot model
//! `membarrier`, and a full fence on the reader is exactly what the syscall
//! buys us on the writer's behalf.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU64, AtomicUsize,
};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
// Reference counts need no model: loom's `Arc` lacks `new_cyclic`.
#[cfg(loom)]
pub(crate) use std::sync::Arc;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU64, AtomicUsize,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) use std::sync::atomic::Ordering;

/// `thread_local!` with const initializers; loom's under `cfg(loom)`:
/// loom runs every model thread on one OS thread, so std's would be shared
/// between them, while loom's are per model thread (and destroyed when it
/// ends). Loom's macro takes no `const { }` block, hence this wrapper.
macro_rules! const_thread_local {
    ($($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;)*) => {
        #[cfg(not(loom))]
        std::thread_local! { $($(#[$attr])* static $name: $t = const { $init };)* }
        #[cfg(loom)]
        loom::thread_local! { $($(#[$attr])* static $name: $t = $init;)* }
    };
}
pub(crate) use const_thread_local;

/// A compiler-only barrier (the read side of the membarrier flavor).
#[inline(always)]
pub(crate) fn compiler_fence() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
    #[cfg(not(loom))]
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// Locks a mutex, ignoring poisoning: every structure guarded here stays
/// consistent across a panic (destructor panics are caught before they can
/// unwind through a lock holder).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
    #[cfg(not(loom))]
    {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Tries to lock a mutex without blocking, ignoring poisoning.
pub(crate) fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    #[cfg(loom)]
    {
        m.try_lock().ok()
    }
    #[cfg(not(loom))]
    {
        match m.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// A pause in a spin-wait (a yield under loom, so models make progress).
#[inline(always)]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}
