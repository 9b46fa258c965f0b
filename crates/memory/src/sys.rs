//! The kernel interfaces this crate touches: dma-heap, dma-buf, udmabuf and DRM ioctls and sealed
//! memfds.
//!
//! Every `unsafe` block of the crate that is not an mmap lives here, next to the struct layout it
//! relies on. The ioctl numbers come from nix's `_IOW`/`_IOWR` encoders over the kernel's uapi
//! structs (docs/architecture.md §7), so they are right on every architecture nix supports.
//!
//! The platform ships nix 0.28 (Android 15) and 0.29 (Android 16), whose `open`, `fstat`,
//! `fcntl`, `lseek` and `memfd_create` differ from later releases, so those calls go straight to
//! libc; what stays on nix (`Errno`, the ioctl macros, `mmap`, `sysinfo`) has one signature across
//! 0.28–0.30. File sizes go through the 64-bit calls (`lseek64`, `ftruncate64`): `off_t` is 32
//! bits on 32-bit bionic.

use crate::error::{MemError, SysOp};
use central_gralloc::cache::SyncFlags;
use central_gralloc::text::{escaped, prefix_within};
use nix::errno::Errno;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

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

/// `struct drm_version` (uapi/drm/drm.h): the kernel copies up to `*_len` bytes of each string
/// into the caller's buffers and sets `*_len` to the full length. `size_t` and pointers follow
/// the ABI, so the ioctl number (which encodes the size) matches on 32- and 64-bit builds.
#[repr(C)]
#[derive(Debug)]
struct DrmVersion {
    version_major: libc::c_int,
    version_minor: libc::c_int,
    version_patchlevel: libc::c_int,
    name_len: libc::size_t,
    name: *mut libc::c_char,
    date_len: libc::size_t,
    date: *mut libc::c_char,
    desc_len: libc::size_t,
    desc: *mut libc::c_char,
}

/// `struct drm_mode_create_dumb` (uapi/drm/drm_mode.h).
#[repr(C)]
#[derive(Debug, Default)]
struct DrmModeCreateDumb {
    height: u32,
    width: u32,
    bpp: u32,
    flags: u32,
    handle: u32,
    pitch: u32,
    size: u64,
}

/// `struct drm_prime_handle` (uapi/drm/drm.h).
#[repr(C)]
#[derive(Debug, Default)]
struct DrmPrimeHandle {
    handle: u32,
    flags: u32,
    fd: i32,
}

/// `struct drm_gem_close` (uapi/drm/drm.h).
#[repr(C)]
#[derive(Debug, Default)]
struct DrmGemClose {
    handle: u32,
    pad: u32,
}

/// Longest dma-buf name, with its NUL (`DMA_BUF_NAME_LEN`).
pub const DMA_BUF_NAME_LEN: usize = 32;

/// The raw ioctl wrappers, kept private: callers go through the checked functions below.
mod ioctl {
    use super::{
        DmaBufSync, DmaHeapAllocationData, DrmGemClose, DrmModeCreateDumb, DrmPrimeHandle,
        DrmVersion, UdmabufCreate,
    };
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
    nix::ioctl_readwrite!(
        /// `DRM_IOCTL_VERSION`.
        ioctl_drm_version, b'd', 0x00, DrmVersion
    );
    nix::ioctl_write_ptr!(
        /// `DRM_IOCTL_GEM_CLOSE`.
        ioctl_drm_gem_close, b'd', 0x09, DrmGemClose
    );
    nix::ioctl_none!(
        /// `DRM_IOCTL_DROP_MASTER`.
        ioctl_drm_drop_master, b'd', 0x1f
    );
    nix::ioctl_readwrite!(
        /// `DRM_IOCTL_PRIME_HANDLE_TO_FD`.
        ioctl_drm_prime_handle_to_fd, b'd', 0x2d, DrmPrimeHandle
    );
    nix::ioctl_readwrite!(
        /// `DRM_IOCTL_MODE_CREATE_DUMB`.
        ioctl_drm_mode_create_dumb, b'd', 0xb2, DrmModeCreateDumb
    );
}
use ioctl::*;

/// The value of a libc call that returns -1 and sets errno on failure.
fn check(rc: libc::c_int) -> Result<libc::c_int, Errno> {
    if rc == -1 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

/// Takes ownership of the new fd a successful libc call returned.
fn owned(fd: libc::c_int) -> OwnedFd {
    // SAFETY: only called with the non-negative result of a call (open, memfd_create) that just
    // installed a new fd which nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Opens `path` with `flags` (close-on-exec is always added).
pub fn open(path: &Path, flags: libc::c_int) -> Result<OwnedFd, Errno> {
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `path` is NUL-terminated and outlives the call; without O_CREAT no mode is read.
    check(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) }).map(owned)
}

/// File type and size of an open fd, as `fstat` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// The `S_IFMT` bits of `st_mode` (0 for an anonymous inode such as a dma-buf).
    pub file_type: libc::c_uint,
    /// `st_size`.
    pub size: u64,
}

impl FileStat {
    /// Whether the type bits are `S_IFxxx` (`libc::S_IFREG`, `libc::S_IFCHR`, ...).
    pub fn is(&self, s_ifxxx: libc::mode_t) -> bool {
        // `mode_t` is 16 bits on 32-bit bionic while `st_mode` is 32 bits everywhere: compare as
        // the wider type.
        self.file_type == s_ifxxx as libc::c_uint
    }
}

/// `fstat`: what `fd` is and how large.
pub fn fstat(fd: BorrowedFd<'_>) -> Result<FileStat, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is writable for a whole `struct stat`, which the kernel fills on success.
    check(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so every field of `st` is initialised.
    let st = unsafe { st.assume_init() };
    Ok(FileStat {
        file_type: st.st_mode as libc::c_uint & libc::S_IFMT as libc::c_uint,
        size: u64::try_from(st.st_size).map_err(|_| Errno::EOVERFLOW)?,
    })
}

/// The offset of the end of `fd` (a dma-buf's size; dma-bufs report it only through llseek).
fn seek_end(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
    // SAFETY: lseek64 only reads its integer arguments.
    let end = unsafe { libc::lseek64(fd.as_raw_fd(), 0, libc::SEEK_END) };
    if end < 0 {
        return Err(Errno::last());
    }
    u64::try_from(end).map_err(|_| Errno::EOVERFLOW)
}

/// The seals of a memfd (`F_GET_SEALS`); an error for anything that cannot be sealed.
fn seals(fd: BorrowedFd<'_>) -> Result<libc::c_int, Errno> {
    // SAFETY: F_GET_SEALS takes no argument and only reads the fd's state.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) })
}

/// A memfd called `name` with `flags` (`MFD_*`), empty. Through the raw syscall: the platform's
/// libc crate (0.2.153 on Android 15) declares no `memfd_create` for Android.
pub fn memfd(name: &CStr, flags: libc::c_uint) -> Result<OwnedFd, Errno> {
    // SAFETY: memfd_create reads the NUL-terminated `name`, which outlives the call, and an
    // integer; it returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), flags) };
    let fd = libc::c_int::try_from(fd).map_err(|_| Errno::EBADF)?;
    check(fd).map(owned)
}

/// Sets the size of the file `fd` to `size` bytes.
pub(crate) fn truncate(fd: BorrowedFd<'_>, size: u64) -> Result<(), Errno> {
    let len = libc::off64_t::try_from(size).map_err(|_| Errno::EFBIG)?;
    // SAFETY: ftruncate64 only reads its integer arguments.
    check(unsafe { libc::ftruncate64(fd.as_raw_fd(), len) }).map(drop)
}

/// Adds `seals` (`F_SEAL_*`) to the memfd `fd`.
fn add_seals(fd: BorrowedFd<'_>, seals: libc::c_int) -> Result<(), Errno> {
    // SAFETY: F_ADD_SEALS reads one int argument.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) }).map(drop)
}

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

/// The dma-buf name for a buffer called `name`: escaped ([`escaped`]: the kernel shows it in
/// `bufinfo` and `fdinfo` lines, where a newline would forge lines and a NUL would cut it), at
/// most 31 bytes cut at a UTF-8 character boundary, NUL-padded, never empty.
pub fn dma_buf_name(name: &str) -> [u8; DMA_BUF_NAME_LEN] {
    let name = if name.is_empty() { "gralloc" } else { name };
    let shown = escaped(name).to_string();
    let mut out = [0u8; DMA_BUF_NAME_LEN];
    for (dst, &src) in out
        .iter_mut()
        .zip(prefix_within(&shown, DMA_BUF_NAME_LEN - 1).as_bytes())
    {
        *dst = src;
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
    // memfd names are at most 249 bytes and must not contain NUL; escaped, because the name
    // shows in /proc/PID/fd links and maps lines (no NUL remains after escaping).
    let shown = escaped(name).to_string();
    let cname = CString::new(prefix_within(&shown, 200)).map_err(|_| Errno::EINVAL)?;
    let fd = memfd(&cname, libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)?;
    truncate(fd.as_fd(), size)?;
    let mut seals = libc::F_SEAL_SHRINK;
    if seal_grow {
        seals |= libc::F_SEAL_GROW;
    }
    if seal_seals {
        seals |= libc::F_SEAL_SEAL;
    }
    add_seals(fd.as_fd(), seals)?;
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

/// The driver name of the DRM device open as `card` (`DRM_IOCTL_VERSION`): `virtio_gpu`, `vgem`...
pub fn drm_driver_name(card: BorrowedFd<'_>) -> Result<String, Errno> {
    // Driver names are short identifiers; a longer one is cut, and then matches no profile.
    let mut name = [0u8; 64];
    let mut version = DrmVersion {
        version_major: 0,
        version_minor: 0,
        version_patchlevel: 0,
        name_len: name.len(),
        name: name.as_mut_ptr().cast(),
        date_len: 0,
        date: std::ptr::null_mut(),
        desc_len: 0,
        desc: std::ptr::null_mut(),
    };
    retry(|| {
        // SAFETY: `version` points at `name`, writable for `name_len` bytes for the whole call;
        // the date and description buffers have length 0, so the kernel writes nothing there.
        unsafe { ioctl_drm_version(card.as_raw_fd(), &mut version) }
    })?;
    let len = version.name_len.min(name.len());
    let name = name.get(..len).unwrap_or(&[]);
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// Gives up DRM master on `card` if this open file holds it: the first process to open a card
/// node becomes master, and a master allocator would keep the composer from ever setting modes.
/// `EINVAL` (not master) is success.
pub fn drm_drop_master(card: BorrowedFd<'_>) -> Result<(), Errno> {
    match retry(|| {
        // SAFETY: DRM_IOCTL_DROP_MASTER takes no argument and only changes the file's state.
        unsafe { ioctl_drm_drop_master(card.as_raw_fd()) }
    }) {
        Ok(_) | Err(Errno::EINVAL) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A dumb buffer the kernel made: its GEM handle (which the caller must close), pitch and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumbBuffer {
    /// GEM handle in the creating file.
    pub handle: u32,
    /// Bytes per row the kernel chose.
    pub pitch: u32,
    /// Bytes the kernel allocated.
    pub size: u64,
}

/// `DRM_IOCTL_MODE_CREATE_DUMB`: a `width` x `height` buffer of 32-bit pixels.
pub fn drm_create_dumb(card: BorrowedFd<'_>, width: u32, height: u32) -> Result<DumbBuffer, Errno> {
    let mut arg = DrmModeCreateDumb {
        width,
        height,
        bpp: 32,
        ..Default::default()
    };
    retry(|| {
        // SAFETY: `arg` is a live `struct drm_mode_create_dumb` the kernel reads and fills.
        unsafe { ioctl_drm_mode_create_dumb(card.as_raw_fd(), &mut arg) }
    })?;
    Ok(DumbBuffer {
        handle: arg.handle,
        pitch: arg.pitch,
        size: arg.size,
    })
}

/// `DRM_IOCTL_PRIME_HANDLE_TO_FD` with `DRM_CLOEXEC | DRM_RDWR`: the GEM object as a dma-buf fd
/// that maps read-write (without `DRM_RDWR` a writable mapping fails with EACCES).
pub fn drm_prime_export(card: BorrowedFd<'_>, handle: u32) -> Result<OwnedFd, Errno> {
    let mut arg = DrmPrimeHandle {
        handle,
        flags: (libc::O_CLOEXEC | libc::O_RDWR) as u32,
        fd: -1,
    };
    retry(|| {
        // SAFETY: `arg` is a live `struct drm_prime_handle` the kernel reads and fills.
        unsafe { ioctl_drm_prime_handle_to_fd(card.as_raw_fd(), &mut arg) }
    })?;
    if arg.fd < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: on success the kernel installed a new fd in `arg.fd` that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
}

/// `DRM_IOCTL_GEM_CLOSE`: drops this file's GEM handle (an exported dma-buf keeps the object).
pub fn drm_gem_close(card: BorrowedFd<'_>, handle: u32) -> Result<(), Errno> {
    let arg = DrmGemClose { handle, pad: 0 };
    retry(|| {
        // SAFETY: `arg` is a live `struct drm_gem_close` the kernel only reads.
        unsafe { ioctl_drm_gem_close(card.as_raw_fd(), &arg) }
    })
    .map(drop)
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
    if stat.is(libc::S_IFREG) {
        let seals = seals(fd).map_err(|_| MemError::WrongFdKind("a file that is not a memfd"))?;
        if seals & libc::F_SEAL_SHRINK == 0 {
            return Err(MemError::WrongFdKind(
                "a memfd not sealed against shrinking",
            ));
        }
        return Ok(FdKind::SealedFile(stat.size));
    }
    if stat.file_type == 0 {
        // dma-bufs live on anonymous inodes with no file type; their llseek reports the size.
        let end = seek_end(fd)
            .map_err(|_| MemError::WrongFdKind("an anonymous inode that is not a dma-buf"))?;
        return Ok(FdKind::DmaBuf(end));
    }
    Err(MemError::WrongFdKind(
        [
            (libc::S_IFIFO, "a pipe"),
            (libc::S_IFCHR, "a character device"),
            (libc::S_IFSOCK, "a socket"),
            (libc::S_IFDIR, "a directory"),
        ]
        .into_iter()
        .find(|&(t, _)| stat.is(t))
        .map_or("not a buffer", |(_, what)| what),
    ))
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
        // Values from the kernel headers on x86_64/arm64 (asm-generic ioctl encoding). nix's
        // request type is `c_int` on Android and `c_ulong` on glibc: compare as u32, which the
        // numbers fit, so the test also compiles where a literal above i32::MAX would not.
        assert_eq!(
            nix::request_code_readwrite!(b'H', 0, std::mem::size_of::<DmaHeapAllocationData>())
                as u32,
            0xc018_4800
        );
        assert_eq!(
            nix::request_code_write!(b'b', 0, std::mem::size_of::<DmaBufSync>()) as u32,
            0x4008_6200
        );
        assert_eq!(
            nix::request_code_write!(b'b', 1, std::mem::size_of::<u64>()) as u32,
            0x4008_6201
        );
        assert_eq!(
            nix::request_code_write!(b'u', 0x42, std::mem::size_of::<UdmabufCreate>()) as u32,
            0x4018_7542
        );
        // DRM (x86_64 values; struct drm_version holds pointers and size_t).
        assert_eq!(
            nix::request_code_readwrite!(b'd', 0xb2, std::mem::size_of::<DrmModeCreateDumb>())
                as u32,
            0xc020_64b2
        );
        assert_eq!(
            nix::request_code_readwrite!(b'd', 0x2d, std::mem::size_of::<DrmPrimeHandle>()) as u32,
            0xc00c_642d
        );
        assert_eq!(
            nix::request_code_write!(b'd', 0x09, std::mem::size_of::<DrmGemClose>()) as u32,
            0x4008_6409
        );
        assert_eq!(nix::request_code_none!(b'd', 0x1f) as u32, 0x0000_641f);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(
            nix::request_code_readwrite!(b'd', 0x00, std::mem::size_of::<DrmVersion>()) as u32,
            0xc040_6400
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
        // Escaped: the kernel prints the name in bufinfo and fdinfo lines.
        assert_eq!(&dma_buf_name("a\nb")[..5], b"a\\nb\0");
        assert_eq!(&dma_buf_name("a\0b\u{2028}")[..15], b"a\\u{0}b\\u{2028}");
    }

    #[test]
    fn memfd_names_are_escaped() {
        use std::os::fd::AsRawFd;
        let fd = sealed_memfd("cam\n0\u{1b}[2J\0x", 4096, true, true).unwrap();
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        let link = link.to_string_lossy();
        assert!(
            link.starts_with("/memfd:cam\\n0\\u{1b}[2J\\u{0}x"),
            "{link}"
        );
    }

    #[test]
    fn sealed_memfd_cannot_shrink() {
        let fd = sealed_memfd("t", 8192, true, true).unwrap();
        assert_eq!(
            fd_kind(std::os::fd::AsFd::as_fd(&fd)).unwrap(),
            FdKind::SealedFile(8192)
        );
        assert_eq!(truncate(fd.as_fd(), 4096), Err(Errno::EPERM));
        assert!(fstat(fd.as_fd()).unwrap().is(libc::S_IFREG));
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
