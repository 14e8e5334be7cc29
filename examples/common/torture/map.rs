//! map: `RcuHashMap<u64, Val>` under readers that check every value they
//! hold and writers that own disjoint keys (a key's versions only grow).

use super::{mix, poison, Census, Ctx, Rd, Torture, Wr, LIVE};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use urcu::RcuHashMap;

pub(super) const KEYS: u64 = 2048;

pub(super) struct Val {
    magic: AtomicU64,
    key: u64,
    ver: u64,
    tag: u64,
    census: Arc<Census>,
}

impl Val {
    fn new(key: u64, ver: u64, census: &Arc<Census>) -> Val {
        Val {
            magic: AtomicU64::new(LIVE),
            key,
            ver,
            tag: mix(key, ver),
            census: census.born(),
        }
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        poison(&self.magic, &self.census);
    }
}

pub(super) struct MapTorture {
    ctx: Arc<Ctx>,
    pub(super) map: RcuHashMap<u64, Val>,
    /// Per writer index: the last version it gave one of its keys.
    versions: [AtomicU64; 2],
    census: Arc<Census>,
}

impl MapTorture {
    pub(super) fn new(ctx: &Arc<Ctx>) -> MapTorture {
        MapTorture {
            ctx: ctx.clone(),
            map: RcuHashMap::builder().domain(&ctx.d).build(),
            versions: [const { AtomicU64::new(0) }; 2],
            census: Arc::default(),
        }
    }

    /// A value found under `key`: live, its own key's, intact; `last`
    /// (the reader's newest version of that key) never goes back.
    pub(super) fn check_val(&self, key: u64, v: &Val, last: Option<&mut u64>, when: &str) {
        let magic = v.magic.load(Ordering::Acquire);
        self.ctx.check(magic == LIVE, || {
            format!("{when}: key {key}: value was dropped under a reader ({magic:#x})")
        });
        self.ctx
            .check(v.key == key && v.tag == mix(v.key, v.ver), || {
                format!(
                    "{when}: key {key} holds a value for key {} (ver {}, tag ok: {})",
                    v.key,
                    v.ver,
                    v.tag == mix(v.key, v.ver)
                )
            });
        if let Some(last) = last {
            self.ctx.check(v.ver >= *last, || {
                format!(
                    "{when}: key {key} went back from version {} to {}",
                    *last, v.ver
                )
            });
            *last = v.ver;
        }
    }

    fn next_ver(&self, w: usize) -> u64 {
        self.versions[w].fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl Torture for MapTorture {
    type ReaderState = Vec<u64>;

    fn writers(&self) -> usize {
        2
    }

    fn read(&self, r: &Rd<'_>, last: &mut Vec<u64>) {
        last.resize(KEYS as usize, 0);
        let g = r.lock();
        let inner = r.nest();
        let mut held = Vec::new();
        for _ in 0..4 {
            let k = r.rng.below(KEYS);
            if let Some(v) = self.map.get(&k, &g) {
                self.check_val(k, v, Some(&mut last[k as usize]), "get");
                held.push((k, v));
            }
        }
        if r.rng.below(64) == 0 {
            let p = self.map.pin();
            for (k, v) in p.iter().take(256) {
                self.check_val(*k, v, None, "iter");
            }
        }
        drop(inner);
        r.rng.spin();
        for (k, v) in held {
            self.check_val(k, v, None, "before leaving the section");
        }
        drop(g);
    }

    fn write(&self, w: usize, wr: &Wr<'_>) {
        let rng = wr.rng;
        // Writer `w` owns the keys `k % 2 == w`: a key's versions only grow.
        let k = rng.below(KEYS / 2) * 2 + w as u64;
        let p = self.map.pin();
        let c = &self.census;
        match rng.below(8) {
            0..=3 => {
                if let Some(old) = p.insert(k, Val::new(k, self.next_ver(w), c)) {
                    self.check_val(k, old, None, "insert's old value");
                }
            }
            4 | 5 => {
                if let Some(old) = p.remove(&k) {
                    self.check_val(k, old, None, "removed value");
                }
            }
            6 => {
                if let Some(new) = p.update(&k, |_| Val::new(k, self.next_ver(w), c)) {
                    self.check_val(k, new, None, "updated value");
                }
            }
            _ => {
                let v = p.get_or_insert_with(k, || Val::new(k, self.next_ver(w), c));
                self.check_val(k, v, None, "get_or_insert_with");
            }
        }
    }

    fn finish(self, ctx: &Ctx) {
        {
            let p = self.map.pin();
            let n = p
                .iter()
                .inspect(|(k, v)| self.check_val(**k, v, None, "final iteration"))
                .count();
            ctx.check(n == self.map.len(), || {
                format!("map len {} but {n} entries iterated", self.map.len())
            });
        }
        ctx.d.rcu_barrier();
        drop(self.map);
        ctx.d.rcu_barrier();
        self.census.check_all_dropped(ctx, "map values");
    }
}
