//! Stall reports: a grace period held up longer than the domain's limit is
//! reported once, naming the threads that hold it.

use std::sync::Arc;
use std::time::Duration;

/// What a stall hook receives: a grace period has waited longer than the
/// domain's stall timeout.
///
/// ```
/// use std::time::Duration;
/// let d = urcu_reclaim::Domain::builder()
///     .stall_timeout(Duration::from_secs(5))
///     .on_stall(|r: &urcu_reclaim::StallReport| eprintln!("stalled by {:?}", r.threads))
///     .build();
/// # drop(d);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StallReport {
    /// How long the grace period had waited when reported.
    pub waited: Duration,
    /// Names (or ids) of the threads still inside a read-side section
    /// (or online without a quiescent state, under QSBR).
    pub threads: Vec<String>,
}

impl std::fmt::Display for StallReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "urcu: grace period stalled for {:.1?} by reader thread(s) {}: a read-side section is \
             too long, or (QSBR) a thread neither reports quiescent states nor goes offline",
            self.waited,
            self.threads.join(", ")
        )
    }
}

/// The hook type.
pub(crate) type StallHook = Arc<dyn Fn(&StallReport) + Send + Sync>;

/// The default hook: one line on stderr.
pub(crate) fn default_hook() -> StallHook {
    Arc::new(|r: &StallReport| eprintln!("{r}"))
}

crate::sync::const_thread_local! {
    /// The id of the domain whose stall hook this thread runs (0: none).
    static IN_STALL_HOOK: std::cell::Cell<u64> = std::cell::Cell::new(0);
}

/// Runs `f` marked as domain `id`'s stall hook (see `check_not_in_stall_hook`).
pub(crate) fn in_stall_hook_of<R>(id: u64, f: impl FnOnce() -> R) -> R {
    let was = IN_STALL_HOOK.with(|c| c.replace(id));
    let out = f();
    IN_STALL_HOOK.with(|c| c.set(was));
    out
}

/// Panics if this thread runs domain `id`'s stall hook: the hook runs in
/// the middle of a grace period, holding its lock, so waiting for another
/// grace period (or a reclaimer pass) of that domain would wait for itself.
#[track_caller]
pub(crate) fn check_not_in_stall_hook(id: u64, what: &str) {
    if IN_STALL_HOOK.with(|c| c.get()) == id {
        panic!(
            "{what} was requested from the domain's own on_stall hook (synchronize_rcu, \
             cond_synchronize, rcu_barrier, or a full reclamation queue): the hook runs inside \
             a grace period of that domain, so it would wait for itself. Report from the hook \
             (log, count, send to a channel) and act outside it"
        );
    }
}
