//! V4L2 devices: what a `/dev/video*` node is (capture, output, mem2mem), the formats and frame
//! sizes it offers, the bytes-per-line, image-size and size-rounding rules `VIDIOC_TRY_FMT`
//! reveals, whether the core's layouts are ones the driver can be told to use, and whether its
//! DMABUF queue needs physically contiguous memory.

use crate::error::ProbeError;
use crate::sys::{self, V4l2PixFormat, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_FIELD_NONE};
use crate::testbuf::{self, Fragmentation};
use central_gralloc::device::{lcm, Constraints};
use central_gralloc::format::{fourcc, FormatInfo, PixelFormat};
use central_gralloc::layout::{self, PlaneLayout};
use nix::errno::Errno;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// Most `VIDIOC_ENUM_FMT` and discrete frame-size entries the probe reads.
const MAX_ENTRIES: u32 = 256;
/// Largest frame dimension the probe believes.
const MAX_DIMENSION: u32 = 1 << 16;
/// Largest bytes-per-line the probe believes.
const MAX_PITCH: u32 = 1 << 24;

/// `V4L2_CAP_*` bits the probe reads.
pub mod cap {
    /// Single-planar capture.
    pub const VIDEO_CAPTURE: u32 = 0x1;
    /// Single-planar output.
    pub const VIDEO_OUTPUT: u32 = 0x2;
    /// Multi-planar capture.
    pub const VIDEO_CAPTURE_MPLANE: u32 = 0x1000;
    /// Multi-planar output.
    pub const VIDEO_OUTPUT_MPLANE: u32 = 0x2000;
    /// Multi-planar mem2mem.
    pub const VIDEO_M2M_MPLANE: u32 = 0x4000;
    /// Single-planar mem2mem.
    pub const VIDEO_M2M: u32 = 0x8000;
    /// Metadata capture.
    pub const META_CAPTURE: u32 = 0x0080_0000;
    /// Streaming I/O.
    pub const STREAMING: u32 = 0x0400_0000;
    /// `device_caps` is valid.
    pub const DEVICE_CAPS: u32 = 0x8000_0000;
}

/// The Android format a single-planar V4L2 fourcc stores, byte for byte.
pub fn android_format(v4l2: u32) -> Option<PixelFormat> {
    let table: [(&[u8; 4], PixelFormat); 16] = [
        (b"NV12", PixelFormat::YCBCR_420_888),
        (b"NV21", PixelFormat::YCRCB_420_SP),
        (b"NV16", PixelFormat::YCBCR_422_SP),
        (b"YUYV", PixelFormat::YCBCR_422_I),
        (b"YV12", PixelFormat::YV12),
        (b"P010", PixelFormat::YCBCR_P010),
        (b"AB24", PixelFormat::RGBA_8888),
        (b"XB24", PixelFormat::RGBX_8888),
        (b"AR24", PixelFormat::BGRA_8888),
        (b"RGBP", PixelFormat::RGB_565),
        (b"RGB3", PixelFormat::RGB_888),
        (b"GREY", PixelFormat::Y8),
        (b"Y16 ", PixelFormat::Y16),
        (b"BYR2", PixelFormat::RAW16),
        (b"GB16", PixelFormat::RAW16),
        (b"RG16", PixelFormat::RAW16),
    ];
    table
        .iter()
        .find(|(code, _)| fourcc(code) == v4l2)
        .map(|&(_, format)| format)
}

/// One plane as the driver lays it out: offset and pitch in bytes, rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImpliedPlane {
    /// Offset from the start of the buffer.
    pub offset: u64,
    /// Pitch.
    pub stride: u64,
    /// Rows.
    pub rows: u64,
}

/// Where a single-planar format puts its planes, given the first plane's pitch and the rows:
/// the format's definition decides, the application cannot say otherwise. `None` for a fourcc
/// the probe has no definition of.
pub fn implied_planes(v4l2: u32, bytesperline: u64, height: u64) -> Option<Vec<ImpliedPlane>> {
    let y = ImpliedPlane {
        offset: 0,
        stride: bytesperline,
        rows: height,
    };
    let after_y = bytesperline * height;
    let code = v4l2.to_le_bytes();
    Some(match &code {
        b"NV12" | b"NV21" | b"P010" => vec![
            y,
            ImpliedPlane {
                offset: after_y,
                stride: bytesperline,
                rows: height.div_ceil(2),
            },
        ],
        b"NV16" => vec![
            y,
            ImpliedPlane {
                offset: after_y,
                stride: bytesperline,
                rows: height,
            },
        ],
        b"YV12" => {
            let c = ImpliedPlane {
                offset: after_y,
                stride: bytesperline / 2,
                rows: height.div_ceil(2),
            };
            vec![
                y,
                c,
                ImpliedPlane {
                    offset: after_y + c.stride * c.rows,
                    ..c
                },
            ]
        }
        _ if android_format(v4l2).is_some() => vec![y],
        _ => return None,
    })
}

/// The image size a format's planes add up to.
pub fn implied_size(planes: &[ImpliedPlane]) -> u64 {
    planes
        .iter()
        .map(|p| p.offset + p.stride * p.rows)
        .max()
        .unwrap_or(0)
}

/// The frame sizes a format offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameSizes {
    /// A list of sizes (a webcam's modes).
    Discrete(Vec<(u32, u32)>),
    /// Any size in a range, in steps.
    Range {
        /// Smallest width.
        min_width: u32,
        /// Largest width.
        max_width: u32,
        /// Smallest height.
        min_height: u32,
        /// Largest height.
        max_height: u32,
    },
}

impl FrameSizes {
    /// (min width, min height, max width, max height).
    pub fn bounds(&self) -> (u32, u32, u32, u32) {
        match self {
            FrameSizes::Discrete(list) => (
                list.iter().map(|s| s.0).min().unwrap_or(0),
                list.iter().map(|s| s.1).min().unwrap_or(0),
                list.iter().map(|s| s.0).max().unwrap_or(0),
                list.iter().map(|s| s.1).max().unwrap_or(0),
            ),
            FrameSizes::Range {
                min_width,
                max_width,
                min_height,
                max_height,
            } => (*min_width, *min_height, *max_width, *max_height),
        }
    }
}

/// What `VIDIOC_TRY_FMT` answered: width, height, bytes per line, image size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tried {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Pitch.
    pub bytesperline: u32,
    /// Image size.
    pub sizeimage: u32,
}

/// The rules one format follows, inferred from `VIDIOC_TRY_FMT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatRules {
    /// Widths are kept only in multiples of this (1: any width).
    pub width_step: u32,
    /// Heights are kept only in multiples of this (2: 4:2:0 formats on most drivers).
    pub height_step: u32,
    /// The minimum bytes-per-line is the row rounded up to this.
    pub pitch_padding: u64,
    /// A larger bytes-per-line is kept when it is a multiple of this; `None`: never kept.
    pub pitch_kept: Option<u64>,
    /// The largest bytes-per-line at the sample width.
    pub max_pitch: u32,
    /// The sample the rules were seen at: asked width and height, and the minimal answer.
    pub sample: Tried,
    /// Whether `sizeimage` is what the format's planes add up to at the sample.
    pub sizeimage_implied: bool,
}

/// How a format is tried: `(width, height, bytesperline)` to the driver's answer.
pub type TryFn<'a> = dyn FnMut(u32, u32, u32) -> Result<Tried, Errno> + 'a;

/// Bytes of `width` pixels of plane 0. Drivers differ on whether a row ends in a whole packing
/// group (vivid gives 641-pixel YUYV 1282 bytes; the core lays out 1284), so the rules are
/// inferred against the bare row and the core's layout is checked separately.
fn row_bytes(info: &FormatInfo, width: u32) -> u64 {
    let bits = info
        .planes
        .first()
        .map_or(8, |p| u64::from(p.bits_per_pixel));
    (u64::from(width) * bits).div_ceil(8)
}

/// A size inside the format's range near `want`.
fn inside(want: u32, min: u32, max: u32) -> u32 {
    want.clamp(min.max(1), max.max(min.max(1)))
}

/// Infers a format's rules by asking the driver what it makes of chosen sizes and pitches.
pub fn infer_rules(
    info: &FormatInfo,
    v4l2: u32,
    sizes: &FrameSizes,
    try_fmt: &mut TryFn<'_>,
) -> Result<FormatRules, String> {
    let ask = |t: &mut TryFn<'_>, w, h, bpl| t(w, h, bpl).map_err(|e| format!("TRY_FMT: {e}"));
    let (min_w, min_h, max_w, max_h) = sizes.bounds();
    let (w0, h0) = match sizes {
        FrameSizes::Discrete(list) => *list.first().ok_or("no frame sizes")?,
        FrameSizes::Range { .. } => (inside(640, min_w, max_w), inside(480, min_h, max_h)),
    };
    let base = ask(try_fmt, w0, h0, 0)?;
    if (base.width, base.height) != (w0, h0) {
        return Err(format!(
            "asked {w0}x{h0}, the driver answered {}x{}",
            base.width, base.height
        ));
    }
    let discrete = matches!(sizes, FrameSizes::Discrete(_));
    let step = |t: &mut TryFn<'_>, is_width: bool| -> Result<u32, String> {
        if discrete {
            return Ok(1);
        }
        for s in [1, 2, 4, 8, 16] {
            let (w, h) = if is_width { (w0 + s, h0) } else { (w0, h0 + s) };
            if w > max_w || h > max_h {
                break;
            }
            let got = ask(t, w, h, 0)?;
            if (got.width, got.height) == (w, h) {
                return Ok(s);
            }
        }
        Err(format!(
            "no {} above {} is kept",
            if is_width { "width" } else { "height" },
            if is_width { w0 } else { h0 }
        ))
    };
    let width_step = step(try_fmt, true)?;
    let height_step = step(try_fmt, false)?;

    let mut widths: Vec<u32> = match sizes {
        FrameSizes::Discrete(list) => list.iter().map(|s| s.0).collect(),
        FrameSizes::Range { .. } => [w0, w0 + width_step, 100, 1000, 1920]
            .iter()
            .map(|&w| inside(w.div_ceil(width_step) * width_step, min_w, max_w))
            .collect(),
    };
    widths.dedup();
    let mut pitches = Vec::new();
    for &w in &widths {
        let got = ask(try_fmt, w, h0, 0)?;
        if got.width == w {
            // The rule finder works on (row bytes, pitch): rows of `row` one-byte pixels.
            let row = u32::try_from(row_bytes(info, w)).map_err(|_| "row above 32 bits")?;
            pitches.push(crate::drm::PitchSample {
                width: row,
                bpp: 8,
                pitch: got.bytesperline,
            });
        }
    }
    let pitch_padding = crate::drm::infer_pitch_rule(&pitches)?.alignment();

    let min_pitch = base.bytesperline;
    let mut pitch_kept = None;
    for b in (0..=12).map(|s| 1u64 << s) {
        let want = (u64::from(min_pitch) + 1).div_ceil(b) * b;
        let Ok(want) = u32::try_from(want) else { break };
        if ask(try_fmt, w0, h0, want)?.bytesperline == want {
            pitch_kept = Some(b);
            break;
        }
    }
    let max_pitch = ask(try_fmt, w0, h0, MAX_PITCH)?.bytesperline;
    let implied = implied_planes(v4l2, u64::from(base.bytesperline), u64::from(base.height))
        .ok_or("no plane definition")?;
    Ok(FormatRules {
        width_step,
        height_step,
        pitch_padding,
        pitch_kept,
        max_pitch,
        sample: base,
        sizeimage_implied: u64::from(base.sizeimage) == implied_size(&implied),
    })
}

/// Checks that, at each of `samples`, the core lays `info` out under `device` exactly as the
/// driver does when told the core's width, rows and pitch: the same planes at the same offsets
/// and pitches, and an image that fits the core's allocation.
pub fn check_layouts(
    info: &FormatInfo,
    v4l2: u32,
    device: &Constraints,
    samples: &[(u32, u32)],
    try_fmt: &mut TryFn<'_>,
) -> Result<(), String> {
    for &(w, h) in samples {
        let l = layout::compute(info, w, h, 1, device).map_err(|e| e.to_string())?;
        let planes = l.planes();
        let first: &PlaneLayout = planes.first().ok_or("no planes")?;
        let pitch = u32::try_from(first.stride).map_err(|_| "pitch above 32 bits")?;
        let rows = u32::try_from(first.height).map_err(|_| "rows above 32 bits")?;
        let got = try_fmt(w, rows, pitch).map_err(|e| format!("TRY_FMT: {e}"))?;
        if (got.width, got.height, got.bytesperline) != (w, rows, pitch) {
            return Err(format!(
                "{w}x{h}: the layout wants {w}x{rows} rows at pitch {pitch}, the driver answers \
                 {}x{} at {}",
                got.width, got.height, got.bytesperline
            ));
        }
        let implied = implied_planes(v4l2, first.stride, first.height).ok_or("no definition")?;
        let ours: Vec<(u64, u64)> = planes.iter().map(|p| (p.offset, p.stride)).collect();
        let theirs: Vec<(u64, u64)> = implied.iter().map(|p| (p.offset, p.stride)).collect();
        if ours != theirs {
            return Err(format!(
                "{w}x{h}: planes (offset, pitch) {ours:?} in the layout, {theirs:?} in the format"
            ));
        }
        if u64::from(got.sizeimage) > l.size {
            return Err(format!(
                "{w}x{h}: the driver wants {} bytes, the layout has {}",
                got.sizeimage, l.size
            ));
        }
    }
    Ok(())
}

/// Where a node sits among V4L2's device types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// Single-planar video capture with streaming I/O: a camera.
    Capture,
    /// Anything else, with what it is.
    Other(String),
}

/// Classifies a node by its capabilities.
pub fn node_kind(device_caps: u32) -> NodeKind {
    let has = |bit| device_caps & bit != 0;
    let other = |what: &str| NodeKind::Other(what.to_string());
    if has(cap::VIDEO_M2M) || has(cap::VIDEO_M2M_MPLANE) {
        return other("a mem2mem device (codec or scaler): not probed");
    }
    if has(cap::VIDEO_CAPTURE_MPLANE) {
        return other("multi-planar capture: the probe reads the single-planar API only");
    }
    if !has(cap::VIDEO_CAPTURE) {
        if has(cap::VIDEO_OUTPUT) || has(cap::VIDEO_OUTPUT_MPLANE) {
            return other("video output only");
        }
        if has(cap::META_CAPTURE) {
            return other("metadata capture");
        }
        return other("no video capture or output (radio, VBI, SDR, touch)");
    }
    if !has(cap::STREAMING) {
        return other("capture without streaming I/O (no DMABUF queue)");
    }
    NodeKind::Capture
}

/// Whether a capture queue takes a buffer that is not physically contiguous.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contiguity {
    /// A fragmented dma-buf was queued.
    NotNeeded(Fragmentation),
    /// A fragmented dma-buf was refused with `EFAULT`, videobuf2-dma-contig's answer to a buffer
    /// that is not one contiguous chunk.
    Needed(Fragmentation),
    /// The test could not run or gave another answer.
    Unknown(String),
}

/// One `VIDIOC_ENUM_FMT` entry and what the probe made of it.
#[derive(Clone, Debug)]
pub struct FormatProbe {
    /// The fourcc.
    pub fourcc: u32,
    /// The driver's description.
    pub description: String,
    /// The Android format it stores, if any.
    pub android: Option<PixelFormat>,
    /// Frame sizes.
    pub sizes: Result<FrameSizes, String>,
    /// Rules, for formats with an Android equivalent and sizes.
    pub rules: Option<Result<FormatRules, String>>,
}

/// Everything read from one V4L2 node.
#[derive(Clone, Debug)]
pub struct V4l2Probe {
    /// `/dev/videoN`.
    pub node: String,
    /// Driver name.
    pub driver: String,
    /// Card name.
    pub card: String,
    /// Bus location.
    pub bus_info: String,
    /// This node's capabilities.
    pub caps: u32,
    /// What it is.
    pub kind: NodeKind,
    /// The current input and its name.
    pub input: Option<(u32, String)>,
    /// Its capture formats.
    pub formats: Vec<FormatProbe>,
    /// DMABUF contiguity.
    pub contiguity: Contiguity,
    /// The constraints of the formats an Android buffer can carry.
    pub camera: Camera,
}

/// What a capture device asks of Android buffers, from the rules of its formats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Camera {
    /// Stride alignment, rows alignment, size limits and maximum pitch (NONE where unknown).
    pub constraints: Constraints,
    /// Why each constraint is what it is, by profile key.
    pub sources: Vec<(&'static str, String)>,
    /// Formats it writes: Android format, V4L2 fourcc, and the rule seen.
    pub writes: Vec<(PixelFormat, u32, String)>,
    /// Formats with an Android equivalent left out, and why.
    pub left_out: Vec<(u32, String)>,
}

impl Default for Camera {
    fn default() -> Camera {
        Camera {
            constraints: Constraints::NONE,
            sources: Vec::new(),
            writes: Vec::new(),
            left_out: Vec::new(),
        }
    }
}

/// The device constraints the usable formats' rules add up to: the lcm of their pitch and row
/// granularity, the intersection of their size ranges, the smallest explicit pitch limit.
pub fn derive_constraints(formats: &[(&FormatInfo, &FormatRules, &FrameSizes)]) -> Camera {
    let mut c = Constraints::NONE;
    let mut sources = Vec::new();
    let (mut stride, mut rows) = (1u64, 1u64);
    let (mut why_stride, mut why_rows) = (Vec::new(), Vec::new());
    let mut min = (0u32, 0u32);
    let mut max = (u32::MAX, u32::MAX);
    let mut max_stride: Option<(u64, &str)> = None;
    for &(info, r, sizes) in formats {
        let granule = r.pitch_kept.unwrap_or(r.pitch_padding).max(r.pitch_padding);
        stride = lcm(stride, granule).unwrap_or(stride);
        if granule > 1 {
            why_stride.push(format!("{} {granule}", info.name));
        }
        rows = lcm(rows, u64::from(r.height_step)).unwrap_or(rows);
        if r.height_step > 1 {
            why_rows.push(info.name);
        }
        let (lo_w, lo_h, hi_w, hi_h) = sizes.bounds();
        min = (min.0.max(lo_w), min.1.max(lo_h));
        max = (max.0.min(hi_w), max.1.min(hi_h));
        // A pitch limit below what the widest frame needs is a limit of its own.
        let widest = row_bytes(info, hi_w);
        let pitch = u64::from(r.max_pitch);
        let tighter = match max_stride {
            Some((m, _)) => pitch < m,
            None => true,
        };
        if pitch < widest && tighter {
            max_stride = Some((pitch, info.name));
        }
    }
    c.stride_align = stride;
    c.height_align = rows;
    sources.push((
        "stride-align",
        if why_stride.is_empty() {
            "TRY_FMT keeps any bytesperline at or above the row".to_string()
        } else {
            format!("TRY_FMT pitch granularity: {}", why_stride.join(", "))
        },
    ));
    sources.push((
        "height-align",
        if why_rows.is_empty() {
            "TRY_FMT keeps odd heights".to_string()
        } else {
            format!(
                "TRY_FMT rounds odd heights to a multiple of {rows} for {}; the layout pads the \
                 rows and the driver is told the padded height",
                why_rows.join(", ")
            )
        },
    ));
    if !formats.is_empty() {
        (c.min_width, c.min_height, c.max_width, c.max_height) = (min.0, min.1, max.0, max.1);
        sources.push(("size", "VIDIOC_ENUM_FRAMESIZES".to_string()));
    }
    if let Some((m, name)) = max_stride {
        c.max_stride = m;
        sources.push((
            "max-stride",
            format!("TRY_FMT clamps {name}'s bytesperline to {m}"),
        ));
    }
    Camera {
        constraints: c,
        sources,
        writes: Vec::new(),
        left_out: Vec::new(),
    }
}

/// Layout samples inside a format's sizes: odd sizes for a range, the listed ones otherwise.
fn layout_samples(sizes: &FrameSizes) -> Vec<(u32, u32)> {
    match sizes {
        FrameSizes::Discrete(list) => {
            let mut picks: Vec<(u32, u32)> = [list.first(), list.get(list.len() / 2), list.last()]
                .into_iter()
                .flatten()
                .copied()
                .collect();
            picks.dedup();
            picks
        }
        FrameSizes::Range { .. } => {
            let (lo_w, lo_h, hi_w, hi_h) = sizes.bounds();
            [(64, 48), (641, 479), (1000, 333)]
                .iter()
                .map(|&(w, h)| (inside(w, lo_w, hi_w), inside(h, lo_h, hi_h)))
                .collect()
        }
    }
}

/// The camera a capture node is: rules per format, their constraints, and the formats whose
/// core layouts the driver reproduces exactly at sample sizes.
fn camera(fd: BorrowedFd<'_>, formats: &[FormatProbe]) -> Camera {
    let mut usable = Vec::new();
    let mut left_out = Vec::new();
    for f in formats {
        let (Some(android), Some(info)) = (f.android, f.android.and_then(PixelFormat::info)) else {
            continue;
        };
        match (&f.rules, &f.sizes) {
            (Some(Ok(r)), Ok(sizes)) if r.width_step == 1 => usable.push((f, info, r, sizes)),
            (Some(Ok(r)), _) => left_out.push((
                f.fourcc,
                format!(
                    "widths only in steps of {}; the profile cannot say so ({android})",
                    r.width_step
                ),
            )),
            (Some(Err(e)), _) => left_out.push((f.fourcc, format!("{android}: {e}"))),
            (None, Err(e)) => left_out.push((f.fourcc, format!("{android}: {e}"))),
            (None, Ok(_)) => {}
        }
    }
    // A fourcc mapping to an Android format already taken (several Bayer orders for RAW16)
    // adds nothing: the first wins.
    let mut seen = Vec::new();
    usable.retain(|(_, info, _, _)| {
        let new = !seen.contains(&info.format);
        seen.push(info.format);
        new
    });
    let rules: Vec<_> = usable.iter().map(|&(_, i, r, s)| (i, r, s)).collect();
    let mut camera = derive_constraints(&rules);
    for (f, info, r, sizes) in usable {
        let samples = layout_samples(sizes);
        let mut t = tryer(fd, f.fourcc);
        match check_layouts(info, f.fourcc, &camera.constraints, &samples, &mut t) {
            Ok(()) => camera
                .writes
                .push((info.format, f.fourcc, describe_rules(r))),
            Err(e) => left_out.push((
                f.fourcc,
                format!(
                    "{}: the driver cannot be told the core's layout: {e}",
                    info.name
                ),
            )),
        }
    }
    camera.left_out = left_out;
    camera
}

/// One line for a format's rules.
pub fn describe_rules(r: &FormatRules) -> String {
    let kept = match r.pitch_kept {
        Some(1) => "any larger bytesperline kept".to_string(),
        Some(b) => format!("larger bytesperline kept in multiples of {b}"),
        None => "bytesperline fixed".to_string(),
    };
    let t = r.sample;
    format!(
        "{}x{}: bytesperline {} (row padded to {}), {kept} up to {}, sizeimage {}{}, height step {}",
        t.width,
        t.height,
        t.bytesperline,
        r.pitch_padding,
        r.max_pitch,
        t.sizeimage,
        if r.sizeimage_implied { " = the planes" } else { " (not the planes' sum)" },
        r.height_step
    )
}

/// The single-planar `VIDIOC_TRY_FMT` of `fd`, progressive frames.
fn tryer(
    fd: BorrowedFd<'_>,
    fourcc: u32,
) -> impl FnMut(u32, u32, u32) -> Result<Tried, Errno> + '_ {
    move |width, height, bytesperline| {
        let pix = V4l2PixFormat {
            width,
            height,
            pixelformat: fourcc,
            field: V4L2_FIELD_NONE,
            bytesperline,
            ..Default::default()
        };
        let got = sys::v4l2_try_fmt(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE, pix)?;
        if got.pixelformat != fourcc {
            // The driver substituted another format: this one is not offered at that size.
            return Err(Errno::EINVAL);
        }
        Ok(Tried {
            width: got.width,
            height: got.height,
            bytesperline: got.bytesperline,
            sizeimage: got.sizeimage,
        })
    }
}

/// Probes the V4L2 node `path`; `buffers` makes the contiguity test buffer.
pub fn probe(path: &Path, buffers: &crate::drm::BufferSource) -> Result<V4l2Probe, ProbeError> {
    let node = path.display().to_string();
    let fd = sys::open_node(path).map_err(|e| ProbeError::sys(&node, "open", e))?;
    let fd = fd.as_fd();
    let capability =
        sys::v4l2_querycap(fd).map_err(|e| ProbeError::sys(&node, "VIDIOC_QUERYCAP", e))?;
    let caps = if capability.capabilities & cap::DEVICE_CAPS != 0 {
        capability.device_caps
    } else {
        capability.capabilities
    };
    let kind = node_kind(caps);
    let mut probe = V4l2Probe {
        node: node.clone(),
        driver: sys::c_text(&capability.driver),
        card: sys::c_text(&capability.card),
        bus_info: sys::c_text(&capability.bus_info),
        caps,
        kind,
        input: None,
        formats: Vec::new(),
        contiguity: Contiguity::Unknown("not a capture device".into()),
        camera: Camera::default(),
    };
    if probe.kind != NodeKind::Capture {
        return Ok(probe);
    }
    probe.input = sys::v4l2_g_input(fd).ok().and_then(|i| {
        let input = sys::v4l2_enum_input(fd, i).ok()?;
        Some((i, sys::c_text(&input.name)))
    });
    for index in 0..=MAX_ENTRIES {
        let desc = match sys::v4l2_enum_fmt(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE, index) {
            Ok(desc) => desc,
            Err(Errno::EINVAL) => break,
            Err(e) => return Err(ProbeError::sys(&node, "VIDIOC_ENUM_FMT", e)),
        };
        if index == MAX_ENTRIES {
            ProbeError::bounded(
                &node,
                "formats",
                u64::from(index) + 1,
                u64::from(MAX_ENTRIES),
            )?;
        }
        probe.formats.push(format(fd, &node, desc));
    }
    probe.camera = camera(fd, &probe.formats);
    probe.contiguity = contiguity(fd, &node, buffers);
    Ok(probe)
}

fn format(fd: BorrowedFd<'_>, node: &str, desc: sys::V4l2FmtDesc) -> FormatProbe {
    let fourcc = desc.pixelformat;
    let android = android_format(fourcc);
    let sizes = frame_sizes(fd, node, fourcc).map_err(|e| e.to_string());
    let rules = match (android.and_then(PixelFormat::info), &sizes) {
        (Some(info), Ok(sizes)) => Some(infer_rules(info, fourcc, sizes, &mut tryer(fd, fourcc))),
        _ => None,
    };
    FormatProbe {
        fourcc,
        description: sys::c_text(&desc.description),
        android,
        sizes,
        rules,
    }
}

/// `VIDIOC_ENUM_FRAMESIZES`, or `VIDIOC_TRY_FMT` at the extremes where the driver lacks it.
fn frame_sizes(fd: BorrowedFd<'_>, node: &str, fourcc: u32) -> Result<FrameSizes, ProbeError> {
    let bounded =
        |what, v: u32| ProbeError::bounded(node, what, u64::from(v), u64::from(MAX_DIMENSION));
    let mut list = Vec::new();
    for index in 0..=MAX_ENTRIES {
        if index == MAX_ENTRIES {
            ProbeError::bounded(
                node,
                "discrete frame sizes",
                u64::from(index) + 1,
                u64::from(MAX_ENTRIES),
            )?;
        }
        let entry = match sys::v4l2_enum_framesizes(fd, fourcc, index) {
            Ok(entry) => entry,
            Err(Errno::EINVAL) if index > 0 => break,
            Err(Errno::EINVAL) | Err(Errno::ENOTTY) => {
                // No enumeration: the sizes TRY_FMT clamps to are the range.
                let mut t = tryer(fd, fourcc);
                let small = t(1, 1, 0).map_err(|e| ProbeError::sys(node, "VIDIOC_TRY_FMT", e))?;
                let big = t(MAX_DIMENSION, MAX_DIMENSION, 0)
                    .map_err(|e| ProbeError::sys(node, "VIDIOC_TRY_FMT", e))?;
                return Ok(FrameSizes::Range {
                    min_width: small.width,
                    min_height: small.height,
                    max_width: bounded("pixels of width", big.width.min(MAX_DIMENSION))? as u32,
                    max_height: bounded("rows of height", big.height.min(MAX_DIMENSION))? as u32,
                });
            }
            Err(e) => return Err(ProbeError::sys(node, "VIDIOC_ENUM_FRAMESIZES", e)),
        };
        let s = entry.sizes;
        match entry.type_ {
            1 => {
                bounded("pixels of width", s[0])?;
                bounded("rows of height", s[1])?;
                list.push((s[0], s[1]));
            }
            2 | 3 if index == 0 => {
                for v in s {
                    bounded("pixels in a frame-size range", v)?;
                }
                return Ok(FrameSizes::Range {
                    min_width: s[0],
                    max_width: s[1],
                    min_height: s[3],
                    max_height: s[4],
                });
            }
            other => {
                return Err(ProbeError::malformed(
                    node,
                    format!("frame-size entry {index} of type {other}"),
                ))
            }
        }
    }
    if list.is_empty() {
        return Err(ProbeError::malformed(node, "no frame sizes"));
    }
    Ok(FrameSizes::Discrete(list))
}

/// Queues a fragmented dma-buf as big as the current format's image on a fresh DMABUF queue,
/// then releases the queue. The device's format is not changed.
fn contiguity(fd: BorrowedFd<'_>, node: &str, buffers: &crate::drm::BufferSource) -> Contiguity {
    let unknown = |what: String| Contiguity::Unknown(what);
    let current = match sys::v4l2_g_fmt(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE) {
        Ok(f) => f,
        Err(e) => return unknown(format!("VIDIOC_G_FMT: {e}")),
    };
    let pages = u64::from(current.sizeimage).div_ceil(testbuf::PAGE);
    let (buf, fragmentation) = match testbuf::fragmented_buffer(&buffers.udmabuf, pages) {
        Ok(made) => made,
        Err(e) => return unknown(format!("no fragmented test buffer: {e}")),
    };
    let dmabuf = sys::V4L2_MEMORY_DMABUF;
    if let Err(e) = sys::v4l2_reqbufs(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE, dmabuf, 1) {
        return unknown(format!("VIDIOC_REQBUFS(DMABUF): {e}"));
    }
    let length = u32::try_from(pages.max(2) * testbuf::PAGE).unwrap_or(u32::MAX);
    let queued = sys::v4l2_qbuf_dmabuf(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE, 0, buf.as_fd(), length);
    let released = sys::v4l2_reqbufs(fd, V4L2_BUF_TYPE_VIDEO_CAPTURE, dmabuf, 0);
    let verdict = match queued {
        Ok(()) => Contiguity::NotNeeded(fragmentation),
        Err(Errno::EFAULT) => Contiguity::Needed(fragmentation),
        Err(e) => unknown(format!(
            "VIDIOC_QBUF of a {} KiB dma-buf: {e}",
            length / 1024
        )),
    };
    match released {
        Ok(_) => verdict,
        Err(e) => unknown(format!("{node}: releasing the test queue: {e}")),
    }
}

#[cfg(test)]
mod tests;
