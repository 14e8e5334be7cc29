//! Zero-filled arrays that cost nothing to start: the map's bucket arrays.
//!
//! The writer that starts a resize allocates the next table inside its
//! operation (and inside its read-side section). Writing a 32 MiB array
//! there took 26 ms on a 2-core VM; `calloc` was no better, since glibc
//! serves such sizes from its heap once it has freed a few (its mmap
//! threshold grows) and then clears them itself. So large arrays are
//! mapped straight from the kernel: fresh pages are already zero, and each
//! is faulted in when migration first writes it, spread over the writes
//! that share the resize.

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

/// A boxed slice whose elements started as all-zero bytes.
pub(crate) struct ZeroedArray<T> {
    start: NonNull<T>,
    len: usize,
    /// Mapped with `mmap` (freed with `munmap`), not by the allocator.
    mapped: bool,
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
            return ZeroedArray {
                start: start.cast(),
                len,
                mapped: true,
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
            mapped: false,
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
            mapped: false,
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
        let layout = Self::layout(self.len);
        if self.mapped {
            unmap(self.start.as_ptr().cast(), layout.size());
        } else {
            // SAFETY: allocated by the global allocator with this layout
            // (`alloc_zeroed`, or `alloc` under loom).
            unsafe { std::alloc::dealloc(self.start.as_ptr().cast(), layout) };
        }
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

#[cfg(all(target_os = "linux", not(miri), not(loom)))]
fn unmap(start: *mut u8, size: usize) {
    // SAFETY: exactly the range `map_zeroed` mapped, unmapped once; nothing
    // refers into it any more (its elements were dropped).
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
