//! One imported buffer: its validated handle, its metadata region, its CPU mapping and the CPU
//! locks this process holds, with the lock-path cache rule applied at every lock and unlock.

use crate::error::MapperError;
use central_gralloc::cache::{CpuAccess, LockDomains, SyncFlags};
use central_gralloc::usage::Usage;
use central_gralloc_memory::handle::{BufferHandle, BufferInfo};
use central_gralloc_memory::map::{self, Mapping};
use central_gralloc_memory::metadata;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Nested locks one import may hold at once; deeper nesting is a client bug, refused.
const MAX_NESTED_LOCKS: usize = 64;

/// How long lock waits on an acquire fence before giving up with `NO_RESOURCES`, so a fence that
/// never signals (a hung GPU) cannot block the client forever.
pub const FENCE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which rule decides the CPU-path syncs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// The lock-path rule ([`LockDomains`]): only the syncs a device's worst case needs.
    Tracked,
    /// What minigbm and Arm gralloc do: `START` at every lock and `END` at every unlock. For
    /// side-by-side measurement.
    Naive,
}

impl SyncMode {
    /// The mode from the `CENTRAL_GRALLOC_MAPPER_SYNC` environment variable: `naive`, or anything
    /// else (and unset) for the tracked rule.
    pub fn from_env() -> SyncMode {
        match std::env::var("CENTRAL_GRALLOC_MAPPER_SYNC") {
            Ok(v) if v.eq_ignore_ascii_case("naive") => SyncMode::Naive,
            _ => SyncMode::Tracked,
        }
    }
}

/// A CPU rectangle already checked against the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Left column.
    pub left: i32,
    /// Top row.
    pub top: i32,
    /// One past the right column.
    pub right: i32,
    /// One past the bottom row.
    pub bottom: i32,
}

/// Syncs for one import (or, from the shared region, for every import in every process).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncCounts {
    /// Syncs the rule called for. On a dma-buf each is a `DMA_BUF_IOCTL_SYNC`; a memfd (the host
    /// stand-in) has no device to sync with, so none is made there.
    pub decided: u64,
    /// `DMA_BUF_IOCTL_SYNC` calls made.
    pub issued: u64,
    /// Calls a naive mapper would have made (one per lock, unlock, flush and reread) that the
    /// rule proved unnecessary.
    pub skipped: u64,
}

#[derive(Debug, Default)]
struct LockState {
    /// Made at the first lock, kept until the import is freed.
    mapping: Option<Mapping>,
    /// Locks held, innermost last: unlock ends the most recent one.
    held: Vec<CpuAccess>,
    counts: SyncCounts,
}

/// One import of a buffer.
#[derive(Debug)]
pub struct ImportedBuffer {
    handle: BufferHandle,
    region: Mapping,
    domains: LockDomains,
    mode: SyncMode,
    state: Mutex<LockState>,
}

impl ImportedBuffer {
    /// Takes a decoded handle (its fds are this import's own), maps its metadata region and reads
    /// the cache domains the allocator recorded there.
    pub fn new(handle: BufferHandle, mode: SyncMode) -> Result<ImportedBuffer, MapperError> {
        let region = Mapping::new(
            handle.metadata.as_fd(),
            handle.info.metadata_size,
            CpuAccess::ReadWrite,
        )
        .map_err(MapperError::bad_buffer)?;
        let domains = metadata::read_domains(&region).map_err(MapperError::bad_buffer)?;
        Ok(ImportedBuffer {
            handle,
            region,
            domains,
            mode,
            state: Mutex::new(LockState::default()),
        })
    }

    /// What the handle says about the buffer.
    pub fn info(&self) -> &BufferInfo {
        &self.handle.info
    }

    /// The metadata region, mapped read-write.
    pub fn region(&self) -> &Mapping {
        &self.region
    }

    /// The cache domains recorded at allocation.
    pub fn domains(&self) -> &LockDomains {
        &self.domains
    }

    /// The memory fd (owned by this import).
    pub fn memory_fd(&self) -> &OwnedFd {
        &self.handle.memory
    }

    /// The metadata fd (owned by this import).
    pub fn metadata_fd(&self) -> &OwnedFd {
        &self.handle.metadata
    }

    fn state(&self) -> MutexGuard<'_, LockState> {
        // A panic while the lock was held cannot leave LockState half-updated in a way that
        // matters more than refusing every later call would: keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The CPU access `cpu_usage` asks for, if the buffer's usage allows it.
    pub fn access_for(&self, cpu_usage: u64) -> Result<CpuAccess, MapperError> {
        let asked = Usage(cpu_usage);
        let reads = asked.0 & Usage::CPU_READ_MASK != 0;
        let writes = asked.0 & Usage::CPU_WRITE_MASK != 0;
        let usage = self.handle.info.usage;
        if reads && usage.0 & Usage::CPU_READ_MASK == 0 {
            return Err(MapperError::bad_value(
                "CPU read lock of a buffer without CPU_READ usage",
            ));
        }
        if writes && usage.0 & Usage::CPU_WRITE_MASK == 0 {
            return Err(MapperError::bad_value(
                "CPU write lock of a buffer without CPU_WRITE usage",
            ));
        }
        match (reads, writes) {
            (true, true) => Ok(CpuAccess::ReadWrite),
            (true, false) => Ok(CpuAccess::Read),
            (false, true) => Ok(CpuAccess::Write),
            (false, false) => Err(MapperError::bad_value(
                "lock without CPU read or write usage",
            )),
        }
    }

    /// Checks `rect` (all zero = the whole buffer) against the buffer's bounds.
    pub fn region_for(&self, rect: Region) -> Result<Region, MapperError> {
        let info = &self.handle.info;
        let width = i32::try_from(info.width).unwrap_or(i32::MAX);
        let height = i32::try_from(info.height).unwrap_or(i32::MAX);
        if rect
            == (Region {
                left: 0,
                top: 0,
                right: 0,
                bottom: 0,
            })
        {
            return Ok(Region {
                left: 0,
                top: 0,
                right: width,
                bottom: height,
            });
        }
        let inside = 0 <= rect.left
            && rect.left < rect.right
            && rect.right <= width
            && 0 <= rect.top
            && rect.top < rect.bottom
            && rect.bottom <= height;
        if !inside {
            return Err(MapperError::bad_value(
                "access region outside the buffer or empty",
            ));
        }
        Ok(rect)
    }

    /// Locks for `access`: waits on `fence` (closing it on every path), maps the buffer on first
    /// use, issues the sync the rule asks for and returns the address of the buffer's first byte.
    pub fn lock(&self, access: CpuAccess, fence: Option<OwnedFd>) -> Result<*mut u8, MapperError> {
        if let Some(fence) = fence {
            central_gralloc_memory::fence::wait(fence.as_fd(), FENCE_TIMEOUT)
                .map_err(MapperError::fence)?;
        }
        let mut state = self.state();
        if state.held.len() >= MAX_NESTED_LOCKS {
            return Err(MapperError::no_resources("too many nested locks"));
        }
        if state.mapping.is_none() {
            state.mapping = Some(self.map()?);
        }
        let sync = match self.mode {
            SyncMode::Naive => Some(LockDomains::naive_lock(access)),
            SyncMode::Tracked => self.domains.lock(access, !state.held.is_empty()),
        };
        self.sync(&mut state, &[sync])?;
        state.held.push(access);
        let ptr = state
            .mapping
            .as_ref()
            .map(Mapping::as_ptr)
            .ok_or(MapperError::no_resources("buffer not mapped"))?;
        Ok(ptr)
    }

    /// Ends the most recent lock, issuing the sync the rule asks for.
    pub fn unlock(&self) -> Result<(), MapperError> {
        let mut state = self.state();
        let access = *state.held.last().ok_or(MapperError::not_locked())?;
        let sync = match self.mode {
            SyncMode::Naive => Some(LockDomains::naive_unlock(access)),
            SyncMode::Tracked => self.domains.unlock(access),
        };
        // The lock ends even if the sync fails: the client cannot retry an unlock.
        state.held.pop();
        self.sync(&mut state, &[sync])
    }

    /// `flushLockedBuffer`: the CPU's writes reach memory; the lock stays.
    pub fn flush(&self) -> Result<(), MapperError> {
        let mut state = self.state();
        let access = *state.held.last().ok_or(MapperError::not_locked())?;
        let sync = match self.mode {
            SyncMode::Naive => Some(LockDomains::naive_unlock(access)),
            SyncMode::Tracked => self.domains.flush(access),
        };
        self.sync(&mut state, &[sync])
    }

    /// `rereadLockedBuffer`: the CPU sees what devices wrote since the lock; the lock stays.
    pub fn reread(&self) -> Result<(), MapperError> {
        let mut state = self.state();
        let access = *state.held.last().ok_or(MapperError::not_locked())?;
        let syncs = match self.mode {
            SyncMode::Naive => [None, Some(LockDomains::naive_lock(access))],
            SyncMode::Tracked => self.domains.reread(access),
        };
        self.sync(&mut state, &syncs)
    }

    /// Whether this import holds a lock.
    pub fn locked(&self) -> bool {
        !self.state().held.is_empty()
    }

    /// Syncs issued and skipped by this import.
    pub fn counts(&self) -> SyncCounts {
        self.state().counts
    }

    /// Syncs issued and skipped for this buffer by every mapper in every process.
    pub fn shared_counts(&self) -> SyncCounts {
        // The region was mapped whole at import and the counters lie inside its first page.
        let c = metadata::read_sync_counters(&self.region).unwrap_or_default();
        SyncCounts {
            decided: c.decided,
            issued: c.issued,
            skipped: c.skipped,
        }
    }

    fn map(&self) -> Result<Mapping, MapperError> {
        let usage = self.handle.info.usage;
        let access = if usage.0 & Usage::CPU_WRITE_MASK != 0 {
            CpuAccess::ReadWrite
        } else {
            CpuAccess::Read
        };
        Mapping::new(self.handle.memory.as_fd(), self.handle.info.size, access)
            .map_err(MapperError::no_resources_from)
    }

    /// Issues `syncs` in order (a naive mapper would have issued one call for this step) and
    /// counts them here and in the shared region.
    fn sync(&self, state: &mut LockState, syncs: &[Option<SyncFlags>]) -> Result<(), MapperError> {
        let mut issued = 0u64;
        let mut decided = 0u64;
        for flags in syncs.iter().flatten() {
            decided += 1;
            if self.handle.info.kind.is_dma_buf() {
                let fd = self.handle.memory.as_fd();
                let result = if flags.is_end() {
                    map::end_cpu_access(fd, access_of(*flags))
                } else {
                    map::begin_cpu_access(fd, access_of(*flags))
                };
                result.map_err(MapperError::no_resources_from)?;
                issued += 1;
            }
        }
        let skipped = 1u64.saturating_sub(decided);
        state.counts.decided += decided;
        state.counts.issued += issued;
        state.counts.skipped += skipped;
        for (offset, n) in [
            (metadata::OFFSET_SYNCS_DECIDED, decided),
            (metadata::OFFSET_SYNCS_SKIPPED, skipped),
            (metadata::OFFSET_SYNCS_ISSUED, issued),
        ] {
            if n > 0 {
                if let Ok(word) = self.region.atomic_u64(offset) {
                    word.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }
}

/// The CPU access a sync's direction bits describe.
fn access_of(flags: SyncFlags) -> CpuAccess {
    match flags.bits() & SyncFlags::RW.bits() {
        1 => CpuAccess::Read,
        2 => CpuAccess::Write,
        _ => CpuAccess::ReadWrite,
    }
}
