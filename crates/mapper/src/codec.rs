//! Byte encoding of the 23 standard metadata types, exactly as Android's gralloc4 and IMapper v5
//! encoders write them, and validating decoders for bytes that come from another process.
//!
//! Every encoding is a header — the name `android.hardware.graphics.common.StandardMetadataType`
//! as an `i64` length and its bytes, then the type's value as `i64` — followed by the payload. All
//! integers and floats are little-endian. Strings and byte arrays are an `i64` length and the
//! bytes, with no terminator. An unset optional value (the HDR types) encodes to no bytes at all.
//!
//! Decoding is strict: the header must name the expected type, every length must fit the bytes
//! that follow, and nothing may follow the payload. Nothing here panics or allocates more than the
//! input's own size, whatever the input.

use std::borrow::Cow;
use std::fmt;

/// The name every standard metadata encoding starts with.
pub const STANDARD_METADATA_TYPE: &str = "android.hardware.graphics.common.StandardMetadataType";
/// `ExtendableType` name of the standard chroma sitings.
pub const CHROMA_SITING: &str = "android.hardware.graphics.common.ChromaSiting";
/// `ExtendableType` name of the standard compressions.
pub const COMPRESSION: &str = "android.hardware.graphics.common.Compression";
/// `ExtendableType` name of the standard interlacings.
pub const INTERLACED: &str = "android.hardware.graphics.common.Interlaced";
/// `ExtendableType` name of the standard plane layout component types.
pub const PLANE_LAYOUT_COMPONENT_TYPE: &str =
    "android.hardware.graphics.common.PlaneLayoutComponentType";
/// Bytes of the header: the name's length, the name, the type value.
pub const HEADER_SIZE: usize = 8 + STANDARD_METADATA_TYPE.len() + 8;

/// `ChromaSiting::NONE`: the format has no chroma.
pub const CHROMA_SITING_NONE: i64 = 0;
/// `ChromaSiting::UNKNOWN`: the format has chroma, sited in a way not known.
pub const CHROMA_SITING_UNKNOWN: i64 = 1;
/// `Compression::NONE`.
pub const COMPRESSION_NONE: i64 = 0;
/// `Interlaced::NONE`.
pub const INTERLACED_NONE: i64 = 0;

macro_rules! standard_types {
    ($($(#[$doc:meta])* $name:ident = $value:expr,)*) => {
        /// `StandardMetadataType` (without `INVALID`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum StandardType {
            $($(#[$doc])* $name = $value,)*
        }

        impl StandardType {
            /// Every type, in value order.
            pub const ALL: [StandardType; 23] = [$(StandardType::$name),*];
        }
    };
}

standard_types! {
    /// `BUFFER_ID`: `u64`.
    BufferId = 1,
    /// `NAME`: string.
    Name = 2,
    /// `WIDTH`: `u64`.
    Width = 3,
    /// `HEIGHT`: `u64`.
    Height = 4,
    /// `LAYER_COUNT`: `u64`.
    LayerCount = 5,
    /// `PIXEL_FORMAT_REQUESTED`: `i32`.
    PixelFormatRequested = 6,
    /// `PIXEL_FORMAT_FOURCC`: `u32`.
    PixelFormatFourcc = 7,
    /// `PIXEL_FORMAT_MODIFIER`: `u64`.
    PixelFormatModifier = 8,
    /// `USAGE`: `i64`.
    Usage = 9,
    /// `ALLOCATION_SIZE`: `u64`.
    AllocationSize = 10,
    /// `PROTECTED_CONTENT`: `u64`.
    ProtectedContent = 11,
    /// `COMPRESSION`: `ExtendableType`.
    Compression = 12,
    /// `INTERLACED`: `ExtendableType`.
    Interlaced = 13,
    /// `CHROMA_SITING`: `ExtendableType`.
    ChromaSiting = 14,
    /// `PLANE_LAYOUTS`: list of `PlaneLayout`.
    PlaneLayouts = 15,
    /// `CROP`: list of `Rect`.
    Crop = 16,
    /// `DATASPACE`: `i32`.
    Dataspace = 17,
    /// `BLEND_MODE`: `i32`.
    BlendMode = 18,
    /// `SMPTE2086`: optional 10 × `f32`.
    Smpte2086 = 19,
    /// `CTA861_3`: optional 2 × `f32`.
    Cta861_3 = 20,
    /// `SMPTE2094_40`: optional byte array.
    Smpte2094_40 = 21,
    /// `SMPTE2094_10`: optional byte array.
    Smpte2094_10 = 22,
    /// `STRIDE`: `u32`.
    Stride = 23,
}

impl StandardType {
    /// The type for a wire value; `None` for `INVALID` (0) and values this version does not know.
    pub fn from_value(value: i64) -> Option<StandardType> {
        let index = usize::try_from(value.checked_sub(1)?).ok()?;
        StandardType::ALL.get(index).copied()
    }

    /// The wire value.
    pub const fn value(self) -> i64 {
        self as i64
    }
}

/// `android.hardware.graphics.common.ExtendableType`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendableType {
    /// The name of the type family.
    pub name: Cow<'static, str>,
    /// The value within it.
    pub value: i64,
}

impl ExtendableType {
    /// A value of a standard family.
    pub const fn standard(name: &'static str, value: i64) -> ExtendableType {
        ExtendableType {
            name: Cow::Borrowed(name),
            value,
        }
    }
}

/// `PlaneLayoutComponent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaneLayoutComponent {
    /// The component type (`PlaneLayoutComponentType` for the standard ones).
    pub component_type: ExtendableType,
    /// First bit within the sample.
    pub offset_in_bits: i64,
    /// Bits, -1 when samples are not whole units.
    pub size_in_bits: i64,
}

/// `PlaneLayout`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaneLayout {
    /// The components of one sample.
    pub components: Vec<PlaneLayoutComponent>,
    /// Where the plane starts in the buffer.
    pub offset_in_bytes: i64,
    /// Bits from one sample to the next in a row (0 when not whole).
    pub sample_increment_in_bits: i64,
    /// Bytes from one row to the next.
    pub stride_in_bytes: i64,
    /// Samples in a row.
    pub width_in_samples: i64,
    /// Rows of samples.
    pub height_in_samples: i64,
    /// Bytes of the plane.
    pub total_size_in_bytes: i64,
    /// Horizontal subsampling relative to the image.
    pub horizontal_subsampling: i64,
    /// Vertical subsampling relative to the image.
    pub vertical_subsampling: i64,
}

/// `Rect`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rect {
    /// Left.
    pub left: i32,
    /// Top.
    pub top: i32,
    /// Right (exclusive).
    pub right: i32,
    /// Bottom (exclusive).
    pub bottom: i32,
}

/// `XyColor`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct XyColor {
    /// x.
    pub x: f32,
    /// y.
    pub y: f32,
}

/// `Smpte2086`: static HDR mastering display metadata.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Smpte2086 {
    /// Red primary.
    pub primary_red: XyColor,
    /// Green primary.
    pub primary_green: XyColor,
    /// Blue primary.
    pub primary_blue: XyColor,
    /// White point.
    pub white_point: XyColor,
    /// Maximum luminance.
    pub max_luminance: f32,
    /// Minimum luminance.
    pub min_luminance: f32,
}

impl Smpte2086 {
    /// The ten floats in encoding order.
    pub fn to_floats(&self) -> [f32; 10] {
        [
            self.primary_red.x,
            self.primary_red.y,
            self.primary_green.x,
            self.primary_green.y,
            self.primary_blue.x,
            self.primary_blue.y,
            self.white_point.x,
            self.white_point.y,
            self.max_luminance,
            self.min_luminance,
        ]
    }

    /// From the ten floats in encoding order.
    pub fn from_floats(f: [f32; 10]) -> Smpte2086 {
        let [rx, ry, gx, gy, bx, by, wx, wy, max_luminance, min_luminance] = f;
        Smpte2086 {
            primary_red: XyColor { x: rx, y: ry },
            primary_green: XyColor { x: gx, y: gy },
            primary_blue: XyColor { x: bx, y: by },
            white_point: XyColor { x: wx, y: wy },
            max_luminance,
            min_luminance,
        }
    }
}

/// `Cta861_3`: static HDR content light levels.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cta861_3 {
    /// Maximum content light level.
    pub max_content_light_level: f32,
    /// Maximum frame-average light level.
    pub max_frame_average_light_level: f32,
}

/// A typed value of one standard metadata type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `BUFFER_ID`.
    BufferId(u64),
    /// `NAME`, as bytes: the encoding carries bytes, whatever their text encoding.
    Name(Vec<u8>),
    /// `WIDTH`.
    Width(u64),
    /// `HEIGHT`.
    Height(u64),
    /// `LAYER_COUNT`.
    LayerCount(u64),
    /// `PIXEL_FORMAT_REQUESTED`.
    PixelFormatRequested(i32),
    /// `PIXEL_FORMAT_FOURCC`.
    PixelFormatFourcc(u32),
    /// `PIXEL_FORMAT_MODIFIER`.
    PixelFormatModifier(u64),
    /// `USAGE`.
    Usage(i64),
    /// `ALLOCATION_SIZE`.
    AllocationSize(u64),
    /// `PROTECTED_CONTENT`.
    ProtectedContent(u64),
    /// `COMPRESSION`.
    Compression(ExtendableType),
    /// `INTERLACED`.
    Interlaced(ExtendableType),
    /// `CHROMA_SITING`.
    ChromaSiting(ExtendableType),
    /// `PLANE_LAYOUTS`.
    PlaneLayouts(Vec<PlaneLayout>),
    /// `CROP`.
    Crop(Vec<Rect>),
    /// `DATASPACE`.
    Dataspace(i32),
    /// `BLEND_MODE`.
    BlendMode(i32),
    /// `SMPTE2086` (`None`: unset).
    Smpte2086(Option<Smpte2086>),
    /// `CTA861_3` (`None`: unset).
    Cta861_3(Option<Cta861_3>),
    /// `SMPTE2094_40` (`None`: unset).
    Smpte2094_40(Option<Vec<u8>>),
    /// `SMPTE2094_10` (`None`: unset).
    Smpte2094_10(Option<Vec<u8>>),
    /// `STRIDE`.
    Stride(u32),
}

/// Why bytes are not a valid encoding of the expected type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end inside a field.
    Truncated {
        /// Offset of the field.
        at: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        left: usize,
    },
    /// The header does not name `StandardMetadataType`.
    NotStandard,
    /// The header names another standard type.
    WrongType {
        /// The type expected.
        expected: i64,
        /// The type found.
        found: i64,
    },
    /// A length or count that is negative or longer than the bytes that follow.
    BadLength {
        /// Offset of the field.
        at: usize,
        /// Its value.
        length: i64,
    },
    /// Bytes after the encoding.
    Trailing {
        /// How many.
        extra: usize,
    },
    /// An `ExtendableType` name that is not UTF-8 (it is an AIDL `String`).
    NotUtf8 {
        /// Offset of the name's bytes.
        at: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { at, needed, left } => {
                write!(
                    f,
                    "truncated at byte {at}: {needed} bytes needed, {left} left"
                )
            }
            DecodeError::NotStandard => {
                write!(f, "the header does not name {STANDARD_METADATA_TYPE}")
            }
            DecodeError::WrongType { expected, found } => {
                write!(f, "the header names type {found}, expected {expected}")
            }
            DecodeError::BadLength { at, length } => {
                write!(
                    f,
                    "length {length} at byte {at} does not fit the bytes that follow"
                )
            }
            DecodeError::Trailing { extra } => write!(f, "{extra} bytes after the value"),
            DecodeError::NotUtf8 { at } => write!(f, "the type name at byte {at} is not UTF-8"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Appends fields to an encoding.
struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn f32(&mut self, v: f32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        // A Vec never holds more than isize::MAX bytes, so the length always fits an i64.
        self.i64(i64::try_from(v.len()).unwrap_or(i64::MAX));
        self.0.extend_from_slice(v);
        self
    }
    fn extendable(&mut self, v: &ExtendableType) -> &mut Self {
        self.bytes(v.name.as_bytes()).i64(v.value)
    }
    fn header(&mut self, t: StandardType) -> &mut Self {
        self.bytes(STANDARD_METADATA_TYPE.as_bytes()).i64(t.value())
    }
}

/// Reads fields from untrusted bytes; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let left = self.bytes.len() - self.at.min(self.bytes.len());
        let field = self
            .at
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.at..end))
            .ok_or(DecodeError::Truncated {
                at: self.at,
                needed: n,
                left,
            })?;
        self.at += n;
        Ok(field)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_le_bytes)
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_le_bytes)
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }
    fn f32(&mut self) -> Result<f32, DecodeError> {
        self.array().map(f32::from_le_bytes)
    }
    /// A length or count: not negative and, counted in `unit`-byte items, within what is left.
    /// Checked before anything is allocated for it.
    fn count(&mut self, unit: usize) -> Result<usize, DecodeError> {
        let at = self.at;
        let length = self.i64()?;
        let left = self.bytes.len().saturating_sub(self.at);
        usize::try_from(length)
            .ok()
            .filter(|&n| n.checked_mul(unit).is_some_and(|bytes| bytes <= left))
            .ok_or(DecodeError::BadLength { at, length })
    }
    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.count(1)?;
        self.take(n)
    }
    fn extendable(&mut self) -> Result<ExtendableType, DecodeError> {
        let at = self.at + 8;
        // ExtendableType's name is an AIDL String, so its encoding is UTF-8.
        let name = std::str::from_utf8(self.bytes()?).map_err(|_| DecodeError::NotUtf8 { at })?;
        Ok(ExtendableType {
            name: Cow::Owned(name.to_owned()),
            value: self.i64()?,
        })
    }
    fn header(&mut self, t: StandardType) -> Result<(), DecodeError> {
        if self.bytes().ok() != Some(STANDARD_METADATA_TYPE.as_bytes()) {
            return Err(DecodeError::NotStandard);
        }
        let found = self.i64()?;
        if found != t.value() {
            return Err(DecodeError::WrongType {
                expected: t.value(),
                found,
            });
        }
        Ok(())
    }
    fn finish(self) -> Result<(), DecodeError> {
        match self.bytes.len().saturating_sub(self.at) {
            0 => Ok(()),
            extra => Err(DecodeError::Trailing { extra }),
        }
    }
}

/// Smallest encoding of one `PlaneLayout` (no components): count and 8 fields.
const MIN_PLANE_BYTES: usize = 8 * 9;
/// Smallest encoding of one component: empty name, value, offset, size.
const MIN_COMPONENT_BYTES: usize = 8 * 4;
/// Encoding of one `Rect`.
const RECT_BYTES: usize = 16;

impl Value {
    /// The type this value belongs to.
    pub fn standard_type(&self) -> StandardType {
        match self {
            Value::BufferId(_) => StandardType::BufferId,
            Value::Name(_) => StandardType::Name,
            Value::Width(_) => StandardType::Width,
            Value::Height(_) => StandardType::Height,
            Value::LayerCount(_) => StandardType::LayerCount,
            Value::PixelFormatRequested(_) => StandardType::PixelFormatRequested,
            Value::PixelFormatFourcc(_) => StandardType::PixelFormatFourcc,
            Value::PixelFormatModifier(_) => StandardType::PixelFormatModifier,
            Value::Usage(_) => StandardType::Usage,
            Value::AllocationSize(_) => StandardType::AllocationSize,
            Value::ProtectedContent(_) => StandardType::ProtectedContent,
            Value::Compression(_) => StandardType::Compression,
            Value::Interlaced(_) => StandardType::Interlaced,
            Value::ChromaSiting(_) => StandardType::ChromaSiting,
            Value::PlaneLayouts(_) => StandardType::PlaneLayouts,
            Value::Crop(_) => StandardType::Crop,
            Value::Dataspace(_) => StandardType::Dataspace,
            Value::BlendMode(_) => StandardType::BlendMode,
            Value::Smpte2086(_) => StandardType::Smpte2086,
            Value::Cta861_3(_) => StandardType::Cta861_3,
            Value::Smpte2094_40(_) => StandardType::Smpte2094_40,
            Value::Smpte2094_10(_) => StandardType::Smpte2094_10,
            Value::Stride(_) => StandardType::Stride,
        }
    }

    /// Appends the encoding to `out`: header and payload, or nothing for an unset optional.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let unset = matches!(
            self,
            Value::Smpte2086(None)
                | Value::Cta861_3(None)
                | Value::Smpte2094_40(None)
                | Value::Smpte2094_10(None)
        );
        if unset {
            return;
        }
        let mut w = Writer(out);
        w.header(self.standard_type());
        match self {
            Value::BufferId(v)
            | Value::Width(v)
            | Value::Height(v)
            | Value::LayerCount(v)
            | Value::PixelFormatModifier(v)
            | Value::AllocationSize(v)
            | Value::ProtectedContent(v) => {
                w.u64(*v);
            }
            Value::Name(v) => {
                w.bytes(v);
            }
            Value::PixelFormatRequested(v) | Value::Dataspace(v) | Value::BlendMode(v) => {
                w.i32(*v);
            }
            Value::PixelFormatFourcc(v) | Value::Stride(v) => {
                w.u32(*v);
            }
            Value::Usage(v) => {
                w.i64(*v);
            }
            Value::Compression(v) | Value::Interlaced(v) | Value::ChromaSiting(v) => {
                w.extendable(v);
            }
            Value::PlaneLayouts(planes) => {
                w.i64(planes.len() as i64);
                for p in planes {
                    w.i64(p.components.len() as i64);
                    for c in &p.components {
                        w.extendable(&c.component_type)
                            .i64(c.offset_in_bits)
                            .i64(c.size_in_bits);
                    }
                    w.i64(p.offset_in_bytes)
                        .i64(p.sample_increment_in_bits)
                        .i64(p.stride_in_bytes)
                        .i64(p.width_in_samples)
                        .i64(p.height_in_samples)
                        .i64(p.total_size_in_bytes)
                        .i64(p.horizontal_subsampling)
                        .i64(p.vertical_subsampling);
                }
            }
            Value::Crop(rects) => {
                w.i64(rects.len() as i64);
                for r in rects {
                    w.i32(r.left).i32(r.top).i32(r.right).i32(r.bottom);
                }
            }
            Value::Smpte2086(Some(v)) => {
                for f in v.to_floats() {
                    w.f32(f);
                }
            }
            Value::Cta861_3(Some(v)) => {
                w.f32(v.max_content_light_level)
                    .f32(v.max_frame_average_light_level);
            }
            Value::Smpte2094_40(Some(v)) | Value::Smpte2094_10(Some(v)) => {
                w.bytes(v);
            }
            Value::Smpte2086(None)
            | Value::Cta861_3(None)
            | Value::Smpte2094_40(None)
            | Value::Smpte2094_10(None) => {}
        }
    }

    /// The encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes an encoding of type `t`. For the optional types no bytes means unset; for every
    /// other type no bytes is a truncated encoding.
    pub fn decode(t: StandardType, bytes: &[u8]) -> Result<Value, DecodeError> {
        use StandardType as T;
        if bytes.is_empty() {
            match t {
                T::Smpte2086 => return Ok(Value::Smpte2086(None)),
                T::Cta861_3 => return Ok(Value::Cta861_3(None)),
                T::Smpte2094_40 => return Ok(Value::Smpte2094_40(None)),
                T::Smpte2094_10 => return Ok(Value::Smpte2094_10(None)),
                _ => {}
            }
        }
        let mut r = Reader { bytes, at: 0 };
        r.header(t)?;
        let value = match t {
            T::BufferId => Value::BufferId(r.u64()?),
            T::Name => Value::Name(r.bytes()?.to_vec()),
            T::Width => Value::Width(r.u64()?),
            T::Height => Value::Height(r.u64()?),
            T::LayerCount => Value::LayerCount(r.u64()?),
            T::PixelFormatRequested => Value::PixelFormatRequested(r.i32()?),
            T::PixelFormatFourcc => Value::PixelFormatFourcc(r.u32()?),
            T::PixelFormatModifier => Value::PixelFormatModifier(r.u64()?),
            T::Usage => Value::Usage(r.i64()?),
            T::AllocationSize => Value::AllocationSize(r.u64()?),
            T::ProtectedContent => Value::ProtectedContent(r.u64()?),
            T::Compression => Value::Compression(r.extendable()?),
            T::Interlaced => Value::Interlaced(r.extendable()?),
            T::ChromaSiting => Value::ChromaSiting(r.extendable()?),
            T::PlaneLayouts => {
                let count = r.count(MIN_PLANE_BYTES)?;
                let mut planes = Vec::with_capacity(count);
                for _ in 0..count {
                    let n = r.count(MIN_COMPONENT_BYTES)?;
                    let mut components = Vec::with_capacity(n);
                    for _ in 0..n {
                        components.push(PlaneLayoutComponent {
                            component_type: r.extendable()?,
                            offset_in_bits: r.i64()?,
                            size_in_bits: r.i64()?,
                        });
                    }
                    planes.push(PlaneLayout {
                        components,
                        offset_in_bytes: r.i64()?,
                        sample_increment_in_bits: r.i64()?,
                        stride_in_bytes: r.i64()?,
                        width_in_samples: r.i64()?,
                        height_in_samples: r.i64()?,
                        total_size_in_bytes: r.i64()?,
                        horizontal_subsampling: r.i64()?,
                        vertical_subsampling: r.i64()?,
                    });
                }
                Value::PlaneLayouts(planes)
            }
            T::Crop => {
                let count = r.count(RECT_BYTES)?;
                let mut rects = Vec::with_capacity(count);
                for _ in 0..count {
                    rects.push(Rect {
                        left: r.i32()?,
                        top: r.i32()?,
                        right: r.i32()?,
                        bottom: r.i32()?,
                    });
                }
                Value::Crop(rects)
            }
            T::Dataspace => Value::Dataspace(r.i32()?),
            T::BlendMode => Value::BlendMode(r.i32()?),
            T::Smpte2086 => {
                let mut f = [0f32; 10];
                for slot in f.iter_mut() {
                    *slot = r.f32()?;
                }
                Value::Smpte2086(Some(Smpte2086::from_floats(f)))
            }
            T::Cta861_3 => Value::Cta861_3(Some(Cta861_3 {
                max_content_light_level: r.f32()?,
                max_frame_average_light_level: r.f32()?,
            })),
            T::Smpte2094_40 => Value::Smpte2094_40(Some(r.bytes()?.to_vec())),
            T::Smpte2094_10 => Value::Smpte2094_10(Some(r.bytes()?.to_vec())),
            T::Stride => Value::Stride(r.u32()?),
        };
        r.finish()?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests;
