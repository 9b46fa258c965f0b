//! Solver benchmark: `cargo bench --bench solve`.

use central_gralloc::descriptor::Descriptor;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::Profile;
use central_gralloc::solver::solve;
use central_gralloc::usage::Usage;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let soc = Profile::builtin("soc").expect("built-in profile");
    let cases = [
        (
            "1080p RGBA_8888 composer+gpu",
            Descriptor::simple(
                "fb",
                1920,
                1080,
                PixelFormat::RGBA_8888,
                Usage::GPU_RENDER_TARGET | Usage::COMPOSER_OVERLAY,
            ),
        ),
        (
            "4K NV12 camera+encoder",
            Descriptor::simple(
                "rec",
                3840,
                2160,
                PixelFormat::YCBCR_420_888,
                Usage::CAMERA_OUTPUT | Usage::VIDEO_ENCODER,
            ),
        ),
    ];
    for (name, descriptor) in cases {
        let descriptor = descriptor.expect("valid descriptor");
        c.bench_function(&format!("solve {name}"), |b| {
            b.iter(|| solve(black_box(&descriptor), black_box(&soc)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
