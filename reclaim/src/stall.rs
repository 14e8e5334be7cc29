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
