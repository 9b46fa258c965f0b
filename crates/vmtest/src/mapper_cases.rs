//! Mapper cases on real dma-bufs: the lock/unlock benchmark (naive against the lock-path rule
//! against a bare mapping with one sync pair), and the kernel's own count of the CPU-access syncs
//! the mapper issues while the CPU steps of every shipped trace run through it. Also the buffer
//! pool's benchmark against the raw heap ioctl.

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

use crate::harness::{ensure, in_child, info, ChildOutcome, Context, TestCase, TestResult};
use crate::mapper_client::Mapper;
use central_gralloc_coherency::policy::Event;
use central_gralloc_coherency::report::SHIPPED;
use central_gralloc_coherency::{replay_trace, Policy, Trace};
use central_gralloc_memory::metadata;
use std::io::Write;
use std::os::fd::AsRawFd;

/// The mapper cases, in the order they run.
pub const TESTS: &[TestCase] = &[
    TestCase {
        name: "mapper.trace_kernel_syncs",
        run: trace_kernel_syncs,
    },
    TestCase {
        name: "mapper.bench_lock_unlock",
        run: bench_lock_unlock,
    },
    TestCase {
        name: "pool.bench_allocate",
        run: bench_pool,
    },
];

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

/// Lock+unlock of a 1080p buffer by the same reader, over and over (steady state), three
/// ways in one process and interleaved so the emulator's drift hits all alike: the naive rule
/// (a sync at every lock and unlock), the lock-path rule, and a bare mapping with one
/// `DMA_BUF_IOCTL_SYNC` START/END pair per access (what any correct client of a cached dma-buf
/// pays without the mapper). Two buffers: an RGBA one only a coherent device writes (soc's GPU),
/// and a YUV one a non-coherent device writes (soc's camera), where the rule must invalidate at
/// every lock.
fn bench_lock_unlock() -> TestResult {
    const BLOCKS: usize = 41;
    const PER_BLOCK: u32 = 50;
    let allocator = system_heap_allocator(Profile::builtin("soc").ok_or("no soc profile")?)?;
    let cases = [
        (
            "gpu-written 1080p RGBA",
            PixelFormat::RGBA_8888,
            Usage::GPU_RENDER_TARGET | Usage::CPU_READ_OFTEN,
        ),
        (
            "camera-written 1080p YUV420",
            PixelFormat::YCBCR_420_888,
            Usage::CAMERA_OUTPUT | Usage::CPU_READ_OFTEN,
        ),
    ];
    for (name, format, usage) in cases {
        let desc =
            Descriptor::simple("bench", 1920, 1080, format, usage).map_err(|e| e.to_string())?;
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
            "BENCH {name} lock+unlock (read): naive_us={:.2} mapper_us={:.2} bare_sync_pair_us={:.2} naive/mapper={:.2} mapper/bare={:.2} naive/bare={:.2} syncs per cycle: naive {} mapper {} (median of {BLOCKS} blocks of {PER_BLOCK}; checksum {sink})",
            us(n), us(r), us(b), ratio(n, r), ratio(r, b), ratio(n, b),
            naive.counts().issued / u64::from(BLOCKS as u32 * PER_BLOCK),
            tracked.counts().issued / u64::from(BLOCKS as u32 * PER_BLOCK),
        ));
        let expected = if name.starts_with("camera") { 1 } else { 0 };
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

/// The kernel functions every `DMA_BUF_IOCTL_SYNC` on a system-heap dma-buf reaches, once per call
/// (`dma_buf_end_cpu_access` itself is inlined in Debian's build and cannot be traced).
const SYNC_FUNCTIONS: [&str; 2] = [
    "system_heap_dma_buf_begin_cpu_access",
    "system_heap_dma_buf_end_cpu_access",
];

/// The function tracer, filtered to [`SYNC_FUNCTIONS`]: an count of the kernel's CPU-access syncs
/// that owes nothing to the mapper's own counters.
struct SyncTracer {
    dir: std::path::PathBuf,
}

impl SyncTracer {
    fn open() -> Result<SyncTracer, String> {
        let candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
        let dir = candidates
            .iter()
            .map(std::path::PathBuf::from)
            .find(|d| d.join("set_ftrace_filter").exists())
            .ok_or("no tracefs with the function tracer (set_ftrace_filter) under /sys/kernel")?;
        let tracer = SyncTracer { dir };
        tracer.write("tracing_on", "0")?;
        tracer.write("set_ftrace_filter", &SYNC_FUNCTIONS.join("\n"))?;
        tracer.write("current_tracer", "function")?;
        Ok(tracer)
    }

    fn write(&self, file: &str, value: &str) -> TestResult {
        std::fs::write(self.dir.join(file), value)
            .context(format!("{} <- {value}", self.dir.join(file).display()))
    }

    /// Clears the buffer and starts counting.
    fn start(&self) -> TestResult {
        self.write("trace", "")?;
        self.write("tracing_on", "1")
    }

    /// Stops and returns the calls of each of [`SYNC_FUNCTIONS`].
    fn stop(&self) -> Result<[u64; 2], String> {
        self.write("tracing_on", "0")?;
        let text = std::fs::read_to_string(self.dir.join("trace")).context("read trace")?;
        let mut counts = [0u64; 2];
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            for (i, f) in SYNC_FUNCTIONS.iter().enumerate() {
                if line.contains(f) {
                    counts[i] += 1;
                }
            }
        }
        Ok(counts)
    }
}

impl Drop for SyncTracer {
    fn drop(&mut self) {
        let _ = self.write("tracing_on", "0");
        let _ = self.write("current_tracer", "nop");
    }
}

/// The lock usage for a trace's CPU access.
fn cpu_usage(access: CpuAccess) -> u64 {
    let read = Usage::CPU_READ_OFTEN.0;
    let write = Usage::CPU_WRITE_OFTEN.0;
    match access {
        CpuAccess::Read => read,
        CpuAccess::Write => write,
        CpuAccess::ReadWrite => read | write,
    }
}

/// Runs the CPU steps of `trace` for real through the mapper's C entry points, in a child whose
/// sync mode is `mode` (the mapper reads it once per process), over `handles` (inherited by the
/// fork); returns the kernel's count of CPU-access syncs meanwhile.
fn run_cpu_steps(trace: &Trace, handles: &[BufferHandle], mode: &str) -> Result<u64, String> {
    let outcome = in_child(|report| {
        std::env::set_var("CENTRAL_GRALLOC_MAPPER_SYNC", mode);
        let result = (|| -> Result<u64, String> {
            let mapper = Mapper::load()?;
            let imported = handles
                .iter()
                .map(|h| {
                    let fds = [h.memory.as_raw_fd(), h.metadata.as_raw_fd()];
                    mapper.import(&fds, &h.info.to_ints())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let tracer = SyncTracer::open()?;
            tracer.start()?;
            let mut open: Vec<Vec<CpuAccess>> = vec![Vec::new(); handles.len()];
            for e in &trace.events {
                let b = imported.get(e.buffer).ok_or("event on an unknown buffer")?;
                match e.event {
                    Event::CpuBegin(a) => {
                        let p = b.lock(cpu_usage(a))?;
                        if a.writes() {
                            // SAFETY: the first byte of the locked buffer, writable under the lock.
                            unsafe { p.write_volatile(e.line as u8) };
                        }
                        open[e.buffer].push(a);
                    }
                    Event::CpuEnd(a) => {
                        // The mapper ends the most recent lock; the trace must agree.
                        if open[e.buffer].pop() != Some(a) {
                            return Err(format!("line {}: not the innermost lock", e.line));
                        }
                        b.unlock()?;
                    }
                    // No device in the VM touches the buffer: the kernel sees only CPU syncs.
                    Event::Device { .. } => {}
                }
            }
            let [begin, end] = tracer.stop()?;
            Ok(begin + end)
        })();
        match result {
            Ok(n) => {
                let _ = write!(report, "{n}");
                0
            }
            Err(e) => {
                let _ = write!(report, "{e}");
                1
            }
        }
    })?;
    match outcome {
        ChildOutcome::Exited { code: 0, report } => report
            .trim()
            .parse()
            .map_err(|_| format!("child reported `{report}`")),
        ChildOutcome::Exited { report, .. } => Err(report),
        ChildOutcome::Signaled { signal, report } => Err(format!("{signal:?}: {report}")),
    }
}

/// For every shipped trace, its CPU steps run through the mapper on real dma-bufs, once naive and
/// once with the lock-path rule, while the function tracer counts the kernel's CPU-access syncs.
/// The rule's count must equal what the simulator's mapper policy predicts, and naive's its count.
fn trace_kernel_syncs() -> TestResult {
    let mut mismatches = Vec::new();
    for (name, text) in SHIPPED {
        let trace = Trace::parse(text).context(name)?;
        let replay = replay_trace(&trace).context(name)?;
        let allocator = system_heap_allocator(trace.profile.clone())?;
        let mut handles = Vec::new();
        for b in &trace.buffers {
            let mut a = allocator
                .allocate(&b.descriptor, 1)
                .context(format!("{name}: allocate {}", b.name))?;
            let buffer = a.buffers.pop().ok_or("no buffer")?;
            let handle = BufferHandle::decode(buffer.into_handle()).context("decode")?;
            let region = Mapping::new(
                std::os::fd::AsFd::as_fd(&handle.metadata),
                handle.info.metadata_size,
                MapAccess::Read,
            )
            .context("map metadata")?;
            let recorded = metadata::read_domains(&region).context("read domains")?;
            ensure(recorded == b.lock, || {
                format!(
                    "{name}: buffer {} recorded {recorded:?}, the trace's placement says {:?}",
                    b.name, b.lock
                )
            })?;
            handles.push(handle);
        }
        let naive = run_cpu_steps(&trace, &handles, "naive").context(format!("{name} naive"))?;
        let mapper =
            run_cpu_steps(&trace, &handles, "tracked").context(format!("{name} mapper"))?;
        let predicted = u64::from(replay.get(Policy::Mapper).cpu_syncs);
        let naive_predicted = u64::from(replay.get(Policy::Naive).cpu_syncs);
        info(format_args!(
            "{name}: kernel syncs: naive {naive}, mapper {mapper}, predicted {predicted}"
        ));
        if mapper != predicted || naive != naive_predicted {
            mismatches.push(format!(
                "{name}: mapper {mapper} (predicted {predicted}), naive {naive} (predicted {naive_predicted})"
            ));
        }
    }
    ensure(mismatches.is_empty(), || mismatches.join("; "))
}

/// The pool against the kernel (issue: allocate2 faster than the kernel's own ioctl). Three ways
/// in one boot, interleaved: the service's whole allocate path (`Gralloc::allocate`: plan,
/// quota, memory, metadata region, handle; everything allocate2 does but the binder transport,
/// which costs both sides alike) with its pool thread running, the same without a pool, and the
/// raw `DMA_HEAP_IOCTL_ALLOC`. A SurfaceFlinger-like pattern: bursts of three 1080p RGBA
/// buffers, freed, then a pause in which the pool thread refills. Then a 4 KiB BLOB against a raw
/// 4 KiB allocation, and the bytes the pool holds after its idle period.
fn bench_pool() -> TestResult {
    use central_gralloc::descriptor::DescriptorInfo;
    use central_gralloc_memory::pool::PoolConfig;
    use central_gralloc_service::gralloc::{Caller, Gralloc};
    use central_gralloc_service::quota::Quota;

    const BURSTS: usize = 41;
    const BLOB_ROUNDS: usize = 201;
    let pool_config = PoolConfig {
        cap_bytes: 64 << 20,
        idle: Duration::from_secs(2),
        ..PoolConfig::DISABLED
    };
    let service = |pool: PoolConfig| -> Result<std::sync::Arc<Gralloc>, String> {
        let memory = system_heap_allocator(Profile::builtin("cuttlefish").ok_or("no profile")?)?
            .with_pool(pool);
        let quota = Quota {
            cap_bytes: u64::MAX,
            window: Duration::from_secs(1),
        };
        let g = std::sync::Arc::new(Gralloc::new(memory, quota));
        Gralloc::start_pool(&g);
        Ok(g)
    };
    let pooled = service(pool_config)?;
    let unpooled = service(PoolConfig::DISABLED)?;
    let heap = DmaHeap::open(Path::new(HEAP_DIR), "system").context("open heap")?;
    let caller = Caller { pid: 1, uid: 1000 };
    let request = |w: i32, h: i32, format: PixelFormat, usage: Usage| DescriptorInfo {
        name: b"bench".to_vec(),
        width: w,
        height: h,
        layer_count: 1,
        format: format.0,
        usage: usage.0 as i64,
        reserved_size: 0,
        additional_options: Vec::new(),
    };
    let frame = request(
        1920,
        1080,
        PixelFormat::RGBA_8888,
        Usage::GPU_RENDER_TARGET | Usage::COMPOSER_OVERLAY,
    );
    let size = 1920 * 1080 * 4;
    let (mut with_pool, mut without, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..BURSTS {
        // The raw ioctl and the unpooled service first, the pooled one last, so the pool
        // thread's refill (the guest has one CPU) runs in the pause, not during the others.
        let mut held = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            held.push(heap.allocate_raw(size).context("raw alloc")?);
            raw.push(t.elapsed());
        }
        drop(held);
        for (g, times) in [(&unpooled, &mut without), (&pooled, &mut with_pool)] {
            let mut held = Vec::new();
            for _ in 0..3 {
                let t = Instant::now();
                held.push(g.allocate(&frame, 1, caller).map_err(|e| e.to_string())?);
                times.push(t.elapsed());
            }
        }
        // The pause between a client's bursts, in which the pool thread refills.
        std::thread::sleep(Duration::from_millis(150));
    }
    let blob = request(4096, 1, PixelFormat::BLOB, Usage::CPU_WRITE_OFTEN);
    let blob_plan = Descriptor::from_info(&blob)
        .map_err(|e| e.to_string())
        .and_then(|d| pooled.memory().plan(&d).map_err(|e| e.to_string()))?;
    let (mut blob_service, mut blob_memory, mut blob_raw) = (Vec::new(), Vec::new(), Vec::new());
    // Small buffers are quick: more rounds, so the median is not one scheduling hiccup.
    for _ in 0..BLOB_ROUNDS {
        let t = Instant::now();
        let b = heap.allocate_raw(4096).context("raw 4 KiB")?;
        blob_raw.push(t.elapsed());
        drop(b);
        // The memory layer alone (buffer, metadata region, handle), as the allocation
        // benchmark measures it, then the service's whole path.
        let t = Instant::now();
        let b = pooled
            .memory()
            .allocate_planned(&blob_plan, 1)
            .context("allocate")?;
        blob_memory.push(t.elapsed());
        drop(b);
        let t = Instant::now();
        let b = pooled
            .allocate(&blob, 1, caller)
            .map_err(|e| e.to_string())?;
        blob_service.push(t.elapsed());
        drop(b);
        std::thread::sleep(Duration::from_millis(5));
    }
    let p99 = |v: &Vec<Duration>| {
        let mut v = v.clone();
        v.sort();
        v.get(v.len() * 99 / 100).copied().unwrap_or_default()
    };
    let (p99_pooled, p99_unpooled, p99_raw) = (p99(&with_pool), p99(&without), p99(&raw));
    let (m_pooled, m_unpooled, m_raw) = (median(with_pool), median(without), median(raw));
    let (m_blob, m_blob_service, m_blob_raw) =
        (median(blob_memory), median(blob_service), median(blob_raw));
    let steady = pooled.memory().pool().held_bytes();
    // Idle: no demand for the idle period, the pool thread trims (it wakes every second).
    let deadline = Instant::now() + Duration::from_secs(10);
    while pooled.memory().pool().held_bytes() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let after_idle = pooled.memory().pool().held_bytes();
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-12);
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    info(format_args!(
        "BENCH 1080p RGBA bursts of 3: pooled median {:.1} us p99 {:.1} us, unpooled median {:.1} us p99 {:.1} us, raw ioctl median {:.1} us p99 {:.1} us; 4 KiB BLOB memory layer {:.1} us, service path {:.1} us, raw {:.1} us; pool held {steady} bytes at steady state",
        us(m_pooled), us(p99_pooled), us(m_unpooled), us(p99_unpooled), us(m_raw), us(p99_raw), us(m_blob), us(m_blob_service), us(m_blob_raw)
    ));
    info(format_args!(
        "pool: pooled/raw median {:.3}, unpooled/raw median {:.3}, 4KiB ours/raw {:.3}, held after idle {after_idle} bytes",
        ratio(m_pooled, m_raw),
        ratio(m_unpooled, m_raw),
        ratio(m_blob, m_blob_raw)
    ));
    ensure(after_idle == 0, || {
        format!("the pool still holds {after_idle} bytes after its idle period")
    })
}
