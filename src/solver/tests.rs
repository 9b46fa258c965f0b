//! Solver tests: built-in profiles, reasons, failures that name the device, the lifecycle.

use super::*;
use crate::descriptor::DescriptorInfo;
use crate::usage::Usage;

fn soc() -> Profile {
    Profile::builtin("soc").unwrap()
}

fn desc(w: u32, h: u32, format: PixelFormat, usage: Usage) -> Descriptor {
    Descriptor::simple("t", w, h, format, usage).unwrap()
}

fn names(p: &Placement, profile: &Profile) -> Vec<String> {
    p.device_names(profile).map(str::to_string).collect()
}

#[test]
fn composer_framebuffer_on_soc_is_contiguous() {
    let p = soc();
    let d = desc(
        1920,
        1080,
        PixelFormat::RGBA_8888,
        Usage::GPU_RENDER_TARGET | Usage::COMPOSER_OVERLAY,
    );
    let pl = solve(&d, &p).unwrap();
    assert_eq!(pl.heap, HeapRole::Contiguous);
    assert!(pl.contiguous);
    assert_eq!(pl.reasons.heap, HeapReason::ContiguousFor(2));
    assert_eq!(names(&pl, &p), ["gpu", "display"]);
    assert_eq!(pl.layout.stride, 1920);
    assert_eq!(pl.size(), 1920 * 1080 * 4);
    assert!(pl.explain(&p)[0]
        .1
        .contains("display needs physically contiguous memory"));
}

#[test]
fn cache_policy_follows_cpu_reads_and_coherency() {
    let p = soc();
    // GPU only (IO-coherent) + CPU writes: cached costs nothing.
    let pl = solve(
        &desc(
            64,
            64,
            PixelFormat::RGBA_8888,
            Usage::GPU_TEXTURE | Usage::CPU_WRITE_OFTEN,
        ),
        &p,
    )
    .unwrap();
    assert_eq!((pl.heap, pl.cache), (HeapRole::System, CachePolicy::Cached));
    assert_eq!(pl.reasons.cache, CacheReason::AllCoherent);
    // Video decode (non-coherent codec) consumed by the GPU, CPU never reads: write-combined.
    let pl = solve(
        &desc(
            1920,
            1080,
            PixelFormat::YCBCR_420_888,
            Usage::VIDEO_DECODER | Usage::GPU_TEXTURE,
        ),
        &p,
    )
    .unwrap();
    assert_eq!(
        (pl.heap, pl.cache),
        (HeapRole::SystemUncached, CachePolicy::Uncached)
    );
    assert_eq!(pl.reasons.cache, CacheReason::NonCoherentWithoutCpuReads(4));
    // The same buffer read often by the CPU: cached.
    let pl = solve(
        &desc(
            1920,
            1080,
            PixelFormat::YCBCR_420_888,
            Usage::VIDEO_DECODER | Usage::CPU_READ_OFTEN,
        ),
        &p,
    )
    .unwrap();
    assert_eq!(pl.cache, CachePolicy::Cached);
    // On cuttlefish everything is coherent and there is no uncached heap.
    let cf = Profile::builtin("cuttlefish").unwrap();
    let pl = solve(
        &desc(
            1920,
            1080,
            PixelFormat::YCBCR_420_888,
            Usage::VIDEO_DECODER | Usage::GPU_TEXTURE,
        ),
        &cf,
    )
    .unwrap();
    assert_eq!((pl.heap, pl.cache), (HeapRole::Device, CachePolicy::Cached));
    assert_eq!(pl.reasons.cache, CacheReason::AllCoherent);
}

#[test]
fn cuttlefish_display_and_gpu_buffers_come_from_virtio_gpu() {
    let cf = Profile::builtin("cuttlefish").unwrap();
    let display = cf.device_index("display").unwrap();
    let gpu = cf.device_index("gpu").unwrap();
    // What SurfaceFlinger allocates for a CPU-drawn layer the composer scans out.
    let d = desc(
        640,
        480,
        PixelFormat::BGRA_8888,
        Usage::COMPOSER_OVERLAY | Usage::CPU_WRITE_OFTEN,
    );
    let pl = solve(&d, &cf).unwrap();
    assert_eq!(pl.heap, HeapRole::Device);
    assert_eq!(pl.reasons.heap, HeapReason::DeviceMemoryFor(display));
    assert_eq!(
        (pl.cache, pl.reasons.cache),
        (CachePolicy::Cached, CacheReason::AllCoherent)
    );
    assert!(!pl.contiguous);
    assert_eq!(pl.layout.planes()[0].stride, 640 * 4);
    let heap = &pl.explain(&cf)[0].1;
    assert!(
        heap.starts_with("device (virtio_gpu): display cannot import dma-bufs another driver"),
        "{heap}"
    );
    // GPU buffers too, and the reason names the GPU.
    let pl = solve(
        &desc(
            256,
            256,
            PixelFormat::RGBA_8888,
            Usage::GPU_TEXTURE | Usage::GPU_RENDER_TARGET,
        ),
        &cf,
    )
    .unwrap();
    assert_eq!(pl.reasons.heap, HeapReason::DeviceMemoryFor(gpu));
    // Buffers no virtio-gpu device touches stay on the dma-heap.
    for usage in [
        Usage::CPU_READ_OFTEN | Usage::CPU_WRITE_OFTEN,
        Usage::CAMERA_OUTPUT | Usage::VIDEO_ENCODER,
        Usage::VIDEO_DECODER | Usage::CPU_READ_OFTEN,
    ] {
        let pl = solve(&desc(640, 480, PixelFormat::YCBCR_420_888, usage), &cf).unwrap();
        assert_eq!(
            (pl.heap, pl.reasons.heap),
            (HeapRole::System, HeapReason::Default),
            "{usage:?}"
        );
    }
    // The heap's own limit: 8192 x 8192 FP16 is 512 MiB, beyond what the device heap makes.
    let e = solve(
        &desc(8192, 8192, PixelFormat::RGBA_FP16, Usage::GPU_TEXTURE),
        &cf,
    )
    .unwrap_err();
    assert_eq!(
        e,
        SolveError::Limit {
            device: "the device heap (virtio_gpu)".into(),
            what: "size",
            value: 8192 * 8192 * 8,
            limit: 256 << 20,
        }
    );
    assert_eq!(e.code(), ErrorCode::Unsupported);
}

#[test]
fn a_device_that_imports_only_its_own_memory_needs_the_device_heap() {
    let text = Profile::builtin("cuttlefish").unwrap().to_string();
    let start = text.find("\nheap device").unwrap();
    let end = start + 1 + text[start + 1..].find("\n\n").unwrap();
    let without = Profile::parse(&format!("{}{}", &text[..start], &text[end..])).unwrap();
    assert!(without.heap(HeapRole::Device).is_none());
    let d = desc(64, 64, PixelFormat::RGBA_8888, Usage::COMPOSER_OVERLAY);
    let e = solve(&d, &without).unwrap_err();
    assert_eq!(
        e,
        SolveError::MissingHeap(
            HeapRole::Device,
            "display cannot import dma-bufs another driver exported".into()
        )
    );
    assert_eq!(e.code(), ErrorCode::Unsupported);
    // CPU-only buffers do not care.
    assert!(solve(
        &desc(64, 64, PixelFormat::RGBA_8888, Usage::CPU_READ_OFTEN),
        &without
    )
    .is_ok());

    // A device attached later that cannot import what the buffer is on says so.
    let cf = Profile::builtin("cuttlefish").unwrap();
    let cpu_only = desc(64, 64, PixelFormat::RGBA_8888, Usage::CPU_WRITE_OFTEN);
    let pl = solve(&cpu_only, &cf).unwrap();
    assert_eq!(pl.heap, HeapRole::System);
    let display = cf.device("display").unwrap();
    let read = Access {
        read: true,
        write: false,
    };
    match check_device(display, read, &pl, &cpu_only) {
        Err(SolveError::Conflict { device, reason }) => {
            assert_eq!(device, "display");
            assert!(
                reason.contains("own driver") && reason.contains("system heap"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }

    // The heap's stride alignment joins the devices': a driver that wants 256-byte rows gets them
    // though no device asks.
    let wide = Profile::parse(&text.replace("stride-align = 4\n", "stride-align = 256\n")).unwrap();
    let pl = solve(
        &desc(100, 10, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE),
        &wide,
    )
    .unwrap();
    assert_eq!(pl.layout.planes()[0].stride, 512);
    assert_eq!(pl.constraints.stride_align, 256);

    // Protected memory is never a driver's own export: the refusal names the device.
    let soc_text = crate::profile::BUILTIN[0].1.replacen(
        "  roles = gpu\n",
        "  roles = gpu\n  imports-foreign = no\n",
        1,
    );
    let strict = Profile::parse(&soc_text).unwrap();
    assert!(!strict.device("gpu").unwrap().constraints.imports_foreign);
    let e = solve(
        &desc(
            64,
            64,
            PixelFormat::RGBA_8888,
            Usage::PROTECTED | Usage::GPU_TEXTURE,
        ),
        &strict,
    )
    .unwrap_err();
    assert!(
        matches!(&e, SolveError::Conflict { device, .. } if device == "gpu"),
        "{e}"
    );
}

#[test]
fn camera_address_limit_moves_buffer_below_4g() {
    let p = soc();
    let pl = solve(
        &desc(
            1280,
            720,
            PixelFormat::YCBCR_420_888,
            Usage::CAMERA_OUTPUT | Usage::GPU_TEXTURE,
        ),
        &p,
    )
    .unwrap();
    assert_eq!(pl.heap, HeapRole::Contiguous);
    assert_eq!(pl.address_bits, 32);
    assert_eq!(pl.reasons.heap, HeapReason::AddressLimitFor(3, 32));
    // Without a low heap, the error names the camera.
    let text = crate::profile::BUILTIN[0].1.replace(
        "address-bits = 32\n\nheap protected",
        "address-bits = 64\n\nheap protected",
    );
    let high = Profile::parse(&text).unwrap();
    let e = solve(
        &desc(1280, 720, PixelFormat::YCBCR_420_888, Usage::CAMERA_OUTPUT),
        &high,
    )
    .unwrap_err();
    assert_eq!(
        e,
        SolveError::AddressLimit {
            device: "camera".into(),
            bits: 32
        }
    );
}

#[test]
fn camera_to_encoder_merges_codec_alignment() {
    let p = soc();
    let pl = solve(
        &desc(
            3840,
            2160,
            PixelFormat::YCBCR_420_888,
            Usage::CAMERA_OUTPUT | Usage::VIDEO_ENCODER,
        ),
        &p,
    )
    .unwrap();
    let c = pl.constraints;
    assert_eq!(
        (c.stride_align, c.height_align, c.offset_align),
        (64, 16, 4096)
    );
    assert_eq!(pl.layout.planes()[1].offset % 4096, 0);
    assert_eq!(names(&pl, &p), ["camera", "codec"]);
}

#[test]
fn implementation_defined_resolves_from_devices() {
    let p = soc();
    let pl = solve(
        &desc(
            640,
            480,
            PixelFormat::IMPLEMENTATION_DEFINED,
            Usage::CAMERA_OUTPUT | Usage::COMPOSER_OVERLAY,
        ),
        &p,
    )
    .unwrap();
    assert_eq!(pl.format, PixelFormat::YCBCR_420_888);
    assert_eq!(pl.requested_format, PixelFormat::IMPLEMENTATION_DEFINED);
    assert_eq!(pl.reasons.format, FormatReason::Resolved);
    assert_eq!(pl.fourcc, crate::format::fourcc(b"NV12"));
    let pl = solve(
        &desc(
            640,
            480,
            PixelFormat::IMPLEMENTATION_DEFINED,
            Usage::GPU_RENDER_TARGET | Usage::COMPOSER_OVERLAY,
        ),
        &p,
    )
    .unwrap();
    assert_eq!(pl.format, PixelFormat::RGBX_8888);
}

#[test]
fn failures_name_the_device() {
    let p = soc();
    let e = solve(
        &desc(64, 64, PixelFormat::RAW16, Usage::COMPOSER_OVERLAY),
        &p,
    )
    .unwrap_err();
    assert_eq!(
        e,
        SolveError::Format {
            device: "display".into(),
            format: PixelFormat::RAW16,
            write: false
        }
    );
    assert_eq!(e.code(), ErrorCode::Unsupported);
    let e = solve(
        &desc(8192, 64, PixelFormat::RGBA_8888, Usage::COMPOSER_OVERLAY),
        &p,
    )
    .unwrap_err();
    assert!(
        matches!(&e, SolveError::Limit { device, what: "width", .. } if device == "display"),
        "{e}"
    );
    let host = Profile::builtin("host").unwrap();
    assert_eq!(
        solve(
            &desc(64, 64, PixelFormat::YCBCR_420_888, Usage::CAMERA_OUTPUT),
            &host
        )
        .unwrap_err(),
        SolveError::NoDevice(Role::Camera)
    );
    let cf = Profile::builtin("cuttlefish").unwrap();
    let e = solve(
        &desc(
            64,
            64,
            PixelFormat::RGBA_8888,
            Usage::PROTECTED | Usage::GPU_TEXTURE,
        ),
        &cf,
    )
    .unwrap_err();
    assert_eq!(e, SolveError::NotProtected("gpu".into()));
    // The CPU may not touch protected buffers; the camera cannot access protected memory.
    let e = solve(
        &desc(
            64,
            64,
            PixelFormat::YCBCR_420_888,
            Usage::PROTECTED | Usage::CAMERA_OUTPUT,
        ),
        &p,
    )
    .unwrap_err();
    assert_eq!(e, SolveError::NotProtected("camera".into()));
    let pl = solve(
        &desc(
            1920,
            1080,
            PixelFormat::YCBCR_420_888,
            Usage::PROTECTED | Usage::VIDEO_DECODER | Usage::COMPOSER_OVERLAY,
        ),
        &p,
    )
    .unwrap();
    assert_eq!(
        (pl.heap, pl.cache),
        (HeapRole::Protected, CachePolicy::Uncached)
    );
}

#[test]
fn overflowing_sizes_are_bad_descriptors() {
    let p = Profile::builtin("host").unwrap();
    let d = Descriptor::from_info(&DescriptorInfo {
        name: vec![],
        width: i32::MAX,
        height: i32::MAX,
        layer_count: i32::MAX,
        format: PixelFormat::RGBA_FP16.0,
        usage: Usage::GPU_TEXTURE.bits() as i64,
        reserved_size: 0,
        additional_options: vec![],
    })
    .unwrap();
    let e = solve(&d, &p).unwrap_err();
    assert!(matches!(e, SolveError::Layout(_)), "{e}");
    assert_eq!(e.code(), ErrorCode::BadDescriptor);
}

#[test]
fn lifecycle_attach_then_finalize_then_late_attach() {
    let p = soc();
    let d = desc(1920, 1080, PixelFormat::YCBCR_420_888, Usage::empty_cpu());
    let mut b = PendingBuffer::new(&p, d.clone());
    b.attach(
        "gpu",
        Access {
            read: true,
            write: false,
        },
    )
    .unwrap();
    b.attach(
        "codec",
        Access {
            read: false,
            write: true,
        },
    )
    .unwrap();
    let placement = *b.finalize().unwrap();
    assert_eq!(placement.layout.planes()[0].height, 1088);
    // A late GPU attach fits; a late display attach needs contiguous memory: refused with reason.
    b.attach(
        "gpu",
        Access {
            read: false,
            write: true,
        },
    )
    .unwrap();
    let e = b
        .attach(
            "display",
            Access {
                read: true,
                write: false,
            },
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("display cannot use this buffer: needs physically contiguous memory"),
        "{e}"
    );
    assert!(!b.placement().unwrap().devices().contains(2));
    assert!(matches!(
        b.attach("toaster", Access::default()),
        Err(SolveError::UnknownDevice(_))
    ));
    // Attaching everything before finalize gives a placement that fits all.
    let mut b = PendingBuffer::new(&p, d);
    for name in ["gpu", "codec", "display"] {
        b.attach(
            name,
            Access {
                read: true,
                write: false,
            },
        )
        .unwrap();
    }
    assert!(b.finalize().unwrap().contiguous);
}

impl Usage {
    fn empty_cpu() -> Usage {
        Usage(0)
    }
}

mod properties;

#[test]
fn blob_width_is_bytes_not_pixels() {
    // A camera JPEG or a GPU data buffer is a BLOB whose width is its size in bytes: the devices'
    // pixel limits (max-width 8192 on the camera, 16384 on the GPU) say nothing about it.
    let p = soc();
    for usage in [
        Usage::CAMERA_OUTPUT | Usage::CPU_READ_OFTEN,
        Usage::GPU_DATA_BUFFER | Usage::CPU_WRITE_OFTEN,
    ] {
        let d = desc(12 << 20, 1, PixelFormat::BLOB, usage);
        let pl = solve(&d, &p).unwrap_or_else(|e| panic!("{usage}: {e}"));
        assert_eq!(pl.size(), 12 << 20);
    }
    // The byte limit still holds.
    let mut small = soc();
    let gpu = small.device_index("gpu").unwrap();
    let mut devices = small.devices().to_vec();
    devices[gpu].constraints.max_size = 1 << 20;
    small = Profile::new("small", devices, small.heaps().to_vec()).unwrap();
    let d = desc(2 << 20, 1, PixelFormat::BLOB, Usage::GPU_DATA_BUFFER);
    assert!(matches!(
        solve(&d, &small),
        Err(SolveError::Limit { what: "size", .. })
    ));
}

#[test]
fn a_missing_heap_names_the_device_that_needs_it() {
    let soc = soc();
    let heaps = soc
        .heaps()
        .iter()
        .filter(|h| h.role != HeapRole::Contiguous)
        .cloned()
        .collect();
    let p = Profile::new("no-cma", soc.devices().to_vec(), heaps).unwrap();
    let d = desc(64, 64, PixelFormat::RGBA_8888, Usage::COMPOSER_OVERLAY);
    let e = solve(&d, &p).unwrap_err();
    assert!(
        matches!(e, SolveError::MissingHeap(HeapRole::Contiguous, _)),
        "{e}"
    );
    assert!(e.to_string().contains("display"), "{e}");
}

#[test]
fn yv12_keeps_its_formula_and_devices_that_cannot_take_it_say_so() {
    // Software decode to a GPU texture on cuttlefish: the formula, and every device fits.
    let cf = Profile::builtin("cuttlefish").unwrap();
    let d = desc(
        1920,
        1080,
        PixelFormat::YV12,
        Usage::VIDEO_DECODER | Usage::GPU_TEXTURE,
    );
    let pl = solve(&d, &cf).unwrap();
    let [y, cr, cb] = pl.layout.planes() else {
        panic!("three planes")
    };
    assert_eq!(cr.offset, y.stride * 1080);
    assert_eq!(cb.offset, cr.offset + cr.stride * 540);
    assert_eq!(cr.stride, (y.stride / 2).div_ceil(16) * 16);
    // CPU-only odd sizes on the host profile work (the CPU needs no plane alignment).
    let host = Profile::builtin("host").unwrap();
    let pl = solve(
        &desc(
            11,
            11,
            PixelFormat::YV12,
            Usage::CPU_READ_OFTEN | Usage::CPU_WRITE_OFTEN,
        ),
        &host,
    )
    .unwrap();
    assert_eq!(pl.layout.planes()[1].offset, 16 * 11);
    // The soc codec pads rows to 16 and starts planes on pages: YV12's fixed layout cannot give
    // it that at 1080 rows, and the refusal names it.
    let e = solve(&d, &soc()).unwrap_err();
    assert!(
        matches!(&e, SolveError::Conflict { device, .. } if device == "codec"),
        "{e}"
    );
    assert_eq!(e.code(), ErrorCode::Unsupported);
}

#[test]
fn a_device_minimum_refuses_smaller_buffers_and_names_the_device() {
    let text = Profile::builtin("cuttlefish").unwrap().to_string().replace(
        "device display\n",
        "device display\n  min-width = 32\n  min-height = 16\n",
    );
    let p = Profile::parse(&text).unwrap();
    assert_eq!(p.device("display").unwrap().constraints.min_width, 32);
    let overlay = |w, h| desc(w, h, PixelFormat::RGBA_8888, Usage::COMPOSER_OVERLAY);
    assert!(solve(&overlay(32, 16), &p).is_ok());
    assert_eq!(
        solve(&overlay(31, 64), &p).unwrap_err(),
        SolveError::Minimum {
            device: "display".into(),
            what: "width",
            value: 31,
            minimum: 32
        }
    );
    let e = solve(&overlay(64, 15), &p).unwrap_err();
    assert!(
        e.to_string().contains("height 15 is below its minimum 16"),
        "{e}"
    );
    // Devices without a minimum are not touched by another's: the GPU alone takes 1x1.
    assert!(solve(&desc(1, 1, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE), &p).is_ok());
    // A BLOB is bytes, not pixels: no pixel minimum applies.
    let blob = desc(8, 1, PixelFormat::BLOB, Usage::COMPOSER_OVERLAY);
    assert!(!matches!(solve(&blob, &p), Err(SolveError::Minimum { .. })));
}
