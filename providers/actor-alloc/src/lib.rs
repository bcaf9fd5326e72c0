//! The allocator an actor built with host-edge's SDK runs on: small blocks
//! kept for reuse in front of the system allocator.
//!
//! An actor runs in an interpreter, where calling a large function costs
//! in proportion to its size and locals. A `malloc` and `free` through
//! Rust's wasm32 allocator (dlmalloc) cost about 2,000 fuel (interpreted
//! instructions) together, and an HTTP request through the SDK makes two
//! dozen of them: a third of the request (docs/benchmarks.md). Here a freed
//! block of up to 256 bytes goes on a free list for its size class (16,
//! 32, 64, 128, 256 bytes) and the next allocation of that class takes it
//! back in a few instructions; only a list that is empty, or full
//! ([`KEPT_PER_CLASS`] blocks, so at most 31 KiB sit unused), reaches the
//! system allocator.
//!
//! The lists are plain cells, with no lock: [`SizeClasses`] is `Sync` only
//! on wasm32 without the `atomics` feature, where a module has one thread
//! (waPC instances are never shared between threads). Elsewhere it can be
//! used, and is tested, through a reference, but not as a global allocator.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;

/// The size classes: 16 << i bytes for i in 0..CLASSES.
const CLASSES: usize = 5;

/// The largest size (and alignment) served from the lists.
pub const LARGEST: usize = 16 << (CLASSES - 1);

/// How many freed blocks each class keeps at most.
pub const KEPT_PER_CLASS: u32 = 64;

/// One class's free list: its first block and how many it holds. A free
/// block's first word points to the next one.
#[derive(Clone, Copy)]
struct FreeList {
    head: *mut u8,
    len: u32,
}

/// Small blocks kept for reuse in front of `inner`, which serves
/// everything else and every block the lists do not hold.
pub struct SizeClasses<A> {
    inner: A,
    lists: UnsafeCell<[FreeList; CLASSES]>,
}

// SAFETY: a wasm32 module without the atomics feature has one thread, so
// the lists are never reached from two threads at once.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for SizeClasses<A> {}

impl<A> SizeClasses<A> {
    /// Empty lists in front of `inner`.
    pub const fn new(inner: A) -> SizeClasses<A> {
        SizeClasses { inner, lists: UnsafeCell::new([FreeList { head: ptr::null_mut(), len: 0 }; CLASSES]) }
    }
}

/// The class serving `layout`, if a list does.
fn class(layout: Layout) -> Option<usize> {
    if layout.size() > LARGEST || layout.align() > 16 {
        return None;
    }
    let size = layout.size().max(16);
    // 16 -> 0, 17..=32 -> 1, ..., 129..=256 -> 4.
    Some((usize::BITS - (size - 1).leading_zeros()) as usize - 4)
}

/// The layout every block of class `class` has at the inner allocator.
fn block(class: usize) -> Layout {
    // 16 << class is at most LARGEST, a power of two, with alignment 16:
    // a valid layout.
    Layout::from_size_align(16 << class, 16).unwrap_or(Layout::new::<u8>())
}

// SAFETY: every block handed out is one the inner allocator made with the
// class's layout (or `layout` itself for the rest), is handed out once (it
// leaves its list before it is returned), and goes back to the inner
// allocator with the layout it was made with.
unsafe impl<A: GlobalAlloc> GlobalAlloc for SizeClasses<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class(layout) else {
            // SAFETY: the caller's layout, as the caller guarantees it.
            return unsafe { self.inner.alloc(layout) };
        };
        // SAFETY: one thread (see the `Sync` impl, or a `&self` used on
        // one thread), and no reference to the lists outlives this call.
        let list = unsafe { &mut (*self.lists.get())[class] };
        if list.head.is_null() {
            // SAFETY: a valid, non-zero-size layout.
            return unsafe { self.inner.alloc(block(class)) };
        }
        let taken = list.head;
        // SAFETY: `taken` is a free block of at least 16 bytes, aligned to
        // 16, whose first word holds the next free block (written by
        // `dealloc`).
        list.head = unsafe { taken.cast::<*mut u8>().read() };
        list.len -= 1;
        taken
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(class) = class(layout) else {
            // SAFETY: `ptr` came from the inner allocator with `layout`.
            return unsafe { self.inner.dealloc(ptr, layout) };
        };
        // SAFETY: as in `alloc`.
        let list = unsafe { &mut (*self.lists.get())[class] };
        if list.len >= KEPT_PER_CLASS {
            // SAFETY: blocks of this class are made with `block(class)`.
            return unsafe { self.inner.dealloc(ptr, block(class)) };
        }
        // SAFETY: `ptr` is a block of this class no longer in use: at
        // least 16 bytes, aligned to 16, so its first word can hold the
        // link.
        unsafe { ptr.cast::<*mut u8>().write(list.head) };
        list.head = ptr;
        list.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;
    use std::cell::Cell;

    /// The system allocator, counting what reaches it.
    #[derive(Default)]
    struct Counting {
        allocs: Cell<usize>,
        deallocs: Cell<usize>,
    }

    // SAFETY: forwards to the system allocator with the caller's layouts.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            self.allocs.set(self.allocs.get() + 1);
            // SAFETY: the caller's layout.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            self.deallocs.set(self.deallocs.get() + 1);
            // SAFETY: made by `alloc` above with `layout`.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn sizes_map_to_the_smallest_class_that_holds_them() {
        let classes: Vec<Option<usize>> = [1, 16, 17, 32, 33, 64, 65, 128, 129, 256, 257].map(|n| class(layout(n, 1))).to_vec();
        assert_eq!(classes, [Some(0), Some(0), Some(1), Some(1), Some(2), Some(2), Some(3), Some(3), Some(4), Some(4), None]);
        assert_eq!(class(layout(8, 32)), None, "over-aligned blocks go to the system allocator");
    }

    #[test]
    fn a_freed_small_block_is_the_next_one_of_its_class_handed_out() {
        let heap = SizeClasses::new(Counting::default());
        // SAFETY: each block is freed once, with the layout it was made with.
        unsafe {
            let first = heap.alloc(layout(24, 8));
            first.write_bytes(0xab, 24);
            heap.dealloc(first, layout(24, 8));
            let again = heap.alloc(layout(30, 4));
            assert_eq!(again, first, "the same 32-byte class");
            let other = heap.alloc(layout(24, 8));
            assert_ne!(other, first, "handed out once");
            heap.dealloc(again, layout(30, 4));
            heap.dealloc(other, layout(24, 8));
        }
        assert_eq!(heap.inner.allocs.get(), 2, "the reused block reached the system allocator once");
        assert_eq!(heap.inner.deallocs.get(), 0, "freed small blocks are kept");
    }

    #[test]
    fn each_class_keeps_a_bounded_number_of_blocks_and_gives_back_the_rest() {
        let heap = SizeClasses::new(Counting::default());
        let small = layout(100, 8);
        // SAFETY: each block is freed once, with the layout it was made with.
        unsafe {
            let blocks: Vec<*mut u8> = (0..100).map(|_| heap.alloc(small)).collect();
            for block in blocks {
                heap.dealloc(block, small);
            }
        }
        assert_eq!(heap.inner.allocs.get(), 100);
        assert_eq!(heap.inner.deallocs.get(), 100 - KEPT_PER_CLASS as usize);
    }

    #[test]
    fn large_and_over_aligned_blocks_go_straight_to_the_system_allocator() {
        let heap = SizeClasses::new(Counting::default());
        // SAFETY: each block is freed once, with the layout it was made with.
        unsafe {
            for layout in [layout(LARGEST + 1, 8), layout(64, 64)] {
                let block = heap.alloc(layout);
                assert!(!block.is_null() && (block as usize).is_multiple_of(layout.align()));
                heap.dealloc(block, layout);
            }
        }
        assert_eq!((heap.inner.allocs.get(), heap.inner.deallocs.get()), (2, 2));
    }

    #[test]
    fn blocks_from_the_lists_are_aligned_and_sized_for_their_class() {
        let heap = SizeClasses::new(System);
        // SAFETY: each block is freed once, with the layout it was made with.
        unsafe {
            for size in [1, 16, 31, 64, 200, 256] {
                let block = heap.alloc(layout(size, 16));
                assert!((block as usize).is_multiple_of(16));
                block.write_bytes(0x5a, size);
                heap.dealloc(block, layout(size, 16));
                let again = heap.alloc(layout(size, 16));
                again.write_bytes(0xa5, size);
                heap.dealloc(again, layout(size, 16));
            }
        }
    }
}
