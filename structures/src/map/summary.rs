//! Each bucket's tag summary: 16 bits per bucket, in a dense array beside
//! the bucket lines, with bit `tag % 16` set for every live entry of the
//! bucket's chain. A lookup reads its bucket's summary first and stops
//! there when the bit is clear, so most lookups of absent keys never touch
//! the bucket line.
//!
//! The array is 2 bytes per bucket (a byte per entry or less), 32 times smaller
//! than the lines, so it stays in cache where the lines do not: on a table
//! larger than the cache a lookup of an absent key costs a cache hit
//! instead of a miss (scc, boost and hashbrown get the same from their
//! metadata arrays). With two live entries per bucket about 12 % of absent
//! keys find their bit set (more where removals left bits behind) and go
//! on to the line.
//!
//! # The invariant
//!
//! A bucket's summary holds a bit for every live tag of its chain (it may
//! hold more), or every bit once the bucket has moved to the next table.
//! Only the bucket's lock holder writes it:
//!
//! - a bit is set before the entry with that tag is published (the
//!   summary store is sequenced before the release store of `meta` that
//!   publishes the entry), so a lookup that the insert happens before sees
//!   the bit;
//! - a removal leaves the summary alone (a store per removal cost churn a
//!   third of its speed); the next insert that must set a bit rewrites the
//!   whole summary from the head line, dropping the bits no live entry
//!   needs;
//! - migration sets every bit before it marks the bucket moved: a lookup
//!   that sees a clear bit read the summary before the move, when the old
//!   chain still held every entry of the bucket, so "absent" was true then.
//!
//! Relaxed loads and stores suffice: a lookup that stops on a clear bit
//! reads no entry, and a set bit only sends it on to the acquire load of
//! `meta`, which orders what it reads in the line. What a lookup must see
//! reaches it through the release stores that follow each summary store
//! in the writer: the entry's publication in `meta`, the bucket's unlock,
//! and, after a migration's every-bit store, the "moved" flag that the
//! writers who then insert in the next table acquire.

use super::zeroed::{Pages, ZeroedArray};
use crate::sync::{AtomicU16, Ordering};

/// A bucket's summary word.
pub(crate) type Summary = AtomicU16;

/// The summary of a bucket that moved: every lookup goes on to the line,
/// which says where the entries are now.
pub(crate) const EVERY_TAG: u16 = u16::MAX;

/// `tag`'s bit in a summary.
#[inline(always)]
pub(crate) fn tag_bit(tag: u8) -> u16 {
    1 << (tag & 15)
}

/// Whether a bucket whose summary is `summary` may hold an entry tagged
/// `tag` (false: it does not). Callers go through [`Table::may_hold`].
///
/// [`Table::may_hold`]: super::table::Table::may_hold
#[inline(always)]
pub(crate) fn may_hold(summary: &Summary, tag: u8) -> bool {
    // Relaxed: see the module docs.
    summary.load(Ordering::Relaxed) & tag_bit(tag) != 0
}

/// `n` empty summaries (no entries), on pages backed as `pages` says.
#[cfg(not(loom))]
pub(crate) fn empty_summaries(n: usize, pages: Pages) -> ZeroedArray<Summary> {
    // SAFETY: an all-zero `AtomicU16` is a valid 0.
    unsafe { ZeroedArray::new(n, pages) }
}

#[cfg(loom)]
pub(crate) fn empty_summaries(n: usize, _pages: Pages) -> ZeroedArray<Summary> {
    ZeroedArray::from_fn(n, || Summary::new(0))
}
