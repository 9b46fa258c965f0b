//! Devices, the roles usage bits give them, their constraints, and the merge of a device set.

use crate::format::FormatSet;
use crate::usage::Usage;
use std::fmt;

/// Most devices one profile may list. Every per-device bitmask (the solver's `DeviceSet`, the
/// tracker's `CacheDomains`, the lock path's `LockDomains`) is indexed by a device's position in
/// its profile, below this; a profile with more is refused when it is parsed or built.
pub const MAX_DEVICES: usize = 32;

/// What a device does with buffers; usage bits map to roles, a profile's devices declare roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// CPU mappings (lock/unlock).
    Cpu,
    /// GPU texturing, rendering, compute.
    Gpu,
    /// Display controller scan-out (overlay, client target, cursor).
    Display,
    /// Camera (ISP) output or reprocessing input.
    Camera,
    /// Video encoder.
    VideoEncoder,
    /// Video decoder.
    VideoDecoder,
    /// Hardware image (JPEG/HEIC) encoder.
    ImageEncoder,
    /// Sensor hub writing direct-channel data.
    Sensor,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 8] = [
        Role::Cpu,
        Role::Gpu,
        Role::Display,
        Role::Camera,
        Role::VideoEncoder,
        Role::VideoDecoder,
        Role::ImageEncoder,
        Role::Sensor,
    ];
    /// The name used in profile files.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Cpu => "cpu",
            Role::Gpu => "gpu",
            Role::Display => "display",
            Role::Camera => "camera",
            Role::VideoEncoder => "video-encoder",
            Role::VideoDecoder => "video-decoder",
            Role::ImageEncoder => "image-encoder",
            Role::Sensor => "sensor",
        }
    }
    /// Parses a profile-file role name.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == text)
    }
    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// Whether a device reads, writes or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Access {
    /// Consumes (reads) the buffer.
    pub read: bool,
    /// Produces (writes) the buffer.
    pub write: bool,
}

impl Access {
    const fn or(self, other: Access) -> Access {
        Access {
            read: self.read || other.read,
            write: self.write || other.write,
        }
    }
    /// Neither read nor write.
    pub const fn is_none(self) -> bool {
        !self.read && !self.write
    }
}

const R: Access = Access {
    read: true,
    write: false,
};
const W: Access = Access {
    read: false,
    write: true,
};
const RW: Access = Access {
    read: true,
    write: true,
};

/// The roles a buffer's usage gives it, with the access each role makes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RoleSet {
    access: [Access; 8],
}

impl RoleSet {
    /// Maps usage bits to roles. Unknown bits are ignored here (validation rejects them earlier).
    pub fn from_usage(usage: Usage) -> RoleSet {
        let mut set = RoleSet::default();
        let table: [(Usage, Role, Access); 16] = [
            (Usage::GPU_TEXTURE, Role::Gpu, R),
            (Usage::GPU_CUBE_MAP, Role::Gpu, R),
            (Usage::GPU_MIPMAP_COMPLETE, Role::Gpu, R),
            (Usage::GPU_RENDER_TARGET, Role::Gpu, W),
            (Usage::GPU_DATA_BUFFER, Role::Gpu, RW),
            (Usage::RENDERSCRIPT, Role::Gpu, RW),
            (Usage::COMPOSER_OVERLAY, Role::Display, R),
            (Usage::COMPOSER_CURSOR, Role::Display, R),
            // The client target is what the GPU composes into and the display then scans out.
            (Usage::COMPOSER_CLIENT_TARGET, Role::Display, R),
            (Usage::CAMERA_OUTPUT, Role::Camera, W),
            (Usage::CAMERA_INPUT, Role::Camera, R),
            (Usage::VIDEO_ENCODER, Role::VideoEncoder, R),
            (Usage::VIDEO_DECODER, Role::VideoDecoder, W),
            (Usage::HW_IMAGE_ENCODER, Role::ImageEncoder, R),
            (Usage::SENSOR_DIRECT_DATA, Role::Sensor, W),
            // Front-buffer rendering: the renderer writes while the display reads.
            (Usage::FRONT_BUFFER, Role::Display, R),
        ];
        for (flag, role, access) in table {
            if usage.intersects(flag) {
                set.add(role, access);
            }
        }
        if usage
            .cpu_read()
            .is_some_and(|f| f != crate::usage::CpuFrequency::Never)
        {
            set.add(Role::Cpu, R);
        }
        if usage
            .cpu_write()
            .is_some_and(|f| f != crate::usage::CpuFrequency::Never)
        {
            set.add(Role::Cpu, W);
        }
        set
    }
    /// Adds `access` for `role`.
    pub fn add(&mut self, role: Role, access: Access) {
        let slot = &mut self.access[role as usize];
        *slot = slot.or(access);
    }
    /// The access `role` makes (none if the role is absent).
    pub fn access(&self, role: Role) -> Access {
        self.access[role as usize]
    }
    /// The roles present, with their access.
    pub fn iter(&self) -> impl Iterator<Item = (Role, Access)> + '_ {
        Role::ALL
            .into_iter()
            .map(|r| (r, self.access(r)))
            .filter(|(_, a)| !a.is_none())
    }
    /// Whether no role is present.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// The hard limits and preferences of one device, or of a merged set of devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Constraints {
    /// Row pitch of every plane is a multiple of this many bytes.
    pub stride_align: u64,
    /// Plane-0 row count is padded to a multiple of this.
    pub height_align: u64,
    /// Every plane (and layer) starts at a multiple of this many bytes.
    pub offset_align: u64,
    /// The allocation size is a multiple of this many bytes.
    pub size_align: u64,
    /// Smallest width in pixels (0: no minimum). KMS refuses framebuffers below its mode-config
    /// minimum and V4L2 drivers round small frames up, so a smaller buffer is unusable there.
    pub min_width: u32,
    /// Smallest height in rows (0: no minimum).
    pub min_height: u32,
    /// Largest width in pixels.
    pub max_width: u32,
    /// Largest height in rows.
    pub max_height: u32,
    /// Largest row pitch in bytes.
    pub max_stride: u64,
    /// Largest allocation in bytes.
    pub max_size: u64,
    /// Width of the device's DMA address (64 = no limit).
    pub address_bits: u8,
    /// Needs physically contiguous memory (no IOMMU).
    pub contiguous: bool,
    /// Snoops CPU caches (IO-coherent); a non-coherent device needs cache maintenance.
    pub coherent: bool,
    /// Can access protected memory.
    pub protected: bool,
    /// Can import dma-bufs another driver exported. A device that cannot (virtio-gpu refuses a
    /// foreign PRIME import with ENODEV) only uses memory its own driver allocated, so the
    /// solver places its buffers on the profile's `device` heap.
    pub imports_foreign: bool,
    /// Formats it can read.
    pub reads: FormatSet,
    /// Formats it can write.
    pub writes: FormatSet,
}

impl Constraints {
    /// No constraint at all: the identity of [`Constraints::merge`].
    pub const NONE: Constraints = Constraints {
        stride_align: 1,
        height_align: 1,
        offset_align: 1,
        size_align: 1,
        min_width: 0,
        min_height: 0,
        max_width: u32::MAX,
        max_height: u32::MAX,
        max_stride: u64::MAX,
        max_size: u64::MAX,
        address_bits: 64,
        contiguous: false,
        coherent: true,
        protected: true,
        imports_foreign: true,
        reads: FormatSet::ALL,
        writes: FormatSet::ALL,
    };

    /// Merges two constraint sets: alignments by least common multiple, maxima by minimum, minima
    /// by maximum, requirements by OR, capabilities (coherency, protected, foreign import,
    /// formats) by AND/intersection.
    /// `None` when an alignment's lcm overflows 64 bits: no buffer could satisfy it.
    pub fn merge(&self, other: &Constraints) -> Option<Constraints> {
        Some(Constraints {
            stride_align: lcm(self.stride_align, other.stride_align)?,
            height_align: lcm(self.height_align, other.height_align)?,
            offset_align: lcm(self.offset_align, other.offset_align)?,
            size_align: lcm(self.size_align, other.size_align)?,
            min_width: self.min_width.max(other.min_width),
            min_height: self.min_height.max(other.min_height),
            max_width: self.max_width.min(other.max_width),
            max_height: self.max_height.min(other.max_height),
            max_stride: self.max_stride.min(other.max_stride),
            max_size: self.max_size.min(other.max_size),
            address_bits: self.address_bits.min(other.address_bits),
            contiguous: self.contiguous || other.contiguous,
            coherent: self.coherent && other.coherent,
            protected: self.protected && other.protected,
            imports_foreign: self.imports_foreign && other.imports_foreign,
            reads: self.reads.intersect(other.reads),
            writes: self.writes.intersect(other.writes),
        })
    }
}

/// Greatest common divisor (0 only if both are 0).
pub const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Least common multiple, `None` on overflow. Alignments of 0 are treated as 1.
pub fn lcm(a: u64, b: u64) -> Option<u64> {
    let (a, b) = (a.max(1), b.max(1));
    (a / gcd(a, b)).checked_mul(b)
}

/// One device of a platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Name used by traces and tools (`cpu`, `gpu`, `display`, `camera`, `codec`).
    pub name: String,
    /// Roles it plays; usage bits that map to one of these attach this device.
    pub roles: u16,
    /// Its constraints.
    pub constraints: Constraints,
}

impl Device {
    /// A device with the given roles and constraints.
    pub fn new(name: &str, roles: &[Role], constraints: Constraints) -> Device {
        Device {
            name: name.to_string(),
            roles: roles.iter().fold(0, |bits, r| bits | r.bit()),
            constraints,
        }
    }
    /// Whether it plays `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles & role.bit() != 0
    }
    /// Its roles in order.
    pub fn role_list(&self) -> impl Iterator<Item = Role> + '_ {
        Role::ALL.into_iter().filter(|r| self.has_role(*r))
    }
    /// Whether it snoops CPU caches.
    pub fn coherent(&self) -> bool {
        self.constraints.coherent
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcm_is_not_max_for_non_powers_of_two() {
        assert_eq!(lcm(64, 3), Some(192));
        assert_eq!(lcm(48, 64), Some(192));
        assert_eq!(lcm(0, 16), Some(16));
        assert_eq!(lcm(u64::MAX, u64::MAX - 1), None);
    }

    #[test]
    fn merge_takes_strictest() {
        let a = Constraints {
            stride_align: 64,
            max_width: 4096,
            address_bits: 32,
            ..Constraints::NONE
        };
        let b = Constraints {
            stride_align: 48,
            min_width: 32,
            contiguous: true,
            coherent: false,
            imports_foreign: false,
            ..Constraints::NONE
        };
        let m = a.merge(&b).unwrap();
        assert_eq!(m.stride_align, 192);
        assert_eq!(m.max_width, 4096);
        assert_eq!((m.min_width, m.min_height), (32, 0));
        assert_eq!(m.address_bits, 32);
        assert!(m.contiguous && !m.coherent && !m.imports_foreign);
        assert_eq!(Constraints::NONE.merge(&a), Some(a));
    }

    #[test]
    fn usage_to_roles() {
        let roles =
            RoleSet::from_usage(Usage::CAMERA_OUTPUT | Usage::GPU_TEXTURE | Usage::CPU_READ_RARELY);
        assert_eq!(roles.access(Role::Camera), W);
        assert_eq!(roles.access(Role::Gpu), R);
        assert_eq!(roles.access(Role::Cpu), R);
        assert!(roles.access(Role::Display).is_none());
        assert!(RoleSet::from_usage(Usage(0)).is_empty());
    }
}
