//! `Placement`: the solver's answer (heap, layout, cache policy, devices) and the reasons for it.

use crate::device::{Access, Constraints, MAX_DEVICES};
use crate::format::PixelFormat;
use crate::layout::Layout;
use crate::profile::{HeapRole, Profile};

/// How the CPU maps the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CachePolicy {
    /// Cached mapping: fast CPU reads; needs maintenance around non-coherent devices.
    Cached,
    /// Write-combined/uncached mapping (or no CPU mapping): never needs CPU cache maintenance.
    Uncached,
}

impl CachePolicy {
    /// `cached` or `uncached`.
    pub const fn name(self) -> &'static str {
        match self {
            CachePolicy::Cached => "cached",
            CachePolicy::Uncached => "uncached",
        }
    }
}

/// A set of a profile's devices, as a bitmask over profile order (indices below
/// [`MAX_DEVICES`], which profiles enforce).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeviceSet(pub u32);

// Every profile index must have a bit.
const _: () = assert!(MAX_DEVICES <= u32::BITS as usize);

impl DeviceSet {
    /// Whether device `index` is in the set.
    pub const fn contains(self, index: usize) -> bool {
        index < MAX_DEVICES && self.0 & (1 << index) != 0
    }
    /// The set with device `index` added. Indices come from a profile, so they are below
    /// [`MAX_DEVICES`]; one that is not names no device and adds nothing.
    pub const fn with(self, index: usize) -> DeviceSet {
        if index < MAX_DEVICES {
            DeviceSet(self.0 | (1 << index))
        } else {
            self
        }
    }
    /// Device indices in order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..MAX_DEVICES).filter(move |&i| self.contains(i))
    }
}

/// Why the heap was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeapReason {
    /// Nothing needed more than ordinary system memory.
    Default,
    /// Protected content.
    Protected,
    /// Device `.0` needs physically contiguous memory.
    ContiguousFor(usize),
    /// Device `.0` can only address `.1` bits and the system heap may hand out higher pages.
    AddressLimitFor(usize, u8),
    /// Write-combined memory: see the cache reason.
    Uncached,
    /// Device `.0` cannot import dma-bufs another driver exported: its own driver allocates.
    DeviceMemoryFor(usize),
}

/// Why the cache policy was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheReason {
    /// The CPU reads often: a cached mapping.
    CpuReadsOften,
    /// Every device snoops the CPU caches, so caching costs no maintenance.
    AllCoherent,
    /// Device `.0` does not snoop and the CPU seldom reads: write-combined avoids all maintenance.
    NonCoherentWithoutCpuReads(usize),
    /// Uncached would be better but the platform has no `system-uncached` heap.
    NoUncachedHeap,
    /// The contiguous heap maps cached.
    ContiguousHeap,
    /// Protected memory is never mapped by the CPU.
    Protected,
    /// The allocating device's driver maps its memory cached; non-coherent devices get tracked
    /// maintenance.
    DeviceHeap,
}

/// Why the format is what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FormatReason {
    /// The request named a concrete format.
    AsRequested,
    /// A flexible format was resolved to the first candidate every device accepts.
    Resolved,
}

/// The reasons for every choice in a [`Placement`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reasons {
    /// Heap choice.
    pub heap: HeapReason,
    /// Cache policy.
    pub cache: CacheReason,
    /// Format resolution.
    pub format: FormatReason,
}

/// Where and how a buffer lives. Plain data, no heap allocation: solving is cheap to repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Placement {
    /// The heap role to allocate from.
    pub heap: HeapRole,
    /// Whether the memory is physically contiguous.
    pub contiguous: bool,
    /// Highest address bit the memory may use (the heap's guarantee).
    pub address_bits: u8,
    /// CPU mapping policy.
    pub cache: CachePolicy,
    /// The format the client asked for.
    pub requested_format: PixelFormat,
    /// The concrete format laid out (differs for IMPLEMENTATION_DEFINED).
    pub format: PixelFormat,
    /// DRM fourcc of the resolved format, 0 if none.
    pub fourcc: u32,
    /// Plane layout, strides and total size.
    pub layout: Layout,
    /// Bytes of client metadata to reserve beside the buffer.
    pub reserved_size: u64,
    /// Devices that read the buffer.
    pub readers: DeviceSet,
    /// Devices that write the buffer.
    pub writers: DeviceSet,
    /// The merged constraints the layout satisfies.
    pub constraints: Constraints,
    /// Why each choice was made.
    pub reasons: Reasons,
}

impl Placement {
    /// Allocation size in bytes (page-aligned).
    pub fn size(&self) -> u64 {
        self.layout.size
    }
    /// Every attached device.
    pub fn devices(&self) -> DeviceSet {
        DeviceSet(self.readers.0 | self.writers.0)
    }
    /// Names of the attached devices, in profile order.
    pub fn device_names<'a>(&self, profile: &'a Profile) -> impl Iterator<Item = &'a str> + 'a {
        let set = self.devices();
        profile
            .devices()
            .iter()
            .enumerate()
            .filter(move |(i, _)| set.contains(*i))
            .map(|(_, d)| d.name.as_str())
    }
    /// The access device `index` makes.
    pub fn access(&self, index: usize) -> Access {
        Access {
            read: self.readers.contains(index),
            write: self.writers.contains(index),
        }
    }

    /// Human-readable reasons, one `(choice, explanation)` pair per decision.
    pub fn explain(&self, profile: &Profile) -> Vec<(&'static str, String)> {
        let name = |i: usize| profile.devices().get(i).map_or("?", |d| d.name.as_str());
        let heap_name = profile.heap(self.heap).map_or("?", |h| h.name.as_str());
        let heap = match self.reasons.heap {
            HeapReason::Default => "ordinary system memory satisfies every device".to_string(),
            HeapReason::Protected => "PROTECTED content needs the protected heap".to_string(),
            HeapReason::ContiguousFor(i) => {
                format!("{} needs physically contiguous memory", name(i))
            }
            HeapReason::AddressLimitFor(i, bits) => {
                format!(
                    "{} addresses only {bits} bits; the contiguous heap lies below that",
                    name(i)
                )
            }
            HeapReason::Uncached => "write-combined system memory (see cache)".to_string(),
            HeapReason::DeviceMemoryFor(i) => format!(
                "{} cannot import dma-bufs another driver exported (PRIME import fails), so \
                 {heap_name} allocates the buffer and exports it to every other device",
                name(i)
            ),
        };
        let cache = match self.reasons.cache {
            CacheReason::CpuReadsOften => "CPU_READ_OFTEN: cached mapping for fast reads".to_string(),
            CacheReason::AllCoherent => "every device snoops CPU caches: cached costs nothing".to_string(),
            CacheReason::NonCoherentWithoutCpuReads(i) => format!(
                "{} does not snoop CPU caches and the CPU seldom reads: write-combined needs no flushes",
                name(i)
            ),
            CacheReason::NoUncachedHeap => {
                "no system-uncached heap on this platform: cached, with tracked maintenance".to_string()
            }
            CacheReason::ContiguousHeap => "the contiguous heap maps cached".to_string(),
            CacheReason::Protected => "protected memory is never CPU-mapped".to_string(),
            CacheReason::DeviceHeap => {
                "the allocating driver maps its memory cached: tracked maintenance".to_string()
            }
        };
        let format = match self.reasons.format {
            FormatReason::AsRequested => format!("{} as requested", self.format),
            FormatReason::Resolved => {
                format!(
                    "{} resolved to {} for this device set",
                    self.requested_format, self.format
                )
            }
        };
        let c = &self.constraints;
        vec![
            ("heap", format!("{} ({heap_name}): {heap}", self.heap)),
            ("cache", format!("{}: {cache}", self.cache.name())),
            ("format", format),
            (
                "layout",
                format!(
                    "stride alignment lcm {} B, height alignment {} rows, offset alignment {} B",
                    c.stride_align, c.height_align, c.offset_align
                ),
            ),
        ]
    }
}
