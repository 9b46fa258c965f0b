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
        name: "memory.handle_round_trip_child_reads",
        run: handle_round_trip_child_reads,
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

fn rgba_1080p(name: &str) -> Result<Descriptor, String> {
    descriptor(
        name,
        1920,
        1080,
        PixelFormat::RGBA_8888,
        Usage::GPU_TEXTURE | Usage::CPU_WRITE_OFTEN | Usage::CPU_READ_OFTEN,
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
    let expected: String = {
        let mut end = 31;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name[..end].to_owned()
    };
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

fn decode_rejects_wrong_fds() -> TestResult {
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    let buffer = a
        .allocate(&rgba_1080p("decode")?, 1)
        .context("allocate")?
        .buffers
        .pop()
        .ok_or("no buffer")?;
    let before = open_fds();
    let dup = |fd: BorrowedFd<'_>| fd.try_clone_to_owned().map_err(|e| e.to_string());
    let ints = buffer.info().to_ints();
    let mut cases: Vec<(&str, NativeHandle)> = Vec::new();
    let mut as_memfd = ints.clone();
    as_memfd[21] = 2; // kind: memfd, but the fd is a dma-buf
    cases.push((
        "kind mismatch",
        NativeHandle {
            fds: vec![dup(buffer.fd())?, dup(buffer.metadata_fd())?],
            ints: as_memfd,
        },
    ));
    cases.push((
        "truncated",
        NativeHandle {
            fds: vec![dup(buffer.fd())?, dup(buffer.metadata_fd())?],
            ints: ints[..20].to_vec(),
        },
    ));
    cases.push((
        "swapped fds",
        NativeHandle {
            fds: vec![dup(buffer.metadata_fd())?, dup(buffer.fd())?],
            ints: ints.clone(),
        },
    ));
    let small = a
        .allocate(
            &descriptor("small", 16, 16, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE)?,
            1,
        )
        .context("small")?;
    let small = small.buffers.into_iter().next().ok_or("no buffer")?;
    cases.push((
        "smaller dma-buf",
        NativeHandle {
            fds: vec![dup(small.fd())?, dup(buffer.metadata_fd())?],
            ints: ints.clone(),
        },
    ));
    drop(small);
    for (what, handle) in cases {
        match BufferHandle::decode(handle) {
            Ok(_) => return Err(format!("{what}: accepted")),
            Err(e) => info(format_args!("{what}: {e}")),
        }
    }
    ensure(open_fds() == before, || {
        format!("fds: {} before, {} after", before, open_fds())
    })
}

/// A dma-heap that fails with ENOMEM after `ok` buffers.
#[derive(Debug)]
struct FailAfter {
    heap: DmaHeap,
    ok: u32,
    made: AtomicU32,
}

impl Heap for FailAfter {
    fn kind(&self) -> BufferKind {
        BufferKind::DmaHeap
    }
    fn describe(&self) -> String {
        format!("{} failing after {}", self.heap.describe(), self.ok)
    }
    fn allocate(&self, size: u64, name: &str) -> Result<OwnedFd, MemError> {
        if self.made.fetch_add(1, Ordering::Relaxed) >= self.ok {
            return Err(MemError::sys(SysOp::HeapAlloc, nix::errno::Errno::ENOMEM));
        }
        self.heap.allocate(size, name)
    }
}

fn batch_failure_closes_dma_bufs() -> TestResult {
    let heap = DmaHeap::open(std::path::Path::new(HEAP_DIR), "system").context("open heap")?;
    let failing = FailAfter {
        heap,
        ok: 3,
        made: AtomicU32::new(0),
    };
    let a = Allocator::with_heaps(
        profile("host")?,
        vec![(HeapRole::System, Box::new(failing))],
        Limits::default(),
    );
    let (fds, bufs) = (open_fds(), bufinfo()?.len());
    let e = a
        .allocate(&rgba_1080p("batch-fail")?, 5)
        .err()
        .ok_or("batch succeeded")?;
    ensure(e.code() == ErrorCode::NoResources, || format!("{e}"))?;
    ensure(open_fds() == fds, || {
        format!("fds {} -> {}", fds, open_fds())
    })?;
    let now = bufinfo()?.len();
    ensure(now == bufs, || {
        format!("dma-bufs {bufs} -> {now}: buffers 0..3 were not released")
    })
}

fn limits_refuse_before_allocating() -> TestResult {
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    let limits = a.limits();
    info(format_args!(
        "default limits: {} MiB per request, {} buffers",
        limits.max_batch_bytes >> 20,
        limits.max_count
    ));
    let bufs = bufinfo()?.len();
    let d = rgba_1080p("too-many")?;
    let count = (limits.max_batch_bytes / (8 << 20) + 1).min(u64::from(limits.max_count)) as u32;
    let e = a
        .allocate(&d, count)
        .err()
        .ok_or("batch beyond the limit allocated")?;
    ensure(
        matches!(e, MemError::TooLarge { .. }) && e.code() == ErrorCode::NoResources,
        || format!("{e}"),
    )?;
    ensure(bufinfo()?.len() == bufs, || {
        "allocated before refusing".into()
    })
}

/// Sets the soft limit on open fds, returning the old soft limit.
fn set_fd_limit(soft: u64) -> Result<u64, String> {
    let mut old = nix::libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `old` is a writable rlimit for the duration of the call.
    if unsafe { nix::libc::getrlimit(nix::libc::RLIMIT_NOFILE, &mut old) } != 0 {
        return Err(format!("getrlimit: {}", nix::errno::Errno::last()));
    }
    let new = nix::libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: `new` is a valid rlimit read by the kernel during the call.
    if unsafe { nix::libc::setrlimit(nix::libc::RLIMIT_NOFILE, &new) } != 0 {
        return Err(format!("setrlimit: {}", nix::errno::Errno::last()));
    }
    Ok(old.rlim_cur)
}

/// A real kernel failure part way through a batch of real dma-bufs: the fd table fills up, so
/// DMA_HEAP_IOCTL_ALLOC (or the metadata memfd) fails with EMFILE at buffer 2 or 3. (Real ENOMEM
/// from the system heap cannot be provoked safely: on this kernel the allocating process is
/// OOM-killed instead, which is what `Limits` exists to prevent; kernel_facts shows it.)
fn emfile_mid_batch_closes_dma_bufs() -> TestResult {
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    let d = rgba_1080p("emfile")?;
    let (fds, bufs) = (open_fds(), bufinfo()?.len());
    // Room for two buffers (two fds each) and a little more; read_dir itself needs one.
    let old = set_fd_limit(fds as u64 + 5)?;
    let result = a.allocate(&d, 6);
    set_fd_limit(old)?;
    let e = match result {
        Ok(alloc) => {
            return Err(format!(
                "{} buffers allocated under the fd limit",
                alloc.buffers.len()
            ))
        }
        Err(e) => e,
    };
    info(format_args!("{e}"));
    ensure(
        e.errno() == Some(nix::errno::Errno::EMFILE) && e.code() == ErrorCode::NoResources,
        || format!("{e}"),
    )?;
    ensure(open_fds() == fds, || format!("fds {fds} -> {}", open_fds()))?;
    let now = bufinfo()?.len();
    ensure(now == bufs, || format!("dma-bufs {bufs} -> {now}"))?;
    a.allocate(&d, 6)
        .context("the same batch afterwards")
        .map(drop)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn bench_allocate_vs_raw() -> TestResult {
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    let heap = DmaHeap::open(std::path::Path::new(HEAP_DIR), "system").context("open heap")?;
    let cases = [
        (
            "4KiB-blob",
            descriptor("bench", 4096, 1, PixelFormat::BLOB, Usage::CPU_WRITE_OFTEN)?,
            301,
        ),
        ("1080p-rgba-8MiB", rgba_1080p("bench")?, 61),
        (
            "4k-nv12",
            descriptor(
                "bench",
                3840,
                2160,
                PixelFormat::YCRCB_420_SP,
                Usage::VIDEO_DECODER | Usage::GPU_TEXTURE,
            )?,
            41,
        ),
    ];
    let mut verdict = Ok(());
    for (name, d, rounds) in cases {
        let size = a.solve(&d).context("solve")?.size();
        let (mut raw, mut ours) = (Vec::new(), Vec::new());
        // Interleaved so drift in the emulator affects both sides alike; each buffer is freed
        // outside the timed region.
        for _ in 0..rounds {
            let t = Instant::now();
            let buf = heap.allocate_raw(size).context("raw alloc")?;
            raw.push(t.elapsed());
            drop(buf);
            let t = Instant::now();
            let alloc = a.allocate(&d, 1).context("allocate")?;
            ours.push(t.elapsed());
            drop(alloc);
        }
        let (r, o) = (median(raw), median(ours));
        let ratio = o.as_secs_f64() / r.as_secs_f64().max(1e-9);
        info(format_args!(
            "BENCH {name} size={size} raw_us={:.1} ours_us={:.1} ratio={ratio:.3} (median of {rounds})",
            r.as_secs_f64() * 1e6,
            o.as_secs_f64() * 1e6
        ));
        if name.contains("8MiB") && ratio > 1.10 && verdict.is_ok() {
            verdict = Err(format!("{name}: ours/raw = {ratio:.3} > 1.10"));
        }
    }
    verdict
}
