//! Memory-layer cases: the same kernel paths as `kernel_facts`, but through
//! `central_gralloc_memory` (allocator, backends, handles, sync), plus the allocation benchmark.

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use central_gralloc::descriptor::Descriptor;
use central_gralloc::error::ErrorCode;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::{HeapRole, Profile};
use central_gralloc::solver::{CachePolicy, CacheReason};
use central_gralloc::usage::Usage;
use central_gralloc_memory::{
    map, sys as memsys, Allocator, Backend, BackendConfig, BufferHandle, BufferKind, CpuAccess,
    DmaHeap, Heap, Limits, MemError, NativeHandle, SyncOutcome, SysOp,
};

use crate::harness::{ensure, in_child, info, ChildOutcome, Context, TestCase, TestResult};

/// The memory-layer test cases, in the order they run.
pub const TESTS: &[TestCase] = &[
    TestCase {
        name: "memory.dma_heap_buffers_named_in_bufinfo",
        run: dma_heap_buffers_named_in_bufinfo,
    },
    TestCase {
        name: "memory.metadata_region_is_a_system_heap_dma_buf",
        run: metadata_region_is_a_system_heap_dma_buf,
    },
    TestCase {
        name: "memory.handle_round_trip_child_reads",
        run: handle_round_trip_child_reads,
    },
    TestCase {
        name: "memory.device_heap_buffers_are_virtio_gpu_exports",
        run: device::device_heap_buffers_are_virtio_gpu_exports,
    },
    TestCase {
        name: "memory.device_heap_failures_name_the_device",
        run: device::device_heap_failures_name_the_device,
    },
    TestCase {
        name: "memory.udmabuf_backend",
        run: udmabuf_backend,
    },
    TestCase {
        name: "memory.sync_outcomes",
        run: sync_outcomes,
    },
    TestCase {
        name: "memory.missing_heaps_unsupported",
        run: missing_heaps_unsupported,
    },
    TestCase {
        name: "memory.heap_fd_survives_node_removal",
        run: heap_fd_survives_node_removal,
    },
    TestCase {
        name: "memory.decode_rejects_wrong_fds",
        run: decode_rejects_wrong_fds,
    },
    TestCase {
        name: "memory.batch_failure_closes_dma_bufs",
        run: batch_failure_closes_dma_bufs,
    },
    TestCase {
        name: "memory.limits_refuse_before_allocating",
        run: limits_refuse_before_allocating,
    },
    TestCase {
        name: "memory.emfile_mid_batch_closes_dma_bufs",
        run: emfile_mid_batch_closes_dma_bufs,
    },
    TestCase {
        name: "memory.bench_allocate_vs_raw",
        run: bench_allocate_vs_raw,
    },
];

const HEAP_DIR: &str = "/dev/dma_heap";
const BUFINFO: &str = "/sys/kernel/debug/dma_buf/bufinfo";

fn profile(name: &str) -> Result<Profile, String> {
    Profile::builtin(name).ok_or_else(|| format!("no built-in profile {name}"))
}

fn allocator(profile_name: &str, backend: Backend) -> Result<Allocator, String> {
    Allocator::new(
        profile(profile_name)?,
        &BackendConfig::new(backend),
        Limits::default(),
    )
    .context(format!("{backend} allocator"))
}

fn descriptor(
    name: &str,
    w: u32,
    h: u32,
    format: PixelFormat,
    usage: Usage,
) -> Result<Descriptor, String> {
    Descriptor::simple(name, w, h, format, usage).map_err(|e| e.to_string())
}

/// A CPU-drawn frame a video encoder reads: on cuttlefish it lives on the system dma-heap (GPU
/// or display usage would put it in virtio-gpu's own memory, `memory.device_heap_*`).
fn rgba_1080p(name: &str) -> Result<Descriptor, String> {
    descriptor(
        name,
        1920,
        1080,
        PixelFormat::RGBA_8888,
        Usage::VIDEO_ENCODER | Usage::CPU_WRITE_OFTEN | Usage::CPU_READ_OFTEN,
    )
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// `(exporter, name, size)` of every dma-buf in bufinfo (header lines `size flags mode count
/// exp_name ino name`, tab-separated), keyed by inode.
fn bufinfo() -> Result<Vec<(u64, String, String, u64)>, String> {
    let text = std::fs::read_to_string(BUFINFO).context(BUFINFO)?;
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        if let [size, _flags, _mode, _count, exporter, ino, name] = fields[..] {
            if let (Ok(size), Ok(ino)) = (size.trim().parse::<u64>(), ino.trim().parse::<u64>()) {
                out.push((ino, exporter.to_owned(), name.to_owned(), size));
            }
        }
    }
    Ok(out)
}

fn inode(fd: BorrowedFd<'_>) -> Result<u64, String> {
    Ok(nix::sys::stat::fstat(fd).context("fstat")?.st_ino)
}

fn bufinfo_of(fd: BorrowedFd<'_>) -> Result<(String, String, u64), String> {
    let ino = inode(fd)?;
    bufinfo()?
        .into_iter()
        .find(|(i, ..)| *i == ino)
        .map(|(_, exporter, name, size)| (exporter, name, size))
        .ok_or_else(|| format!("inode {ino} not in bufinfo"))
}

fn dma_heap_buffers_named_in_bufinfo() -> TestResult {
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    ensure(a.unavailable().is_empty(), || {
        format!("unavailable: {:?}", a.unavailable())
    })?;
    // 36 bytes of UTF-8 whose 31-byte cut would split a character: the name is cut to 30.
    let name = "SurfaceView[com.ex]#0-ééééééé";
    let d = rgba_1080p(name)?;
    let alloc = a.allocate(&d, 2).context("allocate")?;
    let expected = "SurfaceView[com.ex]#0-éééé";
    for b in &alloc.buffers {
        ensure(b.kind() == BufferKind::DmaHeap, || {
            format!("kind {}", b.kind())
        })?;
        let (exporter, got, size) = bufinfo_of(b.fd())?;
        ensure(exporter == "system" && size == b.info().size, || {
            format!("bufinfo exporter {exporter} size {size}")
        })?;
        ensure(got == expected, || {
            format!("bufinfo name {got:?}, expected {expected:?}")
        })?;
        ensure(
            memsys::fd_kind(b.fd()).ok() == Some(memsys::FdKind::DmaBuf(b.info().size)),
            || "fd_kind".into(),
        )?;
    }
    info(format_args!(
        "2 x {} bytes named {expected:?}, stride {}",
        alloc.placement.size(),
        alloc.stride()
    ));
    Ok(())
}

/// The device form of the metadata region: a dma-buf from the system heap (so every client may
/// receive and map it, as it may the buffer), of the size the handle says, holding the header,
/// shared between mappings, and accepted by the mapper's decoder.
fn metadata_region_is_a_system_heap_dma_buf() -> TestResult {
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    let mut d = rgba_1080p("metadata-form")?;
    d.reserved_size = 5000;
    let buffer = a
        .allocate(&d, 1)
        .context("allocate")?
        .buffers
        .pop()
        .ok_or("no buffer")?;
    let held = *buffer.info();
    ensure(held.metadata_kind == BufferKind::DmaHeap, || {
        format!("metadata kind {}", held.metadata_kind)
    })?;
    ensure(held.metadata_size == 3 * 4096, || {
        format!("metadata size {}", held.metadata_size)
    })?;
    let kind = memsys::fd_kind(buffer.metadata_fd()).context("fd_kind")?;
    ensure(kind == memsys::FdKind::DmaBuf(held.metadata_size), || {
        format!("metadata fd is {kind:?}")
    })?;
    let (exporter, name, size) = bufinfo_of(buffer.metadata_fd())?;
    ensure(
        exporter == "system" && name == "meta:metadata-form" && size == held.metadata_size,
        || format!("bufinfo {exporter} {name:?} {size}"),
    )?;
    let header =
        central_gralloc_memory::metadata::read_header(buffer.metadata_fd()).context("header")?;
    ensure(header.id == held.id && header.reserved_size == 5000, || {
        format!("header {header:?}")
    })?;
    // Two mappings of the region are the same memory (the mapper's and another process's), and
    // the reserved bytes start zeroed.
    let one = buffer.map_metadata().context("map")?;
    let two = buffer.map_metadata().context("map again")?;
    let mut reserved = [0xffu8; 5000];
    two.read(central_gralloc_memory::metadata::HEADER_SIZE, &mut reserved)
        .context("read reserved")?;
    ensure(reserved.iter().all(|&b| b == 0), || {
        "reserved bytes not zeroed".into()
    })?;
    let word = one
        .atomic_u64(central_gralloc_memory::metadata::OFFSET_CACHE_STATE)
        .context("state word")?;
    word.store(0x5eed, Ordering::Release);
    let mut raw = [0u8; 8];
    two.read(
        central_gralloc_memory::metadata::OFFSET_CACHE_STATE,
        &mut raw,
    )
    .context("read state word")?;
    ensure(u64::from_le_bytes(raw) == 0x5eed, || {
        "the second mapping does not see the state word".into()
    })?;
    let decoded = BufferHandle::decode(buffer.encode().context("encode")?).context("decode")?;
    ensure(decoded.info == held, || "decoded info differs".into())?;
    info(format_args!(
        "metadata: {} bytes from the system heap, named {name:?}",
        held.metadata_size
    ));
    Ok(())
}

fn handle_round_trip_child_reads() -> TestResult {
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    let d = rgba_1080p("round-trip")?;
    let buffer = a
        .allocate(&d, 1)
        .context("allocate")?
        .buffers
        .pop()
        .ok_or("no buffer")?;
    let pattern: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    let offset = buffer.info().size as usize - 4096;
    {
        let map = buffer.map(CpuAccess::ReadWrite).context("map")?;
        ensure(
            buffer.begin_cpu_access(CpuAccess::Write).context("begin")? == SyncOutcome::Synced,
            || "begin not synced".into(),
        )?;
        map.write(offset, &pattern).context("write")?;
        buffer.end_cpu_access(CpuAccess::Write).context("end")?;
    }
    let id = buffer.id();
    let handle = buffer.into_handle();
    let outcome = in_child(move |report| {
        // The child decodes the handle and maps the buffer itself, like a client process would.
        let result = (|| -> Result<(), String> {
            let decoded = BufferHandle::decode(handle).context("decode")?;
            if decoded.info.id != id {
                return Err(format!("id {:#x} != {id:#x}", decoded.info.id));
            }
            let map = central_gralloc_memory::Mapping::new(
                decoded.memory.as_fd(),
                decoded.info.size,
                CpuAccess::Read,
            )
            .context("map")?;
            map::begin_cpu_access(decoded.memory.as_fd(), CpuAccess::Read).context("begin")?;
            let mut got = vec![0u8; 4096];
            map.read(offset, &mut got).context("read")?;
            map::end_cpu_access(decoded.memory.as_fd(), CpuAccess::Read).context("end")?;
            if got != pattern {
                return Err("child read different bytes".into());
            }
            Ok(())
        })();
        let _ = write!(report, "{result:?}");
        i32::from(result.is_err())
    })?;
    match outcome {
        ChildOutcome::Exited { code: 0, .. } => Ok(()),
        ChildOutcome::Exited { report, .. } | ChildOutcome::Signaled { report, .. } => {
            Err(format!("child: {report}"))
        }
    }
}

fn udmabuf_backend() -> TestResult {
    let a = allocator("host", Backend::Udmabuf)?;
    let d = descriptor(
        "udmabuf-case",
        3840,
        2160,
        PixelFormat::YCRCB_420_SP,
        Usage::GPU_TEXTURE | Usage::CPU_WRITE_OFTEN,
    )?;
    let alloc = a.allocate(&d, 2).context("allocate")?;
    for b in &alloc.buffers {
        ensure(b.kind() == BufferKind::Udmabuf, || {
            format!("kind {}", b.kind())
        })?;
        let (exporter, name, size) = bufinfo_of(b.fd())?;
        ensure(
            exporter == "udmabuf" && name == "udmabuf-case" && size == b.info().size,
            || format!("bufinfo {exporter} {name:?} {size}"),
        )?;
        let map = b.map(CpuAccess::ReadWrite).context("map")?;
        ensure(
            b.begin_cpu_access(CpuAccess::ReadWrite).context("begin")? == SyncOutcome::Synced,
            || "not synced".into(),
        )?;
        map.write(0, b"udmabuf").context("write")?;
        let mut back = [0u8; 7];
        map.read(0, &mut back).context("read")?;
        b.end_cpu_access(CpuAccess::ReadWrite).context("end")?;
        ensure(&back == b"udmabuf", || "read back differs".into())?;
        ensure(b.info().metadata_kind == BufferKind::Udmabuf, || {
            format!("metadata kind {}", b.info().metadata_kind)
        })?;
        BufferHandle::decode(b.encode().context("encode")?).context("decode")?;
    }
    // The stand-in serves the system role only.
    let soc = Allocator::new(
        profile("soc")?,
        &BackendConfig::new(Backend::Udmabuf),
        Limits::default(),
    )
    .context("soc")?;
    let overlay = descriptor(
        "overlay",
        64,
        64,
        PixelFormat::RGBA_8888,
        Usage::COMPOSER_OVERLAY,
    )?;
    match soc.allocate(&overlay, 1) {
        Err(MemError::HeapUnavailable {
            role: HeapRole::Contiguous,
            ..
        }) => Ok(()),
        other => Err(format!("contiguous via udmabuf: {other:?}")),
    }
}

fn sync_outcomes() -> TestResult {
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    let buffer = a
        .allocate(&rgba_1080p("sync")?, 1)
        .context("allocate")?
        .buffers
        .pop()
        .ok_or("no buffer")?;
    for access in [CpuAccess::Read, CpuAccess::Write, CpuAccess::ReadWrite] {
        buffer
            .begin_cpu_access(access)
            .context(format!("begin {access:?}"))?;
        buffer
            .end_cpu_access(access)
            .context(format!("end {access:?}"))?;
    }
    let m = allocator("host", Backend::Memfd)?;
    let memfd = m
        .allocate(&rgba_1080p("sync-memfd")?, 1)
        .context("memfd allocate")?
        .buffers
        .pop()
        .ok_or("no buffer")?;
    ensure(
        memfd
            .begin_cpu_access(CpuAccess::Read)
            .context("memfd begin")?
            == SyncOutcome::NotDmaBuf,
        || "memfd synced".into(),
    )?;
    let (r, _w) = nix::unistd::pipe().context("pipe")?;
    ensure(
        matches!(
            map::begin_cpu_access(r.as_fd(), CpuAccess::Read),
            Err(MemError::NotDmaBuf)
        ),
        || "pipe accepted".into(),
    )?;
    ensure(
        matches!(
            map::begin_cpu_access(memfd.fd(), CpuAccess::Read),
            Err(MemError::NotDmaBuf)
        ),
        || "memfd ioctl accepted".into(),
    )
}

fn missing_heaps_unsupported() -> TestResult {
    // soc names system-uncached, linux,cma and secure heaps; this kernel has only `system`.
    let a = allocator("soc", Backend::DmaHeap)?;
    let missing: Vec<HeapRole> = a.unavailable().iter().map(|u| u.role).collect();
    ensure(
        missing
            == [
                HeapRole::SystemUncached,
                HeapRole::Contiguous,
                HeapRole::Protected,
            ],
        || format!("unavailable {missing:?}"),
    )?;
    let overlay = descriptor(
        "overlay",
        64,
        64,
        PixelFormat::RGBA_8888,
        Usage::COMPOSER_OVERLAY,
    )?;
    let e = a
        .allocate(&overlay, 1)
        .err()
        .ok_or("display buffer allocated without a CMA heap")?;
    ensure(
        e.code() == ErrorCode::Unsupported && e.to_string().contains("linux,cma"),
        || format!("{e}"),
    )?;
    info(format_args!("{e}"));
    let decode = descriptor(
        "decode",
        64,
        64,
        PixelFormat::YCRCB_420_SP,
        Usage::VIDEO_DECODER | Usage::GPU_TEXTURE,
    )?;
    let p = a.solve(&decode).context("solve decoder buffer")?;
    ensure(
        p.heap == HeapRole::System
            && p.cache == CachePolicy::Cached
            && p.reasons.cache == CacheReason::NoUncachedHeap,
        || format!("{:?} {:?} {:?}", p.heap, p.cache, p.reasons.cache),
    )?;
    a.allocate(&decode, 1)
        .context("decoder buffer on system")
        .map(drop)
}

fn heap_fd_survives_node_removal() -> TestResult {
    let dir = std::env::temp_dir().join("cg-vm-heaps");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).context("mkdir")?;
    std::os::unix::fs::symlink(format!("{HEAP_DIR}/system"), dir.join("system"))
        .context("symlink")?;
    let a = Allocator::new(
        profile("host")?,
        &BackendConfig::dma_heap_in(&dir),
        Limits::default(),
    )
    .context("allocator")?;
    a.allocate(&rgba_1080p("before")?, 1)
        .context("before removal")?;
    std::fs::remove_dir_all(&dir).context("rmdir")?;
    // The heap was opened once: removing its node does not stop this allocator...
    a.allocate(&rgba_1080p("after")?, 1)
        .context("after removal")?;
    // ...while a new one finds no heap and says so.
    let before = open_fds();
    let b = Allocator::new(
        profile("host")?,
        &BackendConfig::dma_heap_in(&dir),
        Limits::default(),
    )
    .context("allocator")?;
    let e = b
        .allocate(&rgba_1080p("gone")?, 1)
        .err()
        .ok_or("allocated from a removed heap directory")?;
    drop(b);
    ensure(e.code() == ErrorCode::Unsupported, || format!("{e}"))?;
    ensure(open_fds() == before, || "fds leaked".into())
}

mod faults;
use faults::{
    batch_failure_closes_dma_bufs, decode_rejects_wrong_fds, emfile_mid_batch_closes_dma_bufs,
    limits_refuse_before_allocating,
};

mod bench;
mod device;
use bench::bench_allocate_vs_raw;
