//! Table-driven layout tests, odd sizes included.

use super::*;
use crate::format::FORMATS;

fn lay(format: PixelFormat, w: u32, h: u32, c: &Constraints) -> Layout {
    compute(format.info().unwrap(), w, h, 1, c).unwrap()
}

fn triples(l: &Layout) -> Vec<(u64, u64, u64)> {
    l.planes()
        .iter()
        .map(|p| (p.offset, p.stride, p.size))
        .collect()
}

/// (format, width, height, constraints, reported stride, planes as (offset, stride, size)).
type Case<'a> = (
    PixelFormat,
    u32,
    u32,
    &'a Constraints,
    u32,
    &'a [(u64, u64, u64)],
);

#[test]
fn known_layouts() {
    let none = Constraints::NONE;
    let dev64 = Constraints {
        stride_align: 64,
        offset_align: 64,
        ..Constraints::NONE
    };
    // (format, w, h, constraints, reported stride, [(offset, stride, size)])
    let table: &[Case] = &[
        (
            PixelFormat::RGBA_8888,
            64,
            64,
            &none,
            64,
            &[(0, 256, 16384)],
        ),
        (
            PixelFormat::RGBA_8888,
            1920,
            1080,
            &dev64,
            1920,
            &[(0, 7680, 7680 * 1080)],
        ),
        (PixelFormat::RGB_565, 11, 3, &none, 11, &[(0, 22, 66)]),
        // lcm(64, 3) = 192: a non-power-of-two alignment.
        (PixelFormat::RGB_888, 100, 2, &dev64, 128, &[(0, 384, 768)]),
        // NV21 11x11: the 6-sample chroma row needs 12 bytes, so luma pitch is 12 too.
        (
            PixelFormat::YCRCB_420_SP,
            11,
            11,
            &none,
            12,
            &[(0, 12, 132), (132, 12, 72)],
        ),
        // YV12 11x11: luma pitch 16 pixels, chroma pitch align(16/2, 16) = 16, Cr then Cb.
        (
            PixelFormat::YV12,
            11,
            11,
            &none,
            16,
            &[(0, 16, 176), (176, 16, 96), (272, 16, 96)],
        ),
        (
            PixelFormat::YV12,
            64,
            2,
            &none,
            64,
            &[(0, 64, 128), (128, 32, 32), (160, 32, 32)],
        ),
        (
            PixelFormat::YCBCR_420_888,
            3,
            3,
            &none,
            4,
            &[(0, 4, 12), (12, 4, 8)],
        ),
        (
            PixelFormat::YCBCR_P010,
            5,
            5,
            &none,
            6,
            &[(0, 12, 60), (60, 12, 36)],
        ),
        (PixelFormat::Y8, 1, 1, &none, 16, &[(0, 16, 16)]),
        (PixelFormat::Y16, 17, 1, &none, 32, &[(0, 64, 64)]),
        (PixelFormat::RAW16, 10, 2, &none, 16, &[(0, 32, 64)]),
        // RAW10 stride is reported in bytes: 4000 pixels × 10 bits = 5000 bytes.
        (
            PixelFormat::RAW10,
            4000,
            3000,
            &none,
            5000,
            &[(0, 5000, 15_000_000)],
        ),
        // RAW12 5 pixels: three whole 2-pixel groups of 3 bytes.
        (PixelFormat::RAW12, 5, 1, &none, 9, &[(0, 9, 9)]),
        (PixelFormat::BLOB, 1000, 1, &dev64, 1000, &[(0, 1000, 1000)]),
        (PixelFormat::RGBA_FP16, 3, 3, &none, 3, &[(0, 24, 72)]),
        (
            PixelFormat::DEPTH_32F_STENCIL_8,
            2,
            2,
            &none,
            2,
            &[(0, 16, 32)],
        ),
        (PixelFormat::STENCIL_8, 7, 7, &none, 7, &[(0, 7, 49)]),
    ];
    for &(format, w, h, c, stride, planes) in table {
        let l = lay(format, w, h, c);
        assert_eq!(l.stride, stride, "{format} {w}x{h} stride");
        assert_eq!(triples(&l), planes, "{format} {w}x{h} planes");
        assert_eq!(l.size % PAGE_SIZE, 0);
    }
}

#[test]
fn nv12_chroma_is_aligned_for_the_device() {
    let codec = Constraints {
        stride_align: 64,
        height_align: 16,
        offset_align: 4096,
        ..Constraints::NONE
    };
    let l = lay(PixelFormat::YCBCR_420_888, 3840, 2160, &codec);
    assert_eq!(
        triples(&l),
        [(0, 3840, 3840 * 2160), (3840 * 2160, 3840, 3840 * 1080)]
    );
    let l = lay(PixelFormat::YCBCR_420_888, 1920, 1080, &codec);
    // 1080 rows padded to 1088 for the codec's 16-row macroblocks.
    assert_eq!(l.planes()[0].height, 1088);
    assert_eq!(l.planes()[1].offset, 1920 * 1088);
    // YV12 fixes its plane offsets: strides still meet the device, rows and offsets are the
    // format's own (the solver then refuses a device that needs more).
    let yv12 = lay(PixelFormat::YV12, 100, 10, &codec);
    let [y, cr, cb] = yv12.planes() else {
        panic!("three planes")
    };
    assert!(yv12.planes().iter().all(|p| p.stride % 64 == 0));
    assert_eq!(
        (y.height, cr.offset, cb.offset),
        (10, y.stride * 10, y.stride * 10 + cr.stride * 5)
    );
}

#[test]
fn layers_are_stacked_and_aligned() {
    let c = Constraints {
        offset_align: 64,
        ..Constraints::NONE
    };
    let l = compute(PixelFormat::RGBA_8888.info().unwrap(), 10, 10, 3, &c).unwrap();
    assert_eq!(l.layer_stride, 448);
    assert_eq!(l.size, 4096);
    assert_eq!(l.layer_count, 3);
}

#[test]
fn overflow_is_an_error_not_a_panic() {
    let info = PixelFormat::RGBA_FP16.info().unwrap();
    let r = compute(info, u32::MAX, u32::MAX, u32::MAX, &Constraints::NONE);
    assert!(matches!(r, Err(LayoutError::Overflow(_))), "{r:?}");
    let huge = Constraints {
        stride_align: u64::MAX / 2,
        ..Constraints::NONE
    };
    assert!(compute(PixelFormat::YV12.info().unwrap(), 10, 10, 1, &huge).is_err());
    let flexible = PixelFormat::IMPLEMENTATION_DEFINED.info().unwrap();
    assert_eq!(
        compute(flexible, 1, 1, 1, &Constraints::NONE),
        Err(LayoutError::Unresolved(flexible.format))
    );
}

#[test]
fn every_format_odd_sizes_fit() {
    let c = Constraints {
        stride_align: 48,
        height_align: 3,
        offset_align: 96,
        ..Constraints::NONE
    };
    for info in FORMATS.iter().filter(|i| !i.planes.is_empty()) {
        for (w, h) in [(1, 1), (3, 5), (11, 11), (17, 9), (1921, 1081)] {
            let h = if info.kind == FormatKind::Blob { 1 } else { h };
            let l = compute(info, w, h, 2, &c).unwrap();
            for (p, f) in l.planes().iter().zip(info.planes) {
                let row = (p.width * u64::from(f.bits_per_pixel)).div_ceil(8);
                assert!(
                    p.stride >= row,
                    "{} {w}x{h}: stride {} < row {row}",
                    info.name,
                    p.stride
                );
                assert!(p.height >= u64::from(h).div_ceil(u64::from(f.vsub)));
                assert!(p.offset + p.size <= l.layer_stride);
                if !info.fixed_offsets {
                    assert_eq!(p.offset % 96, 0);
                }
                if info.kind != FormatKind::Blob {
                    assert_eq!(p.stride % 48, 0, "{} {w}x{h}", info.name);
                }
            }
            assert!(l.layer_stride * 2 <= l.size);
        }
    }
}

#[test]
fn stride_beyond_i32_is_refused() {
    // AllocationResult.stride and the handle's stride are `int`: a Y8 row of 2^31 - 2 pixels pads
    // to 2^31, one past i32::MAX, and must be an error rather than a negative wire stride.
    let y8 = PixelFormat::Y8.info().unwrap();
    let r = compute(y8, i32::MAX as u32 - 1, 1, 1, &Constraints::NONE);
    assert_eq!(r, Err(LayoutError::StrideTooLarge(1 << 31)));
    let blob = PixelFormat::BLOB.info().unwrap();
    assert_eq!(
        compute(blob, i32::MAX as u32, 1, 1, &Constraints::NONE).map(|l| l.stride),
        Ok(i32::MAX as u32)
    );
}

#[test]
fn packed_rows_hold_whole_packing_groups() {
    // RAW10 packs 4 pixels into 5 bytes, RAW12 2 pixels into 3, YUYV 2 pixels into 4: a writer
    // following the packing fills whole groups, so a row of 5 RAW10 pixels needs 10 bytes, not 7.
    for (format, w, row) in [
        (PixelFormat::RAW10, 5, 10),
        (PixelFormat::RAW10, 4, 5),
        (PixelFormat::RAW10, 1, 5),
        (PixelFormat::RAW12, 5, 9),
        (PixelFormat::RAW12, 4, 6),
        (PixelFormat::RAW12, 1, 3),
        // YUYV: 2 pixels share one Y0 U Y1 V macropixel of 4 bytes; stride in pixels.
        (PixelFormat::YCBCR_422_I, 11, 12),
        (PixelFormat::YCBCR_422_I, 1, 2),
    ] {
        let l = lay(format, w, 2, &Constraints::NONE);
        assert_eq!(l.stride, row, "{format} width {w}");
        let bytes = if format == PixelFormat::YCBCR_422_I {
            row * 2
        } else {
            row
        };
        assert_eq!(l.planes()[0].stride, u64::from(bytes), "{format} width {w}");
        assert_eq!(l.planes()[0].width, u64::from(w));
    }
}

#[test]
fn yv12_follows_androids_formula_under_any_alignment() {
    // y_size = stride * height; c_stride = align(stride / 2, 16); c_size = c_stride * height / 2;
    // Cr at y_size, Cb at y_size + c_size.
    let c = Constraints {
        stride_align: 64,
        height_align: 16,
        offset_align: 4096,
        ..Constraints::NONE
    };
    for (w, h) in [(176, 144), (176, 142), (1920, 1080), (30, 30), (640, 480)] {
        let l = lay(PixelFormat::YV12, w, h, &c);
        let stride = l.planes()[0].stride;
        let c_stride = (stride / 2).div_ceil(16) * 16;
        let (y_size, c_size) = (stride * u64::from(h), c_stride * u64::from(h) / 2);
        let got: Vec<(u64, u64)> = l.planes().iter().map(|p| (p.offset, p.stride)).collect();
        assert_eq!(
            got,
            [(0, stride), (y_size, c_stride), (y_size + c_size, c_stride)],
            "{w}x{h}"
        );
    }
}
