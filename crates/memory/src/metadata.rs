//! The shared metadata region: one per buffer, holding the standard metadata the mapper reads
//! and writes, the cache-domain state word, then the client's `reservedSize` bytes.
//!
//! Backing. On a device the region is a dma-buf from the same heap as system-role buffers (the
//! cached system dma-heap), as the reference allocators keep their metadata: every gralloc
//! client may already receive and map the buffers' dma-bufs, so the region needs no SELinux rule
//! of its own (docs/bringup.md, "Metadata region"). A memfd would not do there: it is labelled
//! with the allocator's tmpfs type, which no client domain may use, and binder refuses to carry
//! it. With the host backends the region comes from the host's system-role heap the same way: a
//! udmabuf dma-buf, or a sealed memfd (the host stand-in). The handle says which
//! (its int 54), and the decoder checks the fd against it.
//!
//! What every form guarantees, and the readers rely on:
//! - fixed size: a dma-buf's size is set at export and nobody can change it; a memfd is sealed
//!   against shrinking and growing (and further sealing), so no holder can pull pages out from
//!   under another's mapping;
//! - zero-filled: heap pages are cleared by the kernel before export, and a new memfd reads as
//!   zeros, so only the fields below that are not zero are written;
//! - plain cached memory that no device attaches: every process's mapping sees the same bytes,
//!   the state word and counters work as atomics across processes, and CPU accesses need no
//!   `DMA_BUF_IOCTL_SYNC`;
//! - accessed only through mappings (dma-bufs have no `read`/`write`).
//!
//! Layout, version 1 (little-endian; offsets in bytes from the start of the region):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0      | 4    | magic `CGMD` |
//! | 4      | 4    | version (1) |
//! | 8      | 8    | cache-domain state word: a `u64` the tracker uses as an `AtomicU64` (0 = fresh) |
//! | 16     | 8    | buffer id (equals the handle's) |
//! | 24     | 4    | header size = offset of the reserved region (4096) |
//! | 28     | 4    | flags (0) |
//! | 32     | 8    | reserved size (the client's bytes) |
//! | 40     | 4    | dataspace (`Dataspace`, 0 = UNKNOWN) |
//! | 44     | 4    | blend mode (`BlendMode`, 0 = INVALID) |
//! | 48     | 16   | crop rect: left, top, right, bottom (`i32`; initially the whole buffer) |
//! | 64     | 128  | name, NUL-padded |
//! | 192    | 4    | SMPTE 2086 present (0/1) |
//! | 196    | 40   | SMPTE 2086: red, green, blue, white point x/y, max and min luminance (10 × `f32`) |
//! | 240    | 4    | CTA 861.3 present (0/1) |
//! | 244    | 8    | CTA 861.3: max content and max frame-average light level (2 × `f32`) |
//! | 256    | 4    | SMPTE 2094-40 length (0 = absent) |
//! | 260    | 4    | SMPTE 2094-10 length (0 = absent) |
//! | 264    | 4    | lock-path domains flags: bit 0 recorded, bit 1 CPU mapping cached |
//! | 268    | 4    | zero |
//! | 272    | 8    | devices that may read (bit = profile index; the CPU is never one) |
//! | 280    | 8    | devices that may write |
//! | 288    | 8    | devices that snoop the CPU caches |
//! | 296    | 8    | syncs mappers' lock-path rule called for, all processes (`AtomicU64`) |
//! | 304    | 8    | syncs a naive mapper would have issued that the rule skipped (`AtomicU64`) |
//! | 312    | 8    | `DMA_BUF_IOCTL_SYNC` calls made (0 on a memfd, which has no device) (`AtomicU64`) |
//! | 320    | 192  | zero, for later versions |
//! | 512    | 1024 | SMPTE 2094-40 (HDR10+) blob, at most 1024 bytes |
//! | 1536   | 2560 | SMPTE 2094-10 (Dolby Vision) blob, at most 2560 bytes |
//! | 4096   | n    | the client's reserved bytes, zeroed |
//!
//! The lock-path domains (offsets 264–295) are written once at allocation and only read after, so
//! every process's mapper applies the same cache rule
//! ([`central_gralloc::cache::LockDomains`]) without the profile. The two counters are updated
//! with atomic adds by every mapper that locks the buffer.
//!
//! The region is `4096 + reserved size` rounded up to whole pages. Version 1 caps the dynamic
//! HDR blobs as above; a mapper refuses larger ones with `BAD_VALUE`.

use crate::error::MemError;
use crate::heap::Heap;
use crate::map::{CpuAccess, Mapping};
use central_gralloc::cache::LockDomains;
use central_gralloc::descriptor::{MAX_RESERVED_SIZE, NAME_LEN};
use central_gralloc::layout::{align_up, PAGE_SIZE};
use central_gralloc::text::prefix_within;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// `CGMD`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"CGMD");
/// This layout's version.
pub const VERSION: u32 = 1;
/// Offset of the magic.
pub const OFFSET_MAGIC: usize = 0;
/// Offset of the version.
pub const OFFSET_VERSION: usize = 4;
/// Offset of the cache-domain state word (8-aligned; the region is page-aligned when mapped).
pub const OFFSET_CACHE_STATE: usize = 8;
/// Offset of the buffer id.
pub const OFFSET_BUFFER_ID: usize = 16;
/// Offset of the header size.
pub const OFFSET_HEADER_SIZE: usize = 24;
/// Offset of the flags.
pub const OFFSET_FLAGS: usize = 28;
/// Offset of the reserved size.
pub const OFFSET_RESERVED_SIZE: usize = 32;
/// Offset of the dataspace.
pub const OFFSET_DATASPACE: usize = 40;
/// Offset of the blend mode.
pub const OFFSET_BLEND_MODE: usize = 44;
/// Offset of the crop rectangle.
pub const OFFSET_CROP: usize = 48;
/// Offset of the name.
pub const OFFSET_NAME: usize = 64;
/// Bytes of the name field.
pub const NAME_SIZE: usize = NAME_LEN;
/// Offset of the SMPTE 2086 presence word (values follow).
pub const OFFSET_SMPTE2086: usize = 192;
/// Offset of the CTA 861.3 presence word (values follow).
pub const OFFSET_CTA861_3: usize = 240;
/// Offset of the SMPTE 2094-40 length.
pub const OFFSET_SMPTE2094_40_LEN: usize = 256;
/// Offset of the SMPTE 2094-10 length.
pub const OFFSET_SMPTE2094_10_LEN: usize = 260;
/// Offset of the lock-path domains flags.
pub const OFFSET_LOCK_FLAGS: usize = 264;
/// Offset of the mask of devices that may read.
pub const OFFSET_LOCK_READERS: usize = 272;
/// Offset of the mask of devices that may write.
pub const OFFSET_LOCK_WRITERS: usize = 280;
/// Offset of the mask of devices that snoop.
pub const OFFSET_LOCK_COHERENT: usize = 288;
/// Offset of the count of syncs the rule called for (8-aligned, an `AtomicU64`).
pub const OFFSET_SYNCS_DECIDED: usize = 296;
/// Offset of the count of syncs skipped (8-aligned, an `AtomicU64`).
pub const OFFSET_SYNCS_SKIPPED: usize = 304;
/// Offset of the count of `DMA_BUF_IOCTL_SYNC` calls made (8-aligned, an `AtomicU64`).
pub const OFFSET_SYNCS_ISSUED: usize = 312;
const LOCK_FLAG_RECORDED: u32 = 1;
const LOCK_FLAG_CPU_CACHED: u32 = 2;
/// Offset of the SMPTE 2094-40 blob.
pub const OFFSET_SMPTE2094_40: usize = 512;
/// Largest SMPTE 2094-40 blob.
pub const SMPTE2094_40_CAP: usize = 1024;
/// Offset of the SMPTE 2094-10 blob.
pub const OFFSET_SMPTE2094_10: usize = 1536;
/// Largest SMPTE 2094-10 blob.
pub const SMPTE2094_10_CAP: usize = 2560;
/// Bytes before the client's reserved region.
pub const HEADER_SIZE: usize = 4096;

/// Bytes of the region for `reserved_size` client bytes (`None` beyond the core's reserved limit).
pub fn region_size(reserved_size: u64) -> Option<u64> {
    if reserved_size > MAX_RESERVED_SIZE {
        return None;
    }
    align_up(HEADER_SIZE as u64 + reserved_size, PAGE_SIZE)
}

/// What a new buffer's region starts with.
#[derive(Clone, Copy, Debug)]
pub struct MetadataInit<'a> {
    /// Buffer id.
    pub id: u64,
    /// Debug name (cut to 127 bytes at a character boundary).
    pub name: &'a str,
    /// Width in pixels, for the initial crop.
    pub width: u32,
    /// Height in rows, for the initial crop.
    pub height: u32,
    /// Dataspace hint (0 if none).
    pub dataspace: i32,
    /// Client bytes.
    pub reserved_size: u64,
    /// The buffer's cache domains, for every mapper's lock path.
    pub domains: LockDomains,
}

/// The fixed header fields a reader checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetadataHeader {
    /// Buffer id.
    pub id: u64,
    /// Client bytes.
    pub reserved_size: u64,
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Allocates a buffer's metadata region from `heap` (the system-role heap: a dma-buf on devices)
/// and fills its header; everything not written is zero.
pub fn create(heap: &dyn Heap, init: &MetadataInit<'_>) -> Result<OwnedFd, MemError> {
    let size = region_size(init.reserved_size).ok_or(MemError::TooLarge {
        what: "reserved size",
        bytes: init.reserved_size,
        limit: MAX_RESERVED_SIZE,
    })?;
    let fd = heap.allocate(size, &format!("meta:{}", init.name))?;
    write_header(&map_header(fd.as_fd())?, init)?;
    Ok(fd)
}

/// A read-write mapping of a region's header page: how the header is written (a dma-buf cannot
/// be written with write(2)) and how the service reads the sync counters for its dump.
pub fn map_header(fd: BorrowedFd<'_>) -> Result<Mapping, MemError> {
    Mapping::new(fd, PAGE_SIZE, CpuAccess::ReadWrite)
}

/// Writes a new region's header through `header` ([`map_header`]) of a fresh region that nobody
/// has written (everything not written stays the heap's zeros).
pub fn write_header(header: &Mapping, init: &MetadataInit<'_>) -> Result<(), MemError> {
    // Fixed-size buffer and constant offsets below HEADER_SIZE: the indexing cannot go out of bounds.
    let mut head = [0u8; OFFSET_SYNCS_DECIDED];
    put_u32(&mut head, OFFSET_MAGIC, MAGIC);
    put_u32(&mut head, OFFSET_VERSION, VERSION);
    put_u64(&mut head, OFFSET_BUFFER_ID, init.id);
    put_u32(&mut head, OFFSET_HEADER_SIZE, HEADER_SIZE as u32);
    put_u64(&mut head, OFFSET_RESERVED_SIZE, init.reserved_size);
    head[OFFSET_DATASPACE..OFFSET_DATASPACE + 4].copy_from_slice(&init.dataspace.to_le_bytes());
    let right = i32::try_from(init.width).unwrap_or(i32::MAX);
    let bottom = i32::try_from(init.height).unwrap_or(i32::MAX);
    head[OFFSET_CROP + 8..OFFSET_CROP + 12].copy_from_slice(&right.to_le_bytes());
    head[OFFSET_CROP + 12..OFFSET_CROP + 16].copy_from_slice(&bottom.to_le_bytes());
    let mut flags = LOCK_FLAG_RECORDED;
    if init.domains.cpu_cached {
        flags |= LOCK_FLAG_CPU_CACHED;
    }
    put_u32(&mut head, OFFSET_LOCK_FLAGS, flags);
    put_u64(&mut head, OFFSET_LOCK_READERS, init.domains.readers);
    put_u64(&mut head, OFFSET_LOCK_WRITERS, init.domains.writers);
    put_u64(&mut head, OFFSET_LOCK_COHERENT, init.domains.coherent);
    let name = prefix_within(init.name, NAME_SIZE - 1);
    head[OFFSET_NAME..OFFSET_NAME + name.len()].copy_from_slice(name.as_bytes());
    header.write(0, &head)
}

/// Reads and checks a region's fixed header: magic, version and header size. `fd` may be
/// either form; anything smaller than a page, or not mappable, is refused.
pub fn read_header(fd: BorrowedFd<'_>) -> Result<MetadataHeader, MemError> {
    let mut head = [0u8; OFFSET_RESERVED_SIZE + 8];
    Mapping::new(fd, PAGE_SIZE, CpuAccess::Read)?.read(0, &mut head)?;
    let u32_at =
        |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let u64_at = |at: usize| u64::from(u32_at(at)) | u64::from(u32_at(at + 4)) << 32;
    if u32_at(OFFSET_MAGIC) != MAGIC {
        return Err(MemError::WrongFdKind("not a metadata region (bad magic)"));
    }
    if u32_at(OFFSET_VERSION) != VERSION || u32_at(OFFSET_HEADER_SIZE) != HEADER_SIZE as u32 {
        return Err(MemError::WrongFdKind(
            "a metadata region of another version",
        ));
    }
    Ok(MetadataHeader {
        id: u64_at(OFFSET_BUFFER_ID),
        reserved_size: u64_at(OFFSET_RESERVED_SIZE),
    })
}

/// A buffer's cache-maintenance counters, summed over every mapper in every process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncCounters {
    /// Syncs the lock-path rule called for.
    pub decided: u64,
    /// Syncs a naive mapper would have made that the rule skipped.
    pub skipped: u64,
    /// `DMA_BUF_IOCTL_SYNC` calls made (none on a memfd).
    pub issued: u64,
}

/// Reads a region's sync counters (atomically, each on its own).
pub fn read_sync_counters(region: &Mapping) -> Result<SyncCounters, MemError> {
    let load = |offset| {
        region
            .atomic_u64(offset)
            .map(|word| word.load(std::sync::atomic::Ordering::Relaxed))
    };
    Ok(SyncCounters {
        decided: load(OFFSET_SYNCS_DECIDED)?,
        skipped: load(OFFSET_SYNCS_SKIPPED)?,
        issued: load(OFFSET_SYNCS_ISSUED)?,
    })
}

/// Reads the lock-path domains a region recorded at allocation. A region without them (all zero)
/// is refused: guessing would risk a skipped invalidate.
pub fn read_domains(region: &Mapping) -> Result<LockDomains, MemError> {
    let mut raw = [0u8; OFFSET_SYNCS_DECIDED - OFFSET_LOCK_FLAGS];
    region.read(OFFSET_LOCK_FLAGS, &mut raw)?;
    let u64_at = |at: usize| {
        let at = at - OFFSET_LOCK_FLAGS;
        let mut b = [0u8; 8];
        b.copy_from_slice(&raw[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let flags = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if flags & LOCK_FLAG_RECORDED == 0 || flags & !(LOCK_FLAG_RECORDED | LOCK_FLAG_CPU_CACHED) != 0
    {
        return Err(MemError::WrongFdKind(
            "a metadata region without valid cache domains",
        ));
    }
    Ok(LockDomains {
        cpu_cached: flags & LOCK_FLAG_CPU_CACHED != 0,
        readers: u64_at(OFFSET_LOCK_READERS),
        writers: u64_at(OFFSET_LOCK_WRITERS),
        coherent: u64_at(OFFSET_LOCK_COHERENT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::MemfdHeap;
    use crate::sys;
    use std::sync::atomic::{AtomicU64, Ordering};

    const _: () = assert!(OFFSET_CACHE_STATE % 8 == 0);
    const _: () = assert!(OFFSET_SYNCS_DECIDED % 8 == 0 && OFFSET_SYNCS_SKIPPED % 8 == 0);
    const _: () = assert!(OFFSET_SYNCS_ISSUED % 8 == 0);
    const _: () = assert!(OFFSET_SMPTE2094_10_LEN + 4 <= OFFSET_LOCK_FLAGS);
    const _: () = assert!(OFFSET_SYNCS_ISSUED + 8 <= OFFSET_SMPTE2094_40);
    const _: () = assert!(OFFSET_NAME + NAME_SIZE <= OFFSET_SMPTE2086);
    const _: () = assert!(OFFSET_SMPTE2086 + 4 + 40 <= OFFSET_CTA861_3);
    const _: () = assert!(OFFSET_CTA861_3 + 4 + 8 <= OFFSET_SMPTE2094_40_LEN);
    const _: () = assert!(OFFSET_SMPTE2094_40 + SMPTE2094_40_CAP == OFFSET_SMPTE2094_10);
    const _: () = assert!(OFFSET_SMPTE2094_10 + SMPTE2094_10_CAP == HEADER_SIZE);

    fn init(reserved_size: u64) -> MetadataInit<'static> {
        MetadataInit {
            id: 0x1234_5678_0000_0009,
            name: "SurfaceView",
            width: 1920,
            height: 1080,
            dataspace: 0,
            reserved_size,
            domains: LockDomains {
                cpu_cached: true,
                readers: 0b100,
                writers: 0b10,
                coherent: 0b10,
            },
        }
    }

    #[test]
    fn region_holds_header_then_zeroed_reserved_bytes() {
        let fd = create(&MemfdHeap, &init(100)).unwrap();
        assert_eq!(
            sys::fd_kind(fd.as_fd()).unwrap(),
            sys::FdKind::SealedFile(8192)
        );
        assert_eq!(
            read_header(fd.as_fd()).unwrap(),
            MetadataHeader {
                id: 0x1234_5678_0000_0009,
                reserved_size: 100
            }
        );
        let map = Mapping::new(fd.as_fd(), 8192, CpuAccess::ReadWrite).unwrap();
        let mut name = [0u8; 12];
        map.read(OFFSET_NAME, &mut name).unwrap();
        assert_eq!(&name, b"SurfaceView\0");
        let mut crop = [0u8; 16];
        map.read(OFFSET_CROP, &mut crop).unwrap();
        assert_eq!(&crop[8..12], &1920i32.to_le_bytes());
        assert_eq!(read_domains(&map).unwrap(), init(100).domains);
        let mut reserved = vec![0xffu8; 100];
        map.read(HEADER_SIZE, &mut reserved).unwrap();
        assert!(reserved.iter().all(|&b| b == 0));
        // The state word is usable as a shared atomic.
        // SAFETY: the offset is 8-aligned inside a live, page-aligned writable mapping.
        let word = unsafe { &*(map.as_ptr().add(OFFSET_CACHE_STATE) as *const AtomicU64) };
        assert_eq!(word.load(Ordering::Acquire), 0);
        word.store(7, Ordering::Release);
        let mut raw = [0u8; 8];
        map.read(OFFSET_CACHE_STATE, &mut raw).unwrap();
        assert_eq!(u64::from_le_bytes(raw), 7);
    }

    #[test]
    fn sizes_and_refusals() {
        assert_eq!(region_size(0), Some(4096));
        assert_eq!(region_size(1), Some(8192));
        assert_eq!(region_size(MAX_RESERVED_SIZE + 1), None);
        let fd = sys::sealed_memfd("not-meta", 4096, true, true).unwrap();
        assert!(matches!(
            read_header(fd.as_fd()),
            Err(MemError::WrongFdKind(_))
        ));
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert!(read_header(r.as_fd()).is_err());
    }
}
