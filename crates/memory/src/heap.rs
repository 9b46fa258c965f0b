//! Heap backends behind one small trait: dma-heap, udmabuf and memfd (and a DRM device's own
//! memory, [`crate::drm`]); heap discovery; the host policy for which backend may stand in for
//! which heap role.
//!
//! Policy: with [`Backend::DmaHeap`] every heap role of the profile is backed by the kernel heap
//! of the same name (`HeapSpec.name` under the heap directory), except the `device` role, which
//! the DRM device whose driver is `HeapSpec.name` serves; a role whose heap or device is missing
//! is unavailable: placements that need it fail as `Unsupported` with the reason. udmabuf and
//! memfd memory is ordinary cached, non-contiguous, anywhere-in-RAM memory, so those backends
//! stand in for the `system` role only — never for `system-uncached` (their CPU mappings are
//! cached), `contiguous` or `protected`. The solver then sees only the heaps that really exist,
//! so a missing *uncached* heap falls back to cached system memory with tracked maintenance (the
//! solver's documented choice, which breaks no constraint), while a missing contiguous or
//! protected heap is a clear refusal.

use crate::error::{io_errno, MemError, SysOp};
use crate::sys;
use nix::errno::Errno;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where dma-heaps live.
pub const DMA_HEAP_DIR: &str = "/dev/dma_heap";
/// The udmabuf device.
pub const UDMABUF_PATH: &str = "/dev/udmabuf";
/// The udmabuf module's per-buffer limit, in MiB.
pub const UDMABUF_SIZE_LIMIT: &str = "/sys/module/udmabuf/parameters/size_limit_mb";

/// What kind of fd a buffer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BufferKind {
    /// A dma-buf from a dma-heap.
    DmaHeap,
    /// A dma-buf made from a memfd by udmabuf.
    Udmabuf,
    /// A sealed memfd: shareable and mappable, but not a dma-buf, so no device can import it and
    /// CPU sync calls are no-ops.
    Memfd,
    /// A dma-buf a DRM device allocated and exported (the `device` heap).
    Drm,
}

impl BufferKind {
    /// Every kind, in handle-encoding order.
    pub const ALL: [BufferKind; 4] = [
        BufferKind::DmaHeap,
        BufferKind::Udmabuf,
        BufferKind::Memfd,
        BufferKind::Drm,
    ];
    /// `dma-heap`, `udmabuf`, `memfd` or `drm`.
    pub const fn name(self) -> &'static str {
        match self {
            BufferKind::DmaHeap => "dma-heap",
            BufferKind::Udmabuf => "udmabuf",
            BufferKind::Memfd => "memfd",
            BufferKind::Drm => "drm",
        }
    }
    /// Whether the fd is a dma-buf (devices can import it; `DMA_BUF_IOCTL_SYNC` applies).
    pub const fn is_dma_buf(self) -> bool {
        !matches!(self, BufferKind::Memfd)
    }
}

impl fmt::Display for BufferKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A source of buffer memory.
pub trait Heap: Send + Sync + fmt::Debug {
    /// The kind of fd [`Heap::allocate`] returns.
    fn kind(&self) -> BufferKind;
    /// What it is, for dumps and errors (`dma-heap system`, `udmabuf`, `memfd`).
    fn describe(&self) -> String;
    /// Allocates `size` bytes (a multiple of the page size) for a buffer called `name`.
    fn allocate(&self, size: u64, name: &str) -> Result<OwnedFd, MemError>;
    /// Allocates `size` bytes for a buffer whose first plane has rows of `pitch` bytes. Memory a
    /// display scans out (a DRM device's, [`crate::drm`]) is shaped to that pitch; other heaps
    /// need only the size.
    fn allocate_with_pitch(&self, size: u64, pitch: u64, name: &str) -> Result<OwnedFd, MemError> {
        let _ = pitch;
        self.allocate(size, name)
    }
    /// The largest buffer it can make, if it has a fixed limit.
    fn max_buffer_size(&self) -> Option<u64> {
        None
    }
    /// Names a buffer this heap made earlier (a pooled one, at handout). A memfd's name is fixed
    /// at creation, so by default nothing happens.
    fn rename(&self, _fd: BorrowedFd<'_>, _name: &str) -> Result<(), MemError> {
        Ok(())
    }
    /// Whether [`Heap::allocate_with_pitch`] shapes memory to the pitch (so buffers of one size
    /// and different pitches are not interchangeable, and the pool keeps them apart).
    fn shapes_to_pitch(&self) -> bool {
        false
    }
}

/// One kernel dma-heap, opened once and kept open.
#[derive(Debug)]
pub struct DmaHeap {
    name: String,
    fd: OwnedFd,
}

impl DmaHeap {
    /// Opens the heap called `name` under `dir`.
    pub fn open(dir: &Path, name: &str) -> Result<DmaHeap, MemError> {
        let path = dir.join(name);
        let fd = sys::open(&path, libc::O_RDONLY)
            .map_err(|e| MemError::sys_on(SysOp::Open, e, path.display().to_string()))?;
        // A regular file or directory in the heap directory is not a heap; catch it here rather
        // than on the first allocation.
        let stat = sys::fstat(fd.as_fd())
            .map_err(|e| MemError::sys_on(SysOp::Stat, e, path.display().to_string()))?;
        if !stat.is(libc::S_IFCHR) {
            return Err(MemError::sys_on(
                SysOp::Open,
                Errno::ENODEV,
                format!("{} (not a device node)", path.display()),
            ));
        }
        Ok(DmaHeap {
            name: name.to_string(),
            fd,
        })
    }

    /// The kernel heap name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bare `DMA_HEAP_IOCTL_ALLOC`, unnamed: the baseline the benchmark compares against.
    pub fn allocate_raw(&self, size: u64) -> Result<OwnedFd, MemError> {
        sys::dma_heap_alloc(self.fd.as_fd(), size)
            .map_err(|e| MemError::sys_on(SysOp::HeapAlloc, e, self.name.clone()))
    }
}

/// Names `buf`; a kernel without `DMA_BUF_SET_NAME_B` (ENOTTY) leaves buffers unnamed rather
/// than making every allocation fail.
pub(crate) fn name_dma_buf(buf: BorrowedFd<'_>, name: &str, heap: &str) -> Result<(), MemError> {
    match sys::dma_buf_set_name(buf, name) {
        Ok(()) | Err(Errno::ENOTTY) => Ok(()),
        Err(e) => Err(MemError::sys_on(SysOp::SetName, e, heap.to_string())),
    }
}

impl Heap for DmaHeap {
    fn kind(&self) -> BufferKind {
        BufferKind::DmaHeap
    }
    fn describe(&self) -> String {
        format!("dma-heap {}", self.name)
    }
    fn allocate(&self, size: u64, name: &str) -> Result<OwnedFd, MemError> {
        let buf = self.allocate_raw(size)?;
        name_dma_buf(buf.as_fd(), name, &self.name)?;
        Ok(buf)
    }
    fn rename(&self, fd: BorrowedFd<'_>, name: &str) -> Result<(), MemError> {
        name_dma_buf(fd, name, &self.name)
    }
}

/// Dma-bufs made from sealed memfds by `/dev/udmabuf`.
#[derive(Debug)]
pub struct Udmabuf {
    device: OwnedFd,
    size_limit: Option<u64>,
}

impl Udmabuf {
    /// Opens the udmabuf device at `path`, reading the module's size limit if it publishes one.
    pub fn open(path: &Path) -> Result<Udmabuf, MemError> {
        let device = sys::open(path, libc::O_RDWR)
            .map_err(|e| MemError::sys_on(SysOp::Open, e, path.display().to_string()))?;
        let size_limit = udmabuf_size_limit(std::fs::read_to_string(UDMABUF_SIZE_LIMIT).ok());
        Ok(Udmabuf { device, size_limit })
    }
}

/// udmabuf's per-buffer limit from its `size_limit_mb` parameter. Kernels that do not publish
/// the parameter hard-code the same default, 64 MiB, so an unreadable parameter is that default,
/// not "no limit" (which would let a large request fail in the ioctl as EINVAL, Unsupported).
fn udmabuf_size_limit(param: Option<String>) -> Option<u64> {
    const DEFAULT_MIB: u64 = 64;
    let mib = param.map_or(Some(DEFAULT_MIB), |text| text.trim().parse::<u64>().ok());
    mib.and_then(|mib| mib.checked_mul(1 << 20))
}

impl Heap for Udmabuf {
    fn kind(&self) -> BufferKind {
        BufferKind::Udmabuf
    }
    fn describe(&self) -> String {
        "udmabuf".to_string()
    }
    fn allocate(&self, size: u64, name: &str) -> Result<OwnedFd, MemError> {
        if let Some(limit) = self.size_limit {
            if size > limit {
                return Err(MemError::TooLarge {
                    what: "udmabuf buffer (size_limit_mb)",
                    bytes: size,
                    limit,
                });
            }
        }
        // udmabuf needs F_SEAL_SHRINK and refuses F_SEAL_WRITE; F_SEAL_SEAL keeps it that way.
        // The memfd is closed on return: the dma-buf holds its pages.
        let memfd = sys::sealed_memfd(name, size, true, true)
            .map_err(|e| MemError::sys_on(SysOp::Memfd, e, "udmabuf"))?;
        let buf = sys::udmabuf_create(self.device.as_fd(), memfd.as_fd(), size)
            .map_err(|e| MemError::sys_on(SysOp::Udmabuf, e, "udmabuf"))?;
        name_dma_buf(buf.as_fd(), name, "udmabuf")?;
        Ok(buf)
    }
    fn max_buffer_size(&self) -> Option<u64> {
        self.size_limit
    }
    fn rename(&self, fd: BorrowedFd<'_>, name: &str) -> Result<(), MemError> {
        name_dma_buf(fd, name, "udmabuf")
    }
}

/// Sealed memfds, for hosts with neither dma-heaps nor udmabuf.
#[derive(Debug, Default)]
pub struct MemfdHeap;

impl Heap for MemfdHeap {
    fn kind(&self) -> BufferKind {
        BufferKind::Memfd
    }
    fn describe(&self) -> String {
        "memfd".to_string()
    }
    fn allocate(&self, size: u64, name: &str) -> Result<OwnedFd, MemError> {
        // Sealed against shrinking and growing so every process's mapping stays valid.
        sys::sealed_memfd(&format!("gralloc:{name}"), size, true, true)
            .map_err(|e| MemError::sys_on(SysOp::Memfd, e, "memfd"))
    }
}

/// The dma-heaps under `dir`, sorted by name. A missing directory is an empty list.
pub fn list_heaps(dir: &Path) -> Result<Vec<String>, MemError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(MemError::sys_on(
                SysOp::ReadDir,
                io_errno(&e),
                dir.display().to_string(),
            ));
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// Which kind of memory the allocator makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Kernel dma-heaps, one per heap role (production).
    DmaHeap,
    /// udmabuf dma-bufs over memfds: real dma-bufs on kernels without heaps; system role only.
    Udmabuf,
    /// Plain sealed memfds: not dma-bufs; system role only.
    Memfd,
}

impl Backend {
    /// `dma-heap`, `udmabuf` or `memfd`.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::DmaHeap => "dma-heap",
            Backend::Udmabuf => "udmabuf",
            Backend::Memfd => "memfd",
        }
    }
    /// Parses a backend name.
    pub fn parse(text: &str) -> Option<Backend> {
        [Backend::DmaHeap, Backend::Udmabuf, Backend::Memfd]
            .into_iter()
            .find(|b| b.name() == text)
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The backend choice and the paths it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendConfig {
    /// The backend.
    pub backend: Backend,
    /// The dma-heap directory (normally `/dev/dma_heap`).
    pub heap_dir: PathBuf,
    /// The udmabuf device (normally `/dev/udmabuf`).
    pub udmabuf: PathBuf,
    /// Where the `device` heap's DRM node is looked for (normally `/dev/dri`).
    pub dri_dir: PathBuf,
}

impl BackendConfig {
    /// `backend` at the standard paths.
    pub fn new(backend: Backend) -> BackendConfig {
        BackendConfig {
            backend,
            heap_dir: PathBuf::from(DMA_HEAP_DIR),
            udmabuf: PathBuf::from(UDMABUF_PATH),
            dri_dir: PathBuf::from(crate::drm::DRI_DIR),
        }
    }

    /// Dma-heaps under `dir` (tests point this at a temporary directory).
    pub fn dma_heap_in(dir: impl Into<PathBuf>) -> BackendConfig {
        BackendConfig {
            heap_dir: dir.into(),
            ..BackendConfig::new(Backend::DmaHeap)
        }
    }

    /// The best backend this machine has for a profile whose system heap is `system_heap`:
    /// dma-heap if that heap exists, else udmabuf if its device exists, else memfd. For host
    /// development; a device build names its backend explicitly.
    pub fn detect(system_heap: &str) -> BackendConfig {
        let config = BackendConfig::new(Backend::DmaHeap);
        if list_heaps(&config.heap_dir).is_ok_and(|heaps| heaps.iter().any(|h| h == system_heap)) {
            return config;
        }
        if config.udmabuf.exists() {
            return BackendConfig {
                backend: Backend::Udmabuf,
                ..config
            };
        }
        BackendConfig {
            backend: Backend::Memfd,
            ..config
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_heaps_of_a_missing_directory_is_empty() {
        assert_eq!(
            list_heaps(Path::new("/nonexistent/dma_heap")).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_regular_file_is_not_a_heap() {
        let dir = std::env::temp_dir().join(format!("cg-heap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("system"), b"").unwrap();
        assert_eq!(list_heaps(&dir).unwrap(), vec!["system".to_string()]);
        let err = DmaHeap::open(&dir, "system").unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENODEV), "{err}");
        let err = DmaHeap::open(&dir, "missing").unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOENT), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn memfd_heap_makes_sealed_memfds() {
        let fd = MemfdHeap.allocate(8192, "x").unwrap();
        assert_eq!(
            sys::fd_kind(fd.as_fd()).unwrap(),
            sys::FdKind::SealedFile(8192)
        );
        assert!(!MemfdHeap.kind().is_dma_buf());
    }

    #[test]
    fn udmabuf_limit_defaults_to_the_kernels_64_mib() {
        assert_eq!(udmabuf_size_limit(None), Some(64 << 20));
        assert_eq!(udmabuf_size_limit(Some("256\n".into())), Some(256 << 20));
        assert_eq!(udmabuf_size_limit(Some("garbage".into())), None);
    }

    #[test]
    fn backend_names_round_trip() {
        for b in [Backend::DmaHeap, Backend::Udmabuf, Backend::Memfd] {
            assert_eq!(Backend::parse(b.name()), Some(b));
        }
    }
}
