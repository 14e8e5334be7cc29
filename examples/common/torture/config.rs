//! config: `ConfigCell<Cfg>`, every field derived from the version, read
//! through `read()`, `load()` and a `CachedReader`.

use super::{mix, poison, Census, Ctx, Rd, Torture, Wr, LIVE, NO_LOCK_IN_SECTION};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use urcu::ConfigCell;

struct Cfg {
    magic: AtomicU64,
    version: u64,
    fields: [u64; 6],
    census: Arc<Census>,
}

impl Cfg {
    fn new(version: u64, census: &Arc<Census>) -> Cfg {
        Cfg {
            magic: AtomicU64::new(LIVE),
            version,
            fields: std::array::from_fn(|i| mix(version, i as u64)),
            census: census.born(),
        }
    }
}

impl Drop for Cfg {
    fn drop(&mut self) {
        poison(&self.magic, &self.census);
    }
}

pub(super) struct ConfigTorture {
    ctx: Arc<Ctx>,
    cell: ConfigCell<Cfg>,
    census: Arc<Census>,
    /// Writer 1 uses `compare_and_set` (which takes the writer lock inside
    /// the caller's section) while writer 0 uses `update`.
    lock_in_section: bool,
}

impl ConfigTorture {
    pub(super) fn new(ctx: &Arc<Ctx>) -> ConfigTorture {
        let census = Arc::default();
        ConfigTorture {
            ctx: ctx.clone(),
            cell: ConfigCell::new_in(Cfg::new(0, &census), &ctx.d),
            census,
            lock_in_section: std::env::var_os(NO_LOCK_IN_SECTION).is_none(),
        }
    }

    /// A read: whole, live, at least version `floor`, not older than the
    /// reader's previous read.
    fn check(&self, c: &Cfg, floor: u64, last: &mut u64, how: &str) {
        let magic = c.magic.load(Ordering::Acquire);
        let whole = c
            .fields
            .iter()
            .enumerate()
            .all(|(i, &f)| f == mix(c.version, i as u64));
        self.ctx.check(magic == LIVE && whole, || {
            format!(
                "{how}: config {} torn or freed (magic {magic:#x}, whole: {whole})",
                c.version
            )
        });
        self.ctx
            .check(c.version >= floor && c.version >= *last, || {
                format!(
                    "{how}: read version {} after version() said {floor}, last read {}",
                    c.version, *last
                )
            });
        *last = c.version;
    }

    fn read_cached(&self, r: &Rd<'_>, last: &mut u64) {
        let mut cr = match r.h {
            Some(h) => self.cell.reader_in(h.read_lock()),
            None => self.cell.reader(),
        };
        for _ in 0..16 {
            let floor = self.cell.version();
            let c = cr.load();
            self.check(c, floor, last, "CachedReader::load");
        }
    }
}

impl Torture for ConfigTorture {
    type ReaderState = u64;

    fn writers(&self) -> usize {
        2
    }

    fn read(&self, r: &Rd<'_>, last: &mut u64) {
        match r.rng.below(8) {
            0 => self.read_cached(r, last),
            1..=3 => {
                let floor = self.cell.version();
                let c = self.cell.read();
                self.check(&c, floor, last, "read()");
                r.rng.spin();
                self.check(&c, floor, last, "read(), later");
            }
            _ => {
                let g = r.lock();
                let floor = self.cell.version();
                let c = self.cell.load(&g);
                self.check(c, floor, last, "load()");
                let inner = r.nest();
                r.rng.spin();
                drop(inner);
                self.check(c, floor, last, "load(), before leaving the section");
            }
        }
    }

    fn write(&self, w: usize, _: &Wr<'_>) {
        if w == 0 || !self.lock_in_section {
            self.cell
                .update(|old| Cfg::new(old.version + 1, &self.census));
            return;
        }
        let g = self.ctx.d.read_lock();
        let cur = self.cell.load(&g);
        // Another writer may win the race: then `next` comes back.
        let _lost = self
            .cell
            .compare_and_set(cur, Cfg::new(cur.version + 1, &self.census));
    }

    fn finish(self, ctx: &Ctx) {
        let (v, read) = (self.cell.version(), self.cell.read().version);
        ctx.check(v == read, || {
            format!("version() is {v} but the config read is version {read}")
        });
        drop(self.cell);
        ctx.d.rcu_barrier();
        self.census.check_all_dropped(ctx, "configs");
    }
}
