//! A bucket line's `meta` word, the one word a lookup loads before it
//! reads any slot. From the low bits up: five 1-byte hash tags (zero: no
//! entry), a 5-bit mask of retired slots, a 17-bit grace-period ticket
//! stamped when slots are retired, the "moved" flag and the writers' lock
//! bit (both in head lines only). A layout with fewer than five slots uses
//! the spare tag bytes of a head line as an overflow filter (see
//! [`table`](super::table)).

use super::storage::MAX_SLOTS;

/// The five tag bytes.
pub(super) const TAGS: u64 = (1 << (8 * MAX_SLOTS)) - 1;
/// One retired bit per slot, above the tags.
pub(super) const RETIRED_SHIFT: u32 = 8 * MAX_SLOTS as u32;
pub(super) const RETIRED_MASK: u64 = (1 << MAX_SLOTS) - 1;
pub(super) const TICKET_SHIFT: u32 = RETIRED_SHIFT + MAX_SLOTS as u32;
/// The ticket fills the bits up to the two flags (17 bits).
pub(super) const TICKET_BITS: u32 = 62 - TICKET_SHIFT;
pub(super) const TICKET_MASK: u64 = (1 << TICKET_BITS) - 1;
/// Set (release) once a head bucket's entries are all in the next table.
pub(super) const MOVED: u64 = 1 << 62;
/// The writers' lock (readers ignore it).
pub(super) const LOCK: u64 = 1 << 63;

/// The tag of a hash: its top 7 bits, with the high bit set so that a tag
/// is never zero (zero marks an empty slot).
#[inline(always)]
pub(crate) fn tag_of(hash: u64) -> u8 {
    (hash >> 57) as u8 | 0x80
}

#[inline(always)]
pub(super) fn tag_at(meta: u64, slot: usize) -> u8 {
    (meta >> (8 * slot)) as u8
}

#[inline(always)]
pub(super) fn with_tag(meta: u64, slot: usize, tag: u8) -> u64 {
    (meta & !(0xFF << (8 * slot))) | (u64::from(tag) << (8 * slot))
}

#[inline(always)]
pub(super) fn retired_bit(slot: usize) -> u64 {
    1 << (RETIRED_SHIFT as usize + slot)
}

/// `meta` with `slot` unpublished and retired (its ticket comes next).
#[inline(always)]
pub(super) fn retired(meta: u64, slot: usize) -> u64 {
    with_tag(meta, slot, 0) | retired_bit(slot)
}

/// Whether the ticket in `meta` has elapsed, given the domain's completed
/// grace-period sequence. Tickets keep 17 bits of the grace-period count;
/// a ticket is at most two grace periods ahead of `completed`, so the
/// modular difference tells "elapsed" exactly, except that a slot retired
/// 2^16 grace periods ago may look unelapsed for a while (it is then
/// merely not reused: never the unsafe way round).
#[inline]
pub(super) fn ticket_elapsed(meta: u64, completed: u64) -> bool {
    let ticket = (meta >> TICKET_SHIFT) & TICKET_MASK;
    let now = (completed >> 1) & TICKET_MASK;
    now.wrapping_sub(ticket) & TICKET_MASK < 1 << (TICKET_BITS - 1)
}
