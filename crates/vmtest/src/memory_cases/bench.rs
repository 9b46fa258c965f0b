//! The allocation benchmark: raw `DMA_HEAP_IOCTL_ALLOC` against our whole allocate, in one boot.

use super::*;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

pub(super) fn bench_allocate_vs_raw() -> TestResult {
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
                // Read back by the CPU, not the GPU: the raw side is the system dma-heap.
                Usage::VIDEO_DECODER | Usage::CPU_READ_OFTEN,
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
