//! The one generic layout routine: per-plane offsets, strides and sizes from the format table and
//! merged constraints, in checked 64-bit arithmetic.

use crate::device::{lcm, Constraints};
use crate::format::{FormatInfo, FormatKind, PixelFormat, StrideUnit};
use std::fmt;

/// Most planes any format in the table has.
pub const MAX_PLANES: usize = 3;

/// CPU page size: allocations are a whole number of pages so they can be mapped.
pub const PAGE_SIZE: u64 = 4096;

/// One plane of one layer, in bytes from the start of the buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PlaneLayout {
    /// Offset of the plane in layer 0.
    pub offset: u64,
    /// Row pitch in bytes.
    pub stride: u64,
    /// Bytes the plane occupies (stride × rows).
    pub size: u64,
    /// Width of the plane in samples (after subsampling, rounded up).
    pub width: u64,
    /// Rows of the plane (after subsampling, rounded up).
    pub height: u64,
    /// The plane's DRM fourcc, 0 if none.
    pub fourcc: u32,
}

/// Where every byte of a buffer goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    planes: [PlaneLayout; MAX_PLANES],
    plane_count: u8,
    /// Layers stacked in the allocation.
    pub layer_count: u32,
    /// Distance between layers in bytes (a multiple of the offset alignment).
    pub layer_stride: u64,
    /// Total allocation in bytes (page-aligned, all layers).
    pub size: u64,
    /// `AllocationResult.stride`: plane-0 pitch in pixels, or in bytes for RAW10/RAW12.
    pub stride: u32,
}

impl Layout {
    /// The planes of layer 0.
    pub fn planes(&self) -> &[PlaneLayout] {
        &self.planes[..self.plane_count as usize]
    }
}

/// Why a layout cannot be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// A size computation overflowed 64 bits; names the quantity.
    Overflow(&'static str),
    /// The format has no concrete planes (flexible formats must be resolved first).
    Unresolved(PixelFormat),
    /// The stride does not fit the `int` of `AllocationResult.stride` (and of the handle).
    StrideTooLarge(u64),
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::Overflow(what) => write!(f, "{what} overflows 64 bits"),
            LayoutError::Unresolved(format) => write!(f, "format {format} has no concrete layout"),
            LayoutError::StrideTooLarge(s) => write!(f, "stride of {s} does not fit a 32-bit int"),
        }
    }
}

/// Rounds `value` up to a multiple of `align` (any positive alignment, not only powers of two).
pub fn align_up(value: u64, align: u64) -> Option<u64> {
    let align = align.max(1);
    value.div_ceil(align).checked_mul(align)
}

fn ovf(what: &'static str) -> impl FnOnce() -> LayoutError {
    move || LayoutError::Overflow(what)
}

/// Lays out `layers` layers of a `width`×`height` image of `info` under merged constraints `c`:
/// plane 0's pitch and rows first, every other plane derived from them, then the layer and the
/// allocation rounded to the devices' alignments and whole pages.
pub fn compute(
    info: &FormatInfo,
    width: u32,
    height: u32,
    layers: u32,
    c: &Constraints,
) -> Result<Layout, LayoutError> {
    let first = info
        .planes
        .first()
        .ok_or(LayoutError::Unresolved(info.format))?;
    let bits0 = u64::from(first.bits_per_pixel);
    let width = u64::from(width);
    let align0 = plane0_alignment(info, bits0, c)?;
    let row_bytes0 = plane0_row_bytes(info, width, bits0)?;
    let stride0 = align_up(row_bytes0, align0).ok_or_else(ovf("stride"))?;
    let rows0 = plane0_rows(info, height, c)?;
    let (planes, end) = plane_layouts(info, width, bits0, stride0, rows0, c)?;

    let layer_stride = align_up(end, c.offset_align).ok_or_else(ovf("layer stride"))?;
    let all_layers = layer_stride
        .checked_mul(u64::from(layers))
        .ok_or_else(ovf("total size"))?;
    let size_align = lcm(c.size_align, PAGE_SIZE).ok_or_else(ovf("size alignment"))?;
    let size = align_up(all_layers, size_align).ok_or_else(ovf("total size"))?;

    Ok(Layout {
        planes,
        plane_count: info.planes.len() as u8,
        layer_count: layers,
        layer_stride,
        size,
        stride: wire_stride(info, width, stride0, bits0)?,
    })
}

/// Plane 0's pitch alignment: the devices' alignment, whole pixels, the format's own pixel rule,
/// and enough that every other plane's pitch derived from it (pitch0 × bits_i / (bits0 × hsub_i))
/// is whole and itself meets the devices' alignment. A BLOB is one row of bytes: aligning its
/// pitch would only waste memory.
fn plane0_alignment(info: &FormatInfo, bits0: u64, c: &Constraints) -> Result<u64, LayoutError> {
    if info.kind == FormatKind::Blob {
        return Ok(1);
    }
    let mut align0 = c.stride_align;
    if bits0 % 8 == 0 {
        let bytes = bits0 / 8;
        align0 = lcm(align0, bytes).ok_or_else(ovf("stride alignment"))?;
        let pixel_rule = bytes * u64::from(info.stride_align_pixels);
        align0 = lcm(align0, pixel_rule).ok_or_else(ovf("stride alignment"))?;
    }
    for p in info.planes.iter().skip(1) {
        let (_, den) = ratio(u64::from(p.bits_per_pixel), bits0 * u64::from(p.hsub));
        let need = c
            .stride_align
            .checked_mul(den)
            .ok_or_else(ovf("stride alignment"))?;
        align0 = lcm(align0, need).ok_or_else(ovf("stride alignment"))?;
    }
    Ok(align0)
}

/// The bytes plane 0's rows need before alignment: whole packing groups of the width, and, with
/// odd widths, enough that every derived plane's pitch holds its rounded-up row (11-pixel NV21
/// needs 12-byte rows).
fn plane0_row_bytes(info: &FormatInfo, width: u64, bits0: u64) -> Result<u64, LayoutError> {
    let mut row_bytes0 = align_up(width, u64::from(info.pixels_per_group))
        .and_then(|w| w.checked_mul(bits0))
        .ok_or_else(ovf("row bytes"))?
        .div_ceil(8);
    for p in info.planes.iter().skip(1) {
        let (num, den) = ratio(u64::from(p.bits_per_pixel), bits0 * u64::from(p.hsub));
        let chroma_row = width
            .div_ceil(u64::from(p.hsub))
            .checked_mul(u64::from(p.bits_per_pixel))
            .ok_or_else(ovf("chroma row bytes"))?
            .div_ceil(8);
        let scaled = chroma_row
            .checked_mul(den)
            .ok_or_else(ovf("chroma row bytes"))?
            .div_ceil(num);
        row_bytes0 = row_bytes0.max(scaled);
    }
    Ok(row_bytes0)
}

/// Plane 0's rows: one for a BLOB, the height itself for formats whose plane offsets are fixed
/// by formula (YV12), else the height aligned for the devices.
fn plane0_rows(info: &FormatInfo, height: u32, c: &Constraints) -> Result<u64, LayoutError> {
    if info.kind == FormatKind::Blob {
        Ok(1)
    } else if info.fixed_offsets {
        Ok(u64::from(height))
    } else {
        align_up(u64::from(height), c.height_align).ok_or_else(ovf("aligned height"))
    }
}

/// Every plane of one layer, one after the other (each at an aligned offset unless the format
/// fixes them); returns the planes and the end of the last one.
fn plane_layouts(
    info: &FormatInfo,
    width: u64,
    bits0: u64,
    stride0: u64,
    rows0: u64,
    c: &Constraints,
) -> Result<([PlaneLayout; MAX_PLANES], u64), LayoutError> {
    let mut planes = [PlaneLayout::default(); MAX_PLANES];
    let mut end = 0u64;
    for (i, (slot, p)) in planes.iter_mut().zip(info.planes).enumerate() {
        let (stride, rows, plane_width) = if i == 0 {
            (stride0, rows0, width)
        } else {
            let (num, den) = ratio(u64::from(p.bits_per_pixel), bits0 * u64::from(p.hsub));
            let derived = (stride0 / den)
                .checked_mul(num)
                .ok_or_else(ovf("chroma stride"))?;
            let chroma_align = lcm(u64::from(info.chroma_stride_align), c.stride_align)
                .ok_or_else(ovf("chroma stride alignment"))?;
            (
                align_up(derived, chroma_align).ok_or_else(ovf("chroma stride"))?,
                rows0.div_ceil(u64::from(p.vsub)),
                width.div_ceil(u64::from(p.hsub)),
            )
        };
        let offset = if info.fixed_offsets {
            end
        } else {
            align_up(end, c.offset_align).ok_or_else(ovf("plane offset"))?
        };
        let size = stride.checked_mul(rows).ok_or_else(ovf("plane size"))?;
        end = offset.checked_add(size).ok_or_else(ovf("layer size"))?;
        *slot = PlaneLayout {
            offset,
            stride,
            size,
            width: plane_width,
            height: rows,
            fourcc: p.fourcc.unwrap_or(0),
        };
    }
    Ok((planes, end))
}

/// `AllocationResult.stride`: plane 0's pitch in the format's unit (pixels, or bytes for RAW10
/// and RAW12; a BLOB's width). The wire field is a signed `int`: a stride above `i32::MAX` would
/// arrive negative, so it is refused.
fn wire_stride(
    info: &FormatInfo,
    width: u64,
    stride0: u64,
    bits0: u64,
) -> Result<u32, LayoutError> {
    let stride = match info.stride_unit {
        _ if info.kind == FormatKind::Blob => width,
        StrideUnit::Bytes => stride0,
        StrideUnit::Pixels => stride0 / (bits0 / 8).max(1),
    };
    i32::try_from(stride)
        .ok()
        .and_then(|s| u32::try_from(s).ok())
        .ok_or(LayoutError::StrideTooLarge(stride))
}

/// `a / b` reduced to lowest terms.
fn ratio(a: u64, b: u64) -> (u64, u64) {
    let g = crate::device::gcd(a, b).max(1);
    (a / g, (b / g).max(1))
}

#[cfg(test)]
mod tests;
