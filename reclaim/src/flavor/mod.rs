//! How a reader announces itself, one file per flavor.
//!
//! Every flavor keeps one word per thread, `ctr`, written only by that
//! thread and read by the grace-period detector. Zero always means "not in a
//! read-side section" (memb, mb) or "offline" (qsbr); the flavors differ in
//! what the reader pays to make that word visible in time.

pub(crate) mod mb;
pub(crate) mod memb;
pub(crate) mod phase;
pub(crate) mod qsbr;

/// How readers announce themselves to grace-period detection.
///
/// ```
/// use urcu_reclaim::{Domain, Flavor};
/// let d = Domain::builder().flavor(Flavor::Mb).build();
/// assert_eq!(d.flavor(), Flavor::Mb);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Flavor {
    /// Readers do a plain store and a compiler fence; `synchronize_rcu` pays
    /// with `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`. Falls back to
    /// [`Flavor::Mb`] at run time where the syscall is unavailable; the
    /// domain's [`flavor()`](crate::Domain::flavor) then reports `Mb`.
    #[default]
    Memb,
    /// Readers do a store and a full fence on entry, a release store on exit.
    /// Works everywhere; costs a fence per outermost `read_lock`.
    Mb,
    /// Quiescent-state-based: a registered thread's read side writes nothing
    /// shared and runs no fence (a guard only counts its nesting),
    /// and it must call [`quiescent_state`](crate::ThreadHandle::quiescent_state)
    /// regularly or go [`offline`](crate::ThreadHandle::offline) before
    /// blocking, or grace periods stall.
    Qsbr,
}

impl Flavor {
    /// The flavor readers will really use here: `Memb` becomes `Mb` where
    /// `membarrier` is unavailable (old kernel, seccomp, Miri, non-Linux).
    pub(crate) fn resolve(self) -> Flavor {
        match self {
            Flavor::Memb if !crate::sys::membarrier_available() => Flavor::Mb,
            f => f,
        }
    }
}
