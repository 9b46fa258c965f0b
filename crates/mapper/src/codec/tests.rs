//! Byte-exact checks against reference vectors produced by compiling the platform's own encoder
//! (hardware/interfaces graphics/mapper/stable-c implutils, `IMapperMetadataTypes.h`), round
//! trips of every type, and malformed input.

use super::*;
use proptest::prelude::*;

/// BUFFER_ID=42 (77 bytes).
const BUFFER_ID_42: &str = concat!(
    "3500000000000000616e64726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e5374616e646172",
    "644d657461646174615479706501000000000000002a00000000000000",
);
/// WIDTH=64 (77 bytes).
const WIDTH_64: &str = concat!(
    "3500000000000000616e64726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e5374616e646172",
    "644d657461646174615479706503000000000000004000000000000000",
);
/// NAME=Hello, World! (90 bytes).
const NAME_HELLO: &str = concat!(
    "3500000000000000616e64726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e5374616e646172",
    "644d657461646174615479706502000000000000000d0000000000000048656c6c6f2c20576f726c6421",
);
/// PIXEL_FORMAT_REQUESTED=RGBA_8888 (73 bytes).
const FORMAT_RGBA_8888: &str = concat!(
    "3500000000000000616e64726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e5374616e646172",
    "644d6574616461746154797065060000000000000001000000",
);
/// USAGE=0x33 (77 bytes).
const USAGE_0X33: &str = concat!(
    "3500000000000000616e64726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e5374616e646172",
    "644d657461646174615479706509000000000000003300000000000000",
);
/// STRIDE=64 (73 bytes).
const STRIDE_64: &str = concat!(
    "3500000000000000616e64726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e5374616e646172",
    "644d6574616461746154797065170000000000000040000000",
);
/// DATASPACE=DISPLAY_P3 (73 bytes).
const DATASPACE_DISPLAY_P3: &str = concat!(
    "3500000000000000616e64726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e5374616e646172",
    "644d6574616461746154797065110000000000000000008a08",
);
/// COMPRESSION=NONE (129 bytes).
const COMPRESSION_NONE_BYTES: &str = concat!(
    "3500000000000000616e64726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e5374616e646172",
    "644d65746164617461547970650c000000000000002c00000000000000616e64726f69642e68617264776172652e6772",
    "6170686963732e636f6d6d6f6e2e436f6d7072657373696f6e0000000000000000",
);
/// CROP={0,0,64,64} (93 bytes).
const CROP_64: &str = concat!(
    "3500000000000000616e64726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e5374616e646172",
    "644d65746164617461547970651000000000000000010000000000000000000000000000004000000040000000",
);
/// SMPTE2086=unset (0 bytes).
const SMPTE2086_UNSET: &str = "";
/// CTA861_3={1000,140} (77 bytes).
const CTA861_3_1000_140: &str = concat!(
    "3500000000000000616e64726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e5374616e646172",
    "644d6574616461746154797065140000000000000000007a4400000c43",
);
/// PLANE_LAYOUTS RGBA_8888 64x64 (505 bytes).
const PLANE_LAYOUTS_RGBA_64: &str = concat!(
    "3500000000000000616e64726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e5374616e646172",
    "644d65746164617461547970650f00000000000000010000000000000004000000000000003900000000000000616e64",
    "726f69642e68617264776172652e67726170686963732e636f6d6d6f6e2e506c616e654c61796f7574436f6d706f6e65",
    "6e74547970650004000000000000000000000000000008000000000000003900000000000000616e64726f69642e6861",
    "7264776172652e67726170686963732e636f6d6d6f6e2e506c616e654c61796f7574436f6d706f6e656e745479706500",
    "08000000000000080000000000000008000000000000003900000000000000616e64726f69642e68617264776172652e",
    "67726170686963732e636f6d6d6f6e2e506c616e654c61796f7574436f6d706f6e656e74547970650010000000000000",
    "100000000000000008000000000000003900000000000000616e64726f69642e68617264776172652e67726170686963",
    "732e636f6d6d6f6e2e506c616e654c61796f7574436f6d706f6e656e7454797065000000400000000018000000000000",
    "000800000000000000000000000000000020000000000000000001000000000000400000000000000040000000000000",
    "00004000000000000001000000000000000100000000000000",
);

fn hex(text: &str) -> Vec<u8> {
    assert_eq!(text.len() % 2, 0);
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn rgba_component(t: i64, offset: i64) -> PlaneLayoutComponent {
    PlaneLayoutComponent {
        component_type: ExtendableType::standard(PLANE_LAYOUT_COMPONENT_TYPE, t),
        offset_in_bits: offset,
        size_in_bits: 8,
    }
}

/// The 64x64 RGBA_8888 plane the reference vector encodes.
fn rgba_64_planes() -> Vec<PlaneLayout> {
    vec![PlaneLayout {
        components: vec![
            rgba_component(1 << 10, 0),
            rgba_component(1 << 11, 8),
            rgba_component(1 << 12, 16),
            rgba_component(1 << 30, 24),
        ],
        offset_in_bytes: 0,
        sample_increment_in_bits: 32,
        stride_in_bytes: 256,
        width_in_samples: 64,
        height_in_samples: 64,
        total_size_in_bytes: 16384,
        horizontal_subsampling: 1,
        vertical_subsampling: 1,
    }]
}

fn reference_cases() -> Vec<(Value, &'static str)> {
    vec![
        (Value::BufferId(42), BUFFER_ID_42),
        (Value::Width(64), WIDTH_64),
        (Value::Name(b"Hello, World!".to_vec()), NAME_HELLO),
        (Value::PixelFormatRequested(1), FORMAT_RGBA_8888),
        (Value::Usage(0x33), USAGE_0X33),
        (Value::Stride(64), STRIDE_64),
        (Value::Dataspace(0x088A_0000), DATASPACE_DISPLAY_P3),
        (
            Value::Compression(ExtendableType::standard(COMPRESSION, COMPRESSION_NONE)),
            COMPRESSION_NONE_BYTES,
        ),
        (
            Value::Crop(vec![Rect {
                left: 0,
                top: 0,
                right: 64,
                bottom: 64,
            }]),
            CROP_64,
        ),
        (Value::Smpte2086(None), SMPTE2086_UNSET),
        (
            Value::Cta861_3(Some(Cta861_3 {
                max_content_light_level: 1000.0,
                max_frame_average_light_level: 140.0,
            })),
            CTA861_3_1000_140,
        ),
        (Value::PlaneLayouts(rgba_64_planes()), PLANE_LAYOUTS_RGBA_64),
    ]
}

#[test]
fn encodes_the_reference_vectors_byte_for_byte() {
    for (value, expected) in reference_cases() {
        assert_eq!(value.to_bytes(), hex(expected), "{value:?}");
    }
}

#[test]
fn decodes_the_reference_vectors() {
    for (value, bytes) in reference_cases() {
        let t = value.standard_type();
        assert_eq!(Value::decode(t, &hex(bytes)), Ok(value), "{t:?}");
    }
}

#[test]
fn sizes_match_the_documented_totals() {
    let ext = |name| ExtendableType::standard(name, 0);
    assert_eq!(HEADER_SIZE, 69);
    assert_eq!(Value::Interlaced(ext(INTERLACED)).to_bytes().len(), 128);
    assert_eq!(
        Value::ChromaSiting(ext(CHROMA_SITING)).to_bytes().len(),
        130
    );
    assert_eq!(Value::PixelFormatFourcc(0x3432_4241).to_bytes().len(), 73);
    let smpte = Value::Smpte2086(Some(Smpte2086::default()));
    assert_eq!(smpte.to_bytes().len(), 109);
    let blob = Value::Smpte2094_40(Some(vec![7; 10]));
    assert_eq!(blob.to_bytes().len(), 87);
    assert!(Value::Smpte2094_10(None).to_bytes().is_empty());
    assert!(Value::Cta861_3(None).to_bytes().is_empty());
    // One plane of one component: 8 + 89 + 64 bytes after the plane count.
    let y = PlaneLayout {
        components: vec![PlaneLayoutComponent {
            component_type: ExtendableType::standard(PLANE_LAYOUT_COMPONENT_TYPE, 1),
            offset_in_bits: 0,
            size_in_bits: 8,
        }],
        ..rgba_64_planes().remove(0)
    };
    let yv12 = Value::PlaneLayouts(vec![y.clone(), y.clone(), y]);
    assert_eq!(yv12.to_bytes().len(), 560);
}

#[test]
fn header_bytes() {
    let bytes = Value::BufferId(1).to_bytes();
    assert_eq!(&bytes[..8], &53i64.to_le_bytes());
    assert_eq!(&bytes[8..61], STANDARD_METADATA_TYPE.as_bytes());
    assert_eq!(&bytes[61..69], &1i64.to_le_bytes());
}

#[test]
fn type_values() {
    for (i, t) in StandardType::ALL.iter().enumerate() {
        assert_eq!(t.value(), i as i64 + 1);
        assert_eq!(StandardType::from_value(t.value()), Some(*t));
    }
    assert_eq!(StandardType::Stride.value(), 23);
    assert_eq!(StandardType::Smpte2094_10.value(), 22);
    for bad in [0, -1, 24, 100, i64::MIN, i64::MAX] {
        assert_eq!(StandardType::from_value(bad), None, "{bad}");
    }
}

#[test]
fn unset_optionals_decode_from_no_bytes_and_others_do_not() {
    assert_eq!(
        Value::decode(StandardType::Smpte2086, &[]),
        Ok(Value::Smpte2086(None))
    );
    assert_eq!(
        Value::decode(StandardType::Smpte2094_10, &[]),
        Ok(Value::Smpte2094_10(None))
    );
    for t in StandardType::ALL {
        let optional = matches!(
            t,
            StandardType::Smpte2086
                | StandardType::Cta861_3
                | StandardType::Smpte2094_40
                | StandardType::Smpte2094_10
        );
        assert_eq!(Value::decode(t, &[]).is_ok(), optional, "{t:?}");
    }
}

#[test]
fn header_mismatches_are_refused() {
    let width = hex(WIDTH_64);
    assert_eq!(
        Value::decode(StandardType::Height, &width),
        Err(DecodeError::WrongType {
            expected: 4,
            found: 3
        })
    );
    let mut renamed = width.clone();
    renamed[8] = b'b'; // "bndroid..."
    assert_eq!(
        Value::decode(StandardType::Width, &renamed),
        Err(DecodeError::NotStandard)
    );
    let mut short_name = width.clone();
    short_name[0] = 52;
    assert!(Value::decode(StandardType::Width, &short_name).is_err());
    let mut huge_name = width;
    huge_name[..8].copy_from_slice(&i64::MAX.to_le_bytes());
    assert_eq!(
        Value::decode(StandardType::Width, &huge_name),
        Err(DecodeError::NotStandard)
    );
}

#[test]
fn every_truncation_is_refused() {
    for (value, bytes) in reference_cases() {
        let bytes = hex(bytes);
        let t = value.standard_type();
        // Optional types accept exactly 0 bytes (unset); every other proper prefix is truncated.
        for n in 1..bytes.len() {
            assert!(Value::decode(t, &bytes[..n]).is_err(), "{t:?} prefix {n}");
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    // AOSP's IMapper reader ignores trailing bytes, gralloc4's decoder refuses them; refusing
    // is the safe side for bytes that cross a process boundary.
    for (value, bytes) in reference_cases() {
        let mut bytes = hex(bytes);
        if bytes.is_empty() {
            continue;
        }
        bytes.extend_from_slice(&[0, 0]);
        assert_eq!(
            Value::decode(value.standard_type(), &bytes),
            Err(DecodeError::Trailing { extra: 2 })
        );
    }
}

#[test]
fn lengths_and_counts_that_lie_are_refused() {
    let with_length = |t: StandardType, length: i64, tail: &[u8]| {
        let mut bytes = Value::BufferId(0).to_bytes();
        bytes.truncate(HEADER_SIZE);
        bytes[61..69].copy_from_slice(&t.value().to_le_bytes());
        bytes.extend_from_slice(&length.to_le_bytes());
        bytes.extend_from_slice(tail);
        Value::decode(t, &bytes)
    };
    for t in [
        StandardType::Name,
        StandardType::Smpte2094_40,
        StandardType::Smpte2094_10,
        StandardType::PlaneLayouts,
        StandardType::Crop,
    ] {
        for length in [-1, i64::MIN, i64::MAX, 1 << 40, 5] {
            assert!(
                matches!(
                    with_length(t, length, &[1, 2, 3]),
                    Err(DecodeError::BadLength { at: 69, .. })
                ),
                "{t:?} {length}"
            );
        }
    }
    // A plane count that would fit byte-wise but whose planes are not there.
    assert!(with_length(StandardType::PlaneLayouts, 1, &[0; 71]).is_err());
    // A component count larger than the bytes left.
    let mut plane = vec![0u8; 0];
    plane.extend_from_slice(&1_000_000i64.to_le_bytes());
    plane.extend_from_slice(&[0; 64]);
    assert!(matches!(
        with_length(StandardType::PlaneLayouts, 1, &plane),
        Err(DecodeError::BadLength { at: 77, .. })
    ));
    // A CROP count of 1 with half a rect.
    assert!(matches!(
        with_length(StandardType::Crop, 1, &[0; 8]),
        Err(DecodeError::BadLength { .. })
    ));
}

#[test]
fn non_utf8_type_names_are_refused() {
    let mut bytes = Value::Compression(ExtendableType::standard("ab", 0)).to_bytes();
    bytes[HEADER_SIZE + 8] = 0xff;
    assert_eq!(
        Value::decode(StandardType::Compression, &bytes),
        Err(DecodeError::NotUtf8 {
            at: HEADER_SIZE + 8
        })
    );
}

#[test]
fn errors_explain_themselves() {
    let e = Value::decode(StandardType::Height, &hex(WIDTH_64)).unwrap_err();
    assert_eq!(e.to_string(), "the header names type 3, expected 4");
}

fn float() -> impl Strategy<Value = f32> {
    // Every bit pattern, NaNs included: the encoding carries bits, not numbers.
    any::<u32>().prop_map(f32::from_bits)
}

fn extendable() -> impl Strategy<Value = ExtendableType> {
    (".{0,40}", any::<i64>()).prop_map(|(name, value)| ExtendableType {
        name: Cow::Owned(name),
        value,
    })
}

fn plane() -> impl Strategy<Value = PlaneLayout> {
    let component =
        (extendable(), any::<i64>(), any::<i64>()).prop_map(|(t, o, s)| PlaneLayoutComponent {
            component_type: t,
            offset_in_bits: o,
            size_in_bits: s,
        });
    (
        prop::collection::vec(component, 0..5),
        prop::array::uniform8(any::<i64>()),
    )
        .prop_map(|(components, f)| PlaneLayout {
            components,
            offset_in_bytes: f[0],
            sample_increment_in_bits: f[1],
            stride_in_bytes: f[2],
            width_in_samples: f[3],
            height_in_samples: f[4],
            total_size_in_bytes: f[5],
            horizontal_subsampling: f[6],
            vertical_subsampling: f[7],
        })
}

fn value() -> impl Strategy<Value = Value> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..300);
    let rect = prop::array::uniform4(any::<i32>()).prop_map(|[left, top, right, bottom]| Rect {
        left,
        top,
        right,
        bottom,
    });
    prop_oneof![
        any::<u64>().prop_map(Value::BufferId),
        bytes().prop_map(Value::Name),
        any::<u64>().prop_map(Value::Width),
        any::<u64>().prop_map(Value::Height),
        any::<u64>().prop_map(Value::LayerCount),
        any::<i32>().prop_map(Value::PixelFormatRequested),
        any::<u32>().prop_map(Value::PixelFormatFourcc),
        any::<u64>().prop_map(Value::PixelFormatModifier),
        any::<i64>().prop_map(Value::Usage),
        any::<u64>().prop_map(Value::AllocationSize),
        any::<u64>().prop_map(Value::ProtectedContent),
        extendable().prop_map(Value::Compression),
        extendable().prop_map(Value::Interlaced),
        extendable().prop_map(Value::ChromaSiting),
        prop::collection::vec(plane(), 0..4).prop_map(Value::PlaneLayouts),
        prop::collection::vec(rect, 0..4).prop_map(Value::Crop),
        any::<i32>().prop_map(Value::Dataspace),
        any::<i32>().prop_map(Value::BlendMode),
        prop::option::of(prop::array::uniform10(float()))
            .prop_map(|f| Value::Smpte2086(f.map(Smpte2086::from_floats))),
        prop::option::of((float(), float())).prop_map(|o| Value::Cta861_3(o.map(|(a, b)| {
            Cta861_3 {
                max_content_light_level: a,
                max_frame_average_light_level: b,
            }
        }))),
        prop::option::of(bytes()).prop_map(Value::Smpte2094_40),
        prop::option::of(bytes()).prop_map(Value::Smpte2094_10),
        any::<u32>().prop_map(Value::Stride),
    ]
}

proptest! {
    #[test]
    fn decode_inverts_encode(v in value()) {
        let bytes = v.to_bytes();
        let decoded = Value::decode(v.standard_type(), &bytes).unwrap();
        // Float fields compare by bits (NaN != NaN), so compare the re-encoding too.
        prop_assert_eq!(decoded.to_bytes(), bytes);
        let has_nan = matches!(&v, Value::Smpte2086(Some(s)) if s.to_floats().iter().any(|f| f.is_nan()))
            || matches!(&v, Value::Cta861_3(Some(c))
                if c.max_content_light_level.is_nan() || c.max_frame_average_light_level.is_nan());
        if !has_nan {
            prop_assert_eq!(decoded, v);
        }
    }

    #[test]
    fn decoding_any_bytes_never_panics(t in 1i64..=23, bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let t = StandardType::from_value(t).unwrap();
        let _ = Value::decode(t, &bytes);
    }

    #[test]
    fn corrupting_a_valid_encoding_never_panics(v in value(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = v.to_bytes();
        if !bytes.is_empty() {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(d) = Value::decode(v.standard_type(), &bytes) {
            // Whatever decodes re-encodes to exactly the bytes it came from.
            prop_assert_eq!(d.to_bytes(), bytes);
        }
    }
}
