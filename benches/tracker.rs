//! Cost of one cache-domain tracker event (a compare-and-swap on the shared word).
//!
//! Run: `cargo bench -p central-gralloc --bench tracker`. The target is under 50 ns per event.

use central_gralloc::cache::{CacheDomains, CpuAccess, DeviceAccess, Tracker};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::sync::atomic::AtomicU64;

/// A cached buffer with a coherent GPU (0) and a non-coherent camera (1).
fn domains() -> CacheDomains {
    CacheDomains::new(true)
        .attach(0, true)
        .and_then(|d| d.attach(1, false))
        .expect("two devices fit")
}

fn tracker_event(c: &mut Criterion) {
    let word = AtomicU64::new(0);
    let tracker = Tracker::new(domains(), &word);
    c.bench_function("tracker/one event (device read)", |b| {
        b.iter(|| black_box(tracker.device_access(black_box(1), DeviceAccess::Read)))
    });
    // Camera writes, CPU analyses, GPU samples: every event changes the state.
    let word = AtomicU64::new(0);
    let tracker = Tracker::new(domains(), &word);
    c.bench_function("tracker/handoff cycle (4 events)", |b| {
        b.iter(|| {
            black_box(tracker.device_access(black_box(1), DeviceAccess::Write)).ok();
            black_box(tracker.cpu_begin(CpuAccess::Read)).ok();
            black_box(tracker.cpu_end(CpuAccess::Read)).ok();
            black_box(tracker.device_access(black_box(0), DeviceAccess::Read)).ok();
        })
    });
}

criterion_group!(benches, tracker_event);
criterion_main!(benches);
