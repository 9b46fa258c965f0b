//! Raw kernel interfaces the VM tests exercise: dma-heap, dma-buf, udmabuf, DRM PRIME and binder
//! ioctls.
//!
//! This is the only file of the crate with `unsafe`: each ioctl is declared with nix's macros and
//! wrapped in a safe function that owns the argument struct and any fd the kernel returns. The
//! numbers and layouts are the uapi ones (linux/dma-heap.h, linux/dma-buf.h, linux/udmabuf.h,
//! drm/drm.h, linux/android/binder.h); docs/architecture.md §7 says which behaviour of each the
//! project relies on.

use std::ffi::CString;
use std::fs::File;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

/// `struct dma_heap_allocation_data`.
#[repr(C)]
#[derive(Default)]
struct DmaHeapAllocationData {
    len: u64,
    fd: u32,
    fd_flags: u32,
    heap_flags: u64,
}

/// `struct dma_buf_sync`.
#[repr(C)]
struct DmaBufSync {
    flags: u64,
}

/// `struct udmabuf_create`.
#[repr(C)]
struct UdmabufCreate {
    memfd: u32,
    flags: u32,
    offset: u64,
    size: u64,
}

/// `struct drm_version`: the kernel fills the three version numbers and copies up to `*_len`
/// bytes of each string into the caller's buffers, setting `*_len` to the full length.
#[repr(C)]
struct DrmVersion {
    version_major: i32,
    version_minor: i32,
    version_patchlevel: i32,
    name_len: usize,
    name: *mut u8,
    date_len: usize,
    date: *mut u8,
    desc_len: usize,
    desc: *mut u8,
}

/// `struct drm_prime_handle`.
#[repr(C)]
#[derive(Default)]
struct DrmPrimeHandle {
    handle: u32,
    flags: u32,
    fd: i32,
}

/// `struct drm_gem_close`.
#[repr(C)]
#[derive(Default)]
struct DrmGemClose {
    handle: u32,
    pad: u32,
}

/// `struct binder_version`.
#[repr(C)]
#[derive(Default)]
struct BinderVersion {
    protocol_version: i32,
}

nix::ioctl_readwrite!(dma_heap_ioctl_alloc, b'H', 0, DmaHeapAllocationData);
nix::ioctl_write_ptr!(dma_buf_ioctl_sync, b'b', 0, DmaBufSync);
// DMA_BUF_SET_NAME_B is `_IOW('b', 1, u64)`, but its argument is the name string itself, so the
// request code is spelled out and the argument typed as a C string.
nix::ioctl_write_ptr_bad!(
    dma_buf_set_name_b,
    nix::request_code_write!(b'b', 1, std::mem::size_of::<u64>()),
    std::ffi::c_char
);
nix::ioctl_write_ptr!(udmabuf_ioctl_create, b'u', 0x42, UdmabufCreate);
nix::ioctl_readwrite!(drm_ioctl_version, b'd', 0x00, DrmVersion);
nix::ioctl_write_ptr!(drm_ioctl_gem_close, b'd', 0x09, DrmGemClose);
nix::ioctl_readwrite!(drm_ioctl_prime_fd_to_handle, b'd', 0x2e, DrmPrimeHandle);
nix::ioctl_readwrite!(binder_ioctl_version, b'b', 9, BinderVersion);

/// `DMA_BUF_SYNC_*` flags.
pub mod sync {
    /// CPU reads.
    pub const READ: u64 = 1;
    /// CPU writes.
    pub const WRITE: u64 = 2;
    /// CPU reads and writes.
    pub const RW: u64 = READ | WRITE;
    /// Begin CPU access.
    pub const START: u64 = 0;
    /// End CPU access.
    pub const END: u64 = 4;
}

/// Longest dma-buf name including the NUL (`DMA_BUF_NAME_LEN`).
pub const DMA_BUF_NAME_LEN: usize = 32;

/// `DMA_HEAP_IOCTL_ALLOC` with explicit flags; the new dma-buf fd is owned by the result.
pub fn dma_heap_alloc_raw(
    heap: BorrowedFd<'_>,
    len: u64,
    fd_flags: u32,
    heap_flags: u64,
) -> Result<OwnedFd, Errno> {
    let mut data = DmaHeapAllocationData {
        len,
        fd_flags,
        heap_flags,
        ..Default::default()
    };
    // SAFETY: `data` is a live, correctly laid out `dma_heap_allocation_data` for the whole call.
    unsafe { dma_heap_ioctl_alloc(heap.as_raw_fd(), &mut data) }?;
    let fd = i32::try_from(data.fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: on success the kernel installed `fd` in our table and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `DMA_HEAP_IOCTL_ALLOC` with the flags a gralloc uses (`O_RDWR | O_CLOEXEC`, no heap flags).
pub fn dma_heap_alloc(heap: BorrowedFd<'_>, len: u64) -> Result<OwnedFd, Errno> {
    dma_heap_alloc_raw(heap, len, default_fd_flags(), 0)
}

/// `O_RDWR | O_CLOEXEC` as the `fd_flags` field wants it.
pub fn default_fd_flags() -> u32 {
    (OFlag::O_RDWR | OFlag::O_CLOEXEC).bits() as u32
}

/// `DMA_BUF_IOCTL_SYNC`.
pub fn dma_buf_sync(buf: BorrowedFd<'_>, flags: u64) -> Result<(), Errno> {
    let arg = DmaBufSync { flags };
    // SAFETY: `arg` outlives the call and has the uapi layout.
    unsafe { dma_buf_ioctl_sync(buf.as_raw_fd(), &arg) }.map(drop)
}

/// `DMA_BUF_SET_NAME_B`.
pub fn dma_buf_set_name(buf: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call; the kernel only reads it.
    unsafe { dma_buf_set_name_b(buf.as_raw_fd(), name.as_ptr()) }.map(drop)
}

/// `UDMABUF_CREATE` over `size` bytes of `memfd` at `offset`; returns the new dma-buf fd.
pub fn udmabuf_create(
    udmabuf: BorrowedFd<'_>,
    memfd: BorrowedFd<'_>,
    offset: u64,
    size: u64,
) -> Result<OwnedFd, Errno> {
    let arg = UdmabufCreate {
        memfd: memfd.as_raw_fd() as u32,
        flags: 0x01, // UDMABUF_FLAGS_CLOEXEC
        offset,
        size,
    };
    // SAFETY: `arg` outlives the call and has the uapi layout.
    let fd = unsafe { udmabuf_ioctl_create(udmabuf.as_raw_fd(), &arg) }?;
    // SAFETY: on success the ioctl returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The DRM driver name of an open DRM node (`DRM_IOCTL_VERSION`), e.g. `vgem` or `virtio_gpu`.
pub fn drm_driver_name(card: BorrowedFd<'_>) -> Result<String, Errno> {
    let mut name = [0u8; 64];
    let mut version = DrmVersion {
        version_major: 0,
        version_minor: 0,
        version_patchlevel: 0,
        name_len: name.len(),
        name: name.as_mut_ptr(),
        date_len: 0,
        date: std::ptr::null_mut(),
        desc_len: 0,
        desc: std::ptr::null_mut(),
    };
    // SAFETY: `version` points at `name`, which is valid for `name_len` bytes during the call;
    // the zero-length date and desc buffers are never written.
    unsafe { drm_ioctl_version(card.as_raw_fd(), &mut version) }?;
    let len = version.name_len.min(name.len());
    Ok(String::from_utf8_lossy(&name[..len]).into_owned())
}

/// The binder protocol version of an open binder device (`BINDER_VERSION`).
pub fn binder_protocol_version(binder: BorrowedFd<'_>) -> Result<i32, Errno> {
    let mut version = BinderVersion::default();
    // SAFETY: `version` outlives the call and has the uapi layout.
    unsafe { binder_ioctl_version(binder.as_raw_fd(), &mut version) }?;
    Ok(version.protocol_version)
}

/// A GEM handle created by importing a dma-buf into a DRM device; closed on drop.
pub struct GemHandle<'a> {
    card: BorrowedFd<'a>,
    handle: u32,
}

impl GemHandle<'_> {
    /// The GEM handle number.
    pub fn handle(&self) -> u32 {
        self.handle
    }
}

/// `DRM_IOCTL_PRIME_FD_TO_HANDLE`: imports (attaches) a dma-buf into the DRM device.
pub fn drm_prime_fd_to_handle<'a>(
    card: BorrowedFd<'a>,
    buf: BorrowedFd<'_>,
) -> Result<GemHandle<'a>, Errno> {
    let mut arg = DrmPrimeHandle {
        fd: buf.as_raw_fd(),
        ..Default::default()
    };
    // SAFETY: `arg` outlives the call and has the uapi layout.
    unsafe { drm_ioctl_prime_fd_to_handle(card.as_raw_fd(), &mut arg) }?;
    Ok(GemHandle {
        card,
        handle: arg.handle,
    })
}

impl Drop for GemHandle<'_> {
    fn drop(&mut self) {
        let arg = DrmGemClose {
            handle: self.handle,
            pad: 0,
        };
        // SAFETY: `arg` outlives the call and has the uapi layout; the handle is ours to close.
        let _ = unsafe { drm_ioctl_gem_close(self.card.as_raw_fd(), &arg) };
    }
}

/// A shared mapping of an fd; unmapped on drop. Access goes through copies, never references,
/// because another process may write the same pages at any time.
pub struct Mapping {
    addr: NonNull<std::ffi::c_void>,
    len: NonZeroUsize,
    writable: bool,
}

impl Mapping {
    /// `mmap(PROT_READ | PROT_WRITE, MAP_SHARED)` of `len` bytes at offset 0.
    pub fn shared(fd: impl AsFd, len: usize) -> Result<Self, Errno> {
        Self::new(
            fd,
            len,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
        )
    }

    /// `mmap(PROT_READ, MAP_PRIVATE)` of `len` bytes at offset 0 (what binder clients map).
    pub fn read_only_private(fd: impl AsFd, len: usize) -> Result<Self, Errno> {
        Self::new(fd, len, ProtFlags::PROT_READ, MapFlags::MAP_PRIVATE)
    }

    fn new(fd: impl AsFd, len: usize, prot: ProtFlags, flags: MapFlags) -> Result<Self, Errno> {
        let len = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
        // SAFETY: a fresh mapping chosen by the kernel (no address hint) aliases no Rust object.
        let addr = unsafe { mmap(None, len, prot, flags, fd, 0) }?;
        Ok(Self {
            addr,
            len,
            writable: prot.contains(ProtFlags::PROT_WRITE),
        })
    }

    /// Copies `data` into the mapping at `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), Errno> {
        if !self.writable {
            return Err(Errno::EACCES);
        }
        self.check(offset, data.len())?;
        // SAFETY: `check` keeps the range inside the mapping, which is writable and stays mapped
        // while `self` lives; the source is a distinct Rust slice.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.addr.as_ptr().cast::<u8>().add(offset),
                data.len(),
            )
        };
        Ok(())
    }

    /// Copies `len` bytes out of the mapping at `offset`.
    pub fn read(&self, offset: usize, len: usize) -> Result<Vec<u8>, Errno> {
        self.check(offset, len)?;
        let mut out = vec![0u8; len];
        // SAFETY: `check` keeps the range inside the mapping, which is readable and stays mapped
        // while `self` lives; the destination is a distinct Rust buffer of `len` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.addr.as_ptr().cast::<u8>().add(offset),
                out.as_mut_ptr(),
                len,
            )
        };
        Ok(out)
    }

    fn check(&self, offset: usize, len: usize) -> Result<(), Errno> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len.get() => Ok(()),
            _ => Err(Errno::EINVAL),
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `addr`/`len` are exactly what mmap returned, and no reference into the mapping
        // can outlive `self` (all access copies).
        let _ = unsafe { munmap(self.addr, self.len.get()) };
    }
}

/// Opens a device node read-write with close-on-exec.
pub fn open_rw(path: &str) -> Result<File, std::io::Error> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
}
