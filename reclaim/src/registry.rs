//! The thread registry: which domains this thread has joined, and its
//! record in each.
//!
//! A thread joins a domain on first use: its record goes into the domain's
//! registry (`Core::registry`, which grace periods scan) and into this
//! thread's `REGISTRATIONS`, whose destructor at thread exit hands each
//! record to its domain's reclaimer. Two caches make the common lookups one
//! thread-local load: `DEFAULT_RECORD` for the default domain (with its
//! core, which a record does not lead to), and `LAST_RECORD` for the last
//! explicit domain used.

use crate::reclaimer::Wake;
use crate::record::{orphaned_section_began, ThreadRecord};
use crate::state::Core;
use crate::sync::{lock, Arc, Ordering};
use std::cell::{Cell, RefCell};
use std::sync::Weak;

/// One thread's membership in one domain.
struct Registration {
    domain_id: u64,
    record: Arc<ThreadRecord>,
    core: Weak<Core>,
}

/// Every domain this thread joined. Dropped at thread exit: each record is
/// handed to its domain's reclaimer, which drains the ring after a grace
/// period and then forgets the record.
struct Registrations(RefCell<Vec<Registration>>);

impl Drop for Registrations {
    fn drop(&mut self) {
        // The caches below must not outlive the records they point to.
        // (`try_with`: std's never fails for these const, drop-free cells;
        // loom destroys every thread-local of a model thread at once.)
        let _ = DEFAULT_RECORD.try_with(|c| c.set((std::ptr::null(), std::ptr::null())));
        let _ = LAST_RECORD.try_with(|c| c.set((0, std::ptr::null())));
        for reg in self.0.borrow_mut().drain(..) {
            let rec = &reg.record;
            // Spilled entries of a section that never ended (a leaked
            // guard): the reclaimer frees them once that is safe.
            if let Some(core) = reg.core.upgrade() {
                core.collect_spill(rec, true, &mut lock(&core.overflow));
            }
            if rec.nesting() > 0 {
                rec.orphan();
                orphaned_section_began(reg.domain_id);
            }
            // Release: our last writes to the record (ring, counters) are
            // visible to the reclaimer once it sees `alive == false`.
            rec.alive.store(false, Ordering::Release);
            if let Some(core) = reg.core.upgrade() {
                core.wake_reclaimer(Wake::FromIdle);
            }
        }
    }
}

crate::sync::const_thread_local! {
    static REGISTRATIONS: Registrations = Registrations(RefCell::new(Vec::new()));
    /// This thread's record in the default domain (null: not yet joined),
    /// and that domain's core (set with it: a record does not lead to its
    /// core). One slot, so that the free `rcu_reclaim_queue` reads both
    /// from one thread-local address.
    static DEFAULT_RECORD: Cell<(*const ThreadRecord, *const Core)> =
        Cell::new((std::ptr::null(), std::ptr::null()));
    /// The last explicit domain this thread used, and its record there.
    static LAST_RECORD: Cell<(u64, *const ThreadRecord)> = Cell::new((0, std::ptr::null()));
}

/// This thread's record in the default domain, if cached.
#[inline(always)]
pub(crate) fn cached_default_record() -> Option<&'static ThreadRecord> {
    let p = DEFAULT_RECORD.with(|c| c.get().0);
    if p.is_null() {
        return None;
    }
    // SAFETY: set by `cache_default_record` from a registered record of the
    // default domain (never dropped), and cleared before the registration
    // goes.
    Some(unsafe { &*p })
}

/// This thread's record in the default domain, and the default domain's
/// core, if cached.
#[inline(always)]
pub(crate) fn cached_default_record_and_core() -> Option<(&'static ThreadRecord, &'static Core)> {
    let (rec, core) = DEFAULT_RECORD.with(|c| c.get());
    if rec.is_null() {
        return None;
    }
    // SAFETY: as in `cached_default_record` for `rec`; `core` was set with
    // it, from the default domain, which is never dropped: its core lives
    // as long as the process.
    Some(unsafe { (&*rec, &*core) })
}

/// Caches `rec`, this thread's record in the default domain (from
/// [`record`]), and `core`, that domain's, for [`cached_default_record`]
/// and [`cached_default_record_and_core`]: unless this thread's
/// registrations are already destroyed, or `rec` is pinned (no destructor
/// would clear the cache).
pub(crate) fn cache_default_record(rec: &'static ThreadRecord, core: &'static Core) {
    let registered = REGISTRATIONS.try_with(|_| ()).is_ok() && !rec.pinned;
    if registered {
        DEFAULT_RECORD.with(|c| c.set((rec, core)));
    }
}

/// This thread's record in `core`'s domain, joining it on first use. `id`
/// is `core.id`, passed from the `Domain` that holds a copy inline, so that
/// the cache check reads nothing through `core`.
///
/// The returned reference is valid while `core` is borrowed: the record
/// stays registered (and so alive) at least until this thread's
/// registrations are dropped, and those caches are cleared first.
#[inline]
pub(crate) fn record(core: &Core, id: u64) -> &ThreadRecord {
    let p = LAST_RECORD.with(|c| {
        let (cached, p) = c.get();
        if cached == id {
            p
        } else {
            std::ptr::null()
        }
    });
    if !p.is_null() {
        // SAFETY: see above; the cache is cleared before the record can go.
        return unsafe { &*p };
    }
    record_slow(core)
}

#[cold]
fn record_slow(core: &Core) -> &ThreadRecord {
    let found = REGISTRATIONS
        .try_with(|regs| {
            let mut regs = regs.0.borrow_mut();
            // Forget domains that are gone.
            regs.retain(|r| r.core.strong_count() > 0);
            if let Some(r) = regs.iter().find(|r| r.domain_id == core.id) {
                return Arc::as_ptr(&r.record);
            }
            let record = core.register(false);
            let p = Arc::as_ptr(&record);
            regs.push(Registration {
                domain_id: core.id,
                record,
                core: core.me.clone(),
            });
            p
        })
        .unwrap_or_else(|_| {
            // This thread's registrations are already destroyed (we are
            // called from another thread-local's destructor). Register a
            // record that is never removed, so the cached pointer stays
            // valid; the reclaimer drains it like any exited thread's.
            let record = core.register(true);
            // Release: as at thread exit (see `Registrations::drop`).
            record.alive.store(false, Ordering::Release);
            Arc::as_ptr(&record)
        });
    LAST_RECORD.with(|c| c.set((core.id, found)));
    // SAFETY: the registry (or our registration) holds the record; see
    // `record`.
    unsafe { &*found }
}

/// This thread's record in `core`'s domain, if it has joined it (never
/// registers).
pub(crate) fn existing_record(core: &Core) -> Option<&ThreadRecord> {
    let id = core.id;
    let cached = LAST_RECORD.with(|c| c.get());
    let p = if cached.0 == id {
        cached.1
    } else {
        REGISTRATIONS
            .try_with(|regs| {
                regs.0
                    .borrow()
                    .iter()
                    .find(|r| r.domain_id == id)
                    .map(|r| Arc::as_ptr(&r.record))
            })
            .ok()
            .flatten()?
    };
    // SAFETY: as in `record`.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// This thread's registration in `core`'s domain, shared (for a
/// `ThreadHandle`), if it has joined it.
pub(crate) fn registered_arc(core: &Core) -> Option<Arc<ThreadRecord>> {
    REGISTRATIONS.with(|regs| {
        regs.0
            .borrow()
            .iter()
            .find(|r| r.domain_id == core.id)
            .map(|r| r.record.clone())
    })
}
