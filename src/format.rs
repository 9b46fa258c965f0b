//! Pixel formats as data: one table of plane descriptions that the generic layout routine reads.

use std::fmt;

/// An `android.hardware.graphics.common.PixelFormat` value as it arrives on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PixelFormat(pub i32);

/// How a format's row pitch is reported in `AllocationResult.stride`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrideUnit {
    /// In pixels of plane 0 (almost every format).
    Pixels,
    /// In bytes (RAW10, RAW12: packed formats whose pixels are not whole bytes).
    Bytes,
}

/// What a format holds, for choosing devices and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatKind {
    /// Colour (RGB family).
    Rgb,
    /// Luma/chroma.
    Yuv,
    /// Raw camera sensor data.
    Raw,
    /// Opaque bytes (width = bytes, height = 1).
    Blob,
    /// Depth and/or stencil.
    Depth,
    /// Resolved by the allocator from the device set.
    Flexible,
}

/// What one component of a sample holds; the values are `PlaneLayoutComponentType`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ComponentType {
    /// Luma.
    Y,
    /// Blue-difference chroma.
    Cb,
    /// Red-difference chroma.
    Cr,
    /// Red.
    R,
    /// Green.
    G,
    /// Blue.
    B,
    /// Raw sensor data or opaque bytes.
    Raw,
    /// Alpha.
    A,
}

impl ComponentType {
    /// The `PlaneLayoutComponentType` value.
    pub const fn value(self) -> i64 {
        match self {
            ComponentType::Y => 1,
            ComponentType::Cb => 1 << 1,
            ComponentType::Cr => 1 << 2,
            ComponentType::R => 1 << 10,
            ComponentType::G => 1 << 11,
            ComponentType::B => 1 << 12,
            ComponentType::Raw => 1 << 20,
            ComponentType::A => 1 << 30,
        }
    }
}

/// Where one component sits in a plane's sample (little-endian bit numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Component {
    /// What it holds.
    pub kind: ComponentType,
    /// First bit within the sample.
    pub offset_bits: u32,
    /// Bits, or `None` where samples are packed across byte boundaries so no per-sample size
    /// applies (RAW10, RAW12: the mapper reports -1, as Android requires).
    pub size_bits: Option<u32>,
}

/// One plane of a format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaneFormat {
    /// Bits per pixel sample in this plane (10 for RAW10; 16 for interleaved 8-bit chroma).
    pub bits_per_pixel: u32,
    /// Horizontal subsampling relative to plane 0 (1 or 2).
    pub hsub: u32,
    /// Vertical subsampling relative to plane 0 (1 or 2).
    pub vsub: u32,
    /// The plane's own DRM fourcc where one exists (R8 for a Y plane, GR88 for UV...).
    pub fourcc: Option<u32>,
    /// The components of one sample, in bit order. Empty where no standard component type
    /// describes the data (depth, stencil, HSV).
    pub components: &'static [Component],
}

/// Everything the layout routine needs to know about a format.
#[derive(Clone, Copy, Debug)]
pub struct FormatInfo {
    /// The wire value.
    pub format: PixelFormat,
    /// The AIDL enumerator name.
    pub name: &'static str,
    /// What it holds.
    pub kind: FormatKind,
    /// Planes in memory order (empty for flexible formats).
    pub planes: &'static [PlaneFormat],
    /// The whole buffer's DRM fourcc where one exists.
    pub fourcc: Option<u32>,
    /// Plane-0 stride is a multiple of this many pixels (Android's rules for RAW16, Y8, Y16, YV12).
    pub stride_align_pixels: u32,
    /// Chroma planes' strides are aligned to this many bytes (YV12: 16), 1 otherwise.
    pub chroma_stride_align: u32,
    /// How the stride is reported.
    pub stride_unit: StrideUnit,
    /// The format's definition fixes where every plane starts (YV12: vertical stride equals the
    /// height and the chroma planes follow at `stride * height` and `+ c_stride * height / 2`),
    /// so rows are not padded and planes not realigned; a device that needs either refuses it.
    pub fixed_offsets: bool,
    /// Plane-0 rows hold whole packing groups of this many pixels (RAW10 packs 4 pixels into 5
    /// bytes, RAW12 2 into 3, YUYV 2 into 4), so a row of any width has room for its last group.
    pub pixels_per_group: u32,
}

/// Builds a DRM fourcc code from its four characters.
pub const fn fourcc(code: &[u8; 4]) -> u32 {
    (code[0] as u32) | ((code[1] as u32) << 8) | ((code[2] as u32) << 16) | ((code[3] as u32) << 24)
}

/// The DRM format modifier of a plain linear layout (`DRM_FORMAT_MOD_LINEAR`).
pub const DRM_FORMAT_MOD_LINEAR: u64 = 0;

const fn plane(
    bits_per_pixel: u32,
    sub: u32,
    fourcc: Option<u32>,
    components: &'static [Component],
) -> PlaneFormat {
    PlaneFormat {
        bits_per_pixel,
        hsub: sub,
        vsub: sub,
        fourcc,
        components,
    }
}

macro_rules! single {
    ($bits:expr, $fourcc:expr, $components:expr) => {
        &[plane($bits, 1, $fourcc, $components)]
    };
}

const fn c(kind: ComponentType, offset_bits: u32, size_bits: u32) -> Component {
    Component {
        kind,
        offset_bits,
        size_bits: Some(size_bits),
    }
}

use ComponentType as K;

const RGBA8: &[Component] = &[c(K::R, 0, 8), c(K::G, 8, 8), c(K::B, 16, 8), c(K::A, 24, 8)];
const RGB8: &[Component] = &[c(K::R, 0, 8), c(K::G, 8, 8), c(K::B, 16, 8)];
const BGRA8: &[Component] = &[c(K::B, 0, 8), c(K::G, 8, 8), c(K::R, 16, 8), c(K::A, 24, 8)];
const RGB565: &[Component] = &[c(K::B, 0, 5), c(K::G, 5, 6), c(K::R, 11, 5)];
const RGBA_F16: &[Component] = &[
    c(K::R, 0, 16),
    c(K::G, 16, 16),
    c(K::B, 32, 16),
    c(K::A, 48, 16),
];
const RGBA1010102: &[Component] = &[
    c(K::R, 0, 10),
    c(K::G, 10, 10),
    c(K::B, 20, 10),
    c(K::A, 30, 2),
];
// RGBA_10101010 is 64 bits a pixel: each channel in the low 10 bits of its own 16-bit word, where
// the platform's mapper VTS (Lock_RGB_Format, Android 16) requires R, G, B, A at bits 0, 16, 32
// and 48.
const RGBA10: &[Component] = &[
    c(K::R, 0, 10),
    c(K::G, 16, 10),
    c(K::B, 32, 10),
    c(K::A, 48, 10),
];
const R8C: &[Component] = &[c(K::R, 0, 8)];
const R16C: &[Component] = &[c(K::R, 0, 16)];
const RG16: &[Component] = &[c(K::R, 0, 16), c(K::G, 16, 16)];
const Y8C: &[Component] = &[c(K::Y, 0, 8)];
const Y16C: &[Component] = &[c(K::Y, 0, 16)];
const Y10: &[Component] = &[c(K::Y, 6, 10)];
const CB8: &[Component] = &[c(K::Cb, 0, 8)];
const CR8: &[Component] = &[c(K::Cr, 0, 8)];
const CBCR8: &[Component] = &[c(K::Cb, 0, 8), c(K::Cr, 8, 8)];
const CRCB8: &[Component] = &[c(K::Cr, 0, 8), c(K::Cb, 8, 8)];
const CBCR10: &[Component] = &[c(K::Cb, 6, 10), c(K::Cr, 22, 10)];
// YUYV: each pixel's 16-bit sample starts with its own Y; the Cb and Cr of a 2-pixel macropixel
// sit after the even pixel's Y and the odd pixel's Y, so read them from the even pixel's sample.
const YUYV: &[Component] = &[c(K::Y, 0, 8), c(K::Cb, 8, 8), c(K::Cr, 24, 8)];
// Packed raw rows: pixels straddle bytes, so a sample has no size of its own.
const RAW_PACKED: &[Component] = &[Component {
    kind: K::Raw,
    offset_bits: 0,
    size_bits: None,
}];
const RAW16C: &[Component] = &[c(K::Raw, 0, 16)];
// BLOB holds bytes, not colour.
const BYTES: &[Component] = &[c(K::Raw, 0, 8)];
const NONE: &[Component] = &[];

const R8: Option<u32> = Some(fourcc(b"R8  "));
const R16: Option<u32> = Some(fourcc(b"R16 "));
const GR88: Option<u32> = Some(fourcc(b"GR88"));
const GR1616: Option<u32> = Some(fourcc(b"GR32"));

impl PixelFormat {
    /// `UNSPECIFIED`.
    pub const UNSPECIFIED: PixelFormat = PixelFormat(0);
    /// `RGBA_8888`.
    pub const RGBA_8888: PixelFormat = PixelFormat(1);
    /// `RGBX_8888`.
    pub const RGBX_8888: PixelFormat = PixelFormat(2);
    /// `RGB_888`.
    pub const RGB_888: PixelFormat = PixelFormat(3);
    /// `RGB_565`.
    pub const RGB_565: PixelFormat = PixelFormat(4);
    /// `BGRA_8888`.
    pub const BGRA_8888: PixelFormat = PixelFormat(5);
    /// `YCBCR_422_SP` (NV16).
    pub const YCBCR_422_SP: PixelFormat = PixelFormat(0x10);
    /// `YCRCB_420_SP` (NV21).
    pub const YCRCB_420_SP: PixelFormat = PixelFormat(0x11);
    /// `YCBCR_422_I` (YUYV).
    pub const YCBCR_422_I: PixelFormat = PixelFormat(0x14);
    /// `RGBA_FP16`.
    pub const RGBA_FP16: PixelFormat = PixelFormat(0x16);
    /// `RAW16`.
    pub const RAW16: PixelFormat = PixelFormat(0x20);
    /// `BLOB`.
    pub const BLOB: PixelFormat = PixelFormat(0x21);
    /// `IMPLEMENTATION_DEFINED`.
    pub const IMPLEMENTATION_DEFINED: PixelFormat = PixelFormat(0x22);
    /// `YCBCR_420_888` (flexible YUV; resolved to NV12 here).
    pub const YCBCR_420_888: PixelFormat = PixelFormat(0x23);
    /// `RAW_OPAQUE`.
    pub const RAW_OPAQUE: PixelFormat = PixelFormat(0x24);
    /// `RAW10`.
    pub const RAW10: PixelFormat = PixelFormat(0x25);
    /// `RAW12`.
    pub const RAW12: PixelFormat = PixelFormat(0x26);
    /// `RGBA_1010102`.
    pub const RGBA_1010102: PixelFormat = PixelFormat(0x2B);
    /// `Y8`.
    pub const Y8: PixelFormat = PixelFormat(0x2020_3859);
    /// `Y16`.
    pub const Y16: PixelFormat = PixelFormat(0x2036_3159);
    /// `YV12`.
    pub const YV12: PixelFormat = PixelFormat(0x3231_5659);
    /// `DEPTH_16`.
    pub const DEPTH_16: PixelFormat = PixelFormat(0x30);
    /// `DEPTH_24`.
    pub const DEPTH_24: PixelFormat = PixelFormat(0x31);
    /// `DEPTH_24_STENCIL_8`.
    pub const DEPTH_24_STENCIL_8: PixelFormat = PixelFormat(0x32);
    /// `DEPTH_32F`.
    pub const DEPTH_32F: PixelFormat = PixelFormat(0x33);
    /// `DEPTH_32F_STENCIL_8`.
    pub const DEPTH_32F_STENCIL_8: PixelFormat = PixelFormat(0x34);
    /// `STENCIL_8`.
    pub const STENCIL_8: PixelFormat = PixelFormat(0x35);
    /// `YCBCR_P010`.
    pub const YCBCR_P010: PixelFormat = PixelFormat(0x36);
    /// `HSV_888`.
    pub const HSV_888: PixelFormat = PixelFormat(0x37);
    /// `R_8`.
    pub const R_8: PixelFormat = PixelFormat(0x38);
    /// `R_16_UINT`.
    pub const R_16_UINT: PixelFormat = PixelFormat(0x39);
    /// `RG_1616_UINT`.
    pub const RG_1616_UINT: PixelFormat = PixelFormat(0x3a);
    /// `RGBA_10101010`.
    pub const RGBA_10101010: PixelFormat = PixelFormat(0x3b);

    /// The table entry, or `None` for a value this allocator does not know.
    pub fn info(self) -> Option<&'static FormatInfo> {
        FORMATS.iter().find(|info| info.format == self)
    }

    /// Position in [`FORMATS`], used as the bit index of a [`FormatSet`].
    pub fn index(self) -> Option<usize> {
        FORMATS.iter().position(|info| info.format == self)
    }

    /// Parses an enumerator name (`RGBA_8888`), a common alias (`NV21`, `NV12`, `P010`) or a
    /// number (decimal or `0x` hex).
    pub fn parse(text: &str) -> Result<PixelFormat, String> {
        let text = text.trim();
        let alias = match text.to_ascii_uppercase().as_str() {
            "NV21" => Some(PixelFormat::YCRCB_420_SP),
            "NV12" => Some(PixelFormat::YCBCR_420_888),
            "P010" => Some(PixelFormat::YCBCR_P010),
            _ => None,
        };
        if let Some(format) = alias {
            return Ok(format);
        }
        if let Some(info) = FORMATS
            .iter()
            .find(|info| info.name.eq_ignore_ascii_case(text))
        {
            return Ok(info.format);
        }
        let number = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
        {
            i64::from_str_radix(hex, 16).ok()
        } else {
            text.parse::<i64>().ok()
        };
        number
            .and_then(|n| i32::try_from(n).ok())
            .map(PixelFormat)
            .ok_or_else(|| format!("unknown pixel format `{text}`"))
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.info() {
            Some(info) => f.write_str(info.name),
            None => write!(f, "0x{:x}", self.0),
        }
    }
}

const fn entry(
    format: PixelFormat,
    name: &'static str,
    kind: FormatKind,
    planes: &'static [PlaneFormat],
    fourcc: Option<u32>,
) -> FormatInfo {
    FormatInfo {
        format,
        name,
        kind,
        planes,
        fourcc,
        stride_align_pixels: 1,
        chroma_stride_align: 1,
        stride_unit: StrideUnit::Pixels,
        fixed_offsets: false,
        pixels_per_group: 1,
    }
}

const fn aligned_pixels(mut info: FormatInfo, pixels: u32) -> FormatInfo {
    info.stride_align_pixels = pixels;
    info
}

/// Rows of whole `pixels`-pixel packing groups (a YUYV macropixel holds 2 pixels).
const fn grouped(mut info: FormatInfo, pixels: u32) -> FormatInfo {
    info.pixels_per_group = pixels;
    info
}

/// A packed raw format: stride reported in bytes, rows of whole `pixels`-pixel packing groups.
const fn packed(mut info: FormatInfo, pixels: u32) -> FormatInfo {
    info.stride_unit = StrideUnit::Bytes;
    grouped(info, pixels)
}

use FormatKind::*;

/// Every format this allocator lays out. Order is the bit order of [`FormatSet`]; keep it stable.
pub static FORMATS: [FormatInfo; 31] = [
    entry(
        PixelFormat::RGBA_8888,
        "RGBA_8888",
        Rgb,
        single!(32, None, RGBA8),
        Some(fourcc(b"AB24")),
    ),
    entry(
        PixelFormat::RGBX_8888,
        "RGBX_8888",
        Rgb,
        single!(32, None, RGB8),
        Some(fourcc(b"XB24")),
    ),
    entry(
        PixelFormat::RGB_888,
        "RGB_888",
        Rgb,
        single!(24, None, RGB8),
        Some(fourcc(b"BG24")),
    ),
    entry(
        PixelFormat::RGB_565,
        "RGB_565",
        Rgb,
        single!(16, None, RGB565),
        Some(fourcc(b"RG16")),
    ),
    entry(
        PixelFormat::BGRA_8888,
        "BGRA_8888",
        Rgb,
        single!(32, None, BGRA8),
        Some(fourcc(b"AR24")),
    ),
    entry(
        PixelFormat::YCBCR_422_SP,
        "YCBCR_422_SP",
        Yuv,
        &[
            plane(8, 1, R8, Y8C),
            PlaneFormat {
                bits_per_pixel: 16,
                hsub: 2,
                vsub: 1,
                fourcc: GR88,
                components: CBCR8,
            },
        ],
        Some(fourcc(b"NV16")),
    ),
    entry(
        PixelFormat::YCRCB_420_SP,
        "YCRCB_420_SP",
        Yuv,
        &[plane(8, 1, R8, Y8C), plane(16, 2, GR88, CRCB8)],
        Some(fourcc(b"NV21")),
    ),
    grouped(
        entry(
            PixelFormat::YCBCR_422_I,
            "YCBCR_422_I",
            Yuv,
            single!(16, None, YUYV),
            Some(fourcc(b"YUYV")),
        ),
        2,
    ),
    entry(
        PixelFormat::RGBA_FP16,
        "RGBA_FP16",
        Rgb,
        single!(64, None, RGBA_F16),
        Some(fourcc(b"AB4H")),
    ),
    aligned_pixels(
        entry(
            PixelFormat::RAW16,
            "RAW16",
            Raw,
            single!(16, None, RAW16C),
            R16,
        ),
        16,
    ),
    entry(PixelFormat::BLOB, "BLOB", Blob, single!(8, None, BYTES), R8),
    entry(
        PixelFormat::IMPLEMENTATION_DEFINED,
        "IMPLEMENTATION_DEFINED",
        Flexible,
        &[],
        None,
    ),
    entry(
        PixelFormat::YCBCR_420_888,
        "YCBCR_420_888",
        Yuv,
        &[plane(8, 1, R8, Y8C), plane(16, 2, GR88, CBCR8)],
        Some(fourcc(b"NV12")),
    ),
    packed(
        entry(
            PixelFormat::RAW10,
            "RAW10",
            Raw,
            single!(10, None, RAW_PACKED),
            None,
        ),
        4,
    ),
    packed(
        entry(
            PixelFormat::RAW12,
            "RAW12",
            Raw,
            single!(12, None, RAW_PACKED),
            None,
        ),
        2,
    ),
    entry(
        PixelFormat::RGBA_1010102,
        "RGBA_1010102",
        Rgb,
        single!(32, None, RGBA1010102),
        Some(fourcc(b"AB30")),
    ),
    aligned_pixels(
        entry(PixelFormat::Y8, "Y8", Yuv, single!(8, R8, Y8C), R8),
        16,
    ),
    aligned_pixels(
        entry(PixelFormat::Y16, "Y16", Yuv, single!(16, R16, Y16C), R16),
        16,
    ),
    FormatInfo {
        chroma_stride_align: 16,
        fixed_offsets: true,
        ..aligned_pixels(
            entry(
                PixelFormat::YV12,
                "YV12",
                Yuv,
                // Cr before Cb: that order is what distinguishes YV12 from I420.
                &[
                    plane(8, 1, R8, Y8C),
                    plane(8, 2, R8, CR8),
                    plane(8, 2, R8, CB8),
                ],
                Some(fourcc(b"YV12")),
            ),
            16,
        )
    },
    entry(
        PixelFormat::DEPTH_16,
        "DEPTH_16",
        Depth,
        single!(16, None, NONE),
        None,
    ),
    entry(
        PixelFormat::DEPTH_24,
        "DEPTH_24",
        Depth,
        single!(32, None, NONE),
        None,
    ),
    entry(
        PixelFormat::DEPTH_24_STENCIL_8,
        "DEPTH_24_STENCIL_8",
        Depth,
        single!(32, None, NONE),
        None,
    ),
    entry(
        PixelFormat::DEPTH_32F,
        "DEPTH_32F",
        Depth,
        single!(32, None, NONE),
        None,
    ),
    // 32-bit float depth plus 8-bit stencil, padded to 64 bits per pixel as GPUs store it.
    entry(
        PixelFormat::DEPTH_32F_STENCIL_8,
        "DEPTH_32F_STENCIL_8",
        Depth,
        single!(64, None, NONE),
        None,
    ),
    entry(
        PixelFormat::STENCIL_8,
        "STENCIL_8",
        Depth,
        single!(8, None, NONE),
        None,
    ),
    entry(
        PixelFormat::YCBCR_P010,
        "YCBCR_P010",
        Yuv,
        &[plane(16, 1, R16, Y10), plane(32, 2, GR1616, CBCR10)],
        Some(fourcc(b"P010")),
    ),
    entry(PixelFormat::R_8, "R_8", Rgb, single!(8, R8, R8C), R8),
    entry(
        PixelFormat::R_16_UINT,
        "R_16_UINT",
        Rgb,
        single!(16, R16, R16C),
        R16,
    ),
    entry(
        PixelFormat::RG_1616_UINT,
        "RG_1616_UINT",
        Rgb,
        single!(32, GR1616, RG16),
        GR1616,
    ),
    entry(
        PixelFormat::RGBA_10101010,
        "RGBA_10101010",
        Rgb,
        single!(64, None, RGBA10),
        None,
    ),
    entry(
        PixelFormat::HSV_888,
        "HSV_888",
        Rgb,
        single!(24, None, NONE),
        None,
    ),
];

/// A set of formats from [`FORMATS`], as a bitmask over table positions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FormatSet(pub u64);

impl FormatSet {
    /// No format.
    pub const EMPTY: FormatSet = FormatSet(0);
    /// Every format in the table.
    pub const ALL: FormatSet = FormatSet((1u64 << FORMATS.len()) - 1);

    /// Whether `format` is in the set.
    pub fn contains(self, format: PixelFormat) -> bool {
        format.index().is_some_and(|i| self.0 & (1 << i) != 0)
    }
    /// The set with `format` added (unknown formats are ignored).
    pub fn with(self, format: PixelFormat) -> FormatSet {
        match format.index() {
            Some(i) => FormatSet(self.0 | (1 << i)),
            None => self,
        }
    }
    /// Formats in both sets.
    pub fn intersect(self, other: FormatSet) -> FormatSet {
        FormatSet(self.0 & other.0)
    }
    /// Every format whose kind is `kind`.
    pub fn of_kind(kind: FormatKind) -> FormatSet {
        FORMATS
            .iter()
            .filter(|info| info.kind == kind)
            .fold(FormatSet::EMPTY, |set, info| set.with(info.format))
    }
    /// The formats in table order.
    pub fn iter(self) -> impl Iterator<Item = PixelFormat> {
        FORMATS
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, info)| info.format)
    }
}

impl std::ops::BitOr for FormatSet {
    type Output = FormatSet;
    fn bitor(self, rhs: FormatSet) -> FormatSet {
        FormatSet(self.0 | rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_unique_values_and_names() {
        for (i, a) in FORMATS.iter().enumerate() {
            for b in &FORMATS[i + 1..] {
                assert_ne!(a.format, b.format, "{} and {}", a.name, b.name);
                assert_ne!(a.name, b.name);
            }
            assert_eq!(PixelFormat::parse(a.name), Ok(a.format));
            assert_eq!(a.format.to_string(), a.name);
        }
    }

    #[test]
    fn design_values() {
        assert_eq!(PixelFormat::parse("0x32315659"), Ok(PixelFormat::YV12));
        assert_eq!(PixelFormat::parse("nv21"), Ok(PixelFormat::YCRCB_420_SP));
        assert_eq!(PixelFormat::Y8.0, 0x2020_3859);
        assert_eq!(PixelFormat::Y16.0, 0x2036_3159);
        assert_eq!(fourcc(b"NV12"), 0x3231_564e);
        assert!(PixelFormat(0x7777).info().is_none());
        assert!(PixelFormat::parse("NOPE").is_err());
    }

    #[test]
    fn components_fit_their_samples_without_overlap() {
        for info in FORMATS.iter() {
            for (i, p) in info.planes.iter().enumerate() {
                // A component may reach into the next pixel's sample only within one packing group
                // (YUYV's Cr follows the odd pixel's Y).
                let group_bits = p.bits_per_pixel * info.pixels_per_group;
                let mut used = 0u128;
                for comp in p.components {
                    let Some(bits) = comp.size_bits else {
                        // Only packed raw rows have no per-sample size.
                        assert_eq!(info.stride_unit, StrideUnit::Bytes, "{}", info.name);
                        continue;
                    };
                    assert!(bits > 0, "{} plane {i}", info.name);
                    assert!(
                        comp.offset_bits + bits <= group_bits,
                        "{} plane {i}",
                        info.name
                    );
                    let mask = ((1u128 << bits) - 1) << comp.offset_bits;
                    assert_eq!(used & mask, 0, "{} plane {i} overlaps", info.name);
                    used |= mask;
                }
                let described = !p.components.is_empty();
                let undescribable =
                    info.kind == FormatKind::Depth || info.format == PixelFormat::HSV_888;
                assert_eq!(described, !undescribable, "{} plane {i}", info.name);
            }
        }
    }

    #[test]
    fn components_android_checks() {
        use ComponentType as K;
        let layout = |f: PixelFormat| -> Vec<Vec<(K, u32, Option<u32>)>> {
            f.info()
                .unwrap()
                .planes
                .iter()
                .map(|p| {
                    p.components
                        .iter()
                        .map(|c| (c.kind, c.offset_bits, c.size_bits))
                        .collect()
                })
                .collect()
        };
        let rgba = vec![vec![
            (K::R, 0, Some(8)),
            (K::G, 8, Some(8)),
            (K::B, 16, Some(8)),
            (K::A, 24, Some(8)),
        ]];
        assert_eq!(layout(PixelFormat::RGBA_8888), rgba);
        assert_eq!(
            layout(PixelFormat::RGB_565),
            vec![vec![
                (K::B, 0, Some(5)),
                (K::G, 5, Some(6)),
                (K::R, 11, Some(5))
            ]]
        );
        assert_eq!(
            layout(PixelFormat::YV12),
            vec![
                vec![(K::Y, 0, Some(8))],
                vec![(K::Cr, 0, Some(8))],
                vec![(K::Cb, 0, Some(8))]
            ]
        );
        assert_eq!(
            layout(PixelFormat::YCRCB_420_SP)[1],
            vec![(K::Cr, 0, Some(8)), (K::Cb, 8, Some(8))]
        );
        assert_eq!(
            layout(PixelFormat::YCBCR_P010),
            vec![
                vec![(K::Y, 6, Some(10))],
                vec![(K::Cb, 6, Some(10)), (K::Cr, 22, Some(10))]
            ]
        );
        assert_eq!(layout(PixelFormat::RAW10), vec![vec![(K::Raw, 0, None)]]);
        assert_eq!(K::A.value(), 1 << 30);
        assert_eq!(K::Raw.value(), 1 << 20);
    }

    #[test]
    fn format_sets() {
        let set = FormatSet::EMPTY
            .with(PixelFormat::RGBA_8888)
            .with(PixelFormat::YV12);
        assert!(set.contains(PixelFormat::YV12));
        assert!(!set.contains(PixelFormat::BLOB));
        assert!(!set.contains(PixelFormat(12345)));
        assert_eq!(set.iter().count(), 2);
        assert!(FormatSet::ALL.contains(PixelFormat::HSV_888));
        assert!(FormatSet::of_kind(FormatKind::Raw).contains(PixelFormat::RAW10));
    }
}
