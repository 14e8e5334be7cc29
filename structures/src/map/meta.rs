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
pub(super) const FIELDS_END: u32 = FIELD_BITS * MAX_SLOTS as u32;
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

/// Whether any of the first `slots` slots holds a live entry.
#[inline(always)]
pub(super) fn any_live(meta: u64, slots: usize) -> bool {
    (0..slots).any(|i| is_live(meta, i))
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

/// Bit `i` set for each of the first `slots` slots that is retired.
#[inline(always)]
pub(super) fn retired_slots(meta: u64, slots: usize) -> u64 {
    (0..slots).fold(0, |acc, i| {
        acc | (u64::from(tag_at(meta, i) == RETIRED) << i)
    })
}

/// Bit `i` set for each of the first `slots` slots that is free.
#[inline(always)]
pub(super) fn free_slots(meta: u64, slots: usize) -> u64 {
    (0..slots).fold(0, |acc, i| acc | (u64::from(tag_at(meta, i) == 0) << i))
}

/// `meta` with every retired slot among the first `slots` made free (their
/// ticket has elapsed).
#[inline(always)]
pub(super) fn free_retired(meta: u64, slots: usize) -> u64 {
    (0..slots).fold(meta, |m, i| {
        if tag_at(m, i) == RETIRED {
            with_tag(m, i, 0)
        } else {
            m
        }
    })
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
        assert_eq!(without_fields(m), m & !((1 << FIELDS_END) - 1));
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
        let m = retired(retired(with_tag(0, 1, 9), 0), 2);
        assert_eq!(retired_slots(m, 3), 0b101);
        assert_eq!(free_slots(m, 4), 0b1000);
        let m = free_retired(m, 3);
        assert_eq!(free_slots(m, 3), 0b101);
        assert!(is_live(m, 1) && any_live(m, 3) && !any_live(m, 1));
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
