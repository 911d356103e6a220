//! `HugeAllocator`: the process's global allocator. It forwards to the system
//! allocator, except that allocations of 1 GiB or more are served by lazily
//! backed anonymous mappings (`MAP_NORESERVE`).
//!
//! Why: request decoding pre-sizes collections from length prefixes read off
//! the wire, so a hostile frame claiming two billion array entries asks for a
//! huge buffer up front; the system allocator would fail and the process
//! would abort. A lazy mapping succeeds, only the pages actually written are
//! ever backed, and the decoder then fails cleanly on the short frame, closing
//! just that connection. It must never change the behaviour of ordinary
//! allocations.

use std::alloc::{GlobalAlloc, Layout, System};

const HUGE: usize = 1 << 30;

pub struct HugeAllocator;

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

// SAFETY: every allocation is either the system allocator's own or a fresh
// private anonymous mapping of at least `layout.size()` bytes, aligned to a
// page (alignments above a page are sent to the system allocator), and each
// is released the way it was obtained, decided by the same size test.
unsafe impl GlobalAlloc for HugeAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() < HUGE || layout.align() > page_size() {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.alloc(layout) };
        }
        // SAFETY: anonymous private mapping, no file descriptor involved.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                layout.size(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            ptr.cast()
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() < HUGE || layout.align() > page_size() {
            // SAFETY: `ptr` came from System.alloc with this layout.
            unsafe { System.dealloc(ptr, layout) };
        } else {
            // SAFETY: `ptr` is the start of a mapping of `layout.size()` bytes.
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let small = |size: usize| size < HUGE || layout.align() > page_size();
        if small(layout.size()) && small(new_size) {
            // SAFETY: both sides belong to the system allocator.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // Crossing the threshold (or resizing a mapping): allocate, copy, free.
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: GlobalAlloc contract, as for alloc/dealloc above.
        unsafe {
            let fresh = self.alloc(new_layout);
            if !fresh.is_null() {
                std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            fresh
        }
    }
}

/// Has glibc serve buffers below 32 MiB (fetch read windows, produce frames)
/// from its heaps and keep up to 128 MiB of freed heap memory, instead of
/// mapping and unmapping each large buffer: a fresh mapping costs a page
/// fault and a kernel zero-fill for every 4 KiB it touches, which was a
/// quarter of the broker's CPU time while serving fetches.
pub fn keep_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes thresholds; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_reservations_are_lazy_and_usable() {
        let layout = Layout::from_size_align(64 << 30, 8).unwrap();
        let a = HugeAllocator;
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            *p = 7;
            *p.add((64 << 30) - 1) = 9;
            assert_eq!(*p, 7);
            let q = a.realloc(p, layout, 128);
            assert_eq!(*q, 7);
            a.dealloc(q, Layout::from_size_align(128, 8).unwrap());
            let small = Layout::from_size_align(100, 8).unwrap();
            let s = a.alloc(small);
            let s = a.realloc(s, small, 2 << 30);
            assert!(!s.is_null());
            a.dealloc(s, Layout::from_size_align(2 << 30, 8).unwrap());
        }
        // A vector sized from a hostile length prefix does not abort.
        let v: Vec<[u8; 80]> = Vec::with_capacity(i32::MAX as usize);
        assert!(v.capacity() >= i32::MAX as usize);
    }
}
