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

pub use crate::error::HandleError;
use crate::error::{io_errno, MemError, SysOp};
use crate::heap::BufferKind;
use crate::metadata;
use crate::sys::{fd_kind, FdKind};
use central_gralloc::descriptor::MAX_RESERVED_SIZE;
use central_gralloc::format::{FormatInfo, FormatKind, PixelFormat, StrideUnit};
use central_gralloc::layout::{PlaneLayout, MAX_PLANES, PAGE_SIZE};
use central_gralloc::profile::HeapRole;
use central_gralloc::solver::CachePolicy;
use central_gralloc::usage::Usage;
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

/// A heap role's number in the ints (index 19).
const fn role_code(role: HeapRole) -> i32 {
    match role {
        HeapRole::System => 0,
        HeapRole::SystemUncached => 1,
        HeapRole::Contiguous => 2,
        HeapRole::Protected => 3,
        HeapRole::Device => 4,
    }
}

fn role_from_code(code: i32) -> Option<HeapRole> {
    HeapRole::ALL.into_iter().find(|&r| role_code(r) == code)
}

/// A cache policy's number in the ints (index 20).
const fn cache_code(cache: CachePolicy) -> i32 {
    match cache {
        CachePolicy::Cached => 0,
        CachePolicy::Uncached => 1,
    }
}

fn cache_from_code(code: i32) -> Option<CachePolicy> {
    [CachePolicy::Cached, CachePolicy::Uncached]
        .into_iter()
        .find(|&c| cache_code(c) == code)
}

/// A memory kind's number in the ints (index 21).
const fn kind_code(kind: BufferKind) -> i32 {
    match kind {
        BufferKind::DmaHeap => 0,
        BufferKind::Udmabuf => 1,
        BufferKind::Memfd => 2,
        BufferKind::Drm => 3,
    }
}

fn kind_from_code(code: i32) -> Option<BufferKind> {
    BufferKind::ALL.into_iter().find(|&k| kind_code(k) == code)
}

/// Reads the ints after the header in order. Built over exactly the fields of a handle of this
/// version, so running out means the layout below and [`HANDLE_INTS`] disagree: that is an
/// error, not a zero.
struct Ints<'a>(std::slice::Iter<'a, i32>);

impl Ints<'_> {
    fn i32(&mut self) -> Result<i32, HandleError> {
        self.0.next().copied().ok_or(HandleError::IntCount {
            expected: HANDLE_INTS,
            found: HANDLE_INTS - 1,
        })
    }
    fn u32(&mut self) -> Result<u32, HandleError> {
        self.i32().map(|v| v as u32)
    }
    fn u64(&mut self) -> Result<u64, HandleError> {
        let lo = u64::from(self.u32()?);
        Ok(lo | u64::from(self.u32()?) << 32)
    }
}

fn bad(field: &'static str, value: u64, why: &'static str) -> HandleError {
    HandleError::Field { field, value, why }
}

/// An `i32` field shown as the unsigned value a reader sees in an error.
fn shown(v: i32) -> u64 {
    u64::from(v as u32)
}

/// The fields of a handle of this version as read, before any check.
struct Fields {
    id: u64,
    width: u32,
    height: u32,
    layer_count: u32,
    requested_format: PixelFormat,
    format: PixelFormat,
    usage: Usage,
    stride: u32,
    fourcc: u32,
    size: u64,
    layer_stride: u64,
    heap: i32,
    cache: i32,
    kind: i32,
    reserved_size: u64,
    metadata_size: u64,
    plane_count: i32,
    planes: [PlaneLayout; MAX_PLANES],
    metadata_kind: i32,
}

/// Checks the header (magic, version, int and fd counts) and returns the ints after it.
fn checked_header(ints: &[i32]) -> Result<&[i32], HandleError> {
    let count_error = HandleError::IntCount {
        expected: HANDLE_INTS,
        found: ints.len(),
    };
    match ints {
        [] => Err(count_error),
        [magic, ..] if *magic != HANDLE_MAGIC => Err(HandleError::Magic(*magic)),
        [_] => Err(count_error),
        [_, version, ..] if *version != HANDLE_VERSION => Err(HandleError::Version {
            found: *version,
            known: HANDLE_VERSION,
        }),
        [_, _, n_ints, n_fds, fields @ ..]
            if ints.len() == HANDLE_INTS && *n_ints == HANDLE_INTS as i32 =>
        {
            if *n_fds != HANDLE_FDS as i32 {
                return Err(bad("fd count", shown(*n_fds), "a handle has 2 fds"));
            }
            Ok(fields)
        }
        _ => Err(count_error),
    }
}

impl Fields {
    /// Reads the fields in the order of the layout table in the module documentation.
    fn read(fields: &[i32]) -> Result<Fields, HandleError> {
        let r = &mut Ints(fields.iter());
        let mut read = Fields {
            id: r.u64()?,
            width: r.u32()?,
            height: r.u32()?,
            layer_count: r.u32()?,
            requested_format: PixelFormat(r.i32()?),
            format: PixelFormat(r.i32()?),
            usage: Usage(r.u64()?),
            stride: r.u32()?,
            fourcc: r.u32()?,
            size: r.u64()?,
            layer_stride: r.u64()?,
            heap: r.i32()?,
            cache: r.i32()?,
            kind: r.i32()?,
            reserved_size: r.u64()?,
            metadata_size: r.u64()?,
            plane_count: r.i32()?,
            planes: [PlaneLayout::default(); MAX_PLANES],
            metadata_kind: 0,
        };
        for p in read.planes.iter_mut() {
            p.offset = r.u64()?;
            p.stride = r.u64()?;
            p.size = r.u64()?;
            p.width = u64::from(r.u32()?);
            p.height = u64::from(r.u32()?);
            p.fourcc = r.u32()?;
        }
        read.metadata_kind = r.i32()?;
        Ok(read)
    }

    /// A non-zero id and dimensions an `int` can carry.
    fn check_dimensions(&self) -> Result<(), HandleError> {
        if self.id == 0 {
            return Err(bad("id", 0, "0 is never a buffer id"));
        }
        for (field, v) in [
            ("width", self.width),
            ("height", self.height),
            ("layer count", self.layer_count),
            ("stride", self.stride),
        ] {
            if v == 0 || v > i32::MAX as u32 {
                return Err(bad(field, u64::from(v), "must be in 1..=i32::MAX"));
            }
        }
        Ok(())
    }

    /// The laid-out format's description: a concrete format, which the requested format is (or
    /// resolves to, if it was flexible), with known usage bits.
    fn checked_format(&self) -> Result<&'static FormatInfo, HandleError> {
        let format_info = self
            .format
            .info()
            .filter(|i| !i.planes.is_empty())
            .ok_or(bad("format", shown(self.format.0), "not a concrete format"))?;
        let requested = shown(self.requested_format.0);
        match self.requested_format.info() {
            None => return Err(bad("requested format", requested, "unknown format")),
            // Clients read the buffer as the format they asked for: it must be the one laid
            // out, unless it was a flexible format the allocator resolved.
            Some(i) if i.format != self.format && i.kind != FormatKind::Flexible => {
                return Err(bad(
                    "requested format",
                    requested,
                    "differs from the laid-out format",
                ))
            }
            Some(_) => {}
        }
        if self.usage.unknown_bits() != 0 {
            return Err(bad("usage", self.usage.bits(), "unknown usage bits"));
        }
        Ok(format_info)
    }

    /// The heap role, cache policy, memory kind and metadata region kind the numbers name.
    fn enums(&self) -> Result<(HeapRole, CachePolicy, BufferKind, BufferKind), HandleError> {
        let heap =
            role_from_code(self.heap).ok_or(bad("heap role", shown(self.heap), "no such role"))?;
        let cache = cache_from_code(self.cache).ok_or(bad(
            "cache policy",
            shown(self.cache),
            "no such policy",
        ))?;
        let kind = kind_from_code(self.kind).ok_or(bad(
            "kind",
            shown(self.kind),
            "no such buffer kind",
        ))?;
        let metadata_kind = kind_from_code(self.metadata_kind)
            // The region comes from the system-role heap, never from a device's own memory.
            .filter(|k| *k != BufferKind::Drm)
            .ok_or(bad(
                "metadata kind",
                shown(self.metadata_kind),
                "no such metadata region kind",
            ))?;
        Ok((heap, cache, kind, metadata_kind))
    }

    /// Whole pages, layers inside the allocation, and a metadata region that matches the
    /// reserved size.
    fn check_sizes(&self) -> Result<(), HandleError> {
        if self.size == 0 || self.size % PAGE_SIZE != 0 {
            return Err(bad(
                "size",
                self.size,
                "must be a positive multiple of the page size",
            ));
        }
        match self.layer_stride.checked_mul(u64::from(self.layer_count)) {
            Some(all) if self.layer_stride > 0 && all <= self.size => {}
            _ => {
                return Err(bad(
                    "layer stride",
                    self.layer_stride,
                    "layers do not fit the allocation",
                ))
            }
        }
        if metadata::region_size(self.reserved_size) != Some(self.metadata_size) {
            return Err(bad(
                "metadata size",
                self.metadata_size,
                "does not match the reserved size",
            ));
        }
        if self.reserved_size > MAX_RESERVED_SIZE {
            return Err(bad("reserved size", self.reserved_size, "above the limit"));
        }
        Ok(())
    }

    /// The format's number of planes, each inside its layer; unused planes zero. Returns the
    /// count.
    fn checked_planes(&self, format: &FormatInfo) -> Result<usize, HandleError> {
        let count = usize::try_from(self.plane_count)
            .ok()
            .filter(|n| (1..=MAX_PLANES).contains(n))
            .ok_or(bad("plane count", shown(self.plane_count), "must be 1..=3"))?;
        if count != format.planes.len() {
            return Err(bad(
                "plane count",
                count as u64,
                "differs from the format's",
            ));
        }
        for (i, p) in self.planes.iter().enumerate() {
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
                Some(end) if end <= self.layer_stride => {}
                _ => {
                    return Err(bad(
                        "plane offset",
                        p.offset,
                        "plane extends past its layer",
                    ))
                }
            }
        }
        Ok(count)
    }

    /// The buffer's width and height fit its planes (checked to fit the layer already), so a
    /// mapper trusting them never hands out rows beyond the mapping.
    fn check_geometry(&self, format: &FormatInfo) -> Result<(), HandleError> {
        if format.kind == FormatKind::Blob && self.height != 1 {
            return Err(bad(
                "height",
                u64::from(self.height),
                "BLOB buffers have height 1",
            ));
        }
        for (p, f) in self.planes.iter().zip(format.planes) {
            let samples = u64::from(self.width).div_ceil(u64::from(f.hsub.max(1)));
            if p.width != samples {
                return Err(bad("plane width", p.width, "differs from the buffer width"));
            }
            if p.height < u64::from(self.height).div_ceil(u64::from(f.vsub.max(1))) {
                return Err(bad("plane height", p.height, "fewer rows than the buffer"));
            }
            match p.width.checked_mul(u64::from(f.bits_per_pixel)) {
                Some(bits) if bits.div_ceil(8) <= p.stride => {}
                _ => {
                    return Err(bad(
                        "plane stride",
                        p.stride,
                        "shorter than a row of samples",
                    ))
                }
            }
        }
        Ok(())
    }

    /// `stride` is plane 0's pitch in the format's unit (bytes, pixels, or the width of a BLOB).
    fn check_stride(&self, format: &FormatInfo) -> Result<(), HandleError> {
        let (pitch, bits) = match (self.planes.first(), format.planes.first()) {
            (Some(p), Some(f)) => (p.stride, u64::from(f.bits_per_pixel)),
            _ => return Err(bad("plane count", 0, "a format has at least one plane")),
        };
        let expected = match format.stride_unit {
            _ if format.kind == FormatKind::Blob => Some(u64::from(self.width)),
            StrideUnit::Bytes => Some(pitch),
            StrideUnit::Pixels => {
                let bytes = (bits / 8).max(1);
                (pitch % bytes == 0).then_some(pitch / bytes)
            }
        };
        if expected != Some(u64::from(self.stride)) {
            return Err(bad(
                "stride",
                u64::from(self.stride),
                "differs from plane 0's pitch",
            ));
        }
        Ok(())
    }
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
        ints.extend([
            role_code(self.heap),
            cache_code(self.cache),
            kind_code(self.kind),
        ]);
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
        ints.push(kind_code(self.metadata_kind));
        ints
    }

    /// Decodes and validates version-2 ints. Never panics and never reads out of bounds; every
    /// inconsistency (a plane outside the buffer, sizes that overflow) is an error.
    pub fn from_ints(ints: &[i32]) -> Result<BufferInfo, HandleError> {
        let f = Fields::read(checked_header(ints)?)?;
        f.check_dimensions()?;
        let format = f.checked_format()?;
        let (heap, cache, kind, metadata_kind) = f.enums()?;
        f.check_sizes()?;
        let plane_count = f.checked_planes(format)?;
        f.check_geometry(format)?;
        f.check_stride(format)?;
        Ok(BufferInfo {
            id: f.id,
            width: f.width,
            height: f.height,
            layer_count: f.layer_count,
            requested_format: f.requested_format,
            format: f.format,
            usage: f.usage,
            stride: f.stride,
            fourcc: f.fourcc,
            size: f.size,
            layer_stride: f.layer_stride,
            heap,
            cache,
            kind,
            reserved_size: f.reserved_size,
            metadata_size: f.metadata_size,
            metadata_kind,
            planes: f.planes,
            // At most MAX_PLANES (3), checked above.
            plane_count: plane_count as u8,
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

#[cfg(test)]
mod tests;
