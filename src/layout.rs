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

/// Lays out `layers` layers of a `width`×`height` image of `info` under merged constraints `c`.
pub fn compute(
    info: &FormatInfo,
    width: u32,
    height: u32,
    layers: u32,
    c: &Constraints,
) -> Result<Layout, LayoutError> {
    let (first, chroma) = info
        .planes
        .split_first()
        .ok_or(LayoutError::Unresolved(info.format))?;
    let blob = info.kind == FormatKind::Blob;
    let width = u64::from(width);
    let bits0 = u64::from(first.bits_per_pixel);

    // Plane-0 pitch alignment: the devices' alignment, whole pixels, the format's own pixel rule,
    // and enough that every chroma pitch derived from it (pitch0 × bits_i / (bits0 × hsub_i)) is
    // whole and itself meets the devices' alignment.
    let mut align0 = c.stride_align;
    if bits0 % 8 == 0 {
        let bytes = bits0 / 8;
        align0 = lcm(align0, bytes).ok_or_else(ovf("stride alignment"))?;
        let pixel_rule = bytes * u64::from(info.stride_align_pixels);
        align0 = lcm(align0, pixel_rule).ok_or_else(ovf("stride alignment"))?;
    }
    let mut row_bytes0 = align_up(width, u64::from(info.pixels_per_group))
        .and_then(|w| w.checked_mul(bits0))
        .ok_or_else(ovf("row bytes"))?
        .div_ceil(8);
    for p in chroma {
        let (num, den) = ratio(u64::from(p.bits_per_pixel), bits0 * u64::from(p.hsub));
        let need = c
            .stride_align
            .checked_mul(den)
            .ok_or_else(ovf("stride alignment"))?;
        align0 = lcm(align0, need).ok_or_else(ovf("stride alignment"))?;
        // Odd widths: the subsampled row rounds up, so plane 0 may need a longer pitch for the
        // derived chroma pitch to hold it (11-pixel NV21 needs 12-byte rows).
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
    if blob {
        // One row of bytes: pitch alignment is meaningless and would only waste memory.
        align0 = 1;
    }

    let stride0 = align_up(row_bytes0, align0).ok_or_else(ovf("stride"))?;
    let rows0 = if blob {
        1
    } else if info.fixed_offsets {
        u64::from(height)
    } else {
        align_up(u64::from(height), c.height_align).ok_or_else(ovf("aligned height"))?
    };

    let mut planes = [PlaneLayout::default(); MAX_PLANES];
    let mut end = 0u64;
    for (i, p) in info.planes.iter().enumerate() {
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
        planes[i] = PlaneLayout {
            offset,
            stride,
            size,
            width: plane_width,
            height: rows,
            fourcc: p.fourcc.unwrap_or(0),
        };
    }

    let layer_stride = align_up(end, c.offset_align).ok_or_else(ovf("layer stride"))?;
    let all_layers = layer_stride
        .checked_mul(u64::from(layers))
        .ok_or_else(ovf("total size"))?;
    let size_align = lcm(c.size_align, PAGE_SIZE).ok_or_else(ovf("size alignment"))?;
    let size = align_up(all_layers, size_align).ok_or_else(ovf("total size"))?;

    let stride = match info.stride_unit {
        _ if blob => width,
        StrideUnit::Bytes => stride0,
        StrideUnit::Pixels => stride0 / (bits0 / 8).max(1),
    };
    // The wire field is a signed `int`: a stride above i32::MAX would arrive negative.
    let stride = i32::try_from(stride)
        .ok()
        .and_then(|s| u32::try_from(s).ok())
        .ok_or(LayoutError::StrideTooLarge(stride))?;

    Ok(Layout {
        planes,
        plane_count: info.planes.len() as u8,
        layer_count: layers,
        layer_stride,
        size,
        stride,
    })
}

/// `a / b` reduced to lowest terms.
fn ratio(a: u64, b: u64) -> (u64, u64) {
    let g = crate::device::gcd(a, b).max(1);
    (a / g, (b / g).max(1))
}

#[cfg(test)]
mod tests;
