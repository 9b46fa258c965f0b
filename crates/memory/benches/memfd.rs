//! Host benchmark of the memfd backend: a whole `allocate` (solve, memfd, metadata region, id)
//! against the bare sealed memfd it wraps.
use central_gralloc::descriptor::Descriptor;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::Profile;
use central_gralloc::usage::Usage;
use central_gralloc_memory::{sys, Allocator, Backend, BackendConfig, Limits};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let profile = Profile::builtin("host").expect("built-in host profile");
    let allocator = Allocator::new(
        profile,
        &BackendConfig::new(Backend::Memfd),
        Limits::default(),
    )
    .expect("memfd allocator");
    let usage = Usage::GPU_TEXTURE | Usage::GPU_RENDER_TARGET | Usage::COMPOSER_OVERLAY;
    let cases = [
        (
            "4k-blob",
            Descriptor::simple("bench", 4096, 1, PixelFormat::BLOB, Usage::CPU_WRITE_OFTEN),
        ),
        (
            "1080p-rgba",
            Descriptor::simple("bench", 1920, 1080, PixelFormat::RGBA_8888, usage),
        ),
    ];
    for (name, descriptor) in cases {
        let descriptor = descriptor.expect("valid descriptor");
        let size = allocator.solve(&descriptor).expect("placement").size();
        c.bench_function(&format!("memfd-raw/{name}"), |b| {
            b.iter(|| sys::sealed_memfd("bench", size, true, true).expect("memfd"))
        });
        c.bench_function(&format!("allocate/{name}"), |b| {
            b.iter(|| allocator.allocate(&descriptor, 1).expect("allocate"))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
