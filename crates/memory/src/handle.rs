//! The buffer handle: a versioned `NativeHandle` (fds + ints) that describes one buffer to every
//! process that receives it, and its validating decoder.
//!
//! fds: `[0]` the buffer (dma-buf or sealed memfd), `[1]` the metadata region (a dma-buf on
//! devices, a dma-buf or sealed memfd on hosts: int 54 says which, [`crate::metadata`] why).
//!
//! ints, version 2 (`u64` values take two ints, low half first; unsigned values are bit-cast):
//!
//! | index | field |
//! |------:|-------|
//! | 0     | magic `CGHB` |
//! | 1     | version (2) |
//! | 2     | number of ints (55) |
//! | 3     | number of fds (2) |
//! | 4–5   | buffer id |
//! | 6, 7, 8 | width, height, layer count |
//! | 9, 10 | requested format, resolved format |
//! | 11–12 | usage |
//! | 13    | stride (`AllocationResult.stride`) |
//! | 14    | DRM fourcc of the resolved format (0 if none) |
//! | 15–16 | allocation size |
//! | 17–18 | layer stride |
//! | 19    | heap role (0 system, 1 system-uncached, 2 contiguous, 3 protected, 4 device) |
//! | 20    | cache policy (0 cached, 1 uncached) |
//! | 21    | buffer kind (0 dma-heap, 1 udmabuf, 2 memfd, 3 drm: a DRM device's export) |
//! | 22–23 | reserved size |
//! | 24–25 | metadata region size |
//! | 26    | plane count (1–3) |
//! | 27–53 | 3 planes × (offset:2, stride:2, size:2, width, height, fourcc); unused planes zero |
//! | 54    | metadata region kind, as int 21 (0 dma-heap, 1 udmabuf: a dma-buf; 2 memfd; never 3) |
//!
//! A reader accepts exactly its own version and length; a later version changes the version
//! number (and may append ints), so an old reader refuses it cleanly instead of misreading it.
//! The device heap (role 4, kind 3) added values, not fields: a reader that predates them
//! refuses such a handle as an unknown role, so the layout and its version stayed.

use crate::error::{MemError, SysOp};
use crate::heap::BufferKind;
use crate::metadata;
use crate::sys::{fd_kind, FdKind};
use central_gralloc::descriptor::MAX_RESERVED_SIZE;
use central_gralloc::format::{FormatKind, PixelFormat, StrideUnit};
use central_gralloc::layout::{PlaneLayout, MAX_PLANES, PAGE_SIZE};
use central_gralloc::profile::HeapRole;
use central_gralloc::solver::CachePolicy;
use central_gralloc::usage::Usage;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};

/// `CGHB`.
pub const HANDLE_MAGIC: i32 = i32::from_le_bytes(*b"CGHB");
/// This encoding's version (2: the metadata region's kind was added as int 54).
pub const HANDLE_VERSION: i32 = 2;
/// Ints in a version-2 handle.
pub const HANDLE_INTS: usize = 28 + 9 * MAX_PLANES;
/// Fds in a handle.
pub const HANDLE_FDS: usize = 2;

/// `android.hardware.common.NativeHandle` without the AIDL type: the service adapter converts.
#[derive(Debug, Default)]
pub struct NativeHandle {
    /// The fds.
    pub fds: Vec<OwnedFd>,
    /// The ints.
    pub ints: Vec<i32>,
}

/// Why a handle was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandleError {
    /// Not one of ours.
    Magic(i32),
    /// Another encoding version.
    Version(i32),
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
            HandleError::Version(v) => {
                write!(f, "handle version {v}, this reader knows {HANDLE_VERSION}")
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

/// Everything the ints of a handle say about a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferInfo {
    /// Unique id (see [`crate::id`]).
    pub id: u64,
    /// Width in pixels (bytes for BLOB).
    pub width: u32,
    /// Height in rows.
    pub height: u32,
    /// Layers.
    pub layer_count: u32,
    /// The format the client asked for.
    pub requested_format: PixelFormat,
    /// The format laid out.
    pub format: PixelFormat,
    /// Usage bits.
    pub usage: Usage,
    /// `AllocationResult.stride`.
    pub stride: u32,
    /// DRM fourcc of `format`, 0 if none.
    pub fourcc: u32,
    /// Allocation size in bytes.
    pub size: u64,
    /// Bytes between layers.
    pub layer_stride: u64,
    /// The heap role it came from.
    pub heap: HeapRole,
    /// CPU mapping policy.
    pub cache: CachePolicy,
    /// What kind of fd the memory is.
    pub kind: BufferKind,
    /// Client bytes in the metadata region.
    pub reserved_size: u64,
    /// Size of the metadata region.
    pub metadata_size: u64,
    /// What kind of fd the metadata region is (a dma-buf on devices).
    pub metadata_kind: BufferKind,
    /// Planes of layer 0 (`plane_count` of them are used).
    pub planes: [PlaneLayout; MAX_PLANES],
    /// Planes in use.
    pub plane_count: u8,
}

fn role_index(role: HeapRole) -> i32 {
    HeapRole::ALL
        .iter()
        .position(|&r| r == role)
        .map_or(-1, |i| i as i32)
}

fn kind_index(kind: BufferKind) -> i32 {
    BufferKind::ALL
        .iter()
        .position(|&k| k == kind)
        .map_or(-1, |i| i as i32)
}

/// Reads version-1 ints in order; only ever built over a slice of exactly [`HANDLE_INTS`].
struct Ints<'a>(std::slice::Iter<'a, i32>);

impl Ints<'_> {
    fn i32(&mut self) -> i32 {
        self.0.next().copied().unwrap_or(0)
    }
    fn u32(&mut self) -> u32 {
        self.i32() as u32
    }
    fn u64(&mut self) -> u64 {
        let lo = u64::from(self.u32());
        lo | u64::from(self.u32()) << 32
    }
}

fn bad(field: &'static str, value: u64, why: &'static str) -> HandleError {
    HandleError::Field { field, value, why }
}

impl BufferInfo {
    /// The planes in use.
    pub fn planes(&self) -> &[PlaneLayout] {
        self.planes
            .get(..usize::from(self.plane_count))
            .unwrap_or(&[])
    }

    /// The version-2 ints.
    pub fn to_ints(&self) -> Vec<i32> {
        let mut ints = Vec::with_capacity(HANDLE_INTS);
        let u64s = |ints: &mut Vec<i32>, v: u64| {
            ints.push(v as u32 as i32);
            ints.push((v >> 32) as u32 as i32);
        };
        ints.extend([
            HANDLE_MAGIC,
            HANDLE_VERSION,
            HANDLE_INTS as i32,
            HANDLE_FDS as i32,
        ]);
        u64s(&mut ints, self.id);
        ints.extend([
            self.width as i32,
            self.height as i32,
            self.layer_count as i32,
        ]);
        ints.extend([self.requested_format.0, self.format.0]);
        u64s(&mut ints, self.usage.bits());
        ints.extend([self.stride as i32, self.fourcc as i32]);
        u64s(&mut ints, self.size);
        u64s(&mut ints, self.layer_stride);
        let cache = match self.cache {
            CachePolicy::Cached => 0,
            CachePolicy::Uncached => 1,
        };
        ints.extend([role_index(self.heap), cache, kind_index(self.kind)]);
        u64s(&mut ints, self.reserved_size);
        u64s(&mut ints, self.metadata_size);
        ints.push(i32::from(self.plane_count));
        for (i, p) in self.planes.iter().enumerate() {
            let p = if i < usize::from(self.plane_count) {
                *p
            } else {
                PlaneLayout::default()
            };
            u64s(&mut ints, p.offset);
            u64s(&mut ints, p.stride);
            u64s(&mut ints, p.size);
            ints.extend([
                p.width as u32 as i32,
                p.height as u32 as i32,
                p.fourcc as i32,
            ]);
        }
        ints.push(kind_index(self.metadata_kind));
        ints
    }

    /// Decodes and validates version-2 ints. Never panics and never reads out of bounds; every
    /// inconsistency (a plane outside the buffer, sizes that overflow) is an error.
    pub fn from_ints(ints: &[i32]) -> Result<BufferInfo, HandleError> {
        match ints.first() {
            Some(&HANDLE_MAGIC) => {}
            Some(&m) => return Err(HandleError::Magic(m)),
            None => {
                return Err(HandleError::IntCount {
                    expected: HANDLE_INTS,
                    found: 0,
                })
            }
        }
        match ints.get(1) {
            Some(&HANDLE_VERSION) => {}
            Some(&v) => return Err(HandleError::Version(v)),
            None => {
                return Err(HandleError::IntCount {
                    expected: HANDLE_INTS,
                    found: ints.len(),
                })
            }
        }
        if ints.len() != HANDLE_INTS || ints.get(2) != Some(&(HANDLE_INTS as i32)) {
            return Err(HandleError::IntCount {
                expected: HANDLE_INTS,
                found: ints.len(),
            });
        }
        let mut r = Ints(ints.get(3..).unwrap_or(&[]).iter());
        let fds = r.i32();
        if fds != HANDLE_FDS as i32 {
            return Err(bad("fd count", fds as u32 as u64, "a handle has 2 fds"));
        }
        let id = r.u64();
        let (width, height, layer_count) = (r.u32(), r.u32(), r.u32());
        let (requested_format, format) = (PixelFormat(r.i32()), PixelFormat(r.i32()));
        let usage = Usage(r.u64());
        let (stride, fourcc) = (r.u32(), r.u32());
        let (size, layer_stride) = (r.u64(), r.u64());
        let (heap, cache, kind) = (r.i32(), r.i32(), r.i32());
        let (reserved_size, metadata_size) = (r.u64(), r.u64());
        let plane_count = r.i32();
        let mut planes = [PlaneLayout::default(); MAX_PLANES];
        for p in planes.iter_mut() {
            p.offset = r.u64();
            p.stride = r.u64();
            p.size = r.u64();
            p.width = u64::from(r.u32());
            p.height = u64::from(r.u32());
            p.fourcc = r.u32();
        }
        let metadata_kind = r.i32();

        let positive = |field, v: u32| {
            if v == 0 || v > i32::MAX as u32 {
                Err(bad(field, u64::from(v), "must be in 1..=i32::MAX"))
            } else {
                Ok(v)
            }
        };
        if id == 0 {
            return Err(bad("id", 0, "0 is never a buffer id"));
        }
        positive("width", width)?;
        positive("height", height)?;
        positive("layer count", layer_count)?;
        positive("stride", stride)?;
        let format_info = format.info().filter(|i| !i.planes.is_empty()).ok_or(bad(
            "format",
            format.0 as u32 as u64,
            "not a concrete format",
        ))?;
        match requested_format.info() {
            None => {
                return Err(bad(
                    "requested format",
                    requested_format.0 as u32 as u64,
                    "unknown format",
                ))
            }
            // Clients read the buffer as the format they asked for: it must be the one laid
            // out, unless it was a flexible format the allocator resolved.
            Some(i) if i.format != format && i.kind != FormatKind::Flexible => {
                return Err(bad(
                    "requested format",
                    requested_format.0 as u32 as u64,
                    "differs from the laid-out format",
                ))
            }
            Some(_) => {}
        }
        if usage.unknown_bits() != 0 {
            return Err(bad("usage", usage.bits(), "unknown usage bits"));
        }
        let heap = usize::try_from(heap)
            .ok()
            .and_then(|i| HeapRole::ALL.get(i).copied())
            .ok_or(bad("heap role", heap as u32 as u64, "no such role"))?;
        let cache = match cache {
            0 => CachePolicy::Cached,
            1 => CachePolicy::Uncached,
            _ => return Err(bad("cache policy", cache as u32 as u64, "no such policy")),
        };
        let kind = usize::try_from(kind)
            .ok()
            .and_then(|i| BufferKind::ALL.get(i).copied())
            .ok_or(bad("kind", kind as u32 as u64, "no such buffer kind"))?;
        let metadata_kind = usize::try_from(metadata_kind)
            .ok()
            .and_then(|i| BufferKind::ALL.get(i).copied())
            // The region comes from the system-role heap, never from a device's own memory.
            .filter(|k| *k != BufferKind::Drm)
            .ok_or(bad(
                "metadata kind",
                metadata_kind as u32 as u64,
                "no such metadata region kind",
            ))?;
        if size == 0 || size % PAGE_SIZE != 0 {
            return Err(bad(
                "size",
                size,
                "must be a positive multiple of the page size",
            ));
        }
        match layer_stride.checked_mul(u64::from(layer_count)) {
            Some(all) if layer_stride > 0 && all <= size => {}
            _ => {
                return Err(bad(
                    "layer stride",
                    layer_stride,
                    "layers do not fit the allocation",
                ))
            }
        }
        if metadata::region_size(reserved_size) != Some(metadata_size) {
            return Err(bad(
                "metadata size",
                metadata_size,
                "does not match the reserved size",
            ));
        }
        if reserved_size > MAX_RESERVED_SIZE {
            return Err(bad("reserved size", reserved_size, "above the limit"));
        }
        let count = usize::try_from(plane_count)
            .ok()
            .filter(|n| (1..=MAX_PLANES).contains(n));
        let count = count.ok_or(bad(
            "plane count",
            plane_count as u32 as u64,
            "must be 1..=3",
        ))?;
        if count != format_info.planes.len() {
            return Err(bad(
                "plane count",
                count as u64,
                "differs from the format's",
            ));
        }
        for (i, p) in planes.iter().enumerate() {
            if i >= count {
                if *p != PlaneLayout::default() {
                    return Err(bad("unused plane", i as u64, "must be zero"));
                }
                continue;
            }
            if p.stride == 0 || p.width == 0 || p.height == 0 {
                return Err(bad(
                    "plane stride/width/height",
                    i as u64,
                    "must be positive",
                ));
            }
            if p.stride.checked_mul(p.height) != Some(p.size) {
                return Err(bad("plane size", p.size, "is not stride × height"));
            }
            match p.offset.checked_add(p.size) {
                Some(end) if end <= layer_stride => {}
                _ => {
                    return Err(bad(
                        "plane offset",
                        p.offset,
                        "plane extends past its layer",
                    ))
                }
            }
        }
        // The planes fit the layer; now the buffer's own geometry must fit the planes, or a mapper
        // trusting width, height or stride would hand out rows beyond the mapping.
        let blob = format_info.kind == FormatKind::Blob;
        if blob && height != 1 {
            return Err(bad(
                "height",
                u64::from(height),
                "BLOB buffers have height 1",
            ));
        }
        for (p, f) in planes.iter().zip(format_info.planes) {
            let samples = u64::from(width).div_ceil(u64::from(f.hsub.max(1)));
            if p.width != samples {
                return Err(bad("plane width", p.width, "differs from the buffer width"));
            }
            if p.height < u64::from(height).div_ceil(u64::from(f.vsub.max(1))) {
                return Err(bad("plane height", p.height, "fewer rows than the buffer"));
            }
            let row = p.width.checked_mul(u64::from(f.bits_per_pixel));
            if row.map_or(true, |bits| bits.div_ceil(8) > p.stride) {
                return Err(bad(
                    "plane stride",
                    p.stride,
                    "shorter than a row of samples",
                ));
            }
        }
        let (p0, bits0) = (planes[0], u64::from(format_info.planes[0].bits_per_pixel));
        let expected = match format_info.stride_unit {
            _ if blob => Some(u64::from(width)),
            StrideUnit::Bytes => Some(p0.stride),
            StrideUnit::Pixels => {
                let bytes = (bits0 / 8).max(1);
                (p0.stride % bytes == 0).then_some(p0.stride / bytes)
            }
        };
        if expected != Some(u64::from(stride)) {
            return Err(bad(
                "stride",
                u64::from(stride),
                "differs from plane 0's pitch",
            ));
        }
        Ok(BufferInfo {
            id,
            width,
            height,
            layer_count,
            requested_format,
            format,
            usage,
            stride,
            fourcc,
            size,
            layer_stride,
            heap,
            cache,
            kind,
            reserved_size,
            metadata_size,
            metadata_kind,
            planes,
            plane_count: count as u8,
        })
    }
}

/// A decoded, validated handle: the fds it carried and what its ints say.
#[derive(Debug)]
pub struct BufferHandle {
    /// The buffer's memory.
    pub memory: OwnedFd,
    /// The metadata region.
    pub metadata: OwnedFd,
    /// The buffer's description.
    pub info: BufferInfo,
}

impl BufferHandle {
    /// Validates `handle`: the ints ([`BufferInfo::from_ints`]), the fd count, that the memory fd
    /// is a buffer of the declared kind and at least the declared size, and that the metadata fd
    /// is a region of the declared kind and size (a dma-buf of at least that size, or a memfd
    /// sealed against shrinking of exactly that size) whose header names the same buffer id. On
    /// error every fd of `handle` is closed.
    pub fn decode(handle: NativeHandle) -> Result<BufferHandle, MemError> {
        let info = BufferInfo::from_ints(&handle.ints)?;
        let mut fds = handle.fds.into_iter();
        let (memory, metadata) = match (fds.next(), fds.next(), fds.next()) {
            (Some(memory), Some(metadata), None) => (memory, metadata),
            (a, b, c) => {
                let found = usize::from(a.is_some())
                    + usize::from(b.is_some())
                    + usize::from(c.is_some())
                    + fds.len();
                return Err(HandleError::FdCount {
                    expected: HANDLE_FDS,
                    found,
                }
                .into());
            }
        };
        let fd_err = |which, why: String| MemError::Handle(HandleError::Fd { which, why });
        let kind = fd_kind(memory.as_fd()).map_err(|e| fd_err("memory", e.to_string()))?;
        match (kind, info.kind.is_dma_buf()) {
            (FdKind::DmaBuf(_), true) | (FdKind::SealedFile(_), false) => {}
            (found, _) => {
                return Err(fd_err(
                    "memory",
                    format!("is {found:?}, the handle says {}", info.kind),
                ))
            }
        }
        if kind.size() < info.size {
            return Err(fd_err(
                "memory",
                format!("holds {} bytes, the handle says {}", kind.size(), info.size),
            ));
        }
        match (
            fd_kind(metadata.as_fd()).map_err(|e| fd_err("metadata", e.to_string()))?,
            info.metadata_kind.is_dma_buf(),
        ) {
            // A dma-buf's size is fixed at export; a heap may round it up.
            (FdKind::DmaBuf(size), true) if size >= info.metadata_size => {}
            (FdKind::SealedFile(size), false) if size == info.metadata_size => {}
            (found, _) => {
                return Err(fd_err(
                    "metadata",
                    format!(
                        "is {found:?}, the handle says a {} region of {} bytes",
                        info.metadata_kind, info.metadata_size
                    ),
                ))
            }
        }
        let header = metadata::read_header(metadata.as_fd())
            .map_err(|e| fd_err("metadata", e.to_string()))?;
        if header.id != info.id || header.reserved_size != info.reserved_size {
            return Err(fd_err(
                "metadata",
                format!("belongs to buffer {:#x}, not {:#x}", header.id, info.id),
            ));
        }
        Ok(BufferHandle {
            memory,
            metadata,
            info,
        })
    }

    /// A new handle with duplicated fds.
    pub fn encode(&self) -> Result<NativeHandle, MemError> {
        encode_dup(&self.memory, &self.metadata, &self.info)
    }
}

/// A handle for a buffer's memory and metadata fds (duplicated; the caller keeps its own) and
/// its description.
pub(crate) fn encode_dup(
    memory: &OwnedFd,
    metadata: &OwnedFd,
    info: &BufferInfo,
) -> Result<NativeHandle, MemError> {
    let dup = |fd: &OwnedFd| {
        fd.try_clone()
            .map_err(|e| MemError::sys(SysOp::Dup, io_errno(&e)))
    };
    Ok(NativeHandle {
        fds: vec![dup(memory)?, dup(metadata)?],
        ints: info.to_ints(),
    })
}

/// The errno inside an I/O error (EIO if it has none).
pub(crate) fn io_errno(e: &std::io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests;
