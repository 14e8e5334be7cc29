//! A single-threaded prototype that compares two bucket layouts for the
//! inline (`u64` pairs) map under the Exchange access pattern of bustle
//! (10 % reads and 10 % updates of LCG-chosen keys, mostly absent; 40 %
//! inserts of fresh keys; 40 % removals of the oldest key), to decide
//! whether replacing overflow chains by open addressing over lines is
//! worth a redesign. Not part of the build; run with
//!
//! ```text
//! rustc -C opt-level=3 docs/bench/layout_prototype.rs -o /tmp/layout_prototype
//! /tmp/layout_prototype 21 3      # log2 of the capacity, rounds
//! ```
//!
//! Both layouts keep what costs the real map: a locked compare-exchange on
//! the home line's meta word per write, a release store to unlock, tags in
//! the meta word, 64-byte lines. Neither has grace periods or a reclaimer:
//! removed slots are free at once in both.
//!
//! - `chained`: what the map does now. A line holds three pairs, the meta
//!   word (three tags, a 16-bit filter of the overflow lines' tags, lock)
//!   and a link to an overflow line allocated on the heap (64-byte
//!   aligned); an overflow line is freed when it empties. Buckets: one per
//!   two entries (the map doubles at 67 % of its slots).
//! - `probing`: lines in one array, three pairs each, no link; an entry
//!   that finds its home line full goes to the next line with room, and
//!   every line it passes counts one more displaced entry (F14's overflow
//!   counts). A lookup stops at the first line whose count is zero.
//!   Lines: one per 2.4 entries (80 % of the slots).

use std::alloc::{alloc_zeroed, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const SLOTS: usize = 3;
const LOCK: u64 = 1 << 63;

fn hash(k: u64) -> u64 {
    let x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29) ^ k.rotate_left(17).wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

fn tag_of(h: u64) -> u64 {
    (h >> 57) | 0x80
}

fn tag_at(meta: u64, i: usize) -> u64 {
    (meta >> (8 * i)) & 0xFF
}

fn with_tag(meta: u64, i: usize, tag: u64) -> u64 {
    (meta & !(0xFF << (8 * i))) | (tag << (8 * i))
}

#[repr(C, align(64))]
struct Line {
    meta: AtomicU64,
    pairs: [(u64, u64); SLOTS],
    /// `chained`: the overflow link; `probing`: the displaced count.
    extra: u64,
}

fn lines(n: usize) -> *mut Line {
    // SAFETY: non-zero size; all-zero lines are empty.
    unsafe { alloc_zeroed(Layout::array::<Line>(n).unwrap()).cast() }
}

fn lock(l: &Line) -> u64 {
    loop {
        let m = l.meta.load(Ordering::Relaxed);
        if m & LOCK == 0
            && l.meta
                .compare_exchange_weak(m, m | LOCK, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return m;
        }
    }
}

fn unlock(l: &Line, meta: u64) {
    l.meta.store(meta & !LOCK, Ordering::Release);
}

trait Map {
    fn name(&self) -> &'static str;
    fn get(&self, k: u64) -> bool;
    fn insert(&mut self, k: u64, v: u64);
    fn remove(&mut self, k: u64) -> bool;
    fn update(&mut self, k: u64) -> bool;
    fn bytes(&self) -> usize;
}

// ---------------------------------------------------------------- chained

struct Chained {
    heads: *mut Line,
    n: usize,
    overflow_lines: Cell<usize>,
}

/// Line index of `h` among `n` (from the low half: the tag is the top).
fn index(h: u64, n: usize) -> usize {
    ((h & 0xFFFF_FFFF) * n as u64 >> 32) as usize
}

const FILTER_SHIFT: u32 = 24;

fn filter_bit(tag: u64) -> u64 {
    1 << (FILTER_SHIFT + (tag as u32 & 15))
}

impl Chained {
    fn new(n: usize) -> Self {
        Chained {
            heads: lines(n),
            n,
            overflow_lines: Cell::new(0),
        }
    }
    fn head(&self, h: u64) -> &Line {
        // SAFETY: an index below `n`.
        unsafe { &*self.heads.add(index(h, self.n)) }
    }
    fn find(&self, h: u64, k: u64) -> Option<(*const Line, usize)> {
        let tag = tag_of(h);
        let head = self.head(h);
        let hm = head.meta.load(Ordering::Acquire);
        let mut l: *const Line = head;
        let mut first = true;
        while !l.is_null() {
            // SAFETY: linked lines are live.
            let line = unsafe { &*l };
            let m = if first {
                hm
            } else {
                line.meta.load(Ordering::Acquire)
            };
            for i in 0..SLOTS {
                if tag_at(m, i) == tag && line.pairs[i].0 == k {
                    return Some((l, i));
                }
            }
            if first && hm & filter_bit(tag) == 0 {
                return None;
            }
            first = false;
            l = line.extra as *const Line;
        }
        None
    }
}

impl Map for Chained {
    fn name(&self) -> &'static str {
        "chained"
    }
    fn get(&self, k: u64) -> bool {
        self.find(hash(k), k).is_some()
    }
    fn insert(&mut self, k: u64, v: u64) {
        let h = hash(k);
        let tag = tag_of(h);
        let head = self.head(h);
        let mut hm = lock(head);
        let mut l: *mut Line = (head as *const Line).cast_mut();
        loop {
            // SAFETY: linked lines are live; we hold the lock.
            let line = unsafe { &mut *l };
            let is_head = std::ptr::eq(line, head);
            let m = if is_head {
                hm
            } else {
                line.meta.load(Ordering::Relaxed)
            };
            if let Some(i) = (0..SLOTS).find(|&i| tag_at(m, i) == 0) {
                line.pairs[i] = (k, v);
                if is_head {
                    hm = with_tag(hm, i, tag);
                } else {
                    hm |= filter_bit(tag);
                    line.meta.store(with_tag(m, i, tag), Ordering::Release);
                }
                break;
            }
            if line.extra == 0 {
                hm |= filter_bit(tag);
                let fresh = Box::into_raw(Box::new(Line {
                    meta: AtomicU64::new(tag),
                    pairs: [(k, v), (0, 0), (0, 0)],
                    extra: 0,
                }));
                self.overflow_lines.set(self.overflow_lines.get() + 1);
                line.extra = fresh as u64;
                break;
            }
            l = line.extra as *mut Line;
        }
        unlock(head, hm);
    }
    fn remove(&mut self, k: u64) -> bool {
        let h = hash(k);
        let head = self.head(h);
        let mut hm = lock(head);
        let found = self.find(h, k);
        let Some((l, i)) = found else {
            unlock(head, hm);
            return false;
        };
        if std::ptr::eq(l, head) {
            hm = with_tag(hm, i, 0);
        } else {
            // SAFETY: a linked line.
            let line = unsafe { &*l };
            let m = with_tag(line.meta.load(Ordering::Relaxed), i, 0);
            line.meta.store(m, Ordering::Release);
            // Recompute the filter; unlink the line if it emptied.
            let mut filter = 0;
            let mut prev: *mut Line = (head as *const Line).cast_mut();
            // SAFETY: linked lines are live; we hold the lock.
            unsafe {
                while (*prev).extra != 0 {
                    let cur = (*prev).extra as *mut Line;
                    let cm = (*cur).meta.load(Ordering::Relaxed);
                    if cm & 0xFF_FFFF == 0 {
                        (*prev).extra = (*cur).extra;
                        drop(Box::from_raw(cur));
                        self.overflow_lines.set(self.overflow_lines.get() - 1);
                        continue;
                    }
                    for j in 0..SLOTS {
                        if tag_at(cm, j) != 0 {
                            filter |= filter_bit(tag_at(cm, j));
                        }
                    }
                    prev = cur;
                }
            }
            hm = (hm & !(0xFFFF << FILTER_SHIFT)) | filter;
        }
        unlock(head, hm);
        true
    }
    fn update(&mut self, k: u64) -> bool {
        let h = hash(k);
        let head = self.head(h);
        let hm = lock(head);
        let r = match self.find(h, k) {
            // SAFETY: a linked line; we hold the lock.
            Some((l, i)) => unsafe {
                (*l.cast_mut()).pairs[i].1 += 1;
                true
            },
            None => false,
        };
        unlock(head, hm);
        r
    }
    fn bytes(&self) -> usize {
        (self.n + self.overflow_lines.get()) * 64
    }
}

// ---------------------------------------------------------------- probing

struct Probing {
    lines: *mut Line,
    n: usize,
}

impl Probing {
    fn new(n: usize) -> Self {
        Probing { lines: lines(n), n }
    }
    fn line(&self, i: usize) -> &Line {
        // SAFETY: an index below `n`.
        unsafe { &*self.lines.add(i % self.n) }
    }
    fn line_mut(&self, i: usize) -> &mut Line {
        // SAFETY: an index below `n`; single-threaded prototype.
        unsafe { &mut *self.lines.add(i % self.n) }
    }
    /// (line index, slot) of `k`.
    fn find(&self, h: u64, k: u64) -> Option<(usize, usize)> {
        let tag = tag_of(h);
        let mut i = index(h, self.n);
        loop {
            let line = self.line(i);
            let m = line.meta.load(Ordering::Acquire);
            for s in 0..SLOTS {
                if tag_at(m, s) == tag && line.pairs[s].0 == k {
                    return Some((i, s));
                }
            }
            if line.extra == 0 {
                return None;
            }
            i += 1;
        }
    }
}

impl Map for Probing {
    fn name(&self) -> &'static str {
        "probing"
    }
    fn get(&self, k: u64) -> bool {
        self.find(hash(k), k).is_some()
    }
    fn insert(&mut self, k: u64, v: u64) {
        let h = hash(k);
        let tag = tag_of(h);
        let at = index(h, self.n);
        let home = self.line(at);
        let hm = lock(home);
        let mut i = at;
        loop {
            let line = self.line_mut(i);
            let m = if i == at {
                hm
            } else {
                line.meta.load(Ordering::Relaxed)
            };
            if let Some(s) = (0..SLOTS).find(|&s| tag_at(m, s) == 0) {
                line.pairs[s] = (k, v);
                if i == at {
                    unlock(home, with_tag(hm, s, tag));
                } else {
                    line.meta.store(with_tag(m, s, tag), Ordering::Release);
                    unlock(home, hm);
                }
                return;
            }
            line.extra += 1;
            i += 1;
        }
    }
    fn remove(&mut self, k: u64) -> bool {
        let h = hash(k);
        let first = index(h, self.n);
        let home = self.line(first);
        let hm = lock(home);
        let Some((at, s)) = self.find(h, k) else {
            unlock(home, hm);
            return false;
        };
        let mut i = first;
        while i != at {
            self.line_mut(i).extra -= 1;
            i += 1;
        }
        if at == first {
            unlock(home, with_tag(hm, s, 0));
        } else {
            let line = self.line(at);
            let m = line.meta.load(Ordering::Relaxed);
            line.meta.store(with_tag(m, s, 0), Ordering::Release);
            unlock(home, hm);
        }
        true
    }
    fn update(&mut self, k: u64) -> bool {
        let h = hash(k);
        let home = self.line(index(h, self.n));
        let hm = lock(home);
        let r = match self.find(h, k) {
            Some((i, s)) => {
                self.line_mut(i).pairs[s].1 += 1;
                true
            }
            None => false,
        };
        unlock(home, hm);
        r
    }
    fn bytes(&self) -> usize {
        self.n * 64
    }
}

// --------------------------------------------------------------- workload

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// bustle's Exchange loop, one thread: returns ns per operation.
fn exchange(m: &mut dyn Map, cap: usize, ops: usize, seed: u64) -> f64 {
    let prefill = cap * 3 / 4;
    let nkeys = (cap + ops * 40 / 100 + prefill).next_power_of_two();
    let mut s = seed;
    let keys: Vec<u64> = (0..nkeys).map(|_| splitmix(&mut s)).collect();
    for &k in &keys[..prefill] {
        m.insert(k, k);
    }
    let (mut erase, mut insert, mut find) = (0usize, prefill, 0usize);
    let (a, c, fmask) = (nkeys / 2 + 1, nkeys / 4 - 1, nkeys - 1);
    let mix = [0u8, 1, 1, 1, 1, 2, 2, 2, 2, 3]; // read, insert, remove, update
    let mut hits = 0u64;
    let t = Instant::now();
    for i in 0..ops {
        match mix[i % 10] {
            0 => {
                hits += u64::from(m.get(keys[find]));
                find = (a * find + c) & fmask;
            }
            1 => {
                m.insert(keys[insert], 1);
                insert += 1;
            }
            2 => {
                assert!(m.remove(keys[erase]), "remove of a present key");
                erase += 1;
            }
            _ => {
                hits += u64::from(m.update(keys[find]));
                find = (a * find + c) & fmask;
            }
        }
    }
    let ns = t.elapsed().as_nanos() as f64 / ops as f64;
    std::hint::black_box(hits);
    ns
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let cap = 1usize << args.first().copied().unwrap_or(21);
    let rounds = args.get(1).copied().unwrap_or(3);
    let ops = 3 * cap;
    let entries = cap * 3 / 4;
    // Each layout at its growth point (chained: 2 entries per line, as the
    // map; probing: 80 % of the slots), and probing with chained's lines.
    let cases: [(&str, bool, usize); 3] = [
        ("chained at 2/line", false, entries / 2),
        ("probing at 80 %", true, entries * 10 / 24),
        ("probing at 2/line", true, entries / 2),
    ];
    for r in 0..rounds {
        for &(label, probing, n) in &cases {
            let mut m: Box<dyn Map> = if probing {
                Box::new(Probing::new(n))
            } else {
                Box::new(Chained::new(n))
            };
            let ns = exchange(&mut *m, cap, ops, 42 + r as u64);
            println!(
                "round {r} {label:18} {ns:6.1} ns/op  {:6.1} MiB of lines ({})",
                m.bytes() as f64 / (1 << 20) as f64,
                m.name()
            );
        }
    }
}
