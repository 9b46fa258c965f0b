//! Mapper cases on real dma-bufs: the lock/unlock benchmark (naive against the lock-path rule
//! against a bare mapping with one sync pair), and the kernel's own count of the CPU-access syncs
//! the mapper issues while the CPU steps of every shipped trace run through it.

use std::path::Path;
use std::time::{Duration, Instant};

use central_gralloc::cache::CpuAccess;
use central_gralloc::descriptor::Descriptor;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::Profile;
use central_gralloc::usage::Usage;
use central_gralloc_mapper::buffer::{ImportedBuffer, SyncMode};
use central_gralloc_memory::{
    map, Allocator, BufferHandle, CpuAccess as MapAccess, DmaHeap, Heap, Limits, Mapping,
};

use crate::harness::{ensure, info, Context, TestCase, TestResult};

/// The mapper cases, in the order they run.
pub const TESTS: &[TestCase] = &[TestCase {
    name: "mapper.bench_lock_unlock",
    run: bench_lock_unlock,
}];

const HEAP_DIR: &str = "/dev/dma_heap";

/// An allocator for `profile` whose every heap role is served by the system dma-heap, the only
/// heap the VM's kernel has: placements (and so the cache domains the mapper reads) follow the
/// profile, the memory is real dma-bufs.
pub fn system_heap_allocator(profile: Profile) -> Result<Allocator, String> {
    let mut heaps: Vec<(_, Box<dyn Heap>)> = Vec::new();
    for spec in profile.heaps() {
        let heap = DmaHeap::open(Path::new(HEAP_DIR), "system").context("open system heap")?;
        heaps.push((spec.role, Box::new(heap)));
    }
    Ok(Allocator::with_heaps(profile, heaps, Limits::default()))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// One imported copy of the buffer's handle under `mode`.
fn import(handle: &BufferHandle, mode: SyncMode) -> Result<ImportedBuffer, String> {
    let copy = handle.encode().context("dup the handle")?;
    let decoded = BufferHandle::decode(copy).context("decode")?;
    ImportedBuffer::new(decoded, mode).map_err(|e| format!("import: {e}"))
}

/// Lock+unlock of a 1080p RGBA buffer by the same reader, over and over (steady state), three
/// ways in one process and interleaved so the emulator's drift hits all alike: the naive rule
/// (a sync at every lock and unlock), the lock-path rule, and a bare mapping with one
/// `DMA_BUF_IOCTL_SYNC` START/END pair per access (what any correct client of a cached dma-buf
/// pays without the mapper). Two buffers: one only a coherent device writes (soc's GPU), one a
/// non-coherent device writes (soc's camera), where the rule must invalidate at every lock.
fn bench_lock_unlock() -> TestResult {
    const BLOCKS: usize = 41;
    const PER_BLOCK: u32 = 50;
    let allocator = system_heap_allocator(Profile::builtin("soc").ok_or("no soc profile")?)?;
    let cases = [
        ("gpu-written", Usage::GPU_RENDER_TARGET | Usage::CPU_READ_OFTEN),
        ("camera-written", Usage::CAMERA_OUTPUT | Usage::CPU_READ_OFTEN),
    ];
    for (name, usage) in cases {
        let desc = Descriptor::simple("bench", 1920, 1080, PixelFormat::RGBA_8888, usage)
            .map_err(|e| e.to_string())?;
        let mut allocation = allocator.allocate(&desc, 1).context("allocate")?;
        let buffer = allocation.buffers.pop().ok_or("no buffer")?;
        let handle = BufferHandle::decode(buffer.into_handle()).context("decode")?;
        let naive = import(&handle, SyncMode::Naive)?;
        let tracked = import(&handle, SyncMode::Tracked)?;
        let bare = Mapping::new(
            std::os::fd::AsFd::as_fd(&handle.memory),
            handle.info.size,
            MapAccess::Read,
        )
        .context("bare mmap")?;
        let mut times: [Vec<Duration>; 3] = Default::default();
        let mut sink = 0u8;
        for _ in 0..BLOCKS {
            for (i, t) in times.iter_mut().enumerate() {
                let start = Instant::now();
                for _ in 0..PER_BLOCK {
                    sink ^= match i {
                        0 => cycle(&naive)?,
                        1 => cycle(&tracked)?,
                        _ => bare_cycle(&handle, &bare)?,
                    };
                }
                t.push(start.elapsed() / PER_BLOCK);
            }
        }
        let [n, r, b] = times.map(median);
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-12);
        info(format_args!(
            "BENCH {name} 1080p RGBA lock+unlock (read): naive_us={:.2} mapper_us={:.2} bare_sync_pair_us={:.2} naive/mapper={:.2} mapper/bare={:.2} naive/bare={:.2} syncs per cycle: naive {} mapper {} (median of {BLOCKS} blocks of {PER_BLOCK}; checksum {sink})",
            us(n), us(r), us(b), ratio(n, r), ratio(r, b), ratio(n, b),
            naive.counts().issued / u64::from(BLOCKS as u32 * PER_BLOCK),
            tracked.counts().issued / u64::from(BLOCKS as u32 * PER_BLOCK),
        ));
        let expected = if name == "camera-written" { 1 } else { 0 };
        let per_cycle = tracked.counts().issued / u64::from(BLOCKS as u32 * PER_BLOCK);
        ensure(per_cycle == expected, || {
            format!("{name}: the rule issued {per_cycle} syncs per cycle, expected {expected}")
        })?;
    }
    Ok(())
}

/// One lock for read, one byte read, one unlock.
fn cycle(b: &ImportedBuffer) -> Result<u8, String> {
    let p = b
        .lock(CpuAccess::Read, None)
        .map_err(|e| format!("lock: {e}"))?;
    // SAFETY: the lock maps the whole buffer; its first byte is readable while locked.
    let v = unsafe { p.read_volatile() };
    b.unlock().map_err(|e| format!("unlock: {e}"))?;
    Ok(v)
}

/// The same access on a bare mapping with one sync pair.
fn bare_cycle(handle: &BufferHandle, bare: &Mapping) -> Result<u8, String> {
    use std::os::fd::AsFd;
    map::begin_cpu_access(handle.memory.as_fd(), MapAccess::Read).context("sync start")?;
    // SAFETY: the mapping covers the buffer; its first byte is readable.
    let v = unsafe { bare.as_ptr().read_volatile() };
    map::end_cpu_access(handle.memory.as_fd(), MapAccess::Read).context("sync end")?;
    Ok(v)
}
