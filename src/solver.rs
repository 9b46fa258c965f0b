//! The central solver: one deterministic placement (heap, layout, cache policy) that satisfies
//! every device a buffer will meet, or the device whose constraint cannot be met.

use crate::descriptor::{Descriptor, DescriptorError};
use crate::device::{Access, Constraints, Device, Role, RoleSet};
use crate::error::ErrorCode;
use crate::format::{FormatKind, PixelFormat};
use crate::layout::{self, LayoutError};
use crate::profile::{HeapRole, HeapSpec, Profile};
use std::fmt;

pub use crate::placement::{
    CachePolicy, CacheReason, DeviceSet, FormatReason, HeapReason, Placement, Reasons,
};
pub use lifecycle::PendingBuffer;

mod lifecycle;

/// Why no placement exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SolveError {
    /// The descriptor itself is invalid.
    Descriptor(DescriptorError),
    /// Usage needs a role no device of the profile plays.
    NoDevice(Role),
    /// No device is called that.
    UnknownDevice(String),
    /// A device cannot read or write the format.
    Format {
        /// The device.
        device: String,
        /// The format.
        format: PixelFormat,
        /// Whether it was asked to write (else read).
        write: bool,
    },
    /// A flexible format has no candidate that every device accepts.
    NoFormat(PixelFormat),
    /// A device limit is exceeded.
    Limit {
        /// The device.
        device: String,
        /// Which limit.
        what: &'static str,
        /// The buffer's value.
        value: u64,
        /// The device's limit.
        limit: u64,
    },
    /// The buffer is smaller than a device's minimum.
    Minimum {
        /// The device.
        device: String,
        /// Which minimum (`width`, `height`).
        what: &'static str,
        /// The buffer's value.
        value: u64,
        /// The device's minimum.
        minimum: u64,
    },
    /// A device cannot touch protected memory.
    NotProtected(String),
    /// A device's alignment cannot be combined with the others' within 64 bits.
    AlignmentOverflow(String),
    /// The profile has no heap of a needed role; the text says what needs it (naming the device).
    MissingHeap(HeapRole, String),
    /// A device's address limit is below every heap that could hold the buffer.
    AddressLimit {
        /// The device.
        device: String,
        /// Its address bits.
        bits: u8,
    },
    /// The layout cannot be computed (sizes overflow).
    Layout(LayoutError),
    /// A device cannot use the placement: it was attached after finalize and does not fit, or
    /// the format fixes its own plane layout (YV12) and that layout breaks the device's alignment.
    Conflict {
        /// The device.
        device: String,
        /// What it needs that the placement lacks.
        reason: String,
    },
    /// No device of the buffer accounts for a merged requirement or limit. The merge is built
    /// from exactly those devices, so this names a broken invariant rather than blaming a device
    /// that did not ask for it.
    Unattributed(&'static str),
}

impl SolveError {
    /// The wire outcome.
    pub fn code(&self) -> ErrorCode {
        match self {
            SolveError::Descriptor(e) => e.code(),
            SolveError::Layout(_) => ErrorCode::BadDescriptor,
            _ => ErrorCode::Unsupported,
        }
    }
}

impl fmt::Display for SolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SolveError::Descriptor(e) => write!(f, "{e}"),
            SolveError::NoDevice(role) => {
                write!(f, "no device of this platform has the {} role", role.name())
            }
            SolveError::UnknownDevice(name) => write!(f, "no device called `{name}`"),
            SolveError::Format {
                device,
                format,
                write,
            } => {
                write!(
                    f,
                    "{device} cannot {} {format}",
                    if *write { "write" } else { "read" }
                )
            }
            SolveError::NoFormat(format) => {
                write!(f, "no concrete format for {format} suits every device")
            }
            SolveError::Limit {
                device,
                what,
                value,
                limit,
            } => {
                write!(f, "{device}: {what} {value} exceeds its limit {limit}")
            }
            SolveError::Minimum {
                device,
                what,
                value,
                minimum,
            } => {
                write!(f, "{device}: {what} {value} is below its minimum {minimum}")
            }
            SolveError::NotProtected(device) => {
                write!(f, "{device} cannot access protected memory")
            }
            SolveError::AlignmentOverflow(device) => {
                write!(
                    f,
                    "{device}'s alignment cannot be combined with the others' in 64 bits"
                )
            }
            SolveError::MissingHeap(role, why) => {
                write!(f, "no {role} heap on this platform ({why})")
            }
            SolveError::AddressLimit { device, bits } => {
                write!(
                    f,
                    "{device} addresses only {bits} bits and no suitable heap lies below that"
                )
            }
            SolveError::Layout(e) => write!(f, "{e}"),
            SolveError::Conflict { device, reason } => {
                write!(f, "{device} cannot use this buffer: {reason}")
            }
            SolveError::Unattributed(what) => {
                write!(f, "no device of the buffer accounts for its merged {what}")
            }
        }
    }
}

impl std::error::Error for SolveError {}

impl From<DescriptorError> for SolveError {
    fn from(e: DescriptorError) -> Self {
        SolveError::Descriptor(e)
    }
}

/// Places `descriptor` on `profile`: the devices its usage names, their merged constraints, one
/// placement. Same input, same output.
pub fn solve(descriptor: &Descriptor, profile: &Profile) -> Result<Placement, SolveError> {
    let (readers, writers) = devices_for_usage(descriptor, profile)?;
    solve_for(descriptor, profile, readers, writers)
}

/// Whether `solve` would succeed: the same code, nothing allocated.
pub fn is_supported(descriptor: &Descriptor, profile: &Profile) -> bool {
    solve(descriptor, profile).is_ok()
}

/// The devices (readers, writers) that the usage bits attach.
pub fn devices_for_usage(
    descriptor: &Descriptor,
    profile: &Profile,
) -> Result<(DeviceSet, DeviceSet), SolveError> {
    let roles = RoleSet::from_usage(descriptor.usage);
    let (mut readers, mut writers) = (DeviceSet::default(), DeviceSet::default());
    for (role, access) in roles.iter() {
        let mut found = false;
        for (i, device) in profile.devices().iter().enumerate() {
            if device.has_role(role) {
                found = true;
                if access.read {
                    readers = readers.with(i);
                }
                if access.write {
                    writers = writers.with(i);
                }
            }
        }
        if !found {
            return Err(SolveError::NoDevice(role));
        }
    }
    Ok((readers, writers))
}

/// Candidates for IMPLEMENTATION_DEFINED, in preference order.
fn flexible_candidates(
    readers: DeviceSet,
    writers: DeviceSet,
    profile: &Profile,
) -> &'static [PixelFormat] {
    let media = [
        Role::Camera,
        Role::VideoEncoder,
        Role::VideoDecoder,
        Role::ImageEncoder,
    ];
    let all = DeviceSet(readers.0 | writers.0);
    let has_media = all
        .iter()
        .any(|i| profile.devices()[i].role_list().any(|r| media.contains(&r)));
    if has_media {
        &[
            PixelFormat::YCBCR_420_888,
            PixelFormat::YCRCB_420_SP,
            PixelFormat::RGBX_8888,
        ]
    } else {
        &[PixelFormat::RGBX_8888, PixelFormat::RGBA_8888]
    }
}

fn accepts(device: &Device, access: Access, format: PixelFormat) -> bool {
    (!access.read || device.constraints.reads.contains(format))
        && (!access.write || device.constraints.writes.contains(format))
}

/// Places `descriptor` for an explicit set of reading and writing devices.
pub fn solve_for(
    descriptor: &Descriptor,
    profile: &Profile,
    readers: DeviceSet,
    writers: DeviceSet,
) -> Result<Placement, SolveError> {
    let devices = profile.devices();
    let all = DeviceSet(readers.0 | writers.0);
    let access = |i: usize| Access {
        read: readers.contains(i),
        write: writers.contains(i),
    };

    let mut merged = Constraints::NONE;
    for i in all.iter() {
        let device = devices
            .get(i)
            .ok_or_else(|| SolveError::UnknownDevice(format!("#{i}")))?;
        merged = merged
            .merge(&device.constraints)
            .ok_or_else(|| SolveError::AlignmentOverflow(device.name.clone()))?;
    }

    // Format: as requested, or the first candidate every device accepts.
    let requested = descriptor.format;
    let info = requested
        .info()
        .ok_or(SolveError::Descriptor(DescriptorError::UnknownFormat(
            requested.0,
        )))?;
    let (format, format_reason) = if info.kind == FormatKind::Flexible {
        let chosen = flexible_candidates(readers, writers, profile)
            .iter()
            .copied()
            .find(|&f| all.iter().all(|i| accepts(&devices[i], access(i), f)))
            .ok_or(SolveError::NoFormat(requested))?;
        (chosen, FormatReason::Resolved)
    } else {
        (requested, FormatReason::AsRequested)
    };
    let info = format.info().ok_or(SolveError::NoFormat(requested))?;
    for i in all.iter() {
        let a = access(i);
        if !accepts(&devices[i], a, format) {
            let write = a.write && !devices[i].constraints.writes.contains(format);
            return Err(SolveError::Format {
                device: devices[i].name.clone(),
                format,
                write,
            });
        }
    }

    let protected = descriptor.usage.protected();
    if protected {
        if let Some(i) = all.iter().find(|&i| !devices[i].constraints.protected) {
            return Err(SolveError::NotProtected(devices[i].name.clone()));
        }
    }

    let (heap, heap_reason, cache, cache_reason) = choose_heap(descriptor, profile, all, &merged)?;
    // The allocating heap may have rules of its own (a DRM driver's pitch, its largest buffer):
    // the layout satisfies them as it satisfies every device's.
    let heap_limits = Constraints {
        stride_align: heap.stride_align,
        max_size: heap.max_size,
        ..Constraints::NONE
    };
    let merged = merged
        .merge(&heap_limits)
        .ok_or_else(|| SolveError::AlignmentOverflow(format!("the {} heap", heap.role)))?;
    let layout = layout::compute(
        info,
        descriptor.width,
        descriptor.height,
        descriptor.layer_count,
        &merged,
    )
    .map_err(SolveError::Layout)?;
    if layout.size > heap.max_size {
        return Err(SolveError::Limit {
            device: format!("the {} heap ({})", heap.role, heap.name),
            what: "size",
            value: layout.size,
            limit: heap.max_size,
        });
    }
    let placement = Placement {
        heap: heap.role,
        contiguous: heap.contiguous,
        address_bits: heap.address_bits,
        cache,
        requested_format: requested,
        format,
        fourcc: info.fourcc.unwrap_or(0),
        layout,
        reserved_size: descriptor.reserved_size,
        readers,
        writers,
        constraints: merged,
        reasons: Reasons {
            heap: heap_reason,
            cache: cache_reason,
            format: format_reason,
        },
    };
    // The layout was built from the merged constraints; this re-checks it per device and turns
    // device maxima into errors that name the device.
    for i in all.iter() {
        check_device(&devices[i], access(i), &placement, descriptor)?;
    }
    Ok(placement)
}

/// The first device of `set` for which `pred` holds, to name in a reason or an error. The caller
/// asks about a merged requirement or limit that one of these devices set; `what` names it for
/// the error if none did.
fn first_device<'p>(
    profile: &'p Profile,
    set: DeviceSet,
    what: &'static str,
    pred: impl Fn(&Device) -> bool,
) -> Result<(usize, &'p Device), SolveError> {
    set.iter()
        .filter_map(|i| profile.devices().get(i).map(|d| (i, d)))
        .find(|(_, d)| pred(d))
        .ok_or(SolveError::Unattributed(what))
}

/// A heap, why it was chosen, the CPU mapping and why.
type HeapChoice<'p> = (&'p HeapSpec, HeapReason, CachePolicy, CacheReason);

/// The heap for the buffer: the protected heap for protected content, the device's own memory
/// when a device imports nothing else, the contiguous heap when a device needs contiguous
/// memory, else system memory (cached or not, see [`system_heap`]).
fn choose_heap<'p>(
    descriptor: &Descriptor,
    profile: &'p Profile,
    all: DeviceSet,
    merged: &Constraints,
) -> Result<HeapChoice<'p>, SolveError> {
    if descriptor.usage.protected() {
        protected_heap(profile, all, merged)
    } else if !merged.imports_foreign {
        device_heap(descriptor, profile, all, merged)
    } else if merged.contiguous {
        contiguous_heap(profile, all, merged)
    } else {
        system_heap(descriptor, profile, all, merged)
    }
}

/// The error for a heap above the narrowest device's address limit, naming that device.
fn address_limit(profile: &Profile, all: DeviceSet, merged: &Constraints) -> SolveError {
    let narrowest = first_device(profile, all, "address limit", |d| {
        d.constraints.address_bits == merged.address_bits
    });
    match narrowest {
        Ok((_, device)) => SolveError::AddressLimit {
            device: device.name.clone(),
            bits: merged.address_bits,
        },
        Err(e) => e,
    }
}

fn protected_heap<'p>(
    profile: &'p Profile,
    all: DeviceSet,
    merged: &Constraints,
) -> Result<HeapChoice<'p>, SolveError> {
    let heap = profile
        .heap(HeapRole::Protected)
        .ok_or_else(|| SolveError::MissingHeap(HeapRole::Protected, "PROTECTED usage".into()))?;
    if merged.contiguous && !heap.contiguous {
        let (_, device) = first_device(profile, all, "need for contiguous memory", |d| {
            d.constraints.contiguous
        })?;
        return Err(SolveError::Conflict {
            device: device.name.clone(),
            reason: "needs contiguous memory and the protected heap is not contiguous".into(),
        });
    }
    if heap.address_bits > merged.address_bits {
        return Err(address_limit(profile, all, merged));
    }
    if !merged.imports_foreign {
        let (_, device) = first_device(profile, all, "foreign-import limit", |d| {
            !d.constraints.imports_foreign
        })?;
        return Err(SolveError::Conflict {
            device: device.name.clone(),
            reason: "imports only memory its own driver allocated, not protected memory".into(),
        });
    }
    Ok((
        heap,
        HeapReason::Protected,
        CachePolicy::Uncached,
        CacheReason::Protected,
    ))
}

/// A device's own memory, for a device that cannot import dma-bufs another driver exported: any
/// other heap's buffer would fail at its PRIME import, so its driver allocates, and every other
/// device (which imports foreign dma-bufs) takes that driver's export.
fn device_heap<'p>(
    descriptor: &Descriptor,
    profile: &'p Profile,
    all: DeviceSet,
    merged: &Constraints,
) -> Result<HeapChoice<'p>, SolveError> {
    let (i, device) = first_device(profile, all, "foreign-import limit", |d| {
        !d.constraints.imports_foreign
    })?;
    let heap = profile.heap(HeapRole::Device).ok_or_else(|| {
        SolveError::MissingHeap(
            HeapRole::Device,
            format!(
                "{} cannot import dma-bufs another driver exported",
                device.name
            ),
        )
    })?;
    if merged.contiguous && !heap.contiguous {
        let (_, needs) = first_device(profile, all, "need for contiguous memory", |d| {
            d.constraints.contiguous
        })?;
        return Err(SolveError::Conflict {
            device: needs.name.clone(),
            reason: format!(
                "needs contiguous memory and {} needs memory {} allocates, which is not",
                device.name, heap.name
            ),
        });
    }
    if heap.address_bits > merged.address_bits {
        return Err(address_limit(profile, all, merged));
    }
    // The exporting driver decides the CPU mapping; DRM's shmem-backed objects map cached.
    let cache_reason = if descriptor.usage.cpu_reads_often() {
        CacheReason::CpuReadsOften
    } else if merged.coherent {
        CacheReason::AllCoherent
    } else {
        CacheReason::DeviceHeap
    };
    Ok((
        heap,
        HeapReason::DeviceMemoryFor(i),
        CachePolicy::Cached,
        cache_reason,
    ))
}

fn contiguous_heap<'p>(
    profile: &'p Profile,
    all: DeviceSet,
    merged: &Constraints,
) -> Result<HeapChoice<'p>, SolveError> {
    let (i, device) = first_device(profile, all, "need for contiguous memory", |d| {
        d.constraints.contiguous
    })?;
    let heap = profile.heap(HeapRole::Contiguous).ok_or_else(|| {
        SolveError::MissingHeap(
            HeapRole::Contiguous,
            format!("{} needs contiguous memory", device.name),
        )
    })?;
    if heap.address_bits > merged.address_bits {
        return Err(address_limit(profile, all, merged));
    }
    Ok((
        heap,
        HeapReason::ContiguousFor(i),
        CachePolicy::Cached,
        CacheReason::ContiguousHeap,
    ))
}

/// System memory: cached when the CPU reads often or every device snoops, else the uncached
/// system heap when the profile has one. When the system heap lies above a device's address
/// limit, only contiguous memory is known to lie low enough.
fn system_heap<'p>(
    descriptor: &Descriptor,
    profile: &'p Profile,
    all: DeviceSet,
    merged: &Constraints,
) -> Result<HeapChoice<'p>, SolveError> {
    let fits = |h: &HeapSpec| h.address_bits <= merged.address_bits;
    let system = profile.heap(HeapRole::System).ok_or_else(|| {
        SolveError::MissingHeap(HeapRole::System, "every profile needs one".into())
    })?;
    if !fits(system) {
        return match profile.heap(HeapRole::Contiguous) {
            Some(heap) if fits(heap) => {
                let (i, _) = first_device(profile, all, "address limit", |d| {
                    d.constraints.address_bits == merged.address_bits
                })?;
                Ok((
                    heap,
                    HeapReason::AddressLimitFor(i, merged.address_bits),
                    CachePolicy::Cached,
                    CacheReason::ContiguousHeap,
                ))
            }
            _ => Err(address_limit(profile, all, merged)),
        };
    }
    let cached = |reason| Ok((system, HeapReason::Default, CachePolicy::Cached, reason));
    if descriptor.usage.cpu_reads_often() {
        return cached(CacheReason::CpuReadsOften);
    }
    if merged.coherent {
        return cached(CacheReason::AllCoherent);
    }
    match profile.heap(HeapRole::SystemUncached) {
        Some(heap) if fits(heap) => {
            let (i, _) = first_device(profile, all, "non-coherent access", |d| !d.coherent())?;
            Ok((
                heap,
                HeapReason::Uncached,
                CachePolicy::Uncached,
                CacheReason::NonCoherentWithoutCpuReads(i),
            ))
        }
        _ => cached(CacheReason::NoUncachedHeap),
    }
}

/// Whether `device` making `access` can use `placement`; the error says what it lacks.
pub fn check_device(
    device: &Device,
    access: Access,
    placement: &Placement,
    descriptor: &Descriptor,
) -> Result<(), SolveError> {
    let c = &device.constraints;
    let limit = |what: &'static str, value: u64, limit: u64| {
        if value > limit {
            Err(SolveError::Limit {
                device: device.name.clone(),
                what,
                value,
                limit,
            })
        } else {
            Ok(())
        }
    };
    let conflict = |reason: String| {
        Err(SolveError::Conflict {
            device: device.name.clone(),
            reason,
        })
    };
    if !accepts(device, access, placement.format) {
        let write = access.write && !c.writes.contains(placement.format);
        return Err(SolveError::Format {
            device: device.name.clone(),
            format: placement.format,
            write,
        });
    }
    let blob = placement
        .format
        .info()
        .is_some_and(|i| i.kind == FormatKind::Blob);
    let l = &placement.layout;
    let planes = l.planes();
    // A BLOB is one row of `width` bytes (a JPEG, a GPU data buffer): the pixel and pitch limits
    // say nothing about it, its size limit says everything.
    let minimum = |what: &'static str, value: u32, minimum: u32| {
        if value < minimum {
            Err(SolveError::Minimum {
                device: device.name.clone(),
                what,
                value: u64::from(value),
                minimum: u64::from(minimum),
            })
        } else {
            Ok(())
        }
    };
    if !blob {
        minimum("width", descriptor.width, c.min_width)?;
        minimum("height", descriptor.height, c.min_height)?;
        limit("width", u64::from(descriptor.width), u64::from(c.max_width))?;
        limit(
            "height",
            u64::from(descriptor.height),
            u64::from(c.max_height),
        )?;
        limit(
            "stride",
            planes.first().map_or(0, |p| p.stride),
            c.max_stride,
        )?;
    }
    limit("size", l.size, c.max_size)?;
    if descriptor.usage.protected() && !c.protected {
        return Err(SolveError::NotProtected(device.name.clone()));
    }
    if c.contiguous && !placement.contiguous {
        return conflict("needs physically contiguous memory".into());
    }
    if !c.imports_foreign && placement.heap != HeapRole::Device {
        return conflict(format!(
            "imports only memory its own driver allocated, and this buffer is on the {} heap",
            placement.heap
        ));
    }
    if placement.address_bits > c.address_bits {
        return conflict(format!(
            "addresses {} bits, memory may use {}",
            c.address_bits, placement.address_bits
        ));
    }
    for p in planes {
        if !blob && p.stride % c.stride_align != 0 {
            return conflict(format!(
                "stride {} is not a multiple of {}",
                p.stride, c.stride_align
            ));
        }
        if p.offset % c.offset_align != 0 {
            return conflict(format!(
                "plane offset {} is not a multiple of {}",
                p.offset, c.offset_align
            ));
        }
    }
    if !blob
        && planes
            .first()
            .is_some_and(|p| p.height % c.height_align != 0)
    {
        return conflict(format!(
            "rows are not padded to a multiple of {}",
            c.height_align
        ));
    }
    if l.layer_stride % c.offset_align != 0 || l.size % c.size_align != 0 {
        return conflict(format!(
            "layer or size alignment below {}/{}",
            c.offset_align, c.size_align
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
