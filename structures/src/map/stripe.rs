//! The entry count's stripes: one counter per writing thread, so that a
//! write's count stays in that thread's cache. Striping by key made every
//! insert and removal pull a line another core had just written.
//!
//! A thread that holds a stripe alone updates it with a plain load and
//! store: a locked read-modify-write there waits for the write's own
//! stores to drain (docs/map-design.md, "On the Intel VM", has what it
//! cost). Threads past the [`OWNED`] stripes share the rest and add
//! atomically.

use crate::sync::{AtomicIsize, Ordering};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering as StdOrdering};

/// Counter stripes in each map.
pub(super) const STRIPES: usize = 32;
/// Stripes a thread may hold alone (`OWNED..STRIPES` are shared).
const OWNED: usize = 24;

/// Bit `i`: stripe `i` has a thread that holds it alone.
static HELD: AtomicU32 = AtomicU32::new(0);
/// Round-robin over the shared stripes.
static NEXT_SHARED: AtomicUsize = AtomicUsize::new(0);

/// A thread's stripe, held alone or shared.
#[derive(Clone, Copy)]
struct Stripe {
    index: usize,
    alone: bool,
}

impl Stripe {
    fn shared() -> Stripe {
        let n = NEXT_SHARED.fetch_add(1, StdOrdering::Relaxed);
        Stripe {
            index: OWNED + n % (STRIPES - OWNED),
            alone: false,
        }
    }

    /// Takes a free stripe of `held` to hold alone, or a shared one if
    /// none is free.
    fn take(held_bits: &AtomicU32) -> Stripe {
        let mut held = held_bits.load(StdOrdering::Relaxed);
        while held != (1 << OWNED) - 1 {
            let i = (!held).trailing_zeros();
            // Acquire pairs with the release in `drop` of the thread that
            // held it before: its last count is visible to our loads.
            match held_bits.compare_exchange_weak(
                held,
                held | 1 << i,
                StdOrdering::Acquire,
                StdOrdering::Relaxed,
            ) {
                Ok(_) => {
                    return Stripe {
                        index: i as usize,
                        alone: true,
                    }
                }
                Err(now) => held = now,
            }
        }
        Stripe::shared()
    }
}

/// A thread's hold on its stripe, given back when the thread exits.
struct Hold(Stripe);

impl Drop for Hold {
    fn drop(&mut self) {
        if self.0.alone {
            // Release: our counts happen before the next holder's.
            HELD.fetch_and(!(1 << self.0.index), StdOrdering::Release);
        }
    }
}

std::thread_local! {
    static MINE: Hold = Hold(Stripe::take(&HELD));
}

/// Adds `delta` to this thread's stripe of `counts`.
pub(super) fn add(counts: &[impl std::ops::Deref<Target = AtomicIsize>], delta: isize) {
    // Loom replays a model many times on one OS thread: a stripe held
    // across runs would make the model nondeterministic.
    let stripe = if cfg!(loom) {
        Stripe {
            index: OWNED,
            alone: false,
        }
    } else {
        // During thread-local destruction (a map written from another
        // destructor), a shared stripe.
        MINE.try_with(|h| h.0).unwrap_or_else(|_| Stripe::shared())
    };
    let c = &*counts[stripe.index];
    if stripe.alone {
        // Nobody else writes this stripe: no read-modify-write needed.
        c.store(c.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
    } else {
        c.fetch_add(delta, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn threads_past_the_owned_stripes_share_the_others_and_freed_stripes_are_taken_again() {
        let held = AtomicU32::new(0);
        let taken: Vec<Stripe> = (0..OWNED).map(|_| Stripe::take(&held)).collect();
        let mut alone: Vec<usize> = taken.iter().filter(|s| s.alone).map(|s| s.index).collect();
        alone.sort_unstable();
        assert_eq!(
            alone,
            (0..OWNED).collect::<Vec<_>>(),
            "each held alone, once"
        );
        for _ in 0..2 * STRIPES {
            let s = Stripe::take(&held);
            assert!(
                !s.alone && (OWNED..STRIPES).contains(&s.index),
                "a shared stripe"
            );
        }
        held.fetch_and(!(1 << 7), StdOrdering::Release);
        let s = Stripe::take(&held);
        assert!(
            s.alone && s.index == 7,
            "the stripe given back is taken again"
        );
    }
}
