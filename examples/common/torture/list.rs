//! list: `RcuList<Item>`, walked in order while items are pushed at both
//! ends and removed (some from inside a section, under the list's lock).

use super::{poison, Census, Ctx, Rd, Torture, Wr, LIVE, NO_LOCK_IN_SECTION};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use urcu::RcuList;

struct Item {
    magic: AtomicU64,
    id: i64,
    /// The writer's removal number, stamped once the item is unlinked.
    removed: AtomicU64,
    census: Arc<Census>,
}

impl Drop for Item {
    fn drop(&mut self) {
        poison(&self.magic, &self.census);
    }
}

pub(super) struct ListTorture {
    ctx: Arc<Ctx>,
    list: RcuList<Item>,
    next_back: AtomicI64,
    next_front: AtomicI64,
    removals: AtomicU64,
    census: Arc<Census>,
    lock_in_section: bool,
}

impl ListTorture {
    pub(super) fn new(ctx: &Arc<Ctx>) -> ListTorture {
        ListTorture {
            ctx: ctx.clone(),
            list: RcuList::new_in(&ctx.d),
            next_back: AtomicI64::new(0),
            next_front: AtomicI64::new(-1),
            removals: AtomicU64::new(0),
            census: Arc::default(),
            lock_in_section: std::env::var_os(NO_LOCK_IN_SECTION).is_none(),
        }
    }

    fn item(&self, id: i64) -> Item {
        Item {
            magic: AtomicU64::new(LIVE),
            id,
            removed: AtomicU64::new(0),
            census: self.census.born(),
        }
    }

    fn check_live(&self, it: &Item, when: &str) {
        let magic = it.magic.load(Ordering::Acquire);
        self.ctx.check(magic == LIVE, || {
            format!(
                "{when}: item {} was dropped under a reader ({magic:#x})",
                it.id
            )
        });
    }

    /// Removes the `n`th item inside a section and stamps it once unlinked.
    fn remove_nth(&self, n: u64) {
        let g = self.ctx.d.read_lock();
        let Some(target) = self.list.iter(&g).nth(n as usize) else {
            return;
        };
        if !self.list.remove_first(|x| std::ptr::eq(x, target)) {
            // Only the second writer (lock in section) removes items too.
            self.ctx.check(self.lock_in_section, || {
                format!(
                    "item {} vanished before its only writer removed it",
                    target.id
                )
            });
            return;
        }
        let stamp = self.removals.fetch_add(1, Ordering::SeqCst) + 1;
        target.removed.store(stamp, Ordering::SeqCst);
        drop(g);
    }
}

impl Torture for ListTorture {
    type ReaderState = ();

    /// One writer (ids are taken outside the list's lock), and with
    /// a second that only removes, outside any section (unless
    /// `NO_LOCK_IN_SECTION`).
    fn writers(&self) -> usize {
        1 + self.lock_in_section as usize
    }

    fn read(&self, r: &Rd<'_>, _: &mut ()) {
        let g = r.lock();
        let began = self.removals.load(Ordering::SeqCst);
        let mut prev = i64::MIN;
        let mut held = Vec::new();
        for it in self.list.iter(&g) {
            self.check_live(it, "walk");
            self.ctx.check(it.id > prev, || {
                format!("walk out of order: {} after {prev}", it.id)
            });
            let rm = it.removed.load(Ordering::SeqCst);
            self.ctx.check(rm == 0 || rm > began, || {
                format!(
                    "walk reached item {} removed (#{rm}) before it began (#{began})",
                    it.id
                )
            });
            prev = it.id;
            if held.len() < 8 && r.rng.below(4) == 0 {
                held.push(it);
            }
        }
        let inner = r.nest();
        r.rng.spin();
        for it in held {
            self.check_live(it, "before leaving the section");
        }
        drop(inner);
        drop(g);
    }

    fn write(&self, w: usize, wr: &Wr<'_>) {
        let rng = wr.rng;
        let len = self.list.len() as u64;
        if w == 1 {
            // Removes outside any section (no stamp: it holds no reference).
            let id = {
                let g = self.ctx.d.read_lock();
                self.list
                    .iter(&g)
                    .nth(rng.below(len.max(1)) as usize)
                    .map(|x| x.id)
            };
            if let Some(id) = id {
                self.list.remove_first(|x| x.id == id);
            }
            return;
        }
        if len < 16 || (len < 128 && rng.below(2) == 0) {
            if rng.below(2) == 0 {
                let id = self.next_back.fetch_add(1, Ordering::Relaxed);
                self.list.push_back(self.item(id));
            } else {
                let id = self.next_front.fetch_sub(1, Ordering::Relaxed);
                self.list.push_front(self.item(id));
            }
        } else {
            self.remove_nth(rng.below(len));
        }
    }

    fn finish(self, ctx: &Ctx) {
        {
            let g = ctx.d.read_lock();
            let n = self.list.iter(&g).count();
            ctx.check(n == self.list.len(), || {
                format!("list len {} but {n} items walked", self.list.len())
            });
        }
        drop(self.list);
        ctx.d.rcu_barrier();
        self.census.check_all_dropped(ctx, "list items");
    }
}
