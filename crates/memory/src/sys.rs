//! The kernel interfaces this crate touches: dma-heap, dma-buf and udmabuf ioctls and sealed memfds.
//!
//! Every `unsafe` block of the crate that is not an mmap lives here, next to the struct layout it
//! relies on. The ioctl numbers come from nix's `_IOW`/`_IOWR` encoders over the kernel's uapi
//! structs (docs/architecture.md §7), so they are right on every architecture nix supports.

use crate::error::{MemError, SysOp};
use central_gralloc::cache::SyncFlags;
use central_gralloc::text::prefix_within;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::stat::{fstat, SFlag};
use nix::unistd::{ftruncate, lseek, Whence};
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `struct dma_heap_allocation_data` (uapi/linux/dma-heap.h).
#[repr(C)]
#[derive(Debug, Default)]
pub struct DmaHeapAllocationData {
    /// Bytes to allocate.
    pub len: u64,
    /// Out: the new dma-buf fd.
    pub fd: u32,
    /// Flags of the new fd (`O_RDWR | O_CLOEXEC`).
    pub fd_flags: u32,
    /// Heap-specific flags; none are defined.
    pub heap_flags: u64,
}

/// `struct dma_buf_sync` (uapi/linux/dma-buf.h).
#[repr(C)]
#[derive(Debug, Default)]
struct DmaBufSync {
    flags: u64,
}

/// `struct udmabuf_create` (uapi/linux/udmabuf.h).
#[repr(C)]
#[derive(Debug, Default)]
struct UdmabufCreate {
    memfd: u32,
    flags: u32,
    offset: u64,
    size: u64,
}

/// `UDMABUF_FLAGS_CLOEXEC`.
const UDMABUF_FLAGS_CLOEXEC: u32 = 1;

/// Longest dma-buf name, with its NUL (`DMA_BUF_NAME_LEN`).
pub const DMA_BUF_NAME_LEN: usize = 32;

/// The raw ioctl wrappers, kept private: callers go through the checked functions below.
mod ioctl {
    use super::{DmaBufSync, DmaHeapAllocationData, UdmabufCreate};
    nix::ioctl_readwrite!(
        /// `DMA_HEAP_IOCTL_ALLOC`.
        ioctl_dma_heap_alloc, b'H', 0, DmaHeapAllocationData
    );
    nix::ioctl_write_ptr!(
        /// `DMA_BUF_IOCTL_SYNC`.
        ioctl_dma_buf_sync, b'b', 0, DmaBufSync
    );
    nix::ioctl_write_ptr!(
        /// `DMA_BUF_SET_NAME_B`. The uapi declares the argument as `__u64` for the ioctl number only;
        /// the kernel reads a NUL-terminated string of at most DMA_BUF_NAME_LEN bytes from the pointer.
        ioctl_dma_buf_set_name, b'b', 1, u64
    );
    nix::ioctl_write_ptr!(
        /// `UDMABUF_CREATE`.
        ioctl_udmabuf_create, b'u', 0x42, UdmabufCreate
    );
}
use ioctl::*;

/// How many times an ioctl interrupted by a signal, or told to try again, is reissued.
const RETRIES: u32 = 1000;

/// Runs `call` again on `EINTR` and `EAGAIN`, a bounded number of times.
pub(crate) fn retry<T>(mut call: impl FnMut() -> nix::Result<T>) -> nix::Result<T> {
    let mut left = RETRIES;
    loop {
        match call() {
            Err(Errno::EINTR) | Err(Errno::EAGAIN) if left > 0 => {
                left -= 1;
                // EAGAIN means the kernel is busy with this buffer elsewhere: let it progress.
                std::thread::yield_now();
            }
            result => return result,
        }
    }
}

/// Allocates `len` bytes from the dma-heap open as `heap`: the bare `DMA_HEAP_IOCTL_ALLOC`.
pub fn dma_heap_alloc(heap: BorrowedFd<'_>, len: u64) -> Result<OwnedFd, Errno> {
    let mut data = DmaHeapAllocationData {
        len,
        fd: 0,
        fd_flags: (libc::O_RDWR | libc::O_CLOEXEC) as u32,
        heap_flags: 0,
    };
    retry(|| {
        // SAFETY: `data` is a live, correctly laid out `dma_heap_allocation_data` the kernel reads
        // and writes for the duration of the call; `heap` is an open fd.
        unsafe { ioctl_dma_heap_alloc(heap.as_raw_fd(), &mut data) }
    })?;
    let fd = i32::try_from(data.fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: on success the kernel installed a new fd in `data.fd` that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The dma-buf name for a buffer called `name`: at most 31 bytes cut at a UTF-8 character
/// boundary, NUL-padded, never empty.
pub fn dma_buf_name(name: &str) -> [u8; DMA_BUF_NAME_LEN] {
    let name = if name.is_empty() { "gralloc" } else { name };
    let mut out = [0u8; DMA_BUF_NAME_LEN];
    for (dst, &src) in out
        .iter_mut()
        .zip(prefix_within(name, DMA_BUF_NAME_LEN - 1).as_bytes())
    {
        // A NUL inside would silently cut the name; control bytes would garble dumps.
        *dst = if src < 0x20 || src == 0x7f { b'?' } else { src };
    }
    out
}

/// Names a dma-buf (`DMA_BUF_SET_NAME_B`) so bufinfo and dmabuf_dump show who owns it.
pub fn dma_buf_set_name(buf: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
    let bytes = dma_buf_name(name);
    retry(|| {
        // SAFETY: `bytes` is a NUL-terminated array of DMA_BUF_NAME_LEN bytes that outlives the
        // call; the kernel copies at most that many bytes from it and never writes to it.
        unsafe { ioctl_dma_buf_set_name(buf.as_raw_fd(), bytes.as_ptr().cast::<u64>()) }
    })
    .map(drop)
}

/// Issues `DMA_BUF_IOCTL_SYNC` with `flags` (START or END, and READ and/or WRITE).
pub fn dma_buf_sync(buf: BorrowedFd<'_>, flags: SyncFlags) -> Result<(), MemError> {
    let bits = flags.bits();
    if bits & !0x7 != 0 || bits & SyncFlags::RW.bits() == 0 {
        return Err(MemError::InvalidSyncFlags(bits));
    }
    let sync = DmaBufSync { flags: bits };
    retry(|| {
        // SAFETY: `sync` is a live `struct dma_buf_sync` the kernel only reads.
        unsafe { ioctl_dma_buf_sync(buf.as_raw_fd(), &sync) }
    })
    .map(drop)
    .map_err(|errno| match errno {
        // ENOTTY: the fd has no such ioctl (memfd, file); EBADF: nothing there to sync.
        Errno::ENOTTY | Errno::EBADF => MemError::NotDmaBuf,
        errno => MemError::sys(SysOp::Sync, errno),
    })
}

/// A memfd of `size` bytes that can never shrink (nor grow, if `grow` is false). It is zero-filled.
pub fn sealed_memfd(
    name: &str,
    size: u64,
    seal_grow: bool,
    seal_seals: bool,
) -> Result<OwnedFd, Errno> {
    // memfd names are at most 249 bytes and must not contain NUL.
    let clean: Vec<u8> = prefix_within(name, 200)
        .bytes()
        .map(|b| if b == 0 { b'?' } else { b })
        .collect();
    let cname = CString::new(clean).map_err(|_| Errno::EINVAL)?;
    let fd = memfd_create(
        cname.as_c_str(),
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )?;
    let len = libc::off_t::try_from(size).map_err(|_| Errno::EFBIG)?;
    ftruncate(&fd, len)?;
    let mut seals = SealFlag::F_SEAL_SHRINK;
    if seal_grow {
        seals |= SealFlag::F_SEAL_GROW;
    }
    if seal_seals {
        seals |= SealFlag::F_SEAL_SEAL;
    }
    fcntl(&fd, FcntlArg::F_ADD_SEALS(seals))?;
    Ok(fd)
}

/// Turns `size` bytes of `memfd` (sealed against shrinking, not against writing) into a dma-buf.
pub fn udmabuf_create(
    device: BorrowedFd<'_>,
    memfd: BorrowedFd<'_>,
    size: u64,
) -> Result<OwnedFd, Errno> {
    let memfd = u32::try_from(memfd.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    let create = UdmabufCreate {
        memfd,
        flags: UDMABUF_FLAGS_CLOEXEC,
        offset: 0,
        size,
    };
    let fd = retry(|| {
        // SAFETY: `create` is a live `struct udmabuf_create` the kernel only reads; `device` is open.
        unsafe { ioctl_udmabuf_create(device.as_raw_fd(), &create) }
    })?;
    // SAFETY: UDMABUF_CREATE returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What an fd is, as far as mapping it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// A regular file sealed against shrinking (a sealed memfd): `size` bytes.
    SealedFile(u64),
    /// An anonymous-inode file that reports its size by seeking (a dma-buf): `size` bytes.
    DmaBuf(u64),
}

impl FdKind {
    /// Its size in bytes.
    pub const fn size(self) -> u64 {
        match self {
            FdKind::SealedFile(size) | FdKind::DmaBuf(size) => size,
        }
    }
}

/// Classifies `fd`; refuses anything that could not back a buffer or could shrink under a mapping
/// (which would turn a later access into SIGBUS).
pub fn fd_kind(fd: BorrowedFd<'_>) -> Result<FdKind, MemError> {
    let stat = fstat(fd).map_err(|e| MemError::sys(SysOp::Stat, e))?;
    let kind = SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits());
    if kind == SFlag::S_IFREG {
        let seals = fcntl(fd, FcntlArg::F_GET_SEALS)
            .map_err(|_| MemError::WrongFdKind("a file that is not a memfd"))?;
        if seals & SealFlag::F_SEAL_SHRINK.bits() == 0 {
            return Err(MemError::WrongFdKind(
                "a memfd not sealed against shrinking",
            ));
        }
        // fstat never reports a negative size; if it did, the file could not back a buffer.
        return u64::try_from(stat.st_size)
            .map(FdKind::SealedFile)
            .map_err(|_| MemError::WrongFdKind("a file with a negative size"));
    }
    if kind.is_empty() {
        // dma-bufs live on anonymous inodes with no file type; their llseek reports the size.
        let end = lseek(fd, 0, Whence::SeekEnd)
            .map_err(|_| MemError::WrongFdKind("an anonymous inode that is not a dma-buf"))?;
        return u64::try_from(end)
            .map(FdKind::DmaBuf)
            .map_err(|_| MemError::WrongFdKind("a dma-buf with a negative size"));
    }
    Err(MemError::WrongFdKind(match kind {
        k if k == SFlag::S_IFIFO => "a pipe",
        k if k == SFlag::S_IFCHR => "a character device",
        k if k == SFlag::S_IFSOCK => "a socket",
        k if k == SFlag::S_IFDIR => "a directory",
        _ => "not a buffer",
    }))
}

/// Bytes of RAM, or `None` if the kernel will not say.
pub fn total_ram() -> Option<u64> {
    let info = nix::sys::sysinfo::sysinfo().ok()?;
    Some(info.ram_total())
}

/// 32 random bits for the buffer-id epoch. Never blocks: the allocator starts early in boot,
/// before the entropy pool is initialised, and uniqueness (not secrecy) is all that is needed.
pub fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    for flags in [libc::GRND_INSECURE, libc::GRND_NONBLOCK] {
        // SAFETY: `bytes` is writable for its full length for the duration of the call.
        let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), flags) };
        if n == 4 {
            return u32::from_ne_bytes(bytes);
        }
    }
    // No getrandom (or no entropy yet): this boot's random id, the boot clock and the pid still
    // differ between two runs of the service.
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in boot_id
        .bytes()
        .chain(now.to_le_bytes())
        .chain(std::process::id().to_le_bytes())
    {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_uapi() {
        // Values from the kernel headers on x86_64/arm64 (asm-generic ioctl encoding).
        assert_eq!(
            nix::request_code_readwrite!(b'H', 0, std::mem::size_of::<DmaHeapAllocationData>()),
            0xc018_4800
        );
        assert_eq!(
            nix::request_code_write!(b'b', 0, std::mem::size_of::<DmaBufSync>()),
            0x4008_6200
        );
        assert_eq!(
            nix::request_code_write!(b'b', 1, std::mem::size_of::<u64>()),
            0x4008_6201
        );
        assert_eq!(
            nix::request_code_write!(b'u', 0x42, std::mem::size_of::<UdmabufCreate>()),
            0x4018_7542
        );
    }

    #[test]
    fn dma_buf_names_are_cut_at_a_char_boundary() {
        let name = dma_buf_name("");
        assert_eq!(&name[..8], b"gralloc\0");
        let long = "é".repeat(40); // 2-byte chars: 31 bytes would split one
        let cut = dma_buf_name(&long);
        let text_len = cut.iter().position(|&b| b == 0).unwrap();
        assert_eq!(text_len, 30);
        assert!(std::str::from_utf8(&cut[..text_len]).is_ok());
        assert_eq!(cut[31], 0);
        let exact = "a".repeat(31);
        assert_eq!(&dma_buf_name(&exact)[..31], exact.as_bytes());
        assert_eq!(&dma_buf_name("a\nb")[..4], b"a?b\0");
    }

    #[test]
    fn sealed_memfd_cannot_shrink() {
        let fd = sealed_memfd("t", 8192, true, true).unwrap();
        assert_eq!(
            fd_kind(std::os::fd::AsFd::as_fd(&fd)).unwrap(),
            FdKind::SealedFile(8192)
        );
        assert_eq!(ftruncate(&fd, 4096), Err(Errno::EPERM));
    }

    #[test]
    fn sync_on_a_memfd_or_pipe_is_not_a_dma_buf() {
        use std::os::fd::AsFd;
        let fd = sealed_memfd("t", 4096, true, true).unwrap();
        let flags = SyncFlags(SyncFlags::START.bits() | SyncFlags::RW.bits());
        assert!(matches!(
            dma_buf_sync(fd.as_fd(), flags),
            Err(MemError::NotDmaBuf)
        ));
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert!(matches!(
            dma_buf_sync(r.as_fd(), flags),
            Err(MemError::NotDmaBuf)
        ));
        assert!(matches!(
            dma_buf_sync(fd.as_fd(), SyncFlags(8 | 1)),
            Err(MemError::InvalidSyncFlags(9))
        ));
        assert!(matches!(
            dma_buf_sync(fd.as_fd(), SyncFlags::END),
            Err(MemError::InvalidSyncFlags(4))
        ));
        assert!(matches!(
            fd_kind(r.as_fd()),
            Err(MemError::WrongFdKind("a pipe"))
        ));
    }

    #[test]
    fn random_epochs_differ() {
        let a: Vec<u32> = (0..8).map(|_| random_u32()).collect();
        assert!(a.windows(2).any(|w| w[0] != w[1]));
    }
}
