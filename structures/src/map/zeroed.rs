//! Zero-filled arrays that cost nothing to start: the map's bucket arrays.
//!
//! The writer that starts a resize allocates the next table inside its
//! operation (and inside its read-side section), where clearing tens of
//! megabytes would stall it for milliseconds; `calloc` is no better, since
//! glibc serves such sizes from its heap once it has freed a few (its mmap
//! threshold grows) and then clears them itself. So large arrays are
//! mapped straight from the kernel: fresh pages are already zero, and each
//! is faulted in when migration first writes it, spread over the writes
//! that share the resize.
//!
//! Faulting a page in is the kernel zeroing it, a large share of a growing
//! table's cost (docs/map-design.md has the profile). So an array of [`PREFAULT_AT`] or more is also faulted in ahead by a
//! short-lived background thread (`madvise(MADV_POPULATE_WRITE)`, Linux
//! 5.14+), which never changes the memory's contents: where a core is
//! idle, the zeroing leaves the writers' path. The thread holds the
//! mapping (an `Arc`), so the array's memory stays mapped until it is
//! done, and it stops early once the array is dropped.
//!
//! A table made by a resize starts on 4 KiB pages
//! ([`Pages::SmallUntilCollapsed`]) and is collapsed into huge pages
//! (`MADV_COLLAPSE`, Linux 6.1+) by a background thread some time after
//! the resize that fills it has finished
//! ([`ZeroedArray::collapse_in_background`]). A growing table is faulted
//! in while writers wait on it, and a VM's host may back fresh huge pages
//! ten times slower than the guest hands out 4 KiB pages it already holds;
//! collapsing during the migration instead competes with it
//! (docs/map-design.md, "Grown tables on 4 KiB pages"). The table a map is
//! built with keeps huge pages from the start.

// Loom builds its arrays element by element (`from_fn`): the mapping
// helpers go unused there.
#![cfg_attr(loom, allow(dead_code))]

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::time::{Duration, Instant};

/// Arrays at least this large are mapped from the kernel (Linux, outside
/// Miri and loom); smaller ones come from the allocator.
const MAP_AT: usize = 1 << 20;

/// Huge-page size on x86-64 and most arm64 kernels.
const HUGE: usize = 2 << 20;

/// Mapped arrays at least this large are faulted in by a background thread.
const PREFAULT_AT: usize = 8 << 20;

/// How a mapped array's pages are backed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pages {
    /// Huge pages from the first fault: a table built with its capacity.
    Huge,
    /// 4 KiB pages until [`ZeroedArray::collapse_in_background`]: a table
    /// made by a resize, faulted in while the writers migrate into it.
    SmallUntilCollapsed,
}

/// A boxed slice whose elements started as all-zero bytes.
pub(crate) struct ZeroedArray<T> {
    start: NonNull<T>,
    len: usize,
    /// The kernel mapping behind the array, if it was mapped (`None`: from
    /// the allocator). Shared with a prefaulting thread while it runs.
    mapping: Option<std::sync::Arc<Mapping>>,
}

/// A private anonymous mapping, unmapped when the last holder drops it.
struct Mapping {
    start: NonNull<u8>,
    size: usize,
    /// How its pages were mapped.
    pages: Pages,
    /// What its background thread does or will do.
    pager: std::sync::Mutex<Pager>,
    /// Set when its array is about to be replaced: a collapse not yet
    /// done is then not worth its cost (see
    /// [`ZeroedArray::stop_collapsing`]).
    replaced: std::sync::atomic::AtomicBool,
}

/// The background work on a mapping. At most one thread works on it at a
/// time: a collapse asked for while the prefaulter runs is done by that
/// thread once it has faulted everything in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pager {
    /// No thread; huge pages already, or collapsed, or nothing to do.
    Done,
    /// On 4 KiB pages, no thread: a collapse may be asked for.
    Small,
    /// Faulting in; then, if `collapse_at` is set, collapsing into huge
    /// pages from that time on.
    Prefaulting { collapse_at: Option<Instant> },
    /// Collapsing into huge pages from time `at` on (waiting until then).
    Collapsing { at: Instant },
}

// SAFETY: a `Mapping` is an address range that only `Drop` acts on (the
// prefaulter passes it to `madvise`, which any thread may call).
unsafe impl Send for Mapping {}
// SAFETY: as above: `&Mapping` gives access to nothing but the range's
// address and size.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        unmap(self.start.as_ptr(), self.size);
    }
}

impl<T> ZeroedArray<T> {
    /// `len` elements, the array aligned to a cache line: its elements
    /// (a map's head lines) are 64 bytes but only 8-aligned as a type, so
    /// that lines allocated one at a time come from `malloc`'s fast path.
    fn layout(len: usize) -> std::alloc::Layout {
        std::alloc::Layout::array::<T>(len)
            .and_then(|l| l.align_to(64))
            .expect("array too large")
    }

    /// `len` elements, each all-zero bytes, on pages backed as `pages`
    /// says (where the array is mapped from the kernel at all).
    ///
    /// # Safety
    ///
    /// An all-zero `T` must be a valid `T`.
    #[cfg(not(loom))]
    pub(crate) unsafe fn new(len: usize, pages: Pages) -> Self {
        let layout = Self::layout(len);
        assert!(
            layout.size() > 0,
            "ZeroedArray holds sized, non-empty arrays"
        );
        if let Some(start) = map_zeroed(layout.size(), pages) {
            let pager = match pages {
                Pages::Huge => Pager::Done,
                Pages::SmallUntilCollapsed => Pager::Small,
            };
            let mapping = std::sync::Arc::new(Mapping {
                start,
                size: layout.size(),
                pages,
                pager: std::sync::Mutex::new(pager),
                replaced: std::sync::atomic::AtomicBool::new(false),
            });
            if layout.size() >= PREFAULT_AT {
                let mut pager = lock(&mapping.pager);
                start_pager(
                    &mapping,
                    &mut pager,
                    Pager::Prefaulting { collapse_at: None },
                );
            }
            return ZeroedArray {
                start: start.cast(),
                len,
                mapping: Some(mapping),
            };
        }
        // SAFETY: nonzero size (asserted above).
        let start = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(start) = NonNull::new(start) else {
            std::alloc::handle_alloc_error(layout)
        };
        advise_huge_pages(start.as_ptr(), layout.size());
        ZeroedArray {
            start: start.cast(),
            len,
            mapping: None,
        }
    }

    /// Loom's atomics are not plain integers: each element is built.
    #[cfg(loom)]
    pub(crate) fn from_fn(len: usize, mut make: impl FnMut() -> T) -> Self {
        let layout = Self::layout(len);
        assert!(
            layout.size() > 0,
            "ZeroedArray holds sized, non-empty arrays"
        );
        // SAFETY: nonzero size (asserted above).
        let start = unsafe { std::alloc::alloc(layout) }.cast::<T>();
        let Some(start) = NonNull::new(start) else {
            std::alloc::handle_alloc_error(layout)
        };
        for i in 0..len {
            // SAFETY: `i < len` elements fit in the allocation.
            unsafe { start.as_ptr().add(i).write(make()) };
        }
        ZeroedArray {
            start,
            len,
            mapping: None,
        }
    }
}

impl<T> ZeroedArray<T> {
    /// Has a background thread collapse a [`Pages::SmallUntilCollapsed`]
    /// array into huge pages once `after` has passed (and the array is
    /// faulted in, if that is still under way). It stops early once the
    /// array is dropped or [`stop_collapsing`](Self::stop_collapsing) is
    /// called. A hint only: where the array is not mapped, not on 4 KiB
    /// pages, already collapsing, or the kernel predates `MADV_COLLAPSE`,
    /// nothing changes.
    pub(crate) fn collapse_in_background(&self, after: Duration) {
        let Some(m) = &self.mapping else { return };
        if m.size < 2 * HUGE {
            return; // As in `advise_huge_pages`: too small to be worth it.
        }
        let at = Instant::now() + after;
        let mut pager = lock(&m.pager);
        match *pager {
            Pager::Small => start_pager(m, &mut pager, Pager::Collapsing { at }),
            Pager::Prefaulting { collapse_at: None } => {
                *pager = Pager::Prefaulting {
                    collapse_at: Some(at),
                };
            }
            Pager::Done | Pager::Prefaulting { .. } | Pager::Collapsing { .. } => {}
        }
    }

    /// Says the array is about to be replaced (its table is being
    /// resized): a collapse asked for and not yet done stops, or never
    /// starts. Collapsing competes with the migration out of the table for
    /// the CPU and the process's memory map, and would be thrown away.
    pub(crate) fn stop_collapsing(&self) {
        if let Some(m) = &self.mapping {
            // Relaxed: a hint; the pager reads it at its next step.
            m.replaced.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[cfg(all(test, target_os = "linux", not(miri), not(loom)))]
impl<T> ZeroedArray<T> {
    /// How the array's pages were mapped (`None`: not mapped).
    pub(crate) fn pages(&self) -> Option<Pages> {
        self.mapping.as_ref().map(|m| m.pages)
    }

    /// Bytes of the array on huge pages, and of the huge pages that fit
    /// in its mapping aligned (0 and 0 where it is not mapped).
    pub(crate) fn huge_page_bytes(&self) -> (usize, usize) {
        let Some(m) = &self.mapping else {
            return (0, 0);
        };
        let start = m.start.as_ptr() as usize;
        let aligned = huge_aligned(start, m.size).len();
        (tests::huge_bytes(start, m.size), aligned)
    }
}

impl<T> Deref for ZeroedArray<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialized elements at `start`, owned by us.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }
}

impl<T> DerefMut for ZeroedArray<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` is unique.
        unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), self.len) }
    }
}

impl<T> Drop for ZeroedArray<T> {
    fn drop(&mut self) {
        // SAFETY: the elements are initialized and dropped once, here.
        unsafe { std::ptr::drop_in_place(&mut **self as *mut [T]) };
        if self.mapping.take().is_none() {
            let layout = Self::layout(self.len);
            // SAFETY: allocated by the global allocator with this layout
            // (`alloc_zeroed`, or `alloc` under loom).
            unsafe { std::alloc::dealloc(self.start.as_ptr().cast(), layout) };
        }
        // A mapping is unmapped as its last holder drops it: here, or in
        // the prefaulting thread if that is still running.
    }
}

// SAFETY: a `ZeroedArray<T>` owns its elements like a `Box<[T]>` does.
unsafe impl<T: Send> Send for ZeroedArray<T> {}
// SAFETY: as above; `&ZeroedArray<T>` only gives out `&[T]`.
unsafe impl<T: Sync> Sync for ZeroedArray<T> {}

/// Fresh zero pages from the kernel for a large array, advised to be huge
/// pages or (until collapsed) not to be, as `pages` says; `None` where that
/// does not apply or the mapping failed (the caller falls back to the
/// allocator).
#[cfg(all(target_os = "linux", not(miri), not(loom)))]
fn map_zeroed(size: usize, pages: Pages) -> Option<NonNull<u8>> {
    if size < MAP_AT {
        return None;
    }
    // SAFETY: a new private anonymous mapping; it overlaps nothing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    match pages {
        Pages::Huge => advise_huge_pages(p.cast(), size),
        // Where transparent huge pages are "always", a fault would map a
        // huge page anyway.
        // SAFETY: our own fresh mapping; MADV_NOHUGEPAGE changes only how
        // its pages are backed, never their contents or validity.
        Pages::SmallUntilCollapsed => unsafe {
            libc::madvise(p, size, libc::MADV_NOHUGEPAGE);
        },
    }
    NonNull::new(p.cast())
}

#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
fn map_zeroed(_size: usize, _pages: Pages) -> Option<NonNull<u8>> {
    None
}

/// Starts `m`'s background thread to do `work` (`Prefaulting` or
/// `Collapsing`); `pager` is `m`'s state, locked by the caller, so that
/// no other thread starts one meanwhile. If the thread cannot start, the
/// state stays as it was: the writers fault the pages in as they write,
/// and a 4 KiB array stays so.
#[cfg(all(target_os = "linux", not(miri), not(loom)))]
fn start_pager(m: &std::sync::Arc<Mapping>, pager: &mut Pager, work: Pager) {
    let mine = std::sync::Arc::clone(m);
    let spawned = std::thread::Builder::new()
        .name("urcu-map-pager".into())
        .spawn(move || run_pager(&mine));
    if spawned.is_ok() {
        // The thread reads its work once the caller unlocks.
        *pager = work;
    }
}

#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
fn start_pager(_m: &std::sync::Arc<Mapping>, _pager: &mut Pager, _work: Pager) {}

/// The mapping's pager state, whether or not a pager panicked holding it
/// (the state is a plain value, whole at every point).
fn lock(pager: &std::sync::Mutex<Pager>) -> std::sync::MutexGuard<'_, Pager> {
    pager.lock().unwrap_or_else(|e| e.into_inner())
}

/// The background thread: faults `m` in if asked, then collapses it if
/// asked (before or during the faulting), a huge page at a time, and
/// stops early once its array is dropped (the thread then holds the last
/// copy of `m`, and unmaps it). Hints only: where the kernel predates
/// `MADV_POPULATE_WRITE` (5.14) or `MADV_COLLAPSE` (6.1), or memory is
/// short, it stops and leaves the pages as they are.
#[cfg(all(target_os = "linux", not(miri), not(loom)))]
fn run_pager(m: &std::sync::Arc<Mapping>) {
    let alive = || std::sync::Arc::strong_count(m) > 1;
    let work = *lock(&m.pager);
    if let Pager::Prefaulting { .. } = work {
        let mut done = 0;
        while done < m.size && alive() {
            let len = HUGE.min(m.size - done);
            // SAFETY: the range lies inside the mapping, which `m` keeps
            // mapped. MADV_POPULATE_WRITE faults pages in as a write would
            // but never changes their contents, so it is harmless to
            // writers using the array meanwhile.
            let rc = unsafe {
                libc::madvise(
                    m.start.as_ptr().add(done).cast(),
                    len,
                    libc::MADV_POPULATE_WRITE,
                )
            };
            if rc != 0 {
                break; // EINVAL before Linux 5.14; ENOMEM: no memory.
            }
            done += len;
        }
        let mut pager = lock(&m.pager);
        match *pager {
            Pager::Prefaulting {
                collapse_at: Some(at),
            } => *pager = Pager::Collapsing { at },
            Pager::Prefaulting { collapse_at: None } => {
                // A huge-page array is done; a 4 KiB one waits for its
                // collapse to be asked for (a new thread then).
                *pager = match m.pages {
                    Pages::Huge => Pager::Done,
                    Pages::SmallUntilCollapsed => Pager::Small,
                };
                return;
            }
            _ => unreachable!("only the pager leaves Prefaulting"),
        }
    }
    let Pager::Collapsing { at } = *lock(&m.pager) else {
        unreachable!("a pager prefaults or collapses")
    };
    let wanted = || alive() && !m.replaced.load(std::sync::atomic::Ordering::Relaxed);
    collapse(m, at, wanted);
    *lock(&m.pager) = Pager::Done;
}

/// Collapses the 2 MiB-aligned part of `m` into huge pages from time `at`
/// on, while `wanted`.
#[cfg(all(target_os = "linux", not(miri), not(loom)))]
fn collapse(m: &Mapping, at: Instant, wanted: impl Fn() -> bool) {
    /// `MADV_COLLAPSE` (Linux 6.1), which the libc crate does not name.
    const MADV_COLLAPSE: libc::c_int = 25;
    loop {
        let now = Instant::now();
        if !wanted() {
            return;
        }
        if now >= at {
            break;
        }
        std::thread::sleep((at - now).min(Duration::from_millis(10)));
    }
    let std::ops::Range { start: begin, end } = huge_aligned(m.start.as_ptr() as usize, m.size);
    if end <= begin {
        return;
    }
    // SAFETY: a range inside the mapping, which the caller's `Arc` keeps
    // mapped; MADV_HUGEPAGE lifts the MADV_NOHUGEPAGE it was mapped with
    // (MADV_COLLAPSE refuses such ranges) and changes only how its pages
    // are backed.
    unsafe { libc::madvise(begin as *mut libc::c_void, end - begin, libc::MADV_HUGEPAGE) };
    let mut at = begin;
    while at < end && wanted() {
        // SAFETY: as above. MADV_COLLAPSE copies the 4 KiB pages of one
        // huge page's range into a huge page and maps it in their place,
        // contents unchanged; writers touching the range meanwhile wait
        // in the page-fault path until it is mapped, so no write is lost.
        let rc = unsafe { libc::madvise(at as *mut libc::c_void, HUGE, MADV_COLLAPSE) };
        if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN) {
            return; // EINVAL before Linux 6.1; ENOMEM: no huge page free.
        }
        at += HUGE;
    }
}

#[cfg(all(target_os = "linux", not(miri), not(loom)))]
fn unmap(start: *mut u8, size: usize) {
    // SAFETY: exactly the range `map_zeroed` mapped, unmapped once (by the
    // last holder of its `Mapping`); nothing refers into it any more (the
    // array's elements were dropped, and the prefaulter has stopped).
    let rc = unsafe { libc::munmap(start.cast(), size) };
    debug_assert_eq!(rc, 0, "munmap of a bucket array failed");
}

#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
fn unmap(_start: *mut u8, _size: usize) {
    unreachable!("arrays are mapped only on Linux");
}

/// The whole huge pages inside `[start, start + len)`, as addresses (empty
/// where none fits).
fn huge_aligned(start: usize, len: usize) -> std::ops::Range<usize> {
    let begin = start.next_multiple_of(HUGE);
    let end = (start + len) / HUGE * HUGE;
    begin..end.max(begin)
}

/// Asks Linux to back a large array with huge pages: a lookup in a table
/// of hundreds of megabytes otherwise pays a TLB miss (a page walk) on top
/// of its cache miss. A hint only: where transparent huge pages are off,
/// or elsewhere than Linux, nothing changes.
fn advise_huge_pages(start: *mut u8, len: usize) {
    if len < 2 * HUGE || cfg!(miri) || cfg!(loom) {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // madvise takes whole pages: the 2 MiB-aligned part of the range.
        let std::ops::Range { start: begin, end } = huge_aligned(start as usize, len);
        if end > begin {
            // SAFETY: the range lies inside our own fresh allocation;
            // MADV_HUGEPAGE changes only how its pages are backed, never
            // their contents or validity.
            unsafe { libc::madvise(begin as *mut libc::c_void, end - begin, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = start;
}

#[cfg(all(test, not(loom)))]
pub(super) mod tests {
    use super::*;

    #[test]
    fn small_and_large_arrays_start_zeroed_and_are_writable() {
        // Miri maps nothing (and is slow): small arrays only there.
        let lens: &[usize] = if cfg!(miri) {
            &[1, 1000]
        } else {
            &[1, 1000, (MAP_AT / 8) + 3, 3 * HUGE / 8]
        };
        for &len in lens {
            // SAFETY: an all-zero u64 is 0.
            let mut a = unsafe { ZeroedArray::<u64>::new(len, Pages::Huge) };
            assert_eq!(a.len(), len);
            assert!(a.iter().all(|&x| x == 0), "len {len}: not zeroed");
            a[0] = 9;
            a[len - 1] += 7;
            assert_eq!(a[len - 1], if len == 1 { 16 } else { 7 });
            assert_eq!(a[0], if len == 1 { 16 } else { 9 });
        }
    }

    /// Whether this kernel has `MADV_POPULATE_WRITE` (Linux 5.14+).
    #[cfg(all(target_os = "linux", not(miri)))]
    pub(in crate::map) fn kernel_populates() -> bool {
        // SAFETY: a fresh one-page mapping of our own, unmapped below.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            let ok = libc::madvise(p, 4096, libc::MADV_POPULATE_WRITE) == 0;
            libc::munmap(p, 4096);
            ok
        }
    }

    /// Pages of `a` the kernel has in memory.
    #[cfg(all(target_os = "linux", not(miri)))]
    fn resident_pages(a: &ZeroedArray<u64>) -> (usize, usize) {
        let m = a.mapping.as_ref().expect("a mapped array");
        let pages = m.size.div_ceil(4096);
        let mut v = vec![0u8; pages];
        // SAFETY: the mapping's range (page-aligned: mmap returned it) and
        // one status byte per page.
        let rc = unsafe { libc::mincore(m.start.as_ptr().cast(), m.size, v.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore");
        (v.iter().filter(|&&b| b & 1 != 0).count(), pages)
    }

    /// A large array is faulted in by the background thread without a
    /// single write of ours, and still reads as zeros and takes writes.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn a_large_array_is_faulted_in_ahead_of_its_writers() {
        if !kernel_populates() {
            eprintln!("skipped: this kernel has no MADV_POPULATE_WRITE");
            return;
        }
        let len = PREFAULT_AT / 8 * 2;
        // SAFETY: an all-zero u64 is 0.
        let mut a = unsafe { ZeroedArray::<u64>::new(len, Pages::Huge) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (resident, pages) = resident_pages(&a);
            if resident == pages {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{resident} of {pages} pages faulted in after 20 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(a.iter().all(|&x| x == 0));
        a[len / 2] = 3;
        assert_eq!(a.iter().sum::<u64>(), 3);
    }

    /// Bytes of `[start, start + size)` that the kernel backs with huge
    /// pages: `AnonHugePages` of the mappings (`/proc/self/smaps`) that
    /// overlap it, which all lie inside it (the array's own mapping,
    /// split where a part of it was advised).
    #[cfg(all(target_os = "linux", not(miri)))]
    pub(super) fn huge_bytes(start: usize, size: usize) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut inside = false;
        let mut bytes = 0;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((lo, hi)) = first.split_once('-') {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    inside = lo < start + size && start < hi;
                    continue;
                }
            }
            if let Some(kb) = line.strip_prefix("AnonHugePages:") {
                if inside {
                    let kb = kb.trim().trim_end_matches("kB").trim();
                    bytes += kb.parse::<usize>().expect("a size in kB") * 1024;
                }
            }
        }
        bytes
    }

    /// Whether this kernel collapses anonymous memory on request
    /// (`MADV_COLLAPSE`, Linux 6.1+, transparent huge pages not "never").
    #[cfg(all(target_os = "linux", not(miri)))]
    pub(in crate::map) fn kernel_collapses() -> bool {
        // SAFETY: a fresh mapping of our own, touched inside and unmapped
        // below; MADV_COLLAPSE keeps its contents.
        unsafe {
            let size = 2 * HUGE;
            let p = libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            let at = (p as usize).next_multiple_of(HUGE) as *mut libc::c_void;
            at.cast::<u8>().write(1);
            let ok = libc::madvise(at, HUGE, 25) == 0;
            libc::munmap(p, size);
            ok
        }
    }

    /// `a`'s mapping (start and size) and the bytes of the huge pages
    /// that fit in it aligned.
    #[cfg(all(target_os = "linux", not(miri)))]
    fn collapsible_bytes<T>(a: &ZeroedArray<T>) -> (usize, usize, usize) {
        let m = a.mapping.as_ref().expect("a mapped array");
        let (start, size) = (m.start.as_ptr() as usize, m.size);
        (start, size, huge_aligned(start, size).len())
    }

    /// A collapse stopped before its time never happens, and its thread
    /// ends.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn a_stopped_collapse_leaves_4k_pages() {
        if !kernel_populates() || !kernel_collapses() {
            eprintln!("skipped: this kernel has no MADV_POPULATE_WRITE or MADV_COLLAPSE");
            return;
        }
        // SAFETY: an all-zero u64 is 0.
        let a = unsafe { ZeroedArray::<u64>::new(PREFAULT_AT / 8 * 2, Pages::SmallUntilCollapsed) };
        a.collapse_in_background(Duration::from_millis(300));
        a.stop_collapsing();
        let deadline = Instant::now() + Duration::from_secs(20);
        while *lock(&a.mapping.as_ref().expect("mapped").pager) != Pager::Done {
            assert!(Instant::now() < deadline, "the pager still runs after 20 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        let (start, size, _) = collapsible_bytes(&a);
        assert_eq!(huge_bytes(start, size), 0, "collapsed after all");
    }

    /// Waits until `a`'s mapping has `want` bytes on huge pages.
    #[cfg(all(target_os = "linux", not(miri)))]
    fn wait_for_huge_bytes<T>(a: &ZeroedArray<T>, want: usize) {
        let (start, size, _) = collapsible_bytes(a);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let huge = huge_bytes(start, size);
            if huge == want {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{huge} of {want} bytes on huge pages after 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// A resized table's array starts on 4 KiB pages, whatever the
    /// system's huge-page default, and moves into huge pages when asked,
    /// in the background, without losing the writes made meanwhile.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn a_small_page_array_collapses_into_huge_pages_keeping_every_write() {
        use std::sync::atomic::{AtomicU64, Ordering};
        if !kernel_populates() || !kernel_collapses() {
            eprintln!("skipped: this kernel has no MADV_POPULATE_WRITE or MADV_COLLAPSE");
            return;
        }
        let len = PREFAULT_AT / 8 * 2;
        // SAFETY: an all-zero AtomicU64 is 0.
        let a = unsafe { ZeroedArray::<AtomicU64>::new(len, Pages::SmallUntilCollapsed) };
        let (start, size, aligned) = collapsible_bytes(&a);
        assert!(aligned >= 6 * HUGE, "a mapping of {size} bytes");
        for (i, x) in a.iter().enumerate() {
            x.store(i as u64, Ordering::Relaxed);
        }
        assert_eq!(huge_bytes(start, size), 0, "mapped on huge pages");
        let passes = 8;
        std::thread::scope(|s| {
            // Writes every element while the collapse runs.
            s.spawn(|| {
                for _ in 0..passes {
                    for x in a.iter() {
                        x.fetch_add(1 << 32, Ordering::Relaxed);
                    }
                }
            });
            a.collapse_in_background(Duration::ZERO);
            wait_for_huge_bytes(&a, aligned);
        });
        for (i, x) in a.iter().enumerate() {
            assert_eq!(
                x.load(Ordering::Relaxed),
                i as u64 + (passes << 32),
                "element {i}"
            );
        }
    }

    /// A collapse asked for while the array is still being faulted in is
    /// done by the prefaulting thread when it has finished.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn a_collapse_asked_for_while_prefaulting_follows_it() {
        if !kernel_populates() || !kernel_collapses() {
            eprintln!("skipped: this kernel has no MADV_POPULATE_WRITE or MADV_COLLAPSE");
            return;
        }
        // SAFETY: an all-zero u64 is 0.
        let mut a =
            unsafe { ZeroedArray::<u64>::new(PREFAULT_AT / 8 * 4, Pages::SmallUntilCollapsed) };
        a.collapse_in_background(Duration::ZERO);
        assert_ne!(
            *lock(&a.mapping.as_ref().expect("mapped").pager),
            Pager::Small,
            "the collapse was not taken up"
        );
        let (_, _, aligned) = collapsible_bytes(&a);
        wait_for_huge_bytes(&a, aligned);
        assert!(a.iter().all(|&x| x == 0));
        a[7] = 7;
        assert_eq!(a.iter().sum::<u64>(), 7);
    }

    /// Dropping a large array while its pager runs (faulting it in, or
    /// collapsing it) releases its mapping (unmapped) as soon as the
    /// pager notices and stops.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn a_large_array_dropped_while_paged_is_released() {
        for pages in [Pages::Huge, Pages::SmallUntilCollapsed].repeat(4) {
            // SAFETY: an all-zero u64 is 0.
            let a = unsafe { ZeroedArray::<u64>::new(PREFAULT_AT / 8 * 32, pages) };
            a.collapse_in_background(Duration::ZERO); // Huge pages: no-op.
            let mapping = std::sync::Arc::downgrade(a.mapping.as_ref().expect("mapped"));
            drop(a);
            let deadline = Instant::now() + Duration::from_secs(20);
            while mapping.upgrade().is_some() {
                assert!(
                    Instant::now() < deadline,
                    "a dropped {pages:?} array's mapping is still held after 20 s"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    #[test]
    fn drops_its_elements() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        #[allow(dead_code)]
        struct Counted(u64);
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::Relaxed);
            }
        }
        let len = if cfg!(miri) { 100 } else { MAP_AT / 8 + 1 }; // mapped, outside Miri
                                                                 // SAFETY: `Counted` is a plain u64 inside.
        drop(unsafe { ZeroedArray::<Counted>::new(len, Pages::Huge) });
        assert_eq!(DROPS.load(Ordering::Relaxed), len);
    }
}
