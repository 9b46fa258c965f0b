//! The tracker's rules: one buffer's cache state as a 64-bit word, and the maintenance each event needs.
//!
//! Every rule here is lazy: maintenance happens at the last moment it is needed, by the party that
//! needs it, so work that later turns out to be unnecessary is never done.
//!
//! - A CPU write leaves the CPU cache *dirty*. The clean happens only when a non-coherent device is
//!   about to read or write the buffer (its driver's prepare-time clean). Before a device *write* it is
//!   not optional: a dirty line evicted later would land on top of the device's newer data.
//! - A non-coherent device write leaves the CPU cache possibly *stale* (speculative prefetch can fill
//!   lines at any time while the device writes). The invalidate happens only when the CPU is about to
//!   read (or partly write) it, or a snooping device is about to read it and could be answered from a
//!   stale line. Device-to-device handoffs never need anything.
//! - Coherent devices snoop: reading sees dirty lines, writing drops every CPU copy.
//! - Uncached (write-combined) mappings have no CPU cache lines at all: nothing is ever needed.

use std::fmt;

/// Flags of `DMA_BUF_IOCTL_SYNC` (`struct dma_buf_sync.flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyncFlags(pub u64);

impl SyncFlags {
    /// `DMA_BUF_SYNC_READ`.
    pub const READ: SyncFlags = SyncFlags(1);
    /// `DMA_BUF_SYNC_WRITE`.
    pub const WRITE: SyncFlags = SyncFlags(2);
    /// `DMA_BUF_SYNC_RW`.
    pub const RW: SyncFlags = SyncFlags(3);
    /// `DMA_BUF_SYNC_START` (zero: the absence of END).
    pub const START: SyncFlags = SyncFlags(0);
    /// `DMA_BUF_SYNC_END`.
    pub const END: SyncFlags = SyncFlags(4);

    /// The raw value for the ioctl.
    pub const fn bits(self) -> u64 {
        self.0
    }
    /// Whether this ends a CPU access (otherwise it starts one).
    pub const fn is_end(self) -> bool {
        self.0 & Self::END.0 != 0
    }
    /// Whether the kernel invalidates the CPU cache for this call: the start of an access that
    /// reads. (Start of a write-only access syncs `DMA_TO_DEVICE` "for the CPU", which does nothing.)
    pub const fn invalidates(self) -> bool {
        !self.is_end() && self.0 & Self::READ.0 != 0
    }
    /// Whether the kernel cleans (writes back) the CPU cache for this call: every end does.
    pub const fn cleans(self) -> bool {
        self.is_end()
    }
}

impl std::ops::BitOr for SyncFlags {
    type Output = SyncFlags;
    fn bitor(self, rhs: SyncFlags) -> SyncFlags {
        SyncFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for SyncFlags {
    /// `START|READ`, `END|RW`...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = if self.is_end() { "END" } else { "START" };
        let what = match self.0 & 3 {
            1 => "|READ",
            2 => "|WRITE",
            3 => "|RW",
            _ => "",
        };
        write!(f, "{when}{what}")
    }
}

/// `V4L2_BUF_FLAG_NO_CACHE_INVALIDATE`: the queuer lets the driver skip the invalidate at dequeue.
pub const V4L2_BUF_FLAG_NO_CACHE_INVALIDATE: u32 = 0x0000_0800;
/// `V4L2_BUF_FLAG_NO_CACHE_CLEAN`: the queuer lets the driver skip the clean at queue time.
pub const V4L2_BUF_FLAG_NO_CACHE_CLEAN: u32 = 0x0000_1000;

/// How the CPU accesses a buffer between lock and unlock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CpuAccess {
    /// Reads only.
    Read,
    /// Writes only, possibly part of the buffer (so part of a cache line).
    Write,
    /// Reads and writes.
    ReadWrite,
}

impl CpuAccess {
    /// Whether the CPU reads.
    pub const fn reads(self) -> bool {
        matches!(self, CpuAccess::Read | CpuAccess::ReadWrite)
    }
    /// Whether the CPU writes.
    pub const fn writes(self) -> bool {
        matches!(self, CpuAccess::Write | CpuAccess::ReadWrite)
    }
    /// The `DMA_BUF_SYNC_READ/WRITE/RW` direction bits that describe this access.
    pub const fn direction(self) -> SyncFlags {
        match self {
            CpuAccess::Read => SyncFlags::READ,
            CpuAccess::Write => SyncFlags::WRITE,
            CpuAccess::ReadWrite => SyncFlags::RW,
        }
    }
    /// The trace-file word: `read`, `write`, `rw`.
    pub const fn name(self) -> &'static str {
        match self {
            CpuAccess::Read => "read",
            CpuAccess::Write => "write",
            CpuAccess::ReadWrite => "rw",
        }
    }
}

/// Whether a device reads or writes the buffer in one access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceAccess {
    /// The device consumes the buffer.
    Read,
    /// The device produces the buffer (possibly only part of it).
    Write,
}

/// Cache maintenance around one device access. Each flag says who does it and how.
///
/// Upstream videobuf2 honours the `V4L2_BUF_FLAG_NO_CACHE_*` hints only on `V4L2_MEMORY_MMAP`
/// queues that allow them (`vb2_queue_allows_cache_hints`); on the `V4L2_MEMORY_DMABUF` queues that
/// import gralloc buffers it clears them, and the exporter's attachment map/unmap does the
/// maintenance. There the flags below say what the exporter may skip, not what vb2 will skip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeviceSync {
    /// Write dirty CPU lines back before the access: the driver's queue-time clean. When false a V4L2
    /// queuer may set `V4L2_BUF_FLAG_NO_CACHE_CLEAN`; a queuer whose driver does no per-access
    /// maintenance (a KMS plane) issues `DMA_BUF_IOCTL_SYNC` `END|WRITE` when true.
    pub clean_before: bool,
    /// Drop CPU lines before a *snooping* device reads, because a non-coherent device wrote memory
    /// behind them and the snoop could answer with stale data. The queuer issues
    /// `DMA_BUF_IOCTL_SYNC` `START|READ` (which invalidates through the non-coherent attachments).
    pub invalidate_before: bool,
    /// Drop CPU lines when the access completes: the driver's dequeue-time invalidate. Only needed
    /// while the CPU still holds a write lock across the device's write. When false a V4L2 queuer may
    /// set `V4L2_BUF_FLAG_NO_CACHE_INVALIDATE`.
    pub invalidate_after: bool,
}

impl DeviceSync {
    /// No maintenance at all.
    pub const NONE: DeviceSync = DeviceSync {
        clean_before: false,
        invalidate_before: false,
        invalidate_after: false,
    };

    /// The `V4L2_BUF_FLAG_NO_CACHE_*` flags the queuer may set for this access.
    pub const fn v4l2_skip_flags(self) -> u32 {
        let mut flags = 0;
        if !self.clean_before {
            flags |= V4L2_BUF_FLAG_NO_CACHE_CLEAN;
        }
        if !self.invalidate_after {
            flags |= V4L2_BUF_FLAG_NO_CACHE_INVALIDATE;
        }
        flags
    }
    /// Whether nothing is needed.
    pub const fn is_none(self) -> bool {
        !self.clean_before && !self.invalidate_before && !self.invalidate_after
    }
    /// How many cache operations this is.
    pub const fn operations(self) -> u32 {
        self.clean_before as u32 + self.invalidate_before as u32 + self.invalidate_after as u32
    }
}

/// Why an event was refused. The state word is left unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackerError {
    /// Device index beyond [`CacheDomains::MAX_DEVICES`].
    DeviceOutOfRange(usize),
    /// The device is not attached to this buffer.
    NotAttached(usize),
    /// `cpu_end` for an access that was never begun.
    NotLocked(CpuAccess),
    /// More than 255 concurrent CPU readers or writers.
    TooManyLocks,
    /// The shared word holds a value no tracker writes (a corrupt metadata region).
    CorruptState(u64),
}

impl fmt::Display for TrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackerError::DeviceOutOfRange(i) => {
                write!(f, "device index {i} is beyond the tracker's 64 devices")
            }
            TrackerError::NotAttached(i) => write!(f, "device {i} is not attached to this buffer"),
            TrackerError::NotLocked(a) => {
                write!(f, "CPU {} access ended but none was begun", a.name())
            }
            TrackerError::TooManyLocks => {
                f.write_str("more than 255 concurrent CPU locks of one kind")
            }
            TrackerError::CorruptState(w) => write!(f, "cache state word {w:#018x} is corrupt"),
        }
    }
}

impl std::error::Error for TrackerError {}

/// What a buffer's CPU mapping and devices are like. Fixed at allocation (from the placement and
/// the profile), identical in every process, so it is not part of the shared word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CacheDomains {
    cpu_cached: bool,
    attached: u64,
    coherent: u64,
    continuous_readers: u64,
}

impl CacheDomains {
    /// Devices are numbered by profile index below this (the profile's limit; the word's
    /// last-writer byte could name more).
    pub const MAX_DEVICES: usize = crate::device::MAX_DEVICES;

    /// No devices yet; `cpu_cached` says whether the CPU mapping is cached (else write-combined).
    pub const fn new(cpu_cached: bool) -> CacheDomains {
        CacheDomains {
            cpu_cached,
            attached: 0,
            coherent: 0,
            continuous_readers: 0,
        }
    }
    /// Attaches device `index`, which snoops the CPU caches when `coherent`.
    pub fn attach(mut self, index: usize, coherent: bool) -> Result<CacheDomains, TrackerError> {
        let bit = Self::bit(index)?;
        self.attached |= bit;
        if coherent {
            self.coherent |= bit;
        } else {
            self.coherent &= !bit;
        }
        Ok(self)
    }
    /// Marks attached device `index` as reading at any moment with no handoff (front-buffer
    /// scan-out): CPU writes must then reach memory when the CPU access ends.
    pub fn read_continuously(mut self, index: usize) -> Result<CacheDomains, TrackerError> {
        let bit = Self::bit(index)?;
        if self.attached & bit == 0 {
            return Err(TrackerError::NotAttached(index));
        }
        self.continuous_readers |= bit;
        Ok(self)
    }
    /// Whether the CPU mapping is cached.
    pub const fn cpu_cached(&self) -> bool {
        self.cpu_cached
    }
    /// Whether device `index` is attached.
    pub const fn attached(&self, index: usize) -> bool {
        index < Self::MAX_DEVICES && self.attached & (1 << index) != 0
    }
    /// Whether device `index` snoops the CPU caches.
    pub const fn coherent(&self, index: usize) -> bool {
        index < Self::MAX_DEVICES && self.coherent & (1 << index) != 0
    }
    fn bit(index: usize) -> Result<u64, TrackerError> {
        if index < Self::MAX_DEVICES {
            Ok(1 << index)
        } else {
            Err(TrackerError::DeviceOutOfRange(index))
        }
    }
    fn checked_device(&self, index: usize) -> Result<bool, TrackerError> {
        let bit = Self::bit(index)?;
        if self.attached & bit == 0 {
            return Err(TrackerError::NotAttached(index));
        }
        Ok(self.coherent & bit != 0)
    }
    const fn has_non_coherent_continuous_reader(&self) -> bool {
        self.continuous_readers & !self.coherent != 0
    }
}

/// What the CPU cache may hold for a buffer, relative to memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CpuLines {
    /// Nothing the CPU cache holds differs from memory.
    Clean,
    /// The CPU may have written lines memory does not have yet.
    Dirty,
    /// A non-coherent device wrote memory behind lines the CPU cache may still hold.
    Stale,
}

/// The domain that last wrote a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// Nobody since allocation.
    None,
    /// The CPU.
    Cpu,
    /// The device with this profile index.
    Device(u8),
}

/// One buffer's tracker state, decoded from its shared 64-bit word.
///
/// Layout (all zero is the state of a fresh buffer, so a zero-filled metadata region needs no
/// initialisation): bits 0–1 [`CpuLines`]; bits 8–15 last writer (0 none, 1 CPU, 2 + device index);
/// bits 16–23 CPU write locks held; bits 24–31 CPU read locks held; bits 32–63 a wrapping count of
/// events, so observers (dumps, tests) can tell that something happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferState {
    /// What the CPU cache may hold.
    pub lines: CpuLines,
    /// Who wrote last.
    pub last_writer: Domain,
    /// CPU locks held that may write.
    pub cpu_writers: u8,
    /// CPU locks held that only read.
    pub cpu_readers: u8,
    /// Events applied so far (wrapping).
    pub events: u32,
}

impl BufferState {
    /// The state of a freshly allocated buffer.
    pub const INITIAL: BufferState = BufferState {
        lines: CpuLines::Clean,
        last_writer: Domain::None,
        cpu_writers: 0,
        cpu_readers: 0,
        events: 0,
    };

    /// Decodes a shared word; bits no tracker sets make it corrupt.
    pub const fn from_word(word: u64) -> Result<BufferState, TrackerError> {
        let lines = match word & 0xff {
            0 => CpuLines::Clean,
            1 => CpuLines::Dirty,
            2 => CpuLines::Stale,
            _ => return Err(TrackerError::CorruptState(word)),
        };
        let last_writer = match (word >> 8) as u8 {
            0 => Domain::None,
            1 => Domain::Cpu,
            n if n as usize - 2 < CacheDomains::MAX_DEVICES => Domain::Device(n - 2),
            _ => return Err(TrackerError::CorruptState(word)),
        };
        Ok(BufferState {
            lines,
            last_writer,
            cpu_writers: (word >> 16) as u8,
            cpu_readers: (word >> 24) as u8,
            events: (word >> 32) as u32,
        })
    }

    /// Encodes the state as its shared word.
    pub const fn to_word(self) -> u64 {
        let lines = match self.lines {
            CpuLines::Clean => 0,
            CpuLines::Dirty => 1,
            CpuLines::Stale => 2,
        };
        let writer = match self.last_writer {
            Domain::None => 0,
            Domain::Cpu => 1,
            Domain::Device(i) => i as u64 + 2,
        };
        lines
            | writer << 8
            | (self.cpu_writers as u64) << 16
            | (self.cpu_readers as u64) << 24
            | (self.events as u64) << 32
    }

    /// The CPU begins an access: the sync to issue before touching the mapping, if any.
    pub fn cpu_begin(
        self,
        domains: &CacheDomains,
        access: CpuAccess,
    ) -> Result<(BufferState, Option<SyncFlags>), TrackerError> {
        let mut next = self.counted();
        if access.writes() {
            next.cpu_writers = next
                .cpu_writers
                .checked_add(1)
                .ok_or(TrackerError::TooManyLocks)?;
            next.last_writer = Domain::Cpu;
        } else {
            next.cpu_readers = next
                .cpu_readers
                .checked_add(1)
                .ok_or(TrackerError::TooManyLocks)?;
        }
        if !domains.cpu_cached {
            return Ok((next, None));
        }
        // A write may cover part of a line, whose other bytes then come from the cache: stale lines
        // must go first even for a write, and only a start with READ invalidates.
        let sync = match self.lines {
            CpuLines::Stale if access.writes() => Some(SyncFlags::START | SyncFlags::RW),
            CpuLines::Stale => Some(SyncFlags::START | SyncFlags::READ),
            CpuLines::Clean | CpuLines::Dirty => None,
        };
        if sync.is_some() {
            next.lines = CpuLines::Clean;
        }
        Ok((next.dirty_while_writing(domains), sync))
    }

    /// The CPU ends an access begun with `access`: the sync to issue after the last touch, if any.
    pub fn cpu_end(
        self,
        domains: &CacheDomains,
        access: CpuAccess,
    ) -> Result<(BufferState, Option<SyncFlags>), TrackerError> {
        let mut next = self.counted();
        let held = if access.writes() {
            &mut next.cpu_writers
        } else {
            &mut next.cpu_readers
        };
        *held = held.checked_sub(1).ok_or(TrackerError::NotLocked(access))?;
        // A device reading at any moment (front-buffer scan-out) gets no handoff to clean at, so the
        // CPU's writes must reach memory now.
        let sync = (domains.cpu_cached
            && access.writes()
            && next.lines == CpuLines::Dirty
            && domains.has_non_coherent_continuous_reader())
        .then_some(SyncFlags::END | access.direction());
        if sync.is_some() {
            next.lines = CpuLines::Clean;
        }
        Ok((next.dirty_while_writing(domains), sync))
    }

    /// Device `index` is about to access the buffer: the maintenance around that access.
    pub fn device_access(
        self,
        domains: &CacheDomains,
        index: usize,
        access: DeviceAccess,
    ) -> Result<(BufferState, DeviceSync), TrackerError> {
        let coherent = domains.checked_device(index)?;
        let mut next = self.counted();
        if access == DeviceAccess::Write {
            // checked_device bounds the index below 64.
            next.last_writer = Domain::Device(index as u8);
        }
        if !domains.cpu_cached {
            return Ok((next, DeviceSync::NONE));
        }
        let mut sync = DeviceSync::NONE;
        match (coherent, access) {
            // Snoops see dirty lines; only lines older than memory can mislead them.
            (true, DeviceAccess::Read) => {
                if self.lines == CpuLines::Stale {
                    sync.invalidate_before = true;
                    next.lines = CpuLines::Clean;
                }
            }
            // A snooping write takes every line from the CPU cache.
            (true, DeviceAccess::Write) => next.lines = CpuLines::Clean,
            (false, DeviceAccess::Read) => {
                if self.lines == CpuLines::Dirty {
                    sync.clean_before = true;
                    next.lines = CpuLines::Clean;
                }
            }
            (false, DeviceAccess::Write) => {
                sync.clean_before = self.lines == CpuLines::Dirty;
                if next.cpu_writers > 0 {
                    // The CPU keeps writing into lines the device just replaced in memory.
                    sync.invalidate_after = true;
                    next.lines = CpuLines::Clean;
                } else {
                    next.lines = CpuLines::Stale;
                }
            }
        }
        Ok((next.dirty_while_writing(domains), sync))
    }

    fn counted(mut self) -> BufferState {
        self.events = self.events.wrapping_add(1);
        self
    }

    /// While a CPU write lock is held, new dirty lines can appear at any moment.
    fn dirty_while_writing(mut self, domains: &CacheDomains) -> BufferState {
        if domains.cpu_cached && self.cpu_writers > 0 && self.lines == CpuLines::Clean {
            self.lines = CpuLines::Dirty;
        }
        self
    }
}
