//! core: the pipe of aging objects, after Linux's rcutorture (see the
//! engine's module docs for why a reader must never see age 2).

use super::{mix, Bug, Ctx, Rd, Torture, Wr, DEAD};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Grace periods a removed object climbs before it is freed.
pub const PIPE_LEN: u64 = 10;

const SLOTS: usize = 4096;
const FREE: u64 = 0;
const PUBLISHED: u64 = 1;
const FREED: u64 = 2;

/// An arena slot. All atomics, so that a stale reader's reads are defined
/// even while the writer reuses the slot.
struct Slot {
    seq: AtomicU64,
    state: AtomicU64,
    age: AtomicU64,
    payload: [AtomicU64; 4],
}

/// Slots that are never released while a case runs, and the free list.
struct Arena {
    slots: Vec<Slot>,
    free: Mutex<Vec<usize>>,
}

impl Arena {
    fn new() -> Arena {
        Arena {
            slots: (0..SLOTS)
                .map(|_| Slot {
                    seq: AtomicU64::new(0),
                    state: AtomicU64::new(FREE),
                    age: AtomicU64::new(0),
                    payload: [const { AtomicU64::new(0) }; 4],
                })
                .collect(),
            free: Mutex::new((0..SLOTS).rev().collect()),
        }
    }

    fn alloc(&self) -> Option<usize> {
        self.free.lock().unwrap().pop()
    }

    /// Marks the slot freed, poisons it, and makes it reusable.
    fn free(&self, ctx: &Ctx, i: usize) {
        let s = &self.slots[i];
        s.state.store(FREED, Ordering::Release);
        for w in &s.payload {
            w.store(DEAD, Ordering::Relaxed);
        }
        Ctx::count(&ctx.freed);
        self.free.lock().unwrap().push(i);
    }
}

fn pack(seq: u64, slot: usize) -> u64 {
    (seq << 16) | slot as u64
}

fn unpack(w: u64) -> (u64, usize) {
    (w >> 16, (w & 0xffff) as usize)
}

pub(super) struct Pipe {
    ctx: Arc<Ctx>,
    arena: Arc<Arena>,
    published: AtomicU64,
    next_seq: AtomicU64,
    removed: AtomicU64,
}

impl Pipe {
    pub(super) fn new(ctx: Arc<Ctx>) -> Pipe {
        let p = Pipe {
            ctx,
            arena: Arc::new(Arena::new()),
            published: AtomicU64::new(0),
            next_seq: AtomicU64::new(1),
            removed: AtomicU64::new(0),
        };
        let first = p.fill().expect("an empty arena has room");
        p.published.store(first, Ordering::Release);
        p
    }

    /// Takes a slot and fills it as a new object; its packed word.
    fn fill(&self) -> Option<u64> {
        let i = self.arena.alloc()?;
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let s = &self.arena.slots[i];
        s.seq.store(seq, Ordering::Relaxed);
        s.age.store(0, Ordering::Relaxed);
        for (k, w) in s.payload.iter().enumerate() {
            w.store(mix(seq, k as u64), Ordering::Relaxed);
        }
        s.state.store(PUBLISHED, Ordering::Relaxed);
        Some(pack(seq, i))
    }

    /// Whether `slot` still holds object `seq`, live and intact.
    fn check_live(&self, seq: u64, slot: usize, when: &str) {
        let s = &self.arena.slots[slot];
        let state = s.state.load(Ordering::Acquire);
        let now = s.seq.load(Ordering::Relaxed);
        let intact = s
            .payload
            .iter()
            .enumerate()
            .all(|(k, w)| w.load(Ordering::Relaxed) == mix(seq, k as u64));
        self.ctx.check(state == PUBLISHED && now == seq && intact, || {
            format!("{when}: object {seq} was freed under a reader (state {state}, slot now holds {now}, payload intact: {intact})")
        });
    }
}

/// One step up the pipe, after a grace period: age + 1, then either the
/// next step (after another grace period) or the end.
fn age_step(ctx: Arc<Ctx>, arena: Arc<Arena>, slot: usize) {
    let age = arena.slots[slot].age.fetch_add(1, Ordering::AcqRel) + 1;
    if age >= PIPE_LEN {
        arena.free(&ctx, slot);
    } else {
        let d = ctx.d.clone();
        d.defer(move || age_step(ctx, arena, slot));
    }
}

impl Torture for Pipe {
    type ReaderState = ();

    fn writers(&self) -> usize {
        1
    }

    fn read(&self, r: &Rd<'_>, _: &mut ()) {
        let g = r.lock();
        let (seq, slot) = unpack(self.published.load(Ordering::Acquire));
        self.check_live(seq, slot, "on load");
        let inner = r.nest();
        r.rng.spin();
        self.check_live(seq, slot, "nested");
        drop(inner);
        r.rng.spin();
        let age = self.arena.slots[slot].age.load(Ordering::Acquire);
        self.check_live(seq, slot, "before leaving the section");
        Ctx::count(&self.ctx.ages[age.min(PIPE_LEN) as usize]);
        self.ctx.check(age <= 1, || {
            format!("object {seq} reached age {age} while a reader held it: a grace period was cut short")
        });
        drop(g);
    }

    fn write(&self, _: usize, _: &Wr<'_>) {
        let Some(new) = self.fill() else {
            // The arena is full of objects climbing the pipe.
            thread::sleep(Duration::from_micros(50));
            return;
        };
        let old = self.published.swap(new, Ordering::AcqRel);
        let (_, slot) = unpack(old);
        self.arena.slots[slot].age.store(1, Ordering::Release);
        self.removed.fetch_add(1, Ordering::Relaxed);
        let (ctx, arena) = (self.ctx.clone(), self.arena.clone());
        match self.ctx.bug {
            Some(Bug::FreeEarly) => self.arena.free(&self.ctx, slot),
            Some(Bug::SkipGp) => age_step(ctx, arena, slot),
            None => self.ctx.d.defer(move || age_step(ctx, arena, slot)),
        }
    }

    fn finish(self, ctx: &Ctx) {
        let removed = self.removed.load(Ordering::SeqCst);
        // Each barrier moves every object at least one step up the pipe.
        for _ in 0..PIPE_LEN + 2 {
            if ctx.freed.load(Ordering::SeqCst) >= removed {
                break;
            }
            ctx.d.rcu_barrier();
        }
        let freed = ctx.freed.load(Ordering::SeqCst);
        ctx.check(freed == removed, || {
            format!("{removed} objects removed, {freed} freed")
        });
        let free = self.arena.free.lock().unwrap().len();
        ctx.check(free == SLOTS - 1, || {
            format!("{free} free slots at the end, expected all but the published one")
        });
    }
}
