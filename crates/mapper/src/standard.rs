//! The standard metadata of one imported buffer: what the handle's ints say ([`BufferInfo`]) and
//! what the shared metadata region holds, read and written through its [`Mapping`].
//!
//! The region is shared with every other process that imported the buffer, and with no lock:
//! Android forbids fences for metadata. It is only ever copied in and out, never referenced, and
//! everything read from it is bounded and checked like any other input from another process.

use crate::codec::{self, DecodeError, ExtendableType, StandardType, Value};
use crate::error::{BAD_BUFFER, BAD_VALUE, NO_RESOURCES, UNSUPPORTED};
use central_gralloc::format::{Component, ComponentType, PlaneFormat, DRM_FORMAT_MOD_LINEAR};
use central_gralloc_memory::metadata as region;
use central_gralloc_memory::{BufferInfo, Mapping, MemError};
use std::fmt;
use std::sync::atomic::{fence, Ordering};

/// Largest value of `BlendMode` (`COVERAGE`).
const BLEND_MODE_MAX: i32 = 3;

/// Why a metadata get or set failed.
#[derive(Debug)]
pub enum MetadataError {
    /// Not a standard type this mapper knows (`INVALID`, negative, or beyond `STRIDE`).
    Unsupported(i64),
    /// A type that can be read but never set: it is fixed when the buffer is allocated.
    ReadOnly(StandardType),
    /// The bytes to set are not an encoding of the type.
    Malformed(DecodeError),
    /// A well-formed value the type does not allow, or that the region has no room for.
    OutOfRange {
        /// What.
        what: &'static str,
        /// The value.
        value: i64,
    },
    /// The shared region holds something no mapper writes (another process scribbled on it).
    Corrupt(&'static str),
    /// Reading or writing the region failed.
    Region(MemError),
}

impl MetadataError {
    /// The `AIMapper_Error` value: `UNSUPPORTED` for an unknown type; `BAD_VALUE` for a fixed type
    /// (IMapper.h: "the field is constant and can never be set") and for a malformed or
    /// out-of-range value (what reference mappers return); `BAD_BUFFER` for a corrupt region;
    /// `NO_RESOURCES` when the region cannot be read or written.
    pub fn code(&self) -> i32 {
        match self {
            MetadataError::Unsupported(_) => UNSUPPORTED,
            MetadataError::ReadOnly(_)
            | MetadataError::Malformed(_)
            | MetadataError::OutOfRange { .. } => BAD_VALUE,
            MetadataError::Corrupt(_) => BAD_BUFFER,
            MetadataError::Region(_) => NO_RESOURCES,
        }
    }
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::Unsupported(t) => write!(f, "unsupported metadata type {t}"),
            MetadataError::ReadOnly(t) => write!(f, "{t:?} is read-only"),
            MetadataError::Malformed(e) => write!(f, "malformed value: {e}"),
            MetadataError::OutOfRange { what, value } => write!(f, "{what} {value} out of range"),
            MetadataError::Corrupt(what) => write!(f, "metadata region holds an invalid {what}"),
            MetadataError::Region(e) => write!(f, "metadata region: {e}"),
        }
    }
}

impl std::error::Error for MetadataError {}

impl From<MemError> for MetadataError {
    fn from(e: MemError) -> MetadataError {
        MetadataError::Region(e)
    }
}

/// One row of `listSupportedMetadataTypes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupportedType {
    /// The `StandardMetadataType` value.
    pub value: i64,
    /// Whether `get` answers it.
    pub gettable: bool,
    /// Whether `set` accepts it.
    pub settable: bool,
}

impl StandardType {
    /// Whether a client may set it: the values the framework sets (dataspace, blend mode, the
    /// static and dynamic HDR metadata). Everything else is fixed at allocation.
    pub const fn settable(self) -> bool {
        matches!(
            self,
            StandardType::Dataspace
                | StandardType::BlendMode
                | StandardType::Smpte2086
                | StandardType::Cta861_3
                | StandardType::Smpte2094_40
                | StandardType::Smpte2094_10
        )
    }
}

const fn supported(t: StandardType) -> SupportedType {
    SupportedType {
        value: t.value(),
        gettable: true,
        settable: t.settable(),
    }
}

/// Every standard type, all gettable, the framework's ones settable. SMPTE2094_10 and _40 are
/// both gettable and settable, as VTS requires of a mapper that can get them.
pub const SUPPORTED: &[SupportedType] = &{
    let mut all = [supported(StandardType::BufferId); 23];
    let mut i = 0;
    while i < all.len() {
        all[i] = supported(StandardType::ALL[i]);
        i += 1;
    }
    all
};

fn read_array<const N: usize>(map: &Mapping, offset: usize) -> Result<[u8; N], MetadataError> {
    let mut out = [0u8; N];
    map.read(offset, &mut out)?;
    Ok(out)
}

fn read_i32(map: &Mapping, offset: usize) -> Result<i32, MetadataError> {
    read_array(map, offset).map(i32::from_le_bytes)
}

fn read_u32(map: &Mapping, offset: usize) -> Result<u32, MetadataError> {
    read_array(map, offset).map(u32::from_le_bytes)
}

fn read_f32s<const N: usize>(map: &Mapping, offset: usize) -> Result<[f32; N], MetadataError> {
    let mut out = [0f32; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = f32::from_le_bytes(read_array(map, offset + 4 * i)?);
    }
    Ok(out)
}

/// Whether an optional value's presence word says present. Anything but 0 or 1 was written by
/// something other than a mapper.
fn present(map: &Mapping, offset: usize, what: &'static str) -> Result<bool, MetadataError> {
    match read_u32(map, offset)? {
        0 => Ok(false),
        1 => {
            // Pairs with the release fence in `publish`: the values read after this were
            // written before the presence word was.
            fence(Ordering::Acquire);
            Ok(true)
        }
        _ => Err(MetadataError::Corrupt(what)),
    }
}

/// A dynamic HDR blob: `None` when its length word is 0.
fn read_blob(
    map: &Mapping,
    len_offset: usize,
    offset: usize,
    cap: usize,
    what: &'static str,
) -> Result<Option<Vec<u8>>, MetadataError> {
    let len = usize::try_from(read_u32(map, len_offset)?).unwrap_or(usize::MAX);
    if len == 0 {
        return Ok(None);
    }
    if len > cap {
        return Err(MetadataError::Corrupt(what));
    }
    fence(Ordering::Acquire);
    let mut blob = vec![0u8; len];
    map.read(offset, &mut blob)?;
    Ok(Some(blob))
}

/// Makes values written before it visible to a reader that sees `word` set after it: values
/// first, then the presence (or length) word, with a release fence between, so a reader in another
/// process never sees a value marked present while it is still half-written.
fn publish(map: &Mapping, word_offset: usize, word: u32) -> Result<(), MetadataError> {
    fence(Ordering::Release);
    map.write(word_offset, &word.to_le_bytes())?;
    Ok(())
}

fn component(c: &Component) -> codec::PlaneLayoutComponent {
    codec::PlaneLayoutComponent {
        component_type: ExtendableType::standard(
            codec::PLANE_LAYOUT_COMPONENT_TYPE,
            c.kind.value(),
        ),
        offset_in_bits: i64::from(c.offset_bits),
        // -1: samples packed across bytes have no size of their own (RAW10, RAW12).
        size_in_bits: c.size_bits.map_or(-1, i64::from),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The format-table planes of the buffer's laid-out format, one per plane the handle records.
fn plane_formats(info: &BufferInfo) -> &'static [PlaneFormat] {
    info.format.info().map_or(&[], |f| f.planes)
}

/// `PLANE_LAYOUTS`: the planes the allocator recorded in the handle (offsets, strides and sizes
/// exactly as laid out), described with the components of the format table. Planes appear in
/// memory order, which for YV12 is Y, Cr, Cb.
pub fn plane_layouts(info: &BufferInfo) -> Vec<codec::PlaneLayout> {
    info.planes()
        .iter()
        .zip(plane_formats(info))
        .map(|(p, f)| {
            let (hsub, vsub) = (f.hsub.max(1), f.vsub.max(1));
            // Rows of the image in this plane; the plane itself may hold padding rows after them.
            let rows = u64::from(info.height)
                .div_ceil(u64::from(vsub))
                .min(p.height);
            codec::PlaneLayout {
                components: f.components.iter().map(component).collect(),
                offset_in_bytes: to_i64(p.offset),
                // Samples that are not whole bytes (packed RAW10/RAW12) have no increment.
                sample_increment_in_bits: if f.bits_per_pixel % 8 == 0 {
                    i64::from(f.bits_per_pixel)
                } else {
                    0
                },
                stride_in_bytes: to_i64(p.stride),
                width_in_samples: to_i64(p.width),
                height_in_samples: to_i64(rows),
                total_size_in_bytes: to_i64(p.size),
                horizontal_subsampling: i64::from(hsub),
                vertical_subsampling: i64::from(vsub),
            }
        })
        .collect()
}

/// `CROP`: the region holds one rectangle in image pixels; each plane gets it in its own samples
/// (Android defines the crop per plane), so a 4:2:0 chroma plane's crop is half as wide and high,
/// rounded outwards.
fn crops(info: &BufferInfo, map: &Mapping) -> Result<Vec<codec::Rect>, MetadataError> {
    let [left, top, right, bottom] = read_array::<16>(map, region::OFFSET_CROP).map(|b| {
        let at = |i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        [at(0), at(4), at(8), at(12)]
    })?;
    let scale = |v: i32, sub: u32, up: bool| {
        let (v, sub) = (i64::from(v), i64::from(sub.max(1)));
        let scaled = if up {
            (v + sub - 1).div_euclid(sub)
        } else {
            v.div_euclid(sub)
        };
        // Dividing an i32 by a positive divisor stays within i32.
        i32::try_from(scaled).unwrap_or(if scaled < 0 { i32::MIN } else { i32::MAX })
    };
    Ok(plane_formats(info)
        .iter()
        .take(info.planes().len())
        .map(|f| codec::Rect {
            left: scale(left, f.hsub, false),
            top: scale(top, f.vsub, false),
            right: scale(right, f.hsub, true),
            bottom: scale(bottom, f.vsub, true),
        })
        .collect())
}

/// `CHROMA_SITING`: `NONE` when the format has no chroma (RGB, raw, Y8), `UNKNOWN` when it has:
/// the siting is chosen by whoever produces the content, the allocator never learns it, and it
/// is not settable, so claiming a particular siting would be a guess.
fn chroma_siting(info: &BufferInfo) -> i64 {
    let chroma = plane_formats(info)
        .iter()
        .flat_map(|p| p.components)
        .any(|c| matches!(c.kind, ComponentType::Cb | ComponentType::Cr));
    if chroma {
        codec::CHROMA_SITING_UNKNOWN
    } else {
        codec::CHROMA_SITING_NONE
    }
}

/// The name from the region: the bytes up to the first NUL inside the field, or the whole field
/// if another process removed the terminator. Bytes, not text: the encoding carries bytes.
fn name(map: &Mapping) -> Result<Vec<u8>, MetadataError> {
    let field = read_array::<{ region::NAME_SIZE }>(map, region::OFFSET_NAME)?;
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    Ok(field.get(..end).unwrap_or(&[]).to_vec())
}

/// The typed value of `t` for the buffer described by `info` with metadata region `map`.
pub fn read(info: &BufferInfo, map: &Mapping, t: StandardType) -> Result<Value, MetadataError> {
    use StandardType as T;
    Ok(match t {
        T::BufferId => Value::BufferId(info.id),
        T::Name => Value::Name(name(map)?),
        T::Width => Value::Width(u64::from(info.width)),
        T::Height => Value::Height(u64::from(info.height)),
        T::LayerCount => Value::LayerCount(u64::from(info.layer_count)),
        T::PixelFormatRequested => Value::PixelFormatRequested(info.requested_format.0),
        T::PixelFormatFourcc => Value::PixelFormatFourcc(info.fourcc),
        T::PixelFormatModifier => Value::PixelFormatModifier(DRM_FORMAT_MOD_LINEAR),
        // Bit-cast: BufferUsage is a 64-bit enum and FRONT_BUFFER sits above bit 31.
        T::Usage => Value::Usage(info.usage.bits() as i64),
        // The buffer's memory, not the metadata region: what a client maps and VTS bounds.
        T::AllocationSize => Value::AllocationSize(info.size),
        T::ProtectedContent => Value::ProtectedContent(u64::from(info.usage.protected())),
        T::Compression => Value::Compression(ExtendableType::standard(
            codec::COMPRESSION,
            codec::COMPRESSION_NONE,
        )),
        T::Interlaced => Value::Interlaced(ExtendableType::standard(
            codec::INTERLACED,
            codec::INTERLACED_NONE,
        )),
        T::ChromaSiting => Value::ChromaSiting(ExtendableType::standard(
            codec::CHROMA_SITING,
            chroma_siting(info),
        )),
        T::PlaneLayouts => Value::PlaneLayouts(plane_layouts(info)),
        T::Crop => Value::Crop(crops(info, map)?),
        T::Dataspace => Value::Dataspace(read_i32(map, region::OFFSET_DATASPACE)?),
        T::BlendMode => Value::BlendMode(read_i32(map, region::OFFSET_BLEND_MODE)?),
        T::Smpte2086 => Value::Smpte2086(
            if present(map, region::OFFSET_SMPTE2086, "SMPTE 2086 presence word")? {
                Some(codec::Smpte2086::from_floats(read_f32s(
                    map,
                    region::OFFSET_SMPTE2086 + 4,
                )?))
            } else {
                None
            },
        ),
        T::Cta861_3 => Value::Cta861_3(
            if present(map, region::OFFSET_CTA861_3, "CTA 861.3 presence word")? {
                let [max_content_light_level, max_frame_average_light_level] =
                    read_f32s(map, region::OFFSET_CTA861_3 + 4)?;
                Some(codec::Cta861_3 {
                    max_content_light_level,
                    max_frame_average_light_level,
                })
            } else {
                None
            },
        ),
        T::Smpte2094_40 => Value::Smpte2094_40(read_blob(
            map,
            region::OFFSET_SMPTE2094_40_LEN,
            region::OFFSET_SMPTE2094_40,
            region::SMPTE2094_40_CAP,
            "SMPTE 2094-40 length",
        )?),
        T::Smpte2094_10 => Value::Smpte2094_10(read_blob(
            map,
            region::OFFSET_SMPTE2094_10_LEN,
            region::OFFSET_SMPTE2094_10,
            region::SMPTE2094_10_CAP,
            "SMPTE 2094-10 length",
        )?),
        T::Stride => Value::Stride(info.stride),
    })
}

fn standard_type(value: i64) -> Result<StandardType, MetadataError> {
    StandardType::from_value(value).ok_or(MetadataError::Unsupported(value))
}

/// Clears `out` and writes the encoding of `standard_type` into it (nothing for an unset
/// optional type).
pub fn get(
    info: &BufferInfo,
    map: &Mapping,
    standard_type: i64,
    out: &mut Vec<u8>,
) -> Result<(), MetadataError> {
    out.clear();
    let t = self::standard_type(standard_type)?;
    read(info, map, t)?.encode(out);
    Ok(())
}

/// `getStandardMetadata`'s contract on a destination of `dest.len()` bytes: returns the size of
/// the encoding and copies it only if it fits (a size query passes an empty `dest`), leaving
/// `dest` untouched otherwise. An encoding too large for the `int32_t` return value is
/// `BAD_VALUE`, as in AOSP's encoder (none of ours comes near).
pub fn get_into(
    info: &BufferInfo,
    map: &Mapping,
    standard_type: i64,
    dest: &mut [u8],
) -> Result<i32, MetadataError> {
    let mut bytes = Vec::new();
    get(info, map, standard_type, &mut bytes)?;
    let size = i32::try_from(bytes.len()).map_err(|_| MetadataError::OutOfRange {
        what: "encoded size",
        value: to_i64(bytes.len() as u64),
    })?;
    if let Some(dest) = dest.get_mut(..bytes.len()) {
        dest.copy_from_slice(&bytes);
    }
    Ok(size)
}

/// Sets `standard_type` of the buffer `info` describes from its encoding `value`: the settable
/// types write the region, size 0 clears an optional one. Read-only types are refused with
/// [`MetadataError::ReadOnly`], unknown ones with [`MetadataError::Unsupported`], bad bytes with
/// [`MetadataError::Malformed`]. On any error the region is unchanged. (No settable type depends
/// on the buffer's description today; `info` keeps `get` and `set` called alike.)
pub fn set(
    _info: &BufferInfo,
    map: &Mapping,
    standard_type: i64,
    value: &[u8],
) -> Result<(), MetadataError> {
    let t = self::standard_type(standard_type)?;
    if !t.settable() {
        return Err(MetadataError::ReadOnly(t));
    }
    let value = Value::decode(t, value).map_err(MetadataError::Malformed)?;
    write(map, &value)
}

fn write_blob(
    map: &Mapping,
    len_offset: usize,
    offset: usize,
    cap: usize,
    blob: Option<&[u8]>,
    what: &'static str,
) -> Result<(), MetadataError> {
    // Length 0 is how the region says "unset", so a present but empty blob clears the value:
    // both mean there is no dynamic metadata.
    let blob = blob.unwrap_or(&[]);
    if blob.len() > cap {
        return Err(MetadataError::OutOfRange {
            what,
            value: to_i64(blob.len() as u64),
        });
    }
    map.write(offset, blob)?;
    // `cap` fits a u32 (checked above that the length is at most `cap`).
    publish(map, len_offset, u32::try_from(blob.len()).unwrap_or(0))
}

/// Writes a settable value into the region. The optional values go in before their presence
/// (or length) word; see [`publish`]. A concurrent writer of the same value in another process
/// can still interleave with this one: Android leaves such races to the clients.
pub fn write(map: &Mapping, value: &Value) -> Result<(), MetadataError> {
    match value {
        Value::Dataspace(d) => map.write(region::OFFSET_DATASPACE, &d.to_le_bytes())?,
        Value::BlendMode(b) => {
            if !(0..=BLEND_MODE_MAX).contains(b) {
                return Err(MetadataError::OutOfRange {
                    what: "blend mode",
                    value: i64::from(*b),
                });
            }
            map.write(region::OFFSET_BLEND_MODE, &b.to_le_bytes())?
        }
        Value::Smpte2086(v) => {
            if let Some(v) = v {
                let mut bytes = [0u8; 40];
                for (chunk, f) in bytes.chunks_exact_mut(4).zip(v.to_floats()) {
                    chunk.copy_from_slice(&f.to_le_bytes());
                }
                map.write(region::OFFSET_SMPTE2086 + 4, &bytes)?;
            }
            publish(map, region::OFFSET_SMPTE2086, u32::from(v.is_some()))?
        }
        Value::Cta861_3(v) => {
            if let Some(v) = v {
                let mut bytes = [0u8; 8];
                bytes[..4].copy_from_slice(&v.max_content_light_level.to_le_bytes());
                bytes[4..].copy_from_slice(&v.max_frame_average_light_level.to_le_bytes());
                map.write(region::OFFSET_CTA861_3 + 4, &bytes)?;
            }
            publish(map, region::OFFSET_CTA861_3, u32::from(v.is_some()))?
        }
        Value::Smpte2094_40(v) => write_blob(
            map,
            region::OFFSET_SMPTE2094_40_LEN,
            region::OFFSET_SMPTE2094_40,
            region::SMPTE2094_40_CAP,
            v.as_deref(),
            "SMPTE 2094-40 length",
        )?,
        Value::Smpte2094_10(v) => write_blob(
            map,
            region::OFFSET_SMPTE2094_10_LEN,
            region::OFFSET_SMPTE2094_10,
            region::SMPTE2094_10_CAP,
            v.as_deref(),
            "SMPTE 2094-10 length",
        )?,
        other => return Err(MetadataError::ReadOnly(other.standard_type())),
    }
    Ok(())
}

/// Every gettable type with a non-empty encoding, for `dumpBuffer`. A client decodes each blob
/// and aborts on one that does not decode, so each is checked with the decoder first; a type
/// whose value cannot be read (a corrupt region) is left out rather than failing the dump.
pub fn dump(info: &BufferInfo, map: &Mapping) -> Vec<(i64, Vec<u8>)> {
    SUPPORTED
        .iter()
        .filter(|s| s.gettable)
        .filter_map(|s| {
            let mut bytes = Vec::new();
            get(info, map, s.value, &mut bytes).ok()?;
            let t = StandardType::from_value(s.value)?;
            let decodes = Value::decode(t, &bytes).is_ok();
            (!bytes.is_empty() && decodes).then_some((s.value, bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests;
