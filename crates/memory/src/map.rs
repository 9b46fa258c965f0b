//! CPU access to a buffer: an RAII shared mapping, and the dma-buf begin/end sync pair around it.

use crate::error::{MemError, SysOp};
use crate::sys::{self, fd_kind};
pub use central_gralloc::cache::CpuAccess;
use central_gralloc::cache::SyncFlags;
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

/// Whether a sync call did cache maintenance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    /// `DMA_BUF_IOCTL_SYNC` was issued.
    Synced,
    /// The buffer is a memfd, not a dma-buf: no device shares it, so there is nothing to sync and
    /// no ioctl was issued.
    NotDmaBuf,
}

/// Tells the kernel the CPU is about to access the dma-buf `fd` (`SYNC_START`).
pub fn begin_cpu_access(fd: BorrowedFd<'_>, access: CpuAccess) -> Result<(), MemError> {
    sys::dma_buf_sync(fd, SyncFlags::START | access.direction())
}

/// Tells the kernel the CPU is done with an access begun by [`begin_cpu_access`] (`SYNC_END`).
pub fn end_cpu_access(fd: BorrowedFd<'_>, access: CpuAccess) -> Result<(), MemError> {
    sys::dma_buf_sync(fd, SyncFlags::END | access.direction())
}

/// A shared mapping of a buffer fd, unmapped on drop.
///
/// The memory is shared with other processes and devices, so the mapping hands out no Rust
/// references into it: data moves in and out by copying ([`Mapping::read`], [`Mapping::write`]) or
/// through the raw pointer.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<c_void>,
    len: usize,
    writable: bool,
}

// SAFETY: the mapping is plain shared memory owned by this value; moving it to another thread
// moves the only handle that can unmap it.
unsafe impl Send for Mapping {}

// SAFETY: `&self` methods never hand out Rust references into the mapping: they copy bytes in and
// out, use atomics, or return the raw pointer. The memory is shared with other processes that
// write it at any time anyway, so threads of this process sharing one `Mapping` add no new kind of
// concurrent access; unmapping needs `self` by value (drop), which sharing cannot do.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `fd` (a sealed memfd or a dma-buf) for `access`.
    ///
    /// Refuses fds that are not buffers, and lengths beyond the fd's size: mapping past the end of
    /// a memfd would succeed and fault with SIGBUS on first touch.
    pub fn new(fd: BorrowedFd<'_>, len: u64, access: CpuAccess) -> Result<Mapping, MemError> {
        let size = fd_kind(fd)?.size();
        if len > size {
            return Err(MemError::OutOfRange {
                offset: 0,
                len,
                size,
            });
        }
        let length = usize::try_from(len)
            .ok()
            .and_then(NonZeroUsize::new)
            .ok_or(MemError::OutOfRange {
                offset: 0,
                len,
                size,
            })?;
        let mut prot = ProtFlags::empty();
        if access.reads() {
            prot |= ProtFlags::PROT_READ;
        }
        if access.writes() {
            prot |= ProtFlags::PROT_WRITE;
        }
        // SAFETY: a fresh shared mapping at an address the kernel picks cannot alias any Rust
        // object; `fd` is open for the call, and `length` lies within the file (checked above).
        let ptr = unsafe { mmap(None, length, prot, MapFlags::MAP_SHARED, fd, 0) }
            .map_err(|e| MemError::sys(SysOp::Map, e))?;
        Ok(Mapping {
            ptr,
            len: length.get(),
            writable: access.writes(),
        })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it maps nothing (never: zero-length mappings are refused).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first byte. Valid until the mapping drops; other processes may write it concurrently.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr().cast()
    }

    fn check(&self, offset: usize, len: usize) -> Result<(), MemError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(MemError::OutOfRange {
                offset: offset as u64,
                len: len as u64,
                size: self.len as u64,
            }),
        }
    }

    /// The 64-bit word at `offset` as an atomic shared with every process that maps the same
    /// memory (the metadata region's cache-domain state word). `offset` must be 8-byte aligned;
    /// an unaligned or out-of-bounds word is refused as out of range.
    pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64, MemError> {
        self.check(offset, 8)?;
        if offset % 8 != 0 {
            return Err(MemError::OutOfRange {
                offset: offset as u64,
                len: 8,
                size: self.len as u64,
            });
        }
        // Other processes touch the word only through atomic operations too, which is what makes
        // sharing it sound; the returned reference borrows `self`, so it cannot outlive the map.
        let word = self.as_ptr().wrapping_add(offset).cast::<AtomicU64>();
        // SAFETY: `offset` is a multiple of 8 inside the page-aligned mapping (checked above), so
        // `word` is valid and aligned for AtomicU64, which has the layout of u64.
        Ok(unsafe { &*word })
    }

    /// Copies `out.len()` bytes at `offset` out of the buffer.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), MemError> {
        self.check(offset, out.len())?;
        // SAFETY: the range lies inside the live mapping (checked) and `out` is a distinct
        // Rust-owned buffer, so the regions cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(self.as_ptr().add(offset), out.as_mut_ptr(), out.len())
        };
        Ok(())
    }

    /// Copies `data` into the buffer at `offset` (the mapping must be writable).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), MemError> {
        if !self.writable {
            return Err(MemError::sys(SysOp::Map, nix::errno::Errno::EACCES));
        }
        self.check(offset, data.len())?;
        // SAFETY: the range lies inside the live, writable mapping (checked) and `data` is a
        // distinct Rust-owned buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.as_ptr().add(offset), data.len())
        };
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, and no reference into the mapping
        // outlives `self` (none is ever handed out).
        // munmap of a valid mapping cannot fail; there is nothing useful to do if it did.
        let _ = unsafe { munmap(self.ptr, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn map_write_read_and_bounds() {
        let fd = sys::sealed_memfd("map", 8192, true, true).unwrap();
        let map = Mapping::new(fd.as_fd(), 8192, CpuAccess::ReadWrite).unwrap();
        map.write(4000, b"hello").unwrap();
        let mut out = [0u8; 5];
        map.read(4000, &mut out).unwrap();
        assert_eq!(&out, b"hello");
        assert!(matches!(
            map.read(8190, &mut out),
            Err(MemError::OutOfRange { .. })
        ));
        assert!(matches!(
            map.write(usize::MAX, b"x"),
            Err(MemError::OutOfRange { .. })
        ));
        // A second mapping sees the first one's bytes: it is shared memory.
        let again = Mapping::new(fd.as_fd(), 4096 * 2, CpuAccess::Read).unwrap();
        again.read(4000, &mut out).unwrap();
        assert_eq!(&out, b"hello");
        assert!(again.write(0, b"x").is_err());
    }

    #[test]
    fn map_refuses_past_the_end_and_non_buffers() {
        let fd = sys::sealed_memfd("map", 4096, true, true).unwrap();
        assert!(matches!(
            Mapping::new(fd.as_fd(), 8192, CpuAccess::Read),
            Err(MemError::OutOfRange { .. })
        ));
        assert!(matches!(
            Mapping::new(fd.as_fd(), 0, CpuAccess::Read),
            Err(MemError::OutOfRange { .. })
        ));
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert!(matches!(
            Mapping::new(r.as_fd(), 4096, CpuAccess::Read),
            Err(MemError::WrongFdKind(_))
        ));
        let null = std::fs::File::open("/dev/null").unwrap();
        assert!(matches!(
            Mapping::new(null.as_fd(), 4096, CpuAccess::Read),
            Err(MemError::WrongFdKind(_))
        ));
    }

    #[test]
    fn sync_pair_refuses_non_dma_bufs() {
        let fd = sys::sealed_memfd("sync", 4096, true, true).unwrap();
        assert!(matches!(
            begin_cpu_access(fd.as_fd(), CpuAccess::Read),
            Err(MemError::NotDmaBuf)
        ));
        assert!(matches!(
            end_cpu_access(fd.as_fd(), CpuAccess::Read),
            Err(MemError::NotDmaBuf)
        ));
    }
}
