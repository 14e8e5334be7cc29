//! Operating-system services: `membarrier` for the writer side of the
//! default flavor, and a futex so that a waiting writer sleeps instead of
//! spinning. Everything here has a portable fallback, chosen at run time
//! (membarrier) or at compile time (futex on non-Linux, Miri and loom).

use crate::sync::AtomicI32;
#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
use crate::sync::Ordering;
use std::time::Duration;

#[cfg(all(target_os = "linux", not(miri), not(loom)))]
mod linux {
    use std::sync::OnceLock;

    const MEMBARRIER_CMD_QUERY: libc::c_long = 0;
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn membarrier(cmd: libc::c_long) -> libc::c_long {
        // SAFETY: membarrier takes (cmd, flags, cpu_id) by value and touches
        // no memory of ours; an unknown command fails with EINVAL.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_long,
                0 as libc::c_long,
            )
        }
    }

    /// Registers the process for private expedited membarrier, once.
    pub(super) fn membarrier_available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            if std::env::var_os("URCU_FORCE_NO_MEMBARRIER").is_some() {
                return false;
            }
            let mask = membarrier(MEMBARRIER_CMD_QUERY);
            mask >= 0
                && mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED != 0
                && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0
        })
    }

    pub(super) fn heavy_barrier() {
        let r = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
        assert!(
            r == 0,
            "membarrier(PRIVATE_EXPEDITED) failed after registering: {}",
            std::io::Error::last_os_error()
        );
    }

    pub(super) fn futex_wait(word: &super::AtomicI32, expected: i32, timeout: std::time::Duration) {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `word` is a live, aligned 32-bit atomic for the whole call;
        // the kernel only reads it, and `ts` outlives the call. Spurious
        // returns (EINTR, EAGAIN, ETIMEDOUT) are fine: callers re-check.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                &ts as *const libc::timespec,
            );
        }
    }

    pub(super) fn futex_wake_all(word: &super::AtomicI32) {
        // SAFETY: as above; FUTEX_WAKE only uses the address as a key.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
            );
        }
    }
}

/// Whether `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` works here.
/// `URCU_FORCE_NO_MEMBARRIER=1` in the environment forces `false`, to test
/// the fallback.
pub(crate) fn membarrier_available() -> bool {
    #[cfg(all(target_os = "linux", not(miri), not(loom)))]
    {
        linux::membarrier_available()
    }
    // Under loom, `heavy_barrier` is a SeqCst fence and the memb reader's
    // compiler fence is one too (see `sync`), which is the model of what the
    // syscall guarantees.
    #[cfg(loom)]
    {
        true
    }
    #[cfg(all(not(loom), not(all(target_os = "linux", not(miri)))))]
    {
        false
    }
}

/// Forces a full memory barrier on every running thread of the process.
/// Only called when [`membarrier_available`] returned true.
pub(crate) fn heavy_barrier() {
    #[cfg(all(target_os = "linux", not(miri), not(loom)))]
    linux::heavy_barrier();
    #[cfg(loom)]
    crate::sync::fence(crate::sync::Ordering::SeqCst);
    #[cfg(all(not(loom), not(all(target_os = "linux", not(miri)))))]
    unreachable!("membarrier flavor selected where membarrier is unavailable");
}

/// Sleeps while `word == expected`, for at most `timeout`; may return early.
pub(crate) fn futex_wait(word: &AtomicI32, expected: i32, timeout: Duration) {
    #[cfg(all(target_os = "linux", not(miri), not(loom)))]
    linux::futex_wait(word, expected, timeout);
    #[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
    {
        // Under loom, a real futex: the check and the sleep are atomic
        // with respect to a wake (one lock for every word, as the kernel's
        // hash bucket), and there is no timeout, so a model whose wake-up
        // can be lost deadlocks (loom reports it) instead of being rescued.
        #[cfg(loom)]
        {
            let _ = timeout;
            let (lock, cv) = &*LOOM_FUTEX;
            let g = lock.lock().unwrap();
            if word.load(Ordering::Relaxed) == expected {
                drop(cv.wait(g).unwrap());
            }
        }
        #[cfg(not(loom))]
        if word.load(Ordering::Relaxed) == expected {
            std::thread::sleep(timeout.min(Duration::from_micros(50)));
        }
    }
}

#[cfg(loom)]
loom::lazy_static! {
    static ref LOOM_FUTEX: (loom::sync::Mutex<()>, loom::sync::Condvar) = Default::default();
}

/// Wakes every thread sleeping in [`futex_wait`] on `word`.
pub(crate) fn futex_wake_all(word: &AtomicI32) {
    #[cfg(all(target_os = "linux", not(miri), not(loom)))]
    linux::futex_wake_all(word);
    #[cfg(loom)]
    {
        let _ = word;
        let (lock, cv) = &*LOOM_FUTEX;
        drop(lock.lock().unwrap());
        cv.notify_all();
    }
    #[cfg(all(not(loom), not(all(target_os = "linux", not(miri)))))]
    let _ = word;
}

/// An id of the calling OS thread, for [`os_thread_exists`].
pub(crate) fn current_os_thread() -> i64 {
    #[cfg(all(target_os = "linux", not(miri), not(loom)))]
    {
        // SAFETY: gettid takes no arguments and cannot fail.
        i64::from(unsafe { libc::gettid() })
    }
    #[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
    {
        0
    }
}

/// Whether the OS thread `id` (from [`current_os_thread`]) still runs. Where
/// this cannot be told, says `true` (the caller then keeps what it holds).
/// A reused id also says `true`: the safe direction.
pub(crate) fn os_thread_exists(id: i64) -> bool {
    #[cfg(all(target_os = "linux", not(miri), not(loom)))]
    {
        // SAFETY: signal 0 only checks that the thread exists; no signal is
        // sent. Arguments are plain integers.
        let r = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), id, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
    {
        let _ = id;
        true
    }
}
