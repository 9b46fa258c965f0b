//! Foreign dma-bufs the probe hands to drivers: one page from a dma-heap (always physically
//! contiguous), and a deliberately fragmented udmabuf whose pages are checked in pagemap.

use crate::error::ProbeError;
use central_gralloc_memory::{sys as mem_sys, CpuAccess, DmaHeap, Heap, Mapping};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes in a page as the kernel maps them here.
pub const PAGE: u64 = 4096;

/// Most pages of a fragmented test buffer (a 4K NV12 frame is about 3000).
pub const MAX_PAGES: u64 = 1 << 16;

/// What is known about how a test buffer's pages lie in physical memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fragmentation {
    /// pagemap showed `breaks` places where the next page is not the physically next one.
    Verified {
        /// Discontinuities found.
        breaks: u64,
    },
    /// pagemap could not be read (or gave no page frame numbers): assumed, not seen.
    Unverified(String),
}

impl Fragmentation {
    /// For a comment: how sure the probe is.
    pub fn describe(&self) -> String {
        match self {
            Fragmentation::Verified { breaks } => {
                format!("pagemap: {breaks} of its page boundaries are physical discontinuities")
            }
            Fragmentation::Unverified(why) => format!("fragmentation assumed, not seen: {why}"),
        }
    }
}

/// A buffer of `pages` pages from the system dma-heap in `heap_dir`.
pub fn heap_buffer(heap_dir: &Path, pages: u64) -> Result<OwnedFd, ProbeError> {
    let heap = DmaHeap::open(heap_dir, "system").map_err(|e| {
        ProbeError::malformed(
            &heap_dir.join("system").display().to_string(),
            e.to_string(),
        )
    })?;
    heap.allocate(pages * PAGE, "gralloc-probe")
        .map_err(|e| ProbeError::malformed("dma-heap system", e.to_string()))
}

/// A udmabuf of at least `pages` pages (4 or more) whose even pages were faulted in before its
/// odd ones: frames the page allocator hands out one after the other, ascending or descending,
/// land two pages apart, so no page is followed by its physical successor. pagemap (readable by
/// root) confirms; a buffer that came out contiguous anyway is made again, twice at most.
pub fn fragmented_buffer(
    udmabuf: &Path,
    pages: u64,
) -> Result<(OwnedFd, Fragmentation), ProbeError> {
    let node = udmabuf.display().to_string();
    let pages = ProbeError::bounded(&node, "pages in a test buffer", pages, MAX_PAGES)?.max(4);
    for _ in 0..3 {
        let (buf, fragmentation) = interleaved_udmabuf(udmabuf, &node, pages)?;
        if fragmentation != (Fragmentation::Verified { breaks: 0 }) {
            return Ok((buf, fragmentation));
        }
    }
    Err(ProbeError::malformed(
        &node,
        "three test buffers came out physically contiguous",
    ))
}

fn interleaved_udmabuf(
    udmabuf: &Path,
    node: &str,
    pages: u64,
) -> Result<(OwnedFd, Fragmentation), ProbeError> {
    let node = node.to_string();
    let size = pages * PAGE;
    let device = crate::sys::open_node(udmabuf).map_err(|e| ProbeError::sys(&node, "open", e))?;
    let memfd = mem_sys::sealed_memfd("gralloc-probe-fragmented", size, true, false)
        .map_err(|e| ProbeError::sys(&node, "memfd", e))?;
    let file = std::fs::File::from(memfd);
    for page in (0..pages).step_by(2).chain((1..pages).step_by(2)) {
        file.write_at(&[0x5a], page * PAGE)
            .map_err(|e| ProbeError::malformed(&node, format!("memfd write: {e}")))?;
    }
    let fragmentation = pagemap_breaks(&file, size).map_or_else(Fragmentation::Unverified, |b| {
        Fragmentation::Verified { breaks: b }
    });
    let buf = mem_sys::udmabuf_create(device.as_fd(), file.as_fd(), size)
        .map_err(|e| ProbeError::sys(&node, "UDMABUF_CREATE", e))?;
    Ok((buf, fragmentation))
}

/// Counts the pages of `file` whose physical frame does not follow the previous page's.
fn pagemap_breaks(file: &std::fs::File, size: u64) -> Result<u64, String> {
    let map = Mapping::new(file.as_fd(), size, CpuAccess::Read).map_err(|e| e.to_string())?;
    let pages = size / PAGE;
    let mut byte = [0u8; 1];
    for page in 0..pages {
        // Touching the page through this mapping puts it in our page table, where pagemap looks;
        // black_box keeps the otherwise unused read from being optimised away.
        map.read((page * PAGE) as usize, &mut byte)
            .map_err(|e| e.to_string())?;
        std::hint::black_box(&byte);
    }
    let first = map.as_ptr() as u64 / PAGE;
    let mut pagemap = std::fs::File::open("/proc/self/pagemap")
        .map_err(|e| format!("/proc/self/pagemap: {e}"))?;
    let mut entries = vec![0u8; (pages * 8) as usize];
    use std::io::{Seek, SeekFrom};
    pagemap
        .seek(SeekFrom::Start(first * 8))
        .and_then(|_| pagemap.read_exact(&mut entries))
        .map_err(|e| format!("/proc/self/pagemap: {e}"))?;
    let frames: Vec<u64> = entries
        .chunks_exact(8)
        .map(|c| {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            u64::from_ne_bytes(word)
        })
        .map(|entry| {
            // Bit 63: present; bits 0..=54: the frame number (zero without CAP_SYS_ADMIN).
            if entry >> 63 == 1 {
                entry & ((1 << 55) - 1)
            } else {
                0
            }
        })
        .collect();
    count_breaks(&frames)
}

/// Discontinuities in a list of page frame numbers; an error when none is known.
pub fn count_breaks(frames: &[u64]) -> Result<u64, String> {
    if frames.iter().all(|&f| f == 0) {
        return Err("pagemap gives no frame numbers (not root?)".into());
    }
    Ok(frames
        .windows(2)
        .filter(|w| w[0] == 0 || w[1] != w[0] + 1)
        .count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_count_every_non_successor() {
        assert_eq!(count_breaks(&[10, 11, 12, 13]), Ok(0));
        assert_eq!(count_breaks(&[13, 12, 11, 10]), Ok(3));
        assert_eq!(count_breaks(&[10, 11, 40, 41]), Ok(1));
        assert!(count_breaks(&[0, 0, 0]).is_err());
    }
}
