//! Standard metadata over real buffers: memfd allocations from the host profile, their sealed
//! metadata regions mapped as the mapper maps them, and what the platform's stable-C mapper VTS
//! expects of them (sizes, plane layouts, crop, allocation size).

use super::*;
use crate::codec::{Cta861_3, PlaneLayout, Rect, Smpte2086, XyColor};
use central_gralloc::descriptor::{Descriptor, DescriptorInfo};
use central_gralloc::format::{FormatKind, PixelFormat, FORMATS};
use central_gralloc::profile::Profile;
use central_gralloc::usage::Usage;
use central_gralloc_memory::{Allocator, Backend, BackendConfig, Buffer, CpuAccess, Limits};

const CPU: Usage = Usage(Usage::CPU_READ_OFTEN.0 | Usage::CPU_WRITE_OFTEN.0);
const DISPLAY_P3: i32 = (10 << 16) | (2 << 22) | (1 << 27);

fn allocator() -> Allocator {
    Allocator::new(
        Profile::builtin("host").unwrap(),
        &BackendConfig::new(Backend::Memfd),
        Limits::default(),
    )
    .unwrap()
}

fn buffer(a: &Allocator, name: &str, w: u32, h: u32, format: PixelFormat, usage: Usage) -> Buffer {
    let d = Descriptor::simple(name, w, h, format, usage).unwrap();
    a.allocate(&d, 1).unwrap().buffers.pop().unwrap()
}

/// A buffer and its metadata region, mapped as the mapper maps it.
struct Imported {
    buffer: Buffer,
    map: Mapping,
}

impl Imported {
    fn new(buffer: Buffer) -> Imported {
        let map = buffer.map_metadata().unwrap();
        Imported { buffer, map }
    }
    fn info(&self) -> &BufferInfo {
        self.buffer.info()
    }
    fn bytes(&self, t: StandardType) -> Vec<u8> {
        let mut out = vec![0xaa; 3];
        get(self.info(), &self.map, t.value(), &mut out).unwrap();
        out
    }
    fn value(&self, t: StandardType) -> Value {
        let bytes = self.bytes(t);
        Value::decode(t, &bytes).unwrap()
    }
    fn set(&self, v: &Value) -> Result<(), MetadataError> {
        set(
            self.info(),
            &self.map,
            v.standard_type().value(),
            &v.to_bytes(),
        )
    }
    fn planes(&self) -> Vec<PlaneLayout> {
        match self.value(StandardType::PlaneLayouts) {
            Value::PlaneLayouts(p) => p,
            other => panic!("{other:?}"),
        }
    }
}

fn generic(a: &Allocator) -> Imported {
    Imported::new(buffer(
        a,
        "Hello, World!",
        64,
        64,
        PixelFormat::RGBA_8888,
        CPU,
    ))
}

fn kinds(p: &PlaneLayout) -> Vec<(i64, i64, i64)> {
    p.components
        .iter()
        .map(|c| {
            assert_eq!(c.component_type.name, codec::PLANE_LAYOUT_COMPONENT_TYPE);
            (c.component_type.value, c.offset_in_bits, c.size_in_bits)
        })
        .collect()
}

const Y: i64 = 1;
const CB: i64 = 2;
const CR: i64 = 4;
const R: i64 = 1 << 10;
const G: i64 = 1 << 11;
const B: i64 = 1 << 12;
const RAW: i64 = 1 << 20;
const A: i64 = 1 << 30;

#[test]
fn fresh_rgba_buffer_meets_every_vts_expectation() {
    let a = allocator();
    let b = generic(&a);
    let info = *b.info();
    use StandardType as T;
    assert_eq!(b.value(T::BufferId), Value::BufferId(info.id));
    assert_eq!(b.bytes(T::Name).len(), 90);
    assert_eq!(b.value(T::Name), Value::Name(b"Hello, World!".to_vec()));
    assert_eq!(b.value(T::Width), Value::Width(64));
    assert_eq!(b.value(T::Height), Value::Height(64));
    assert_eq!(b.value(T::LayerCount), Value::LayerCount(1));
    assert_eq!(
        b.value(T::PixelFormatRequested),
        Value::PixelFormatRequested(1)
    );
    // DRM_FORMAT_ABGR8888.
    assert_eq!(
        b.value(T::PixelFormatFourcc),
        Value::PixelFormatFourcc(0x3432_4241)
    );
    assert_eq!(
        b.value(T::PixelFormatModifier),
        Value::PixelFormatModifier(0)
    );
    assert_eq!(b.value(T::Usage), Value::Usage(CPU.0 as i64));
    let Value::AllocationSize(size) = b.value(T::AllocationSize) else {
        panic!()
    };
    let min = u64::from(info.stride) * 64 * 4;
    assert!(min <= size && size < 2 * min, "{size} vs {min}");
    assert_eq!(size, info.size);
    assert_eq!(b.value(T::ProtectedContent), Value::ProtectedContent(0));
    assert_eq!(
        b.value(T::Compression),
        Value::Compression(ExtendableType::standard(codec::COMPRESSION, 0))
    );
    assert_eq!(
        b.value(T::Interlaced),
        Value::Interlaced(ExtendableType::standard(codec::INTERLACED, 0))
    );
    assert_eq!(
        b.value(T::ChromaSiting),
        Value::ChromaSiting(ExtendableType::standard(codec::CHROMA_SITING, 0))
    );
    assert_eq!(b.bytes(T::Crop).len(), 93);
    assert_eq!(
        b.value(T::Crop),
        Value::Crop(vec![Rect {
            left: 0,
            top: 0,
            right: 64,
            bottom: 64
        }])
    );
    assert_eq!(b.value(T::Dataspace), Value::Dataspace(0));
    assert_eq!(b.value(T::BlendMode), Value::BlendMode(0));
    for t in [T::Smpte2086, T::Cta861_3, T::Smpte2094_40, T::Smpte2094_10] {
        assert!(b.bytes(t).is_empty(), "{t:?} is set on a fresh buffer");
    }
    assert_eq!(b.value(T::Stride), Value::Stride(info.stride));
    assert!(info.stride >= 64);
}

#[test]
fn rgba_plane_layout_is_the_vts_one() {
    let a = allocator();
    let b = generic(&a);
    assert_eq!(b.bytes(StandardType::PlaneLayouts).len(), 505);
    let planes = b.planes();
    let [p] = planes.as_slice() else { panic!() };
    assert_eq!(kinds(p), vec![(R, 0, 8), (G, 8, 8), (B, 16, 8), (A, 24, 8)]);
    assert_eq!(p.offset_in_bytes, 0);
    assert_eq!(p.sample_increment_in_bits, 32);
    assert_eq!(p.stride_in_bytes, i64::from(b.info().stride) * 4);
    assert!(p.width_in_samples * p.height_in_samples * 4 <= p.total_size_in_bytes);
    assert_eq!((p.horizontal_subsampling, p.vertical_subsampling), (1, 1));
}

#[test]
fn width_height_and_ids_are_per_buffer() {
    let a = allocator();
    let b = Imported::new(buffer(&a, "wh", 64, 128, PixelFormat::RGBA_8888, CPU));
    assert_eq!(b.value(StandardType::Width), Value::Width(64));
    assert_eq!(b.value(StandardType::Height), Value::Height(128));
    let c = generic(&a);
    assert_ne!(
        b.value(StandardType::BufferId),
        c.value(StandardType::BufferId)
    );
}

#[test]
fn usage_keeps_all_64_bits_and_protected_content_follows_usage() {
    let a = allocator();
    let usage = Usage(Usage::FRONT_BUFFER.0 | Usage::GPU_RENDER_TARGET.0 | Usage::GPU_TEXTURE.0);
    let b = Imported::new(buffer(&a, "front", 64, 64, PixelFormat::RGBA_8888, usage));
    assert_eq!(b.value(StandardType::Usage), Value::Usage(usage.0 as i64));
    // The host profile has no protected heap, so check the mapping on a described buffer.
    let mut info = *b.info();
    info.usage = Usage(info.usage.0 | Usage::PROTECTED.0);
    assert_eq!(
        read(&info, &b.map, StandardType::ProtectedContent).unwrap(),
        Value::ProtectedContent(1)
    );
}

#[test]
fn yv12_is_y_then_cr_then_cb_at_androids_offsets() {
    let a = allocator();
    let b = Imported::new(buffer(&a, "yv12", 64, 64, PixelFormat::YV12, CPU));
    assert_eq!(b.bytes(StandardType::PlaneLayouts).len(), 560);
    let planes = b.planes();
    let [y, cr, cb] = planes.as_slice() else {
        panic!()
    };
    assert_eq!(kinds(y), vec![(Y, 0, 8)]);
    assert_eq!(kinds(cr), vec![(CR, 0, 8)]);
    assert_eq!(kinds(cb), vec![(CB, 0, 8)]);
    assert_eq!((y.width_in_samples, y.height_in_samples), (64, 64));
    for c in [cr, cb] {
        assert_eq!((c.horizontal_subsampling, c.vertical_subsampling), (2, 2));
        assert_eq!((c.width_in_samples, c.height_in_samples), (32, 32));
        assert!(c.width_in_samples <= c.stride_in_bytes);
        assert_eq!(c.sample_increment_in_bits, 8);
    }
    assert_eq!(cr.stride_in_bytes, cb.stride_in_bytes);
    assert_eq!(cr.offset_in_bytes, y.stride_in_bytes * 64);
    assert_eq!(
        cr.offset_in_bytes + cr.stride_in_bytes * 64 / 2,
        cb.offset_in_bytes
    );
    assert_eq!(
        b.value(StandardType::PixelFormatFourcc),
        Value::PixelFormatFourcc(0x3231_5659)
    );
    let full = Rect {
        left: 0,
        top: 0,
        right: 64,
        bottom: 64,
    };
    let half = Rect {
        right: 32,
        bottom: 32,
        ..full
    };
    assert_eq!(
        b.value(StandardType::Crop),
        Value::Crop(vec![full, half, half])
    );
    assert_eq!(
        b.value(StandardType::ChromaSiting),
        Value::ChromaSiting(ExtendableType::standard(
            codec::CHROMA_SITING,
            codec::CHROMA_SITING_UNKNOWN
        ))
    );
}

/// What libui's `getAndroidYCbCr` and VTS check: 8-bit Y with an 8-bit increment, Cb and Cr with
/// equal strides and steps of 1 or 2 bytes, 2x2 subsampling, whole-byte offsets. Returns
/// (cb offset, cr offset, chroma step in bytes) in bytes from the buffer start.
fn ycbcr(planes: &[PlaneLayout]) -> (i64, i64, i64) {
    let (mut cb, mut cr, mut step, mut cstride) = (None, None, None, None);
    for p in planes {
        for c in &p.components {
            assert_eq!(c.offset_in_bits % 8, 0);
            let at = p.offset_in_bytes + c.offset_in_bits / 8;
            match c.component_type.value {
                Y => {
                    assert_eq!((c.size_in_bits, p.sample_increment_in_bits), (8, 8));
                }
                CB | CR => {
                    assert_eq!((p.horizontal_subsampling, p.vertical_subsampling), (2, 2));
                    let s = p.sample_increment_in_bits / 8;
                    assert!(s == 1 || s == 2);
                    assert_eq!(*step.get_or_insert(s), s);
                    assert_eq!(*cstride.get_or_insert(p.stride_in_bytes), p.stride_in_bytes);
                    if c.component_type.value == CB {
                        cb = Some(at);
                    } else {
                        cr = Some(at);
                    }
                }
                other => panic!("component {other}"),
            }
        }
    }
    (cb.unwrap(), cr.unwrap(), step.unwrap())
}

#[test]
fn nv21_and_flexible_yuv_meet_get_android_ycbcr() {
    let a = allocator();
    let nv21 = Imported::new(buffer(&a, "nv21", 64, 64, PixelFormat::YCRCB_420_SP, CPU));
    assert_eq!(nv21.bytes(StandardType::PlaneLayouts).len(), 488);
    let (cb, cr, step) = ycbcr(&nv21.planes());
    assert_eq!((cr + 1, step), (cb, 2));
    let flex = Imported::new(buffer(&a, "flex", 64, 64, PixelFormat::YCBCR_420_888, CPU));
    let (cb, cr, step) = ycbcr(&flex.planes());
    assert_eq!((cb + 1, step), (cr, 2));
    // The requested format is what the client asked for; the fourcc is the laid-out NV12.
    assert_eq!(
        flex.value(StandardType::PixelFormatRequested),
        Value::PixelFormatRequested(PixelFormat::YCBCR_420_888.0)
    );
    assert_eq!(
        flex.value(StandardType::PixelFormatFourcc),
        Value::PixelFormatFourcc(u32::from_le_bytes(*b"NV12"))
    );
}

#[test]
fn p010_raw10_raw12_meet_the_vts_rules() {
    let a = allocator();
    let p010 = Imported::new(buffer(&a, "p010", 64, 64, PixelFormat::YCBCR_P010, CPU));
    let planes = p010.planes();
    let [y, c] = planes.as_slice() else { panic!() };
    assert_eq!(kinds(y), vec![(Y, 6, 10)]);
    assert_eq!(y.sample_increment_in_bits, 16);
    assert_eq!(kinds(c), vec![(CB, 6, 10), (CR, 22, 10)]);
    assert_eq!(c.sample_increment_in_bits, 32);
    assert_eq!((c.horizontal_subsampling, c.vertical_subsampling), (2, 2));
    for format in [PixelFormat::RAW10, PixelFormat::RAW12] {
        let raw = Imported::new(buffer(&a, "raw", 64, 64, format, CPU));
        let planes = raw.planes();
        let [p] = planes.as_slice() else { panic!() };
        assert_eq!(kinds(p), vec![(RAW, 0, -1)]);
        assert_eq!(p.sample_increment_in_bits, 0);
        assert_eq!((p.horizontal_subsampling, p.vertical_subsampling), (1, 1));
        // The stride is the byte pitch, as AllocationResult reports it for packed raw.
        assert_eq!(p.stride_in_bytes, i64::from(raw.info().stride));
    }
}

/// (type, offset in bits, size in bits) of each component.
type Components = &'static [(i64, i64, i64)];

#[test]
fn newer_vts_rgb_formats() {
    let a = allocator();
    let cases: &[(PixelFormat, i64, Components)] = &[
        (
            PixelFormat::RGB_565,
            16,
            &[(B, 0, 5), (G, 5, 6), (R, 11, 5)],
        ),
        (
            PixelFormat::BGRA_8888,
            32,
            &[(B, 0, 8), (G, 8, 8), (R, 16, 8), (A, 24, 8)],
        ),
        (
            PixelFormat::RGB_888,
            24,
            &[(R, 0, 8), (G, 8, 8), (B, 16, 8)],
        ),
        (
            PixelFormat::RGBX_8888,
            32,
            &[(R, 0, 8), (G, 8, 8), (B, 16, 8)],
        ),
        (
            PixelFormat::RGBA_FP16,
            64,
            &[(R, 0, 16), (G, 16, 16), (B, 32, 16), (A, 48, 16)],
        ),
        (
            PixelFormat::RGBA_1010102,
            32,
            &[(R, 0, 10), (G, 10, 10), (B, 20, 10), (A, 30, 2)],
        ),
        (PixelFormat::R_8, 8, &[(R, 0, 8)]),
    ];
    for &(format, increment, components) in cases {
        let b = Imported::new(buffer(&a, "rgb", 33, 7, format, CPU));
        let planes = b.planes();
        let [p] = planes.as_slice() else { panic!() };
        assert_eq!(kinds(p), components, "{format}");
        assert_eq!(p.sample_increment_in_bits, increment, "{format}");
    }
}

#[test]
fn every_cpu_lockable_format_reports_the_recorded_layout() {
    let a = allocator();
    let mut seen = 0;
    for f in FORMATS.iter().filter(|f| !f.planes.is_empty()) {
        let (w, h) = if f.kind == FormatKind::Blob {
            (4097, 1)
        } else {
            (33, 17)
        };
        let b = Imported::new(buffer(&a, f.name, w, h, f.format, CPU));
        let info = *b.info();
        let planes = b.planes();
        assert_eq!(planes, plane_layouts(&info), "{}", f.name);
        assert_eq!(planes.len(), info.planes().len(), "{}", f.name);
        for ((p, recorded), pf) in planes.iter().zip(info.planes()).zip(f.planes) {
            assert_eq!(p.offset_in_bytes as u64, recorded.offset, "{}", f.name);
            assert_eq!(p.stride_in_bytes as u64, recorded.stride, "{}", f.name);
            assert_eq!(p.total_size_in_bytes as u64, recorded.size, "{}", f.name);
            assert_eq!(p.width_in_samples as u64, recorded.width, "{}", f.name);
            assert!(p.height_in_samples as u64 <= recorded.height, "{}", f.name);
            assert_eq!(p.components.len(), pf.components.len(), "{}", f.name);
            // Every row of samples lies inside the plane.
            assert!(
                p.width_in_samples * p.sample_increment_in_bits / 8 <= p.stride_in_bytes,
                "{}",
                f.name
            );
            assert!(
                p.stride_in_bytes * p.height_in_samples <= p.total_size_in_bytes,
                "{}",
                f.name
            );
        }
        assert_eq!(
            b.value(StandardType::Crop),
            Value::Crop(
                planes
                    .iter()
                    .map(|p| Rect {
                        left: 0,
                        top: 0,
                        right: p.width_in_samples as i32,
                        bottom: p.height_in_samples as i32,
                    })
                    .collect()
            ),
            "{}: the default crop of each plane is the whole plane",
            f.name
        );
        seen += 1;
    }
    assert_eq!(seen, FORMATS.len() - 1, "every concrete format was checked");
}

#[test]
fn blob_layout_is_one_row_of_bytes() {
    let a = allocator();
    let b = Imported::new(buffer(&a, "blob", 10000, 1, PixelFormat::BLOB, CPU));
    let planes = b.planes();
    let [p] = planes.as_slice() else { panic!() };
    assert_eq!(kinds(p), vec![(RAW, 0, 8)]);
    assert_eq!(
        (
            p.width_in_samples,
            p.height_in_samples,
            p.sample_increment_in_bits
        ),
        (10000, 1, 8)
    );
}

#[test]
fn settable_values_round_trip() {
    let a = allocator();
    let b = generic(&a);
    let smpte = Smpte2086 {
        primary_red: XyColor { x: 1.0, y: 1.0 },
        primary_green: XyColor { x: 2.0, y: 2.0 },
        primary_blue: XyColor { x: 3.0, y: 3.0 },
        white_point: XyColor {
            x: 400.0,
            y: 1000.0,
        },
        max_luminance: 100_000.0,
        min_luminance: 0.0001,
    };
    let cta = Cta861_3 {
        max_content_light_level: 1000.0,
        max_frame_average_light_level: 140.0,
    };
    let values = [
        Value::Dataspace(DISPLAY_P3),
        Value::BlendMode(3),
        Value::Smpte2086(Some(smpte)),
        Value::Cta861_3(Some(cta)),
        Value::Smpte2094_40(Some((0..=255).collect())),
        Value::Smpte2094_10(Some(vec![9; region::SMPTE2094_10_CAP])),
        Value::Smpte2094_40(Some(vec![7; region::SMPTE2094_40_CAP])),
    ];
    for v in &values {
        b.set(v).unwrap();
        assert_eq!(&b.value(v.standard_type()), v);
        assert_eq!(b.bytes(v.standard_type()), v.to_bytes());
    }
    // Size 0 clears each optional type; the others are untouched.
    for t in [
        StandardType::Smpte2086,
        StandardType::Cta861_3,
        StandardType::Smpte2094_40,
        StandardType::Smpte2094_10,
    ] {
        set(b.info(), &b.map, t.value(), &[]).unwrap();
        assert!(b.bytes(t).is_empty(), "{t:?}");
    }
    assert_eq!(
        b.value(StandardType::Dataspace),
        Value::Dataspace(DISPLAY_P3)
    );
    assert_eq!(b.value(StandardType::BlendMode), Value::BlendMode(3));
    // A present but empty blob has nothing to say: it reads back unset.
    b.set(&Value::Smpte2094_40(Some(Vec::new()))).unwrap();
    assert!(b.bytes(StandardType::Smpte2094_40).is_empty());
}

#[test]
fn a_set_through_one_mapping_is_seen_through_another() {
    let a = allocator();
    let b = generic(&a);
    let other = Mapping::new(
        b.buffer.metadata_fd(),
        b.info().metadata_size,
        CpuAccess::ReadWrite,
    )
    .unwrap();
    let cta = Value::Cta861_3(Some(Cta861_3 {
        max_content_light_level: 1000.0,
        max_frame_average_light_level: 140.0,
    }));
    b.set(&cta).unwrap();
    b.set(&Value::Dataspace(DISPLAY_P3)).unwrap();
    assert_eq!(read(b.info(), &other, StandardType::Cta861_3).unwrap(), cta);
    assert_eq!(
        read(b.info(), &other, StandardType::Dataspace).unwrap(),
        Value::Dataspace(DISPLAY_P3)
    );
    set(b.info(), &other, StandardType::Cta861_3.value(), &[]).unwrap();
    assert!(b.bytes(StandardType::Cta861_3).is_empty());
}

#[test]
fn list_supported_works_like_vts() {
    let a = allocator();
    let b = generic(&a);
    assert_eq!(SUPPORTED.len(), 23);
    for s in SUPPORTED {
        assert!(0 < s.value && s.value < 24);
        assert!(s.gettable || !s.settable);
        let mut bytes = Vec::new();
        get(b.info(), &b.map, s.value, &mut bytes).unwrap();
        // The size query and the full get agree.
        assert_eq!(
            get_into(b.info(), &b.map, s.value, &mut []).unwrap() as usize,
            bytes.len()
        );
        if s.settable {
            set(b.info(), &b.map, s.value, &bytes).unwrap();
        }
    }
    let settable: Vec<i64> = SUPPORTED
        .iter()
        .filter(|s| s.settable)
        .map(|s| s.value)
        .collect();
    assert_eq!(settable, vec![17, 18, 19, 20, 21, 22]);
    let values: Vec<i64> = SUPPORTED.iter().map(|s| s.value).collect();
    assert_eq!(values, (1..=23).collect::<Vec<_>>());
}

#[test]
fn size_query_convention() {
    let a = allocator();
    let b = generic(&a);
    let name = StandardType::Name.value();
    let encoded = b.bytes(StandardType::Name);
    // A size query (NULL or a non-NULL pointer with size 0) returns the size.
    assert_eq!(get_into(b.info(), &b.map, name, &mut []).unwrap(), 90);
    // Too small: the size, and the destination untouched.
    let mut small = [0xaau8; 80];
    assert_eq!(get_into(b.info(), &b.map, name, &mut small).unwrap(), 90);
    assert!(small.iter().all(|&x| x == 0xaa));
    // Exactly right and larger: the encoding, and nothing past it.
    let mut exact = [0u8; 90];
    assert_eq!(get_into(b.info(), &b.map, name, &mut exact).unwrap(), 90);
    assert_eq!(exact.as_slice(), encoded.as_slice());
    let mut large = [0xaau8; 128];
    assert_eq!(get_into(b.info(), &b.map, name, &mut large).unwrap(), 90);
    assert_eq!(&large[..90], encoded.as_slice());
    assert!(large[90..].iter().all(|&x| x == 0xaa));
    // An unset optional is 0 bytes.
    let smpte = StandardType::Smpte2086.value();
    assert_eq!(get_into(b.info(), &b.map, smpte, &mut large).unwrap(), 0);
}

#[test]
fn unknown_types_are_unsupported() {
    let a = allocator();
    let b = generic(&a);
    for t in [0, -1, 24, 100, i64::MIN, i64::MAX] {
        let mut out = vec![1, 2, 3];
        let e = get(b.info(), &b.map, t, &mut out).unwrap_err();
        assert!(matches!(e, MetadataError::Unsupported(v) if v == t));
        assert_eq!(e.code(), UNSUPPORTED);
        assert!(out.is_empty(), "get clears its output");
        let e = set(b.info(), &b.map, t, &[]).unwrap_err();
        assert_eq!(e.code(), UNSUPPORTED);
    }
}

/// The region's header (everything the mapper reads and writes) as raw bytes.
fn snapshot(map: &Mapping) -> Vec<u8> {
    let mut out = vec![0u8; region::HEADER_SIZE];
    map.read(0, &mut out).unwrap();
    out
}

#[test]
fn read_only_and_malformed_sets_change_nothing() {
    let a = allocator();
    let b = generic(&a);
    b.set(&Value::Dataspace(DISPLAY_P3)).unwrap();
    let before = snapshot(&b.map);
    for t in StandardType::ALL.into_iter().filter(|t| !t.settable()) {
        let bytes = b.bytes(t);
        let e = set(b.info(), &b.map, t.value(), &bytes).unwrap_err();
        assert!(matches!(e, MetadataError::ReadOnly(x) if x == t), "{t:?}");
        assert_eq!(e.code(), BAD_VALUE);
    }
    let dataspace = Value::Dataspace(0).to_bytes();
    let smpte = Value::Smpte2086(Some(Smpte2086::default())).to_bytes();
    let mut trailing = dataspace.clone();
    trailing.push(0);
    let malformed: Vec<(StandardType, Vec<u8>)> = vec![
        (StandardType::Dataspace, Vec::new()),
        (StandardType::Dataspace, dataspace[..72].to_vec()),
        (StandardType::Dataspace, trailing),
        (StandardType::BlendMode, dataspace.clone()),
        (StandardType::Cta861_3, smpte.clone()),
        (StandardType::Smpte2086, smpte[..108].to_vec()),
        (StandardType::Smpte2094_40, {
            let mut v = Value::Smpte2094_40(Some(vec![1; 8])).to_bytes();
            v[69..77].copy_from_slice(&i64::MAX.to_le_bytes());
            v
        }),
        (StandardType::Smpte2094_10, vec![0xff; 100]),
    ];
    for (t, bytes) in malformed {
        let e = set(b.info(), &b.map, t.value(), &bytes).unwrap_err();
        assert!(matches!(e, MetadataError::Malformed(_)), "{t:?}: {e}");
        assert_eq!(e.code(), BAD_VALUE);
    }
    let out_of_range = [
        Value::BlendMode(4),
        Value::BlendMode(-1),
        Value::Smpte2094_40(Some(vec![1; region::SMPTE2094_40_CAP + 1])),
        Value::Smpte2094_10(Some(vec![1; region::SMPTE2094_10_CAP + 1])),
    ];
    for v in out_of_range {
        let e = b.set(&v).unwrap_err();
        assert!(matches!(e, MetadataError::OutOfRange { .. }), "{v:?}");
        assert_eq!(e.code(), BAD_VALUE);
    }
    assert_eq!(snapshot(&b.map), before, "a refused set wrote the region");
}

#[test]
fn a_scribbled_region_is_reported_not_trusted() {
    let a = allocator();
    let b = generic(&a);
    b.map
        .write(region::OFFSET_SMPTE2086, &7u32.to_le_bytes())
        .unwrap();
    let e = read(b.info(), &b.map, StandardType::Smpte2086).unwrap_err();
    assert!(matches!(e, MetadataError::Corrupt(_)));
    assert_eq!(e.code(), BAD_BUFFER);
    let too_long = (region::SMPTE2094_10_CAP as u32 + 1).to_le_bytes();
    b.map
        .write(region::OFFSET_SMPTE2094_10_LEN, &too_long)
        .unwrap();
    assert!(matches!(
        read(b.info(), &b.map, StandardType::Smpte2094_10),
        Err(MetadataError::Corrupt(_))
    ));
    b.map
        .write(region::OFFSET_SMPTE2094_40_LEN, &u32::MAX.to_le_bytes())
        .unwrap();
    assert!(matches!(
        read(b.info(), &b.map, StandardType::Smpte2094_40),
        Err(MetadataError::Corrupt(_))
    ));
    // The dump leaves out what it cannot read and still reports the rest.
    let dumped: Vec<i64> = dump(b.info(), &b.map).into_iter().map(|(t, _)| t).collect();
    assert!(!dumped.contains(&StandardType::Smpte2086.value()));
    assert!(dumped.contains(&StandardType::PlaneLayouts.value()));
    // A name with its terminator removed is bounded by its field; bytes that are not UTF-8 pass
    // through as they are.
    let mut name = [b'x'; region::NAME_SIZE];
    name[0] = 0xff;
    b.map.write(region::OFFSET_NAME, &name).unwrap();
    assert_eq!(b.value(StandardType::Name), Value::Name(name.to_vec()));
}

#[test]
fn crop_from_the_region_is_scaled_per_plane() {
    let a = allocator();
    let b = Imported::new(buffer(&a, "crop", 64, 48, PixelFormat::YCRCB_420_SP, CPU));
    let mut rect = [0u8; 16];
    for (chunk, v) in rect.chunks_exact_mut(4).zip([3i32, 5, 61, 47]) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    b.map.write(region::OFFSET_CROP, &rect).unwrap();
    assert_eq!(
        b.value(StandardType::Crop),
        Value::Crop(vec![
            Rect {
                left: 3,
                top: 5,
                right: 61,
                bottom: 47
            },
            // Rounded outwards so the chroma covers every cropped luma sample.
            Rect {
                left: 1,
                top: 2,
                right: 31,
                bottom: 24
            },
        ])
    );
    // Nonsense from another process is passed on, scaled, without overflow.
    for (chunk, v) in rect
        .chunks_exact_mut(4)
        .zip([i32::MIN, -1, i32::MAX, i32::MAX])
    {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    b.map.write(region::OFFSET_CROP, &rect).unwrap();
    let Value::Crop(rects) = b.value(StandardType::Crop) else {
        panic!()
    };
    assert_eq!(
        rects[1],
        Rect {
            left: i32::MIN / 2,
            top: -1,
            right: i32::MAX / 2 + 1,
            bottom: i32::MAX / 2 + 1
        }
    );
}

#[test]
fn dump_holds_every_set_type_and_every_blob_decodes() {
    let a = allocator();
    let b = generic(&a);
    let types = |d: &[(i64, Vec<u8>)]| d.iter().map(|(t, _)| *t).collect::<Vec<_>>();
    let fresh = dump(b.info(), &b.map);
    let mut expected: Vec<i64> = (1..=18).chain([23]).collect();
    assert_eq!(types(&fresh), expected);
    b.set(&Value::Cta861_3(Some(Cta861_3::default()))).unwrap();
    b.set(&Value::Smpte2094_10(Some(vec![1, 2, 3]))).unwrap();
    let later = dump(b.info(), &b.map);
    expected.extend([20, 22]);
    expected.sort_unstable();
    assert_eq!(types(&later), expected);
    for (t, bytes) in &later {
        let t = StandardType::from_value(*t).unwrap();
        assert_eq!(Value::decode(t, bytes).unwrap(), b.value(t));
    }
}

#[test]
fn region_write_failures_are_no_resources() {
    let a = allocator();
    let b = generic(&a);
    let read_only = Mapping::new(
        b.buffer.metadata_fd(),
        b.info().metadata_size,
        CpuAccess::Read,
    )
    .unwrap();
    let e = set(
        b.info(),
        &read_only,
        StandardType::Dataspace.value(),
        &Value::Dataspace(1).to_bytes(),
    )
    .unwrap_err();
    assert!(matches!(e, MetadataError::Region(_)));
    assert_eq!(e.code(), NO_RESOURCES);
    // Reads through it still work.
    assert_eq!(
        read(b.info(), &read_only, StandardType::Dataspace).unwrap(),
        Value::Dataspace(0)
    );
}

#[test]
fn names_are_the_requested_ones() {
    let a = allocator();
    let long = "n".repeat(200);
    let b = Imported::new(buffer(&a, &long, 8, 8, PixelFormat::RGBA_8888, CPU));
    // The allocator keeps 127 bytes of a longer name.
    assert_eq!(b.value(StandardType::Name), Value::Name(vec![b'n'; 127]));
    let info = DescriptorInfo {
        name: "é-name".as_bytes().to_vec(),
        width: 8,
        height: 8,
        layer_count: 2,
        format: PixelFormat::RGBA_8888.0,
        usage: CPU.0 as i64,
        reserved_size: 64,
        additional_options: Vec::new(),
    };
    let d = Descriptor::from_info(&info).unwrap();
    let buf = a.allocate(&d, 1).unwrap().buffers.pop().unwrap();
    let b = Imported::new(buf);
    assert_eq!(
        b.value(StandardType::Name),
        Value::Name("é-name".as_bytes().to_vec())
    );
    assert_eq!(b.value(StandardType::LayerCount), Value::LayerCount(2));
}
