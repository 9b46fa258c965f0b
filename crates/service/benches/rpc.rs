//! What the RPC socket adds to an allocation: a null call (`getIMapperLibrarySuffix`),
//! `allocate2` of one 1080p RGBA_8888 buffer from the real `allocator-service` (memfd backend,
//! host profile), and the memory layer's own `Allocator::allocate` of the same descriptor in
//! this process.
//!
//! Criterion measures each of the three on its own; then the three are sampled again,
//! interleaved call by call in one loop so they share the machine's state, and the summary is
//! computed from those samples:
//!
//! - ratio1 = median(allocate2) / (median(null) + median(backend)); target ≤ 1.5
//! - ratio2 = p99(allocate2) / median(allocate2); target ≤ 3
//!
//! `cargo bench -p central-gralloc-service --bench rpc` (under half a minute). Every iteration
//! drops what it got (the client's fds, the in-process buffer), so nothing accumulates. The
//! service runs with `--quota-bytes` raised: its default per-client quota refuses a loop this
//! tight with `NO_RESOURCES`, which is the quota working, not a cost to measure.
//!
//! Criterion's `allocate2` figure is higher than the interleaved median: its loop calls back to
//! back, so a call can also wait for the service to finish the previous one (dropping its reply,
//! closing its copies of the fds). The targets are about the interleaved samples. The tail
//! depends on how busy the machine is: the summary prints the null call's own p99/median and
//! the load average beside ratio2 so a reader can tell the machine's tail from the service's.

use binder::Strong;
use central_gralloc::descriptor::Descriptor;
use central_gralloc_conformance as conformance;
use central_gralloc_memory::{Allocator, Backend, BackendConfig, Limits};
use central_gralloc_service::adapter::descriptor_info;
use central_gralloc_service::aidl::{BufferDescriptorInfo, BufferUsage, IAllocator};
use central_gralloc_service::child::ServiceChild;
use criterion::{black_box, Criterion};
use std::time::{Duration, Instant};

/// The profile both the service and the in-process allocator use.
const PROFILE: &str = "host";
/// Rounds of the interleaved loop (one call of each kind per round), and the rounds before
/// them that are not recorded.
const ROUNDS: usize = 20_000;
const WARM_UP_ROUNDS: usize = 500;
/// Rounds when run as a test (`cargo test --benches`): enough to exercise the code.
const TEST_ROUNDS: usize = 50;
/// Per-client quota for the bench's service: far above anything this loop can allocate in a
/// one-second window (1 PiB).
const QUOTA_BYTES: u64 = 1 << 50;

/// The buffer under test: 1920x1080 RGBA_8888 for the GPU and the display.
fn buffer() -> BufferDescriptorInfo {
    conformance::descriptor(
        1920,
        1080,
        central_gralloc::format::PixelFormat::RGBA_8888,
        BufferUsage::GPU_TEXTURE.0 | BufferUsage::COMPOSER_OVERLAY.0,
    )
}

/// The three measured operations.
struct Subject {
    allocator: Strong<dyn IAllocator>,
    aidl: BufferDescriptorInfo,
    memory: Allocator,
    descriptor: Descriptor,
}

impl Subject {
    fn null_call(&self) {
        let suffix = self.allocator.getIMapperLibrarySuffix().expect("null call");
        black_box(suffix);
    }

    fn allocate2(&self) {
        let result = self.allocator.allocate2(&self.aidl, 1).expect("allocate2");
        assert_eq!(result.buffers.len(), 1);
        black_box(result);
    }

    fn backend(&self) {
        let allocation = self.memory.allocate(&self.descriptor, 1).expect("allocate");
        black_box(allocation);
    }
}

/// Nanoseconds of one call of `f`, including dropping what it made.
fn time(f: impl FnOnce()) -> u64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as u64
}

/// The `q` quantile (nearest rank) of sorted samples.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn micros(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// Samples the three operations interleaved (the order rotates every round, so none always
/// follows another) and prints medians, p99s and both ratios.
fn interleaved_summary(subject: &Subject, rounds: usize) {
    let ops: [fn(&Subject); 3] = [Subject::null_call, Subject::allocate2, Subject::backend];
    let mut samples: [Vec<u64>; 3] = Default::default();
    for v in &mut samples {
        v.reserve(rounds);
    }
    for round in 0..WARM_UP_ROUNDS.min(rounds) + rounds {
        for k in 0..3 {
            let which = (round + k) % 3;
            let ns = time(|| ops[which](subject));
            if round >= WARM_UP_ROUNDS.min(rounds) {
                samples[which].push(ns);
            }
        }
    }
    for v in &mut samples {
        v.sort_unstable();
    }
    let [null, alloc2, backend] = &samples;
    let median = |v: &[u64]| quantile(v, 0.5);
    let p99 = |v: &[u64]| quantile(v, 0.99);
    println!();
    if rounds < ROUNDS {
        println!("smoke run (not `cargo bench`): too few samples to judge the targets");
    }
    println!(
        "rpc summary: {rounds} interleaved rounds, 1920x1080 RGBA_8888 GPU_TEXTURE|COMPOSER_OVERLAY, \
         profile {PROFILE}, memfd backend"
    );
    for (name, v) in [
        ("null call (getIMapperLibrarySuffix)", null),
        ("allocate2 over the socket", alloc2),
        ("backend Allocator::allocate", backend),
    ] {
        println!(
            "  {name:<38} median {:>8.1} us   p99 {:>8.1} us",
            micros(median(v)),
            micros(p99(v))
        );
    }
    let ratio1 = median(alloc2) as f64 / (median(null) + median(backend)) as f64;
    let ratio2 = p99(alloc2) as f64 / median(alloc2) as f64;
    let floor = p99(null) as f64 / median(null) as f64;
    let verdict = |ok: bool| if ok { "meets" } else { "MISSES" };
    println!(
        "  ratio1 = median(allocate2) / (median(null) + median(backend)) = {ratio1:.2}  \
         ({} target <= 1.5)",
        verdict(ratio1 <= 1.5)
    );
    println!(
        "  ratio2 = p99(allocate2) / median(allocate2)                   = {ratio2:.2}  \
         ({} target <= 3)",
        verdict(ratio2 <= 3.0)
    );
    // The same ratio for the null call is the tail the socket round trip (two wake-ups) has
    // on this machine at this moment; when it is near 3 the machine, not allocate2, sets ratio2.
    println!(
        "  for reference: p99(null) / median(null) = {floor:.2}; load average {}",
        load_average()
    );
}

/// The 1, 5 and 15 minute load averages and the CPU count, for reading the tail.
fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{} on {cpus} CPUs", load.join(" "))
}

fn main() {
    // `cargo bench` passes --bench; anything else (`cargo test --benches`) is a smoke run.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let quota = QUOTA_BYTES.to_string();
    let service = ServiceChild::start(
        env!("CARGO_BIN_EXE_allocator-service"),
        &[
            "--backend",
            "memfd",
            "--profile",
            PROFILE,
            "--quota-bytes",
            &quota,
        ],
        "bench-rpc",
    )
    .unwrap_or_else(|e| panic!("allocator-service: {e}"));
    let connection = service.connect().expect("connect to the service");
    let aidl = buffer();
    let descriptor = Descriptor::from_info(&descriptor_info(&aidl)).expect("valid descriptor");
    let profile = central_gralloc::profile::Profile::resolve(PROFILE).expect("host profile");
    let memory = Allocator::new(
        profile,
        &BackendConfig::new(Backend::Memfd),
        Limits::for_this_machine(),
    )
    .expect("memfd allocator");
    let subject = Subject {
        allocator: connection.allocator.clone(),
        aidl,
        memory,
        descriptor,
    };

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    {
        let mut group = criterion.benchmark_group("rpc");
        group.bench_function("null-call", |b| b.iter(|| subject.null_call()));
        group.bench_function("allocate2-1080p-rgba", |b| b.iter(|| subject.allocate2()));
        group.bench_function("backend-allocate-1080p-rgba", |b| {
            b.iter(|| subject.backend())
        });
        group.finish();
    }
    criterion.final_summary();

    interleaved_summary(&subject, if benchmarking { ROUNDS } else { TEST_ROUNDS });
    drop(subject);
    drop(connection);
    drop(service);
}
