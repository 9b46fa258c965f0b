//! The V4L2 inference against synthetic drivers: one that behaves as vivid's HDMI input does
//! (any width, even heights for 4:2:0, any pitch at or above the row), one that pads pitches to
//! 64 bytes, a webcam with discrete sizes, and one that answers nonsense.

use super::*;

/// A driver model answering `VIDIOC_TRY_FMT`.
struct Fake {
    v4l2: u32,
    info: &'static FormatInfo,
    max: (u32, u32),
    /// Heights rounded down to a multiple of this.
    height_step: u32,
    /// Minimum pitch rounded up to this; larger pitches kept only in multiples of it.
    pad: u32,
    /// Discrete sizes: anything else snaps to the first.
    discrete: Vec<(u32, u32)>,
}

impl Fake {
    fn vivid(code: &[u8; 4]) -> Fake {
        let v4l2 = fourcc(code);
        let info = android_format(v4l2).and_then(PixelFormat::info).unwrap();
        let subsampled = matches!(code, b"NV12" | b"NV21" | b"YV12" | b"P010");
        Fake {
            v4l2,
            info,
            max: (16384, 8640),
            height_step: if subsampled { 2 } else { 1 },
            pad: 1,
            discrete: Vec::new(),
        }
    }

    fn try_fmt(&self, w: u32, h: u32, bpl: u32) -> Result<Tried, Errno> {
        let (mut w, mut h) = (w.clamp(16, self.max.0), h.clamp(16, self.max.1));
        if !self.discrete.is_empty() && !self.discrete.contains(&(w, h)) {
            (w, h) = self.discrete[0];
        }
        h -= h % self.height_step;
        let row = row_bytes(self.info, w) as u32;
        let min = row.div_ceil(self.pad) * self.pad;
        let max = row_bytes(self.info, self.max.0) as u32;
        let bpl = if bpl >= min && bpl % self.pad == 0 {
            bpl.min(max)
        } else {
            min
        };
        let size = implied_size(&implied_planes(self.v4l2, u64::from(bpl), u64::from(h)).unwrap());
        Ok(Tried {
            width: w,
            height: h,
            bytesperline: bpl,
            sizeimage: size as u32,
        })
    }

    fn range(&self) -> FrameSizes {
        if !self.discrete.is_empty() {
            return FrameSizes::Discrete(self.discrete.clone());
        }
        FrameSizes::Range {
            min_width: 16,
            max_width: self.max.0,
            min_height: 16,
            max_height: self.max.1,
        }
    }

    fn rules(&self) -> Result<FormatRules, String> {
        infer_rules(self.info, self.v4l2, &self.range(), &mut |w, h, b| {
            self.try_fmt(w, h, b)
        })
    }
}

#[test]
fn vivid_hdmi_nv12_keeps_any_pitch_and_even_heights() {
    let r = Fake::vivid(b"NV12").rules().unwrap();
    assert_eq!((r.width_step, r.height_step), (1, 2));
    assert_eq!((r.pitch_padding, r.pitch_kept), (1, Some(1)));
    assert_eq!(r.max_pitch, 16384);
    assert!(r.sizeimage_implied);
    assert_eq!(
        (r.sample.width, r.sample.height, r.sample.bytesperline),
        (640, 480, 640)
    );
    let yuyv = Fake::vivid(b"YUYV").rules().unwrap();
    assert_eq!((yuyv.height_step, yuyv.max_pitch), (1, 32768));
}

#[test]
fn a_padding_driver_reveals_its_alignment() {
    let mut fake = Fake::vivid(b"AB24");
    fake.pad = 64;
    let r = fake.rules().unwrap();
    assert_eq!((r.pitch_padding, r.pitch_kept), (64, Some(64)));
}

#[test]
fn a_webcam_is_sampled_at_its_own_sizes() {
    let mut fake = Fake::vivid(b"YUYV");
    fake.discrete = vec![(320, 180), (640, 480), (1280, 720)];
    let r = fake.rules().unwrap();
    assert_eq!((r.width_step, r.height_step), (1, 1));
    assert_eq!((r.sample.width, r.sample.height), (320, 180));
    assert_eq!(fake.range().bounds(), (320, 180, 1280, 720));
}

#[test]
fn a_driver_that_ignores_the_size_is_refused_with_the_reason() {
    let fake = Fake::vivid(b"NV12");
    let mut liar = |_w, _h, _b| fake.try_fmt(99, 99, 0);
    let e = infer_rules(fake.info, fake.v4l2, &fake.range(), &mut liar).unwrap_err();
    assert!(e.contains("asked 640x480"), "{e}");
    let mut failing = |_w, _h, _b| Err(Errno::ENOTTY);
    let e = infer_rules(fake.info, fake.v4l2, &fake.range(), &mut failing).unwrap_err();
    assert!(e.contains("TRY_FMT"), "{e}");
}

fn device(stride_align: u64, height_align: u64) -> Constraints {
    Constraints {
        stride_align,
        height_align,
        ..Constraints::NONE
    }
}

#[test]
fn core_layouts_are_what_vivid_is_told() {
    for code in [b"NV12", b"NV21", b"YUYV", b"AB24", b"GREY"] {
        let fake = Fake::vivid(code);
        let samples = [(64, 48), (641, 479), (1000, 333)];
        let result = check_layouts(
            fake.info,
            fake.v4l2,
            &device(1, 2),
            &samples,
            &mut |w, h, b| fake.try_fmt(w, h, b),
        );
        assert_eq!(result, Ok(()), "{}", fake.info.name);
    }
}

#[test]
fn yv12_chroma_pitch_differs_at_widths_not_a_multiple_of_32() {
    // Android's YV12 aligns the chroma pitch to 16 bytes; V4L2's YVU420 halves the luma pitch.
    let fake = Fake::vivid(b"YV12");
    let mut t = |w, h, b| fake.try_fmt(w, h, b);
    assert_eq!(
        check_layouts(fake.info, fake.v4l2, &device(1, 2), &[(64, 48)], &mut t),
        Ok(())
    );
    let e = check_layouts(fake.info, fake.v4l2, &device(1, 2), &[(1000, 334)], &mut t).unwrap_err();
    assert!(e.contains("planes"), "{e}");
}

#[test]
fn a_layout_with_unpadded_odd_rows_is_refused_by_a_driver_that_rounds_them() {
    let fake = Fake::vivid(b"NV12");
    let e = check_layouts(
        fake.info,
        fake.v4l2,
        &device(1, 1),
        &[(64, 47)],
        &mut |w, h, b| fake.try_fmt(w, h, b),
    )
    .unwrap_err();
    assert!(e.contains("64x46"), "{e}");
}

#[test]
fn implied_planes_follow_the_format_definitions() {
    let p = |code| implied_planes(fourcc(code), 640, 480).unwrap();
    let offsets = |v: Vec<ImpliedPlane>| v.iter().map(|p| (p.offset, p.stride)).collect::<Vec<_>>();
    assert_eq!(offsets(p(b"NV12")), [(0, 640), (640 * 480, 640)]);
    assert_eq!(
        offsets(p(b"YV12")),
        [(0, 640), (640 * 480, 320), (640 * 480 + 320 * 240, 320)]
    );
    assert_eq!(implied_size(&p(b"NV12")), 640 * 480 * 3 / 2);
    assert_eq!(implied_size(&p(b"NV16")), 640 * 480 * 2);
    assert_eq!(offsets(p(b"AB24")), [(0, 640)]);
    assert!(implied_planes(fourcc(b"MJPG"), 640, 480).is_none());
}

#[test]
fn fourccs_map_to_android_formats_byte_for_byte() {
    assert_eq!(
        android_format(fourcc(b"NV12")),
        Some(PixelFormat::YCBCR_420_888)
    );
    assert_eq!(
        android_format(fourcc(b"AR24")),
        Some(PixelFormat::BGRA_8888)
    );
    assert_eq!(
        android_format(fourcc(b"AB24")),
        Some(PixelFormat::RGBA_8888)
    );
    assert_eq!(android_format(fourcc(b"GB16")), Some(PixelFormat::RAW16));
    // Unpacked 10-bit Bayer is not Android's packed RAW10.
    assert_eq!(android_format(fourcc(b"BG10")), None);
    assert_eq!(android_format(fourcc(b"MJPG")), None);
}

#[test]
fn nodes_are_classified_by_their_capabilities() {
    assert_eq!(
        node_kind(cap::VIDEO_CAPTURE | cap::STREAMING),
        NodeKind::Capture
    );
    let other = |caps| match node_kind(caps) {
        NodeKind::Other(why) => why,
        NodeKind::Capture => panic!("{caps:#x} is not a camera"),
    };
    assert!(other(cap::VIDEO_M2M | cap::STREAMING).contains("mem2mem"));
    assert!(other(cap::VIDEO_CAPTURE_MPLANE | cap::STREAMING).contains("multi-planar"));
    assert!(other(cap::VIDEO_CAPTURE).contains("streaming"));
    assert!(other(cap::VIDEO_OUTPUT | cap::STREAMING).contains("output"));
    assert!(other(0).contains("no video"));
}
