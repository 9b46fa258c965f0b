//! The cache rule on a mapper's lock path, where device accesses are never seen.
//!
//! A mapper learns of CPU locks and unlocks only. Between a CPU unlock and the next CPU lock any
//! device the buffer's usage names may have read it, and any device whose usage writes may have
//! written it. The rule below therefore syncs exactly when that worst case needs it:
//!
//! - **Lock**: invalidate (`START|READ`, or `START|RW` for a lock that writes, since a write can
//!   cover part of a line whose other bytes come from the cache) when the mapping is cached, some
//!   *non-coherent* device may write the buffer, and the CPU held no lock on it until now. While a
//!   lock is held no device writes the buffer (the producer/consumer contract), so a second lock
//!   inside the first needs nothing. Coherent writers take the CPU's lines with them.
//! - **Unlock**: clean (`END|WRITE` or `END|RW`) after a lock that wrote, when the mapping is cached
//!   and some *non-coherent* device may read or write the buffer: a device read would miss the
//!   dirty lines, and a dirty line evicted during a device write would overwrite the device's data.
//!   A read-only lock leaves no dirty line, so its end needs nothing.
//! - An uncached (write-combined) mapping has no lines: nothing is ever needed.
//!
//! Every process decides alike because the [`LockDomains`] are written into the buffer's shared
//! metadata region at allocation; the "held" count is the caller's own (per process), so a process
//! that dies holding a lock cannot make another skip an invalidate it needs.

use super::state::{CpuAccess, SyncFlags};
use crate::device::Role;
use crate::placement::Placement;
use crate::profile::Profile;
use crate::solver::CachePolicy;

/// What a mapper needs to know about a buffer's cache domains, fixed at allocation.
///
/// Devices are bits by profile index (below [`LockDomains::MAX_DEVICES`]); the CPU is never one of
/// them. The masks are kept whole (not reduced to the two facts the rule reads) so dumps can say
/// which devices made a sync necessary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LockDomains {
    /// The CPU mapping is cached (else write-combined).
    pub cpu_cached: bool,
    /// Devices that may read the buffer.
    pub readers: u64,
    /// Devices that may write the buffer.
    pub writers: u64,
    /// Devices that snoop the CPU caches (IO-coherent).
    pub coherent: u64,
}

impl LockDomains {
    /// Devices are numbered by profile index below this (the profile's limit; the masks, stored
    /// as 64 bits in the metadata region, have room for more).
    pub const MAX_DEVICES: usize = crate::device::MAX_DEVICES;

    /// The domains of a placed buffer: its cache policy and, for every device other than the CPU
    /// that its usage names, whether it reads, writes and snoops. The placement must come from
    /// solving against `profile`, so every device it names is one of the profile's (the first
    /// [`LockDomains::MAX_DEVICES`], the most a profile may list).
    pub fn for_placement(profile: &Profile, placement: &Placement) -> LockDomains {
        debug_assert!(placement
            .devices()
            .iter()
            .all(|i| i < profile.devices().len().min(Self::MAX_DEVICES)));
        let mut domains = LockDomains {
            cpu_cached: placement.cache == CachePolicy::Cached,
            ..LockDomains::default()
        };
        let named = profile
            .devices()
            .iter()
            .enumerate()
            .take(Self::MAX_DEVICES)
            .filter(|&(index, device)| {
                placement.devices().contains(index) && !device.has_role(Role::Cpu)
            });
        for (index, device) in named {
            let bit = 1u64 << index;
            let access = placement.access(index);
            if access.read {
                domains.readers |= bit;
            }
            if access.write {
                domains.writers |= bit;
            }
            if device.coherent() {
                domains.coherent |= bit;
            }
        }
        domains
    }

    /// Whether some device that does not snoop may write the buffer behind the CPU's lines.
    pub const fn non_coherent_writer(&self) -> bool {
        self.writers & !self.coherent != 0
    }

    /// Whether some device that does not snoop may access the buffer at all.
    pub const fn non_coherent_device(&self) -> bool {
        (self.readers | self.writers) & !self.coherent != 0
    }

    /// The sync to issue before the CPU touches the mapping for `access`. `already_held` says
    /// whether this process already holds a lock on the buffer.
    pub const fn lock(&self, access: CpuAccess, already_held: bool) -> Option<SyncFlags> {
        if !self.cpu_cached || already_held || !self.non_coherent_writer() {
            return None;
        }
        Some(if access.writes() {
            SyncFlags(SyncFlags::START.0 | SyncFlags::RW.0)
        } else {
            SyncFlags(SyncFlags::START.0 | SyncFlags::READ.0)
        })
    }

    /// The sync to issue after the last CPU touch of a lock taken for `access`.
    pub const fn unlock(&self, access: CpuAccess) -> Option<SyncFlags> {
        if !self.cpu_cached || !access.writes() || !self.non_coherent_device() {
            return None;
        }
        Some(SyncFlags(SyncFlags::END.0 | access.direction().0))
    }

    /// `flushLockedBuffer`: the CPU's writes so far must reach memory, the lock stays.
    pub const fn flush(&self, access: CpuAccess) -> Option<SyncFlags> {
        self.unlock(access)
    }

    /// `rereadLockedBuffer`: drop lines a device may have written behind, keeping the lock. A lock
    /// that writes cleans first (returned first), or the invalidate would discard its writes.
    pub const fn reread(&self, access: CpuAccess) -> [Option<SyncFlags>; 2] {
        let invalidate = self.lock(access, false);
        if invalidate.is_none() {
            return [None, None];
        }
        let clean = if access.writes() {
            Some(SyncFlags(SyncFlags::END.0 | SyncFlags::RW.0))
        } else {
            None
        };
        [clean, invalidate]
    }

    /// The naive rule (minigbm, Arm gralloc): a sync at every lock and every unlock.
    pub const fn naive_lock(access: CpuAccess) -> SyncFlags {
        SyncFlags(SyncFlags::START.0 | access.direction().0)
    }

    /// The naive rule's unlock.
    pub const fn naive_unlock(access: CpuAccess) -> SyncFlags {
        SyncFlags(SyncFlags::END.0 | access.direction().0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::Descriptor;
    use crate::format::PixelFormat;
    use crate::solver::solve;
    use crate::usage::Usage;

    const R: CpuAccess = CpuAccess::Read;
    const W: CpuAccess = CpuAccess::Write;
    const RW: CpuAccess = CpuAccess::ReadWrite;

    fn domains(cached: bool, readers: u64, writers: u64, coherent: u64) -> LockDomains {
        LockDomains {
            cpu_cached: cached,
            readers,
            writers,
            coherent,
        }
    }

    #[test]
    fn uncached_mappings_never_sync() {
        let d = domains(false, 0b11, 0b11, 0);
        for a in [R, W, RW] {
            assert_eq!(d.lock(a, false), None);
            assert_eq!(d.unlock(a), None);
            assert_eq!(d.reread(a), [None, None]);
        }
    }

    #[test]
    fn a_non_coherent_writer_makes_every_first_lock_invalidate() {
        let d = domains(true, 0, 0b10, 0);
        assert_eq!(d.lock(R, false), Some(SyncFlags::START | SyncFlags::READ));
        assert_eq!(d.lock(W, false), Some(SyncFlags::START | SyncFlags::RW));
        assert_eq!(d.lock(R, true), None, "a nested lock saw no device");
        // Coherent writers take the CPU's lines: nothing to invalidate.
        assert_eq!(domains(true, 0, 0b10, 0b10).lock(R, false), None);
        // Readers alone never make lines stale.
        assert_eq!(domains(true, 0b10, 0, 0).lock(RW, false), None);
    }

    #[test]
    fn only_writing_locks_clean_and_only_for_non_coherent_devices() {
        let d = domains(true, 0b100, 0, 0);
        assert_eq!(d.unlock(R), None);
        assert_eq!(d.unlock(W), Some(SyncFlags::END | SyncFlags::WRITE));
        assert_eq!(d.unlock(RW), Some(SyncFlags::END | SyncFlags::RW));
        assert_eq!(domains(true, 0b100, 0, 0b100).unlock(W), None);
        assert_eq!(domains(true, 0, 0, 0).unlock(W), None, "CPU only");
    }

    #[test]
    fn reread_cleans_a_writing_lock_before_invalidating() {
        let d = domains(true, 0, 0b1, 0);
        assert_eq!(
            d.reread(R),
            [None, Some(SyncFlags::START | SyncFlags::READ)]
        );
        assert_eq!(
            d.reread(RW),
            [
                Some(SyncFlags::END | SyncFlags::RW),
                Some(SyncFlags::START | SyncFlags::RW)
            ]
        );
    }

    #[test]
    fn placements_record_readers_writers_and_snooping() {
        let profile = Profile::builtin("soc").unwrap();
        let desc = Descriptor::simple(
            "preview",
            1920,
            1080,
            PixelFormat::YCBCR_420_888,
            Usage::CAMERA_OUTPUT | Usage::GPU_TEXTURE | Usage::CPU_READ_OFTEN,
        )
        .unwrap();
        let placement = solve(&desc, &profile).unwrap();
        let d = LockDomains::for_placement(&profile, &placement);
        let index = |name: &str| {
            profile
                .devices()
                .iter()
                .position(|dev| dev.name == name)
                .unwrap()
        };
        let (camera, gpu) = (1u64 << index("camera"), 1u64 << index("gpu"));
        assert_eq!(d.writers, camera);
        assert_eq!(d.readers, gpu);
        assert_eq!(d.coherent, gpu, "soc's GPU snoops, its camera does not");
        assert!(d.non_coherent_writer());
        assert_eq!(d.cpu_cached, placement.cache == CachePolicy::Cached);
    }
}
