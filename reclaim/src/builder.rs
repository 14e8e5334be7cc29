//! Making a [`Domain`]: [`DomainBuilder`], its defaults, and the
//! constructors `Domain::builder`, `Domain::new`.

use crate::domain::Domain;
use crate::flavor::Flavor;
use crate::stall::{default_hook, StallHook, StallReport};
use crate::state::{Config, Core};
use crate::sync::Arc;
use std::time::Duration;

/// Default per-thread queue capacity, in words (liburcu's `defer_rcu`).
///
/// ```
/// use urcu_reclaim::{Domain, DEFAULT_QUEUE_CAPACITY};
/// assert_eq!(Domain::new().queue_capacity(), DEFAULT_QUEUE_CAPACITY);
/// ```
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;
/// Default time before a stalled grace period is reported.
///
/// ```
/// use urcu_reclaim::{Domain, DEFAULT_STALL_TIMEOUT};
/// assert_eq!(DEFAULT_STALL_TIMEOUT.as_secs(), 10);
/// // A latency-sensitive service may want to hear about stalls sooner:
/// let d = Domain::builder().stall_timeout(DEFAULT_STALL_TIMEOUT / 10).build();
/// d.synchronize_rcu();
/// ```
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Default longest time an object waits for the reclaimer when its thread
/// queues nothing more.
///
/// ```
/// use urcu_reclaim::{Domain, DEFAULT_RECLAIM_INTERVAL};
/// assert_eq!(DEFAULT_RECLAIM_INTERVAL.as_millis(), 10);
/// // Trade a little reclaimer wake-up rate for less memory held:
/// let d = Domain::builder().reclaim_interval(DEFAULT_RECLAIM_INTERVAL / 2).build();
/// d.rcu_reclaim_queue(Box::new(1u32));
/// d.rcu_barrier();
/// ```
pub const DEFAULT_RECLAIM_INTERVAL: Duration = Duration::from_millis(10);

impl Domain {
    /// A builder with the defaults.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Qsbr).queue_capacity(64).build();
    /// assert_eq!((d.flavor(), d.queue_capacity()), (Flavor::Qsbr, 64));
    /// ```
    pub fn builder() -> DomainBuilder {
        DomainBuilder::default()
    }

    /// A domain with the defaults ([`Flavor::Memb`], 4096-word queues).
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor, DEFAULT_QUEUE_CAPACITY};
    /// let d = Domain::new();
    /// assert_eq!(d.requested_flavor(), Flavor::Memb);
    /// assert_eq!(d.queue_capacity(), DEFAULT_QUEUE_CAPACITY);
    /// ```
    pub fn new() -> Domain {
        Domain::builder().build()
    }
}

impl Default for Domain {
    fn default() -> Self {
        Domain::new()
    }
}

/// Configures a [`Domain`].
///
/// ```
/// use std::time::Duration;
/// use urcu_reclaim::{Domain, Flavor};
/// let d = Domain::builder()
///     .flavor(Flavor::Qsbr)
///     .queue_capacity(1024)
///     .stall_timeout(Duration::from_secs(2))
///     .build();
/// assert_eq!(d.flavor(), Flavor::Qsbr);
/// ```
#[must_use]
pub struct DomainBuilder {
    flavor: Flavor,
    queue_capacity: usize,
    stall_timeout: Duration,
    stall_hook: Option<StallHook>,
    reclaim_interval: Duration,
    max_writer_wait: Option<Duration>,
}

impl std::fmt::Debug for DomainBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainBuilder")
            .field("flavor", &self.flavor)
            .field("queue_capacity", &self.queue_capacity)
            .field("stall_timeout", &self.stall_timeout)
            .field("reclaim_interval", &self.reclaim_interval)
            .field("max_writer_wait", &self.max_writer_wait)
            .finish_non_exhaustive()
    }
}

impl Default for DomainBuilder {
    fn default() -> Self {
        DomainBuilder {
            flavor: Flavor::default(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            stall_hook: None,
            reclaim_interval: DEFAULT_RECLAIM_INTERVAL,
            max_writer_wait: None,
        }
    }
}

impl DomainBuilder {
    /// The grace-period flavor (default [`Flavor::Memb`]).
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Mb).build();
    /// assert_eq!(d.flavor(), Flavor::Mb);
    /// ```
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Words in each thread's reclamation ring (default 4096; rounded up to
    /// a power of two, at least 4). A homogeneous stream costs one word per
    /// object, so this bounds the objects each thread can have pending.
    ///
    /// ```
    /// use urcu_reclaim::Domain;
    /// let d = Domain::builder().queue_capacity(1000).build();
    /// assert_eq!(d.queue_capacity(), 1024); // rounded up to a power of two
    /// assert_eq!(Domain::builder().queue_capacity(1).build().queue_capacity(), 4);
    /// ```
    pub fn queue_capacity(mut self, words: usize) -> Self {
        self.queue_capacity = words;
        self
    }

    /// How long a grace period may wait before it is reported (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use urcu_reclaim::Domain;
    /// let d = Domain::builder().stall_timeout(Duration::from_millis(500)).build();
    /// d.synchronize_rcu(); // no reader holds it up: nothing to report
    /// assert_eq!(d.stats().stalls_reported, 0);
    /// ```
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// What to do with a stall report (default: one line on stderr).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use urcu_reclaim::Domain;
    /// let reports = Arc::new(AtomicUsize::new(0));
    /// let seen = reports.clone();
    /// let d = Domain::builder()
    ///     .on_stall(move |report| {
    ///         seen.fetch_add(1, Ordering::Relaxed);
    ///         eprintln!("rcu: {report}"); // or send it to your logger
    ///     })
    ///     .build();
    /// d.synchronize_rcu();
    /// assert_eq!(reports.load(Ordering::Relaxed), 0); // that one did not stall
    /// ```
    pub fn on_stall(mut self, hook: impl Fn(&StallReport) + Send + Sync + 'static) -> Self {
        self.stall_hook = Some(Arc::new(hook));
        self
    }

    /// The longest an object waits for the reclaimer once its thread stops
    /// queueing (default 10 ms). Busy threads free their own entries sooner.
    ///
    /// ```
    /// use std::time::Duration;
    /// use urcu_reclaim::Domain;
    /// let d = Domain::builder().reclaim_interval(Duration::from_millis(1)).build();
    /// d.rcu_reclaim_queue(Box::new([0u8; 32]));
    /// d.rcu_barrier();
    /// assert_eq!(d.stats().pending(), 0);
    /// ```
    pub fn reclaim_interval(mut self, interval: Duration) -> Self {
        self.reclaim_interval = interval;
        self
    }

    /// The longest a thread waits for a grace period to keep its pending
    /// objects within bound (default: the [`stall_timeout`](Self::stall_timeout)).
    ///
    /// A thread whose queue is full, or that enters a section after one in
    /// which it had to spill (map writes do), waits for a grace period
    /// before it goes on: that keeps memory bounded. If a reader holds that
    /// grace period longer than this, the thread stops waiting and spills,
    /// and threads do not wait again until that grace period completes
    /// (counted in
    /// [`Stats::writer_wait_timeouts`](crate::Stats::writer_wait_timeouts)).
    /// The reader might be waiting for the very thread that waits (a guard
    /// held across a barrier or a channel receive): waiting without end
    /// would deadlock them. `Duration::MAX` waits without end.
    ///
    /// ```
    /// use std::time::Duration;
    /// use urcu_reclaim::Domain;
    /// let d = Domain::builder().max_writer_wait(Duration::from_millis(100)).build();
    /// d.rcu_reclaim_queue(Box::new(1u8));
    /// d.rcu_barrier();
    /// assert_eq!(d.stats().writer_wait_timeouts, 0);
    /// ```
    pub fn max_writer_wait(mut self, limit: Duration) -> Self {
        self.max_writer_wait = Some(limit);
        self
    }

    /// Builds the domain. No thread starts until something is queued.
    ///
    /// ```
    /// use urcu_reclaim::Domain;
    /// let d = Domain::builder().build();
    /// assert_eq!(d.stats().threads, 0); // no thread has joined yet
    /// drop(d.read_lock());
    /// assert_eq!(d.stats().threads, 1); // this one joined on first use
    /// ```
    pub fn build(self) -> Domain {
        Domain::from_core(Core::new(self.config()))
    }

    /// Builds the process-wide default domain (see `default_domain`).
    pub(crate) fn build_default(self) -> Domain {
        Domain::from_core(Core::new_default(self.config()))
    }

    fn config(self) -> Config {
        Config {
            requested: self.flavor,
            queue_capacity: self.queue_capacity,
            stall_timeout: self.stall_timeout,
            stall_hook: self.stall_hook.unwrap_or_else(default_hook),
            reclaim_interval: self.reclaim_interval,
            max_writer_wait: self.max_writer_wait.unwrap_or(self.stall_timeout),
        }
    }
}
