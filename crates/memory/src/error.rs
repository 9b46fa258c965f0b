//! `MemError`: every way the memory layer can fail, and the one place that maps it to a wire code.
//! The crate's bottom module: every other module may use it, it uses none of them.
//!
//! The error rules are in docs/architecture.md §3; this is their kernel half:
//! - running out of something — memory (`ENOMEM`, `ENOSPC`), fds (`EMFILE`, `ENFILE`), a busy
//!   kernel (`EAGAIN`, `EBUSY` after retries), the service's own limits — is `NoResources`: the
//!   same request may succeed later;
//! - a heap the kernel does not have or will not let us use (`ENOENT`, `ENODEV`, `EACCES`,
//!   `EPERM`, `ENOTTY`), or a size the heap refuses (`EINVAL`), is `Unsupported`: retrying will not
//!   help;
//! - malformed input (a zero count, a forged handle, an fd of the wrong kind) is `BadDescriptor`.

use central_gralloc::error::ErrorCode;
use central_gralloc::profile::HeapRole;
use central_gralloc::solver::SolveError;
use nix::errno::Errno;
use std::fmt;

/// The system call that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysOp {
    /// Opening a heap or device node.
    Open,
    /// Listing the heap directory.
    ReadDir,
    /// `DMA_HEAP_IOCTL_ALLOC`.
    HeapAlloc,
    /// `DMA_BUF_SET_NAME_B`.
    SetName,
    /// Creating, sizing or sealing a memfd.
    Memfd,
    /// `UDMABUF_CREATE`.
    Udmabuf,
    /// `DMA_BUF_IOCTL_SYNC`.
    Sync,
    /// `mmap`.
    Map,
    /// `fstat`/`lseek` on a buffer fd.
    Stat,
    /// Reading or writing the metadata region.
    Metadata,
    /// Duplicating an fd.
    Dup,
    /// `DRM_IOCTL_VERSION`.
    DrmVersion,
    /// `DRM_IOCTL_DROP_MASTER`.
    DropMaster,
    /// `DRM_IOCTL_MODE_CREATE_DUMB`.
    DumbCreate,
    /// `DRM_IOCTL_PRIME_HANDLE_TO_FD`.
    PrimeExport,
    /// `DRM_IOCTL_GEM_CLOSE`.
    GemClose,
}

impl SysOp {
    /// What the call was doing, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            SysOp::Open => "open",
            SysOp::ReadDir => "list heaps",
            SysOp::HeapAlloc => "DMA_HEAP_IOCTL_ALLOC",
            SysOp::SetName => "DMA_BUF_SET_NAME_B",
            SysOp::Memfd => "memfd",
            SysOp::Udmabuf => "UDMABUF_CREATE",
            SysOp::Sync => "DMA_BUF_IOCTL_SYNC",
            SysOp::Map => "mmap",
            SysOp::Stat => "fstat",
            SysOp::Metadata => "metadata region",
            SysOp::Dup => "dup",
            SysOp::DrmVersion => "DRM_IOCTL_VERSION",
            SysOp::DropMaster => "DRM_IOCTL_DROP_MASTER",
            SysOp::DumbCreate => "DRM_IOCTL_MODE_CREATE_DUMB",
            SysOp::PrimeExport => "DRM_IOCTL_PRIME_HANDLE_TO_FD",
            SysOp::GemClose => "DRM_IOCTL_GEM_CLOSE",
        }
    }
}

/// Why a memory-layer operation failed.
#[derive(Debug)]
pub enum MemError {
    /// No placement exists for the descriptor.
    Solve(SolveError),
    /// The placement needs a heap role this kernel or backend cannot provide.
    HeapUnavailable {
        /// The role.
        role: HeapRole,
        /// Why (missing node, permission, backend cannot stand in).
        reason: String,
    },
    /// `count` was zero.
    ZeroCount,
    /// More buffers in one request than the limit.
    TooManyBuffers {
        /// Requested.
        count: u32,
        /// The limit.
        limit: u32,
    },
    /// One request or batch would exceed the byte limit (`bytes` is `u64::MAX` on overflow).
    TooLarge {
        /// What was limited.
        what: &'static str,
        /// Bytes asked for.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// A client's outstanding total would exceed its cap.
    OverQuota {
        /// Bytes already charged.
        used: u64,
        /// Bytes asked for.
        requested: u64,
        /// The cap.
        cap: u64,
    },
    /// A system call failed.
    Sys {
        /// Which.
        op: SysOp,
        /// With what.
        errno: Errno,
        /// The heap or path involved, if any.
        context: String,
    },
    /// A CPU-sync call on an fd that is not a dma-buf.
    NotDmaBuf,
    /// `DMA_BUF_IOCTL_SYNC` flags outside START/END × READ/WRITE, or with neither direction.
    InvalidSyncFlags(u64),
    /// An fd that cannot be a buffer: says what it is.
    WrongFdKind(&'static str),
    /// A mapping access or size outside the buffer.
    OutOfRange {
        /// Start of the access.
        offset: u64,
        /// Its length.
        len: u64,
        /// The mapping's or buffer's size.
        size: u64,
    },
    /// A buffer handle failed validation.
    Handle(HandleError),
    /// A DRM device made or exported less memory than was asked for.
    DeviceShort {
        /// The device: driver and node (`virtio_gpu (/dev/dri/card0)`).
        device: String,
        /// What was short (`dumb buffer`, `exported dma-buf`).
        what: &'static str,
        /// Bytes it holds.
        bytes: u64,
        /// Bytes asked for.
        wanted: u64,
    },
}

impl MemError {
    /// A failed system call.
    pub fn sys(op: SysOp, errno: Errno) -> MemError {
        MemError::Sys {
            op,
            errno,
            context: String::new(),
        }
    }

    /// A failed system call on `context` (a heap name or path).
    pub fn sys_on(op: SysOp, errno: Errno, context: impl Into<String>) -> MemError {
        MemError::Sys {
            op,
            errno,
            context: context.into(),
        }
    }

    /// The wire outcome (rules in the module documentation).
    pub fn code(&self) -> ErrorCode {
        match self {
            MemError::Solve(e) => e.code(),
            MemError::HeapUnavailable { .. }
            | MemError::NotDmaBuf
            | MemError::DeviceShort { .. } => ErrorCode::Unsupported,
            MemError::TooManyBuffers { .. }
            | MemError::TooLarge { .. }
            | MemError::OverQuota { .. } => ErrorCode::NoResources,
            MemError::Sys { errno, .. } => errno_code(*errno),
            MemError::ZeroCount
            | MemError::InvalidSyncFlags(_)
            | MemError::WrongFdKind(_)
            | MemError::OutOfRange { .. }
            | MemError::Handle(_) => ErrorCode::BadDescriptor,
        }
    }

    /// The errno, for a failed system call.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            MemError::Sys { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// Whether `errno` means a resource ran out (else the operation is not possible here).
pub fn errno_code(errno: Errno) -> ErrorCode {
    match errno {
        Errno::ENOMEM
        | Errno::ENOSPC
        | Errno::EMFILE
        | Errno::ENFILE
        | Errno::EAGAIN
        | Errno::EBUSY
        | Errno::EDQUOT
        | Errno::EFBIG
        | Errno::EINTR => ErrorCode::NoResources,
        _ => ErrorCode::Unsupported,
    }
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemError::Solve(e) => write!(f, "{e}"),
            MemError::HeapUnavailable { role, reason } => {
                write!(f, "no usable {role} heap: {reason}")
            }
            MemError::ZeroCount => write!(f, "count is zero"),
            MemError::TooManyBuffers { count, limit } => {
                write!(
                    f,
                    "{count} buffers in one request exceed the limit of {limit}"
                )
            }
            MemError::TooLarge {
                what,
                bytes: u64::MAX,
                limit,
            } => {
                write!(f, "{what} overflows 64 bits (limit {limit} bytes)")
            }
            MemError::TooLarge { what, bytes, limit } => {
                write!(
                    f,
                    "{what} of {bytes} bytes exceeds the limit of {limit} bytes"
                )
            }
            MemError::OverQuota {
                used,
                requested,
                cap,
            } => write!(
                f,
                "client holds {used} bytes; {requested} more would exceed its cap of {cap} bytes"
            ),
            MemError::Sys { op, errno, context } if context.is_empty() => {
                write!(f, "{} failed: {errno}", op.name())
            }
            MemError::Sys { op, errno, context } => {
                write!(f, "{} on {context} failed: {errno}", op.name())
            }
            MemError::NotDmaBuf => {
                write!(f, "not a dma-buf: no CPU cache maintenance exists for it")
            }
            MemError::InvalidSyncFlags(bits) => {
                write!(f, "invalid DMA_BUF_IOCTL_SYNC flags 0x{bits:x}")
            }
            MemError::WrongFdKind(what) => write!(f, "fd is {what}, not a buffer"),
            MemError::OutOfRange { offset, len, size } => {
                write!(
                    f,
                    "{len} bytes at offset {offset} lie outside the {size}-byte buffer"
                )
            }
            MemError::Handle(e) => write!(f, "bad buffer handle: {e}"),
            MemError::DeviceShort {
                device,
                what,
                bytes,
                wanted,
            } => write!(
                f,
                "{device}: the {what} holds {bytes} bytes, {wanted} were asked for"
            ),
        }
    }
}

impl std::error::Error for MemError {}

/// The errno inside an I/O error from the standard library (`EIO` if it carries none): the one
/// conversion from `std::io::Error` to the [`Errno`] that [`MemError::Sys`] holds.
pub(crate) fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Why a handle was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandleError {
    /// Not one of ours.
    Magic(i32),
    /// Another encoding version.
    Version {
        /// The handle's version.
        found: i32,
        /// The one this reader decodes.
        known: i32,
    },
    /// Wrong number of ints (possibly truncated).
    IntCount {
        /// Expected.
        expected: usize,
        /// Found.
        found: usize,
    },
    /// Wrong number of fds.
    FdCount {
        /// Expected.
        expected: usize,
        /// Found.
        found: usize,
    },
    /// A field out of range or inconsistent with the others.
    Field {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// What is wrong.
        why: &'static str,
    },
    /// An fd that does not match the ints.
    Fd {
        /// Which fd.
        which: &'static str,
        /// What is wrong.
        why: String,
    },
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandleError::Magic(m) => write!(f, "magic 0x{m:08x} is not a central-gralloc handle"),
            HandleError::Version { found, known } => {
                write!(f, "handle version {found}, this reader knows {known}")
            }
            HandleError::IntCount { expected, found } => {
                write!(f, "{found} ints, expected {expected}")
            }
            HandleError::FdCount { expected, found } => {
                write!(f, "{found} fds, expected {expected}")
            }
            HandleError::Field { field, value, why } => write!(f, "{field} = {value}: {why}"),
            HandleError::Fd { which, why } => write!(f, "{which} fd: {why}"),
        }
    }
}

impl std::error::Error for HandleError {}

impl From<SolveError> for MemError {
    fn from(e: SolveError) -> Self {
        MemError::Solve(e)
    }
}

impl From<HandleError> for MemError {
    fn from(e: HandleError) -> Self {
        MemError::Handle(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustion_is_no_resources_and_refusal_is_unsupported() {
        for errno in [Errno::ENOMEM, Errno::EMFILE, Errno::ENFILE, Errno::ENOSPC] {
            assert_eq!(
                MemError::sys(SysOp::HeapAlloc, errno).code(),
                ErrorCode::NoResources,
                "{errno}"
            );
        }
        for errno in [
            Errno::EINVAL,
            Errno::EPERM,
            Errno::EACCES,
            Errno::ENODEV,
            Errno::ENOTTY,
        ] {
            assert_eq!(
                MemError::sys(SysOp::HeapAlloc, errno).code(),
                ErrorCode::Unsupported,
                "{errno}"
            );
        }
        assert_eq!(
            MemError::TooLarge {
                what: "batch",
                bytes: 1,
                limit: 0
            }
            .code(),
            ErrorCode::NoResources
        );
        assert_eq!(MemError::ZeroCount.code(), ErrorCode::BadDescriptor);
        let msg = MemError::sys_on(SysOp::HeapAlloc, Errno::ENOMEM, "system").to_string();
        assert!(msg.contains("system") && msg.contains("ENOMEM"), "{msg}");
    }
}
