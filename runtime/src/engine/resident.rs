//! Giving back the pages of an instance's linear memory that it never wrote.
//!
//! wasmi creates linear memory by writing zeros into every byte of it, so a
//! fresh instance is resident in full: a Rust actor's 1 MiB stack and the
//! rest of its initial memory cost a megabyte of RAM per instance before it
//! did anything. After instantiation most of those pages still hold only
//! zeros. Telling the kernel it may drop them (`MADV_DONTNEED`) changes
//! nothing the guest can see, since a dropped page of private anonymous
//! memory reads back as zeros, and returns them until the guest writes
//! there. On a board with 512 MiB that is the difference between a few
//! actors and dozens.

/// The size of a memory page.
fn page_size() -> usize {
    // SAFETY: sysconf only reads a configuration value.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).ok().filter(|s| s.is_power_of_two()).unwrap_or(4096)
}

fn all_zero(bytes: &[u8]) -> bool {
    // SAFETY: reading u64s from a u8 slice, at the alignment align_to picks.
    let (head, words, tail) = unsafe { bytes.align_to::<u64>() };
    head.iter().all(|b| *b == 0) && words.iter().all(|w| *w == 0) && tail.iter().all(|b| *b == 0)
}

/// Lets the kernel drop every whole page of `memory` that holds only zeros;
/// returns the bytes given back. `memory` must be private anonymous memory
/// (what the allocator hands out), as an instance's linear memory is.
pub(crate) fn release_zero_pages(memory: &mut [u8]) -> usize {
    let page = page_size();
    let base = memory.as_mut_ptr() as usize;
    let first = base.next_multiple_of(page) - base;
    let mut released = 0;
    let mut run: Option<usize> = None;
    let mut offset = first;
    let mut flush = |run: &mut Option<usize>, end: usize, memory: &mut [u8]| {
        if let Some(start) = run.take() {
            let len = end - start;
            // SAFETY: `start..end` is a page-aligned range of whole pages
            // inside `memory`, which this function borrows exclusively; the
            // pages hold only zeros, and dropped pages of private anonymous
            // memory read back as zeros, so the guest sees no change.
            let rc = unsafe { libc::madvise(memory.as_mut_ptr().add(start).cast(), len, libc::MADV_DONTNEED) };
            if rc == 0 {
                released += len;
            }
        }
    };
    while offset + page <= memory.len() {
        if all_zero(&memory[offset..offset + page]) {
            run.get_or_insert(offset);
        } else {
            flush(&mut run, offset, memory);
        }
        offset += page;
    }
    flush(&mut run, offset, memory);
    released
}

/// Hands the heap's free memory back to the kernel, after an instance left
/// a pool: glibc keeps freed memory for reuse, so without this the RSS of
/// a pool that shrank stays at its peak. Elsewhere a no-op.
pub(crate) fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the kernel; it
    // touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_pages_are_given_back_and_read_as_zeros_while_written_ones_keep_their_bytes() {
        let page = page_size();
        let mut memory = vec![0u8; 64 * page];
        memory[5 * page + 7] = 42;
        memory[40 * page] = 1;
        let released = release_zero_pages(&mut memory);
        assert!(released >= 60 * page && released <= 62 * page, "{released}");
        assert_eq!(memory[5 * page + 7], 42);
        assert_eq!(memory[40 * page], 1);
        assert!(memory.iter().enumerate().all(|(i, b)| *b == 0 || i == 5 * page + 7 || i == 40 * page));
        memory[10 * page] = 9; // a dropped page can be written again
        assert_eq!(memory[10 * page], 9);
    }
}
