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

// Loom builds its arrays element by element (`from_fn`): the mapping
// helpers go unused there.
#![cfg_attr(loom, allow(dead_code))]

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Arrays at least this large are mapped from the kernel (Linux, outside
/// Miri and loom); smaller ones come from the allocator.
const MAP_AT: usize = 1 << 20;

/// Huge-page size on x86-64 and most arm64 kernels.
const HUGE: usize = 2 << 20;

/// Mapped arrays at least this large are faulted in by a background thread.
const PREFAULT_AT: usize = 8 << 20;

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

    /// `len` elements, each all-zero bytes.
    ///
    /// # Safety
    ///
    /// An all-zero `T` must be a valid `T`.
    #[cfg(not(loom))]
    pub(crate) unsafe fn new(len: usize) -> Self {
        let layout = Self::layout(len);
        assert!(
            layout.size() > 0,
            "ZeroedArray holds sized, non-empty arrays"
        );
        if let Some(start) = map_zeroed(layout.size()) {
            let mapping = std::sync::Arc::new(Mapping {
                start,
                size: layout.size(),
            });
            if layout.size() >= PREFAULT_AT {
                prefault_in_background(&mapping);
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
/// pages; `None` where that does not apply or the mapping failed (the
/// caller falls back to the allocator).
#[cfg(all(target_os = "linux", not(miri), not(loom)))]
fn map_zeroed(size: usize) -> Option<NonNull<u8>> {
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
    advise_huge_pages(p.cast(), size);
    NonNull::new(p.cast())
}

#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
fn map_zeroed(_size: usize) -> Option<NonNull<u8>> {
    None
}

/// Faults `m` in from a thread of its own, a huge page at a time, until it
/// is all in or its array is dropped. A hint only: if the thread cannot
/// start or the kernel predates `MADV_POPULATE_WRITE`, the writers fault
/// the pages in as before.
#[cfg(all(target_os = "linux", not(miri), not(loom)))]
fn prefault_in_background(m: &std::sync::Arc<Mapping>) {
    let m = std::sync::Arc::clone(m);
    let spawned = std::thread::Builder::new()
        .name("urcu-map-prefault".into())
        .spawn(move || {
            let mut done = 0;
            // Strong count 1: the array is gone, and we hold the last copy.
            while done < m.size && std::sync::Arc::strong_count(&m) > 1 {
                let len = HUGE.min(m.size - done);
                // SAFETY: the range lies inside the mapping, which `m`
                // keeps mapped. MADV_POPULATE_WRITE faults pages in as a
                // write would but never changes their contents, so it is
                // harmless to writers using the array meanwhile.
                let rc = unsafe {
                    libc::madvise(
                        m.start.as_ptr().add(done).cast(),
                        len,
                        libc::MADV_POPULATE_WRITE,
                    )
                };
                if rc != 0 {
                    return; // EINVAL before Linux 5.14; ENOMEM: no memory.
                }
                done += len;
            }
        });
    drop(spawned);
}

#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
fn prefault_in_background(_m: &std::sync::Arc<Mapping>) {}

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
        let begin = (start as usize).next_multiple_of(HUGE);
        let end = (start as usize + len) / HUGE * HUGE;
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
mod tests {
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
            let mut a = unsafe { ZeroedArray::<u64>::new(len) };
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
    fn kernel_populates() -> bool {
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
        let mut a = unsafe { ZeroedArray::<u64>::new(len) };
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

    /// Dropping a large array while it is being faulted in releases its
    /// mapping (unmapped) as soon as the prefaulter notices and stops.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn a_large_array_dropped_while_prefaulting_is_released() {
        for _ in 0..4 {
            // SAFETY: an all-zero u64 is 0.
            let a = unsafe { ZeroedArray::<u64>::new(PREFAULT_AT / 8 * 32) };
            let mapping = std::sync::Arc::downgrade(a.mapping.as_ref().expect("mapped"));
            drop(a);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while mapping.upgrade().is_some() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "a dropped array's mapping is still held after 20 s"
                );
                std::thread::sleep(std::time::Duration::from_millis(1));
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
        drop(unsafe { ZeroedArray::<Counted>::new(len) });
        assert_eq!(DROPS.load(Ordering::Relaxed), len);
    }
}
