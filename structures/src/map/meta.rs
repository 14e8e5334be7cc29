//! A bucket line's `meta` word, the one word a lookup loads before it
//! reads any slot. From the low bits up: one 7-bit field per slot (up to
//! seven), a 13-bit grace-period ticket stamped when slots are retired,
//! the "moved" flag and the writers' lock bit (both in head lines only).
//! A slot's field is 0 when the slot is free, [`RETIRED`] while it waits
//! for the ticket's grace period, and its entry's hash tag (2 to 127)
//! while it is live. A layout with fewer than seven slots uses the bits of
//! the fields it lacks, in a head line, as an overflow filter (see
//! [`table`](super::table)).

/// Most slots a line has: seven fields, the ticket and the two flags fill
/// the word.
pub(super) const MAX_SLOTS: usize = 7;
/// Bits per slot field.
const FIELD_BITS: u32 = 7;
const FIELD: u64 = (1 << FIELD_BITS) - 1;
/// A slot's field while it is retired: unpublished, waiting for the
/// ticket's grace period before it is written again.
const RETIRED: u8 = 1;
/// Where the fields end and the ticket begins.
const FIELDS_END: u32 = FIELD_BITS * MAX_SLOTS as u32;
const TICKET_SHIFT: u32 = FIELDS_END;
/// The ticket fills the bits up to the two flags.
const TICKET_BITS: u32 = 62 - TICKET_SHIFT;
const TICKET_MASK: u64 = (1 << TICKET_BITS) - 1;
/// Set (release) once a head bucket's entries are all in the next table.
pub(super) const MOVED: u64 = 1 << 62;
/// The writers' lock (readers ignore it).
pub(super) const LOCK: u64 = 1 << 63;

/// The tag of a hash: its top 7 bits, raised to at least 2 (0 and 1 are a
/// free and a retired slot). 126 values, so a lookup meets a slot of
/// another key with the same tag about once in 126.
#[inline(always)]
pub(crate) fn tag_of(hash: u64) -> u8 {
    ((hash >> 57) as u8).max(2)
}

/// Slot `slot`'s field: 0 (free), [`RETIRED`], or a live entry's tag.
#[inline(always)]
pub(super) fn tag_at(meta: u64, slot: usize) -> u8 {
    ((meta >> (FIELD_BITS as usize * slot)) & FIELD) as u8
}

/// Whether slot `slot` holds a live entry.
#[inline(always)]
pub(super) fn is_live(meta: u64, slot: usize) -> bool {
    tag_at(meta, slot) > RETIRED
}

/// Bit `7 i` set for each field `i`: where slot masks keep their bits.
const LOW: u64 = {
    let mut low = 0;
    let mut i = 0;
    while i < MAX_SLOTS {
        low |= 1 << (FIELD_BITS as usize * i);
        i += 1;
    }
    low
};

/// The fields of the first `slots` slots.
#[inline(always)]
fn fields(slots: usize) -> u64 {
    (1 << (FIELD_BITS as usize * slots)) - 1
}

/// A slot mask (bit `7 i` for slot `i`) of the live slots among the first
/// `slots`: fields of 2 or more, whose upper six bits are not all zero.
/// The three shifts fold each field's upper bits onto its lowest bit
/// position without reaching the next field's.
#[inline(always)]
fn live_mask(meta: u64, slots: usize) -> u64 {
    let upper = (meta >> 1) & (LOW * 0x3F) & fields(slots);
    let a = upper | upper >> 1;
    let b = a | a >> 2;
    (b | b >> 2) & LOW
}

/// Whether any of the first `slots` slots holds a live entry.
#[inline(always)]
pub(super) fn any_live(meta: u64, slots: usize) -> bool {
    meta & (LOW * 0x7E) & fields(slots) != 0
}

/// `meta` with slot `slot`'s field set to `tag`.
#[inline(always)]
pub(super) fn with_tag(meta: u64, slot: usize, tag: u8) -> u64 {
    let shift = FIELD_BITS as usize * slot;
    (meta & !(FIELD << shift)) | (u64::from(tag) << shift)
}

/// `meta` with slot `slot` unpublished and retired (its ticket comes next).
#[inline(always)]
pub(super) fn retired(meta: u64, slot: usize) -> u64 {
    with_tag(meta, slot, RETIRED)
}

/// A slot mask of the retired slots among the first `slots` (fields of
/// exactly 1).
#[inline(always)]
pub(super) fn retired_slots(meta: u64, slots: usize) -> u64 {
    meta & LOW & fields(slots) & !live_mask(meta, slots)
}

/// A slot mask of the free slots among the first `slots` (fields of 0).
#[inline(always)]
pub(super) fn free_slots(meta: u64, slots: usize) -> u64 {
    !meta & LOW & fields(slots) & !live_mask(meta, slots)
}

/// The slot of a slot mask's lowest bit.
#[inline(always)]
pub(super) fn first_slot(mask: u64) -> usize {
    mask.trailing_zeros() as usize / FIELD_BITS as usize
}

/// `meta` with every retired slot among the first `slots` made free (their
/// ticket has elapsed): a retired field is 1, so clearing the slot mask's
/// bits zeroes exactly those fields.
#[inline(always)]
pub(super) fn free_retired(meta: u64, slots: usize) -> u64 {
    meta & !retired_slots(meta, slots)
}

/// `meta` with every slot field cleared (nothing live, nothing retired).
#[inline(always)]
pub(super) fn without_fields(meta: u64) -> u64 {
    meta & !((1 << FIELDS_END) - 1)
}

/// `meta` stamped with the ticket of the grace-period sequence `seq`
/// (a [`GracePeriod::sequence`](urcu_reclaim::GracePeriod::sequence)).
#[inline(always)]
pub(super) fn with_ticket(meta: u64, seq: u64) -> u64 {
    (meta & !(TICKET_MASK << TICKET_SHIFT)) | (((seq >> 1) & TICKET_MASK) << TICKET_SHIFT)
}

/// Whether the ticket in `meta` has elapsed, given the domain's completed
/// grace-period sequence. Sequences grow by 2 per grace period, and a
/// ticket is taken at most two grace periods ahead of the sequence
/// completed then (`start_poll`); the sequence only grows afterwards. So
/// an unelapsed ticket is exactly 1 or 2 ahead of `completed / 2` in the
/// ticket's 13 bits, and any other difference means elapsed, however long
/// ago the slot was retired (a wrapped old ticket that happens to land 1
/// or 2 ahead is merely not reused for a grace period or two: never the
/// unsafe way round).
#[inline]
pub(super) fn ticket_elapsed(meta: u64, completed: u64) -> bool {
    let ticket = (meta >> TICKET_SHIFT) & TICKET_MASK;
    let now = (completed >> 1) & TICKET_MASK;
    !matches!(ticket.wrapping_sub(now) & TICKET_MASK, 1 | 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_flags_and_ticket_do_not_overlap() {
        let mut m = 0;
        for slot in 0..MAX_SLOTS {
            m = with_tag(m, slot, 127);
        }
        m = with_ticket(m, u64::MAX);
        assert_eq!(m & (MOVED | LOCK), 0);
        m |= MOVED | LOCK;
        assert_eq!(m, u64::MAX);
        for slot in 0..MAX_SLOTS {
            assert_eq!(tag_at(m, slot), 127);
            assert_eq!(tag_at(retired(m, slot), slot), RETIRED);
            assert!(!is_live(retired(m, slot), slot));
        }
        // Clearing the fields keeps the ticket and both flags.
        let cleared = without_fields(m);
        assert_eq!(cleared, with_ticket(0, u64::MAX) | MOVED | LOCK);
        assert!((0..MAX_SLOTS).all(|slot| tag_at(cleared, slot) == 0));
    }

    #[test]
    fn tags_are_live_values() {
        for top in 0..128u64 {
            let tag = tag_of(top << 57);
            assert!((2..=127).contains(&tag));
            assert!(is_live(with_tag(0, 3, tag), 3));
        }
    }

    #[test]
    fn retired_slots_become_free_together() {
        let slots = |mask: u64| {
            (0..MAX_SLOTS)
                .filter(|&i| mask >> (7 * i) & 1 != 0)
                .collect::<Vec<_>>()
        };
        let m = retired(retired(with_tag(0, 1, 9), 0), 2);
        assert_eq!(slots(retired_slots(m, 3)), [0, 2]);
        assert_eq!(slots(free_slots(m, 4)), [3]);
        assert_eq!(first_slot(free_slots(m, 4)), 3);
        let m = free_retired(m, 3);
        assert_eq!(slots(free_slots(m, 3)), [0, 2]);
        assert!(is_live(m, 1) && any_live(m, 3) && !any_live(m, 1));
    }

    /// The bit-parallel masks agree with the fields one by one, for every
    /// field value in every position, with the other fields and the bits
    /// above them set.
    #[test]
    fn slot_masks_match_the_fields() {
        for slots in 1..=MAX_SLOTS {
            for slot in 0..slots {
                for value in 0..=127u8 {
                    for rest in [0u64, u64::MAX] {
                        let m = with_tag(rest, slot, value);
                        let bit = 1u64 << (7 * slot);
                        assert_eq!(free_slots(m, slots) & bit != 0, value == 0);
                        assert_eq!(retired_slots(m, slots) & bit != 0, value == RETIRED);
                        assert_eq!(live_mask(m, slots) & bit != 0, value > RETIRED);
                        let others = (0..slots).any(|i| i != slot && is_live(m, i));
                        assert_eq!(any_live(m, slots), value > RETIRED || others);
                    }
                }
            }
            // Nothing at or above the last slot's field leaks into a mask.
            let above = !fields(slots);
            assert_eq!(free_slots(above, slots), LOW & fields(slots));
            assert_eq!(retired_slots(above, slots) | live_mask(above, slots), 0);
        }
    }

    /// A ticket is unelapsed only while `completed` is short of it, for
    /// every position of the 13-bit window, and an old ticket reads as
    /// elapsed however far the sequence has run on.
    #[test]
    fn tickets_elapse_exactly() {
        for base in [0u64, 2, 8190, 8192, 16382, 1 << 40] {
            for in_progress in [false, true] {
                let gp_seq = base + u64::from(in_progress);
                let target = (gp_seq + 3) & !1; // `start_poll`'s rule
                let m = with_ticket(0, target);
                for completed in gp_seq..target + 4 {
                    assert_eq!(
                        ticket_elapsed(m, completed),
                        completed >= target,
                        "gp_seq {gp_seq}, completed {completed}"
                    );
                }
                for later in [
                    target + 10,
                    target + 8192,
                    target + 16384,
                    target + (3 << 20),
                ] {
                    assert!(ticket_elapsed(m, later), "completed {later}");
                }
            }
        }
    }
}
