//! DRM/KMS devices: what `/dev/dri/card*` says about itself (driver, mode-config limits, planes
//! and their formats), what its dumb buffers reveal about pitch alignment, and whether it imports
//! a foreign dma-buf at all and a fragmented one in particular.

use crate::error::ProbeError;
use crate::sys;
use crate::testbuf::{self, Fragmentation};
use central_gralloc::format::{FormatKind, PixelFormat, FORMATS};
use nix::errno::Errno;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// Most planes, formats per plane, properties per plane the probe reads.
const MAX_PLANES: u32 = 64;
const MAX_FORMATS: u32 = 1024;
const MAX_PROPERTIES: u32 = 256;
/// Largest IN_FORMATS blob the probe reads (a blob with 1024 formats and 64 modifiers is 6 KiB).
const MAX_BLOB: u32 = 1 << 20;
/// Largest mode-config dimension the probe believes.
const MAX_DIMENSION: u64 = 1 << 20;

/// Widths and bits per pixel of the dumb buffers whose pitches reveal the driver's alignment:
/// odd and even, below and above common alignments.
const DUMB_WIDTHS: [u32; 7] = [1, 7, 64, 65, 100, 641, 1920];
const DUMB_BPPS: [u32; 3] = [8, 16, 32];

/// One dumb buffer the driver made: the width and depth asked, the pitch it chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PitchSample {
    /// Pixels per row asked.
    pub width: u32,
    /// Bits per pixel asked.
    pub bpp: u32,
    /// Pitch the driver chose.
    pub pitch: u32,
}

/// The rule a driver's dumb-buffer pitches follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PitchRule {
    /// `pitch = align_up(row bytes, n)` for every sample (n = 1: no padding at all).
    RoundedTo(u64),
    /// No rounding rule fits; every pitch is a multiple of `n` (their gcd).
    MultipleOf(u64),
}

impl PitchRule {
    /// The alignment to require of strides.
    pub fn alignment(self) -> u64 {
        match self {
            PitchRule::RoundedTo(n) | PitchRule::MultipleOf(n) => n,
        }
    }
}

/// The smallest power-of-two rounding that explains every sample's pitch, else their gcd.
pub fn infer_pitch_rule(samples: &[PitchSample]) -> Result<PitchRule, String> {
    if samples.is_empty() {
        return Err("no dumb buffer could be created".into());
    }
    let mut rows = Vec::with_capacity(samples.len());
    for s in samples {
        let row = (u64::from(s.width) * u64::from(s.bpp)).div_ceil(8);
        if u64::from(s.pitch) < row {
            return Err(format!(
                "pitch {} for {} pixels at {} bpp is shorter than the row ({row} bytes)",
                s.pitch, s.width, s.bpp
            ));
        }
        rows.push((row, u64::from(s.pitch)));
    }
    let fits = |a: u64| {
        rows.iter()
            .all(|&(row, pitch)| row.div_ceil(a) * a == pitch)
    };
    if let Some(a) = (0..=12).map(|shift| 1u64 << shift).find(|&a| fits(a)) {
        return Ok(PitchRule::RoundedTo(a));
    }
    let gcd = rows
        .iter()
        .fold(0, |g, &(_, pitch)| central_gralloc::device::gcd(g, pitch));
    Ok(PitchRule::MultipleOf(gcd.max(1)))
}

/// One format of an `IN_FORMATS` blob with its modifiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatModifiers {
    /// The DRM fourcc.
    pub fourcc: u32,
    /// The modifiers the plane takes it with.
    pub modifiers: Vec<u64>,
}

/// Parses a `struct drm_format_modifier_blob` (version 1): a 24-byte header, the fourccs, and
/// 24-byte entries each naming a modifier and, as a 64-bit mask from `offset`, its formats.
pub fn parse_in_formats(blob: &[u8]) -> Result<Vec<FormatModifiers>, String> {
    let u32_at = |at: usize| -> Result<u32, String> {
        blob.get(at..at + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| format!("blob of {} bytes ends before offset {}", blob.len(), at + 4))
    };
    let u64_at = |at: usize| -> Result<u64, String> {
        Ok(u64::from(u32_at(at)?) | (u64::from(u32_at(at + 4)?) << 32))
    };
    let version = u32_at(0)?;
    if version != 1 {
        return Err(format!(
            "IN_FORMATS blob version {version} (the probe reads 1)"
        ));
    }
    let count_formats = u32_at(8)? as usize;
    let formats_offset = u32_at(12)? as usize;
    let count_modifiers = u32_at(16)? as usize;
    let modifiers_offset = u32_at(20)? as usize;
    if count_formats > MAX_FORMATS as usize || count_modifiers > MAX_FORMATS as usize {
        return Err(format!(
            "{count_formats} formats and {count_modifiers} modifiers: more than the probe trusts"
        ));
    }
    let mut out: Vec<FormatModifiers> = (0..count_formats)
        .map(|i| {
            Ok(FormatModifiers {
                fourcc: u32_at(formats_offset + 4 * i)?,
                modifiers: Vec::new(),
            })
        })
        .collect::<Result<_, String>>()?;
    for m in 0..count_modifiers {
        let at = modifiers_offset + 24 * m;
        let mask = u64_at(at)?;
        let offset = u32_at(at + 8)? as usize;
        let modifier = u64_at(at + 16)?;
        for bit in 0..64 {
            if mask & (1 << bit) == 0 {
                continue;
            }
            let entry = out
                .get_mut(offset + bit)
                .ok_or_else(|| format!("modifier {modifier:#x} names format {}", offset + bit))?;
            entry.modifiers.push(modifier);
        }
    }
    Ok(out)
}

/// The Android formats whose whole-buffer DRM fourcc is `fourcc` (pixel formats only).
pub fn android_formats_for_fourcc(fourcc: u32) -> Vec<PixelFormat> {
    FORMATS
        .iter()
        .filter(|f| f.fourcc == Some(fourcc))
        .filter(|f| matches!(f.kind, FormatKind::Rgb | FormatKind::Yuv))
        .map(|f| f.format)
        .collect()
}

/// A fourcc as its four characters.
pub fn fourcc_text(fourcc: u32) -> String {
    fourcc
        .to_le_bytes()
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// What a plane is for (the `type` property).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneKind {
    /// `DRM_PLANE_TYPE_OVERLAY`.
    Overlay,
    /// `DRM_PLANE_TYPE_PRIMARY`.
    Primary,
    /// `DRM_PLANE_TYPE_CURSOR`.
    Cursor,
    /// No or an unknown `type` property.
    Unknown,
}

impl PlaneKind {
    fn from_value(value: u64) -> PlaneKind {
        match value {
            0 => PlaneKind::Overlay,
            1 => PlaneKind::Primary,
            2 => PlaneKind::Cursor,
            _ => PlaneKind::Unknown,
        }
    }
    /// `primary`, `overlay`, `cursor`, `plane`.
    pub fn name(self) -> &'static str {
        match self {
            PlaneKind::Overlay => "overlay",
            PlaneKind::Primary => "primary",
            PlaneKind::Cursor => "cursor",
            PlaneKind::Unknown => "plane",
        }
    }
}

/// One KMS plane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plane {
    /// Object id.
    pub id: u32,
    /// Primary, overlay or cursor.
    pub kind: PlaneKind,
    /// `DRM_IOCTL_MODE_GETPLANE`'s formats.
    pub formats: Vec<u32>,
    /// The `IN_FORMATS` blob, parsed, if the plane has one.
    pub in_formats: Option<Result<Vec<FormatModifiers>, String>>,
}

impl Plane {
    /// The fourccs this plane scans out linearly, and where that list came from.
    pub fn linear_formats(&self) -> (Vec<u32>, &'static str) {
        match &self.in_formats {
            Some(Ok(list)) => (
                list.iter()
                    .filter(|f| {
                        f.modifiers
                            .contains(&central_gralloc::format::DRM_FORMAT_MOD_LINEAR)
                    })
                    .map(|f| f.fourcc)
                    .collect(),
                "IN_FORMATS, linear modifier",
            ),
            _ => (self.formats.clone(), "GETPLANE"),
        }
    }
}

/// Mode-setting resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kms {
    /// CRTCs.
    pub crtcs: u32,
    /// Connectors.
    pub connectors: u32,
    /// Mode-config limits: min/max width, min/max height.
    pub min_width: u32,
    /// See `min_width`.
    pub max_width: u32,
    /// See `min_width`.
    pub min_height: u32,
    /// See `min_width`.
    pub max_height: u32,
    /// Whether the universal-planes client cap was granted (primary and cursor planes listed).
    pub universal_planes: bool,
    /// The planes.
    pub planes: Vec<Plane>,
}

/// Whether the device imports foreign dma-bufs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Import {
    /// A one-page dma-heap buffer was refused.
    Refused(Errno),
    /// A one-page buffer imported; then a fragmented buffer did (`Ok`) or did not (`Err`).
    Imports(Result<Fragmentation, (Errno, Fragmentation)>),
    /// The fragmented buffer could not be made (no udmabuf): contiguity untested.
    ImportsUntested(String),
    /// No test buffer could be made at all.
    Untested(String),
}

/// Everything read from one DRM node.
#[derive(Clone, Debug)]
pub struct DrmProbe {
    /// `/dev/dri/cardN`.
    pub node: String,
    /// Driver name (`DRM_IOCTL_VERSION`).
    pub driver: String,
    /// Driver description.
    pub description: String,
    /// Driver version.
    pub version: [i32; 3],
    /// `DRM_CAP_PRIME`.
    pub prime_cap: Option<u64>,
    /// Mode setting, or why there is none.
    pub kms: Result<Kms, ProbeError>,
    /// Dumb buffers: the samples, or why none were made.
    pub dumb: Result<Vec<PitchSample>, ProbeError>,
    /// Foreign dma-buf import.
    pub import: Import,
}

/// Where the probe gets its test buffers.
#[derive(Clone, Debug)]
pub struct BufferSource {
    /// The dma-heap directory (`/dev/dma_heap`).
    pub heap_dir: std::path::PathBuf,
    /// The udmabuf node (`/dev/udmabuf`).
    pub udmabuf: std::path::PathBuf,
}

/// Probes the DRM node `path`.
pub fn probe(path: &Path, buffers: &BufferSource) -> Result<DrmProbe, ProbeError> {
    let node = path.display().to_string();
    let fd = sys::open_node(path).map_err(|e| ProbeError::sys(&node, "open", e))?;
    let fd = fd.as_fd();
    let (driver, description, version) =
        sys::drm_version(fd).map_err(|e| ProbeError::sys(&node, "DRM_IOCTL_VERSION", e))?;
    let prime_cap = sys::drm_get_cap(fd, sys::DRM_CAP_PRIME).ok();
    Ok(DrmProbe {
        kms: kms(fd, &node),
        dumb: dumb_samples(fd, &node),
        import: import(fd, buffers),
        node,
        driver,
        description,
        version,
        prime_cap,
    })
}

fn kms(fd: BorrowedFd<'_>, node: &str) -> Result<Kms, ProbeError> {
    let universal_planes =
        sys::drm_set_client_cap(fd, sys::DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1).is_ok();
    let res = sys::drm_mode_resources(fd)
        .map_err(|e| ProbeError::sys(node, "DRM_IOCTL_MODE_GETRESOURCES", e))?;
    for (what, value) in [
        ("CRTCs", u64::from(res.count_crtcs)),
        ("connectors", u64::from(res.count_connectors)),
    ] {
        ProbeError::bounded(node, what, value, u64::from(MAX_PLANES))?;
    }
    for (what, value) in [
        ("pixels of mode-config max width", res.max_width),
        ("rows of mode-config max height", res.max_height),
    ] {
        ProbeError::bounded(node, what, u64::from(value), MAX_DIMENSION)?;
    }
    let ids = sys::drm_plane_ids(fd, MAX_PLANES)
        .map_err(|e| ProbeError::sys(node, "DRM_IOCTL_MODE_GETPLANERESOURCES", e))?
        .map_err(|n| absurd(node, "planes", n, MAX_PLANES))?;
    let planes = ids
        .into_iter()
        .map(|id| plane(fd, node, id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Kms {
        crtcs: res.count_crtcs,
        connectors: res.count_connectors,
        min_width: res.min_width,
        max_width: res.max_width,
        min_height: res.min_height,
        max_height: res.max_height,
        universal_planes,
        planes,
    })
}

fn absurd(node: &str, what: &str, value: u32, limit: u32) -> ProbeError {
    ProbeError::Absurd {
        device: node.to_string(),
        what: what.to_string(),
        value: u64::from(value),
        limit: u64::from(limit),
    }
}

fn plane(fd: BorrowedFd<'_>, node: &str, id: u32) -> Result<Plane, ProbeError> {
    let formats = sys::drm_plane_formats(fd, id, MAX_FORMATS)
        .map_err(|e| ProbeError::sys(node, "DRM_IOCTL_MODE_GETPLANE", e))?
        .map_err(|n| absurd(node, &format!("formats on plane {id}"), n, MAX_FORMATS))?;
    let properties = sys::drm_plane_properties(fd, id, MAX_PROPERTIES)
        .map_err(|e| ProbeError::sys(node, "DRM_IOCTL_MODE_OBJ_GETPROPERTIES", e))?
        .map_err(|n| {
            absurd(
                node,
                &format!("properties on plane {id}"),
                n,
                MAX_PROPERTIES,
            )
        })?;
    let mut kind = PlaneKind::Unknown;
    let mut in_formats = None;
    for (property, value) in properties {
        let name = sys::drm_property_name(fd, property)
            .map_err(|e| ProbeError::sys(node, "DRM_IOCTL_MODE_GETPROPERTY", e))?;
        match name.as_str() {
            "type" => kind = PlaneKind::from_value(value),
            "IN_FORMATS" => {
                let blob = u32::try_from(value)
                    .map_err(|_| ProbeError::malformed(node, "IN_FORMATS blob id above 32 bits"))?;
                in_formats = Some(match sys::drm_blob(fd, blob, MAX_BLOB) {
                    Ok(Ok(bytes)) => parse_in_formats(&bytes),
                    Ok(Err(len)) => {
                        Err(format!("blob of {len} bytes (the probe reads {MAX_BLOB})"))
                    }
                    Err(e) => Err(format!("DRM_IOCTL_MODE_GETPROPBLOB: {e}")),
                });
            }
            _ => {}
        }
    }
    Ok(Plane {
        id,
        kind,
        formats,
        in_formats,
    })
}

fn dumb_samples(fd: BorrowedFd<'_>, node: &str) -> Result<Vec<PitchSample>, ProbeError> {
    let mut samples = Vec::new();
    let mut last_error = None;
    for bpp in DUMB_BPPS {
        for width in DUMB_WIDTHS {
            match sys::drm_create_dumb(fd, width, 2, bpp) {
                Ok(dumb) => samples.push(PitchSample {
                    width,
                    bpp,
                    pitch: dumb.info.pitch,
                }),
                // Drivers refuse depths they do not scan out (virtio-gpu takes 32 only).
                Err(e) => last_error = Some(e),
            }
        }
    }
    match (samples.is_empty(), last_error) {
        (true, Some(e)) => Err(ProbeError::sys(node, "DRM_IOCTL_MODE_CREATE_DUMB", e)),
        _ => Ok(samples),
    }
}

fn import(fd: BorrowedFd<'_>, buffers: &BufferSource) -> Import {
    let one_page = match testbuf::heap_buffer(&buffers.heap_dir, 1) {
        Ok(buf) => buf,
        Err(e) => return Import::Untested(e.to_string()),
    };
    if let Err(e) = sys::drm_prime_import(fd, one_page.as_fd()) {
        return Import::Refused(e);
    }
    // 64 pages: more than any allocator's small-order pool hands out in one physical run.
    match testbuf::fragmented_buffer(&buffers.udmabuf, 64) {
        Ok((buf, fragmentation)) => match sys::drm_prime_import(fd, buf.as_fd()) {
            Ok(_) => Import::Imports(Ok(fragmentation)),
            Err(e) => Import::Imports(Err((e, fragmentation))),
        },
        Err(e) => Import::ImportsUntested(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(bpp: u32, rule: impl Fn(u64) -> u64) -> Vec<PitchSample> {
        DUMB_WIDTHS
            .iter()
            .map(|&width| PitchSample {
                width,
                bpp,
                pitch: rule((u64::from(width) * u64::from(bpp)).div_ceil(8)) as u32,
            })
            .collect()
    }

    #[test]
    fn pitch_rules_from_synthetic_drivers() {
        // vgem and virtio-gpu: the row, unpadded.
        assert_eq!(
            infer_pitch_rule(&samples(32, |r| r)),
            Ok(PitchRule::RoundedTo(1))
        );
        // A driver that pads rows to 64 bytes, and one to 256.
        assert_eq!(
            infer_pitch_rule(&samples(32, |r| r.div_ceil(64) * 64)),
            Ok(PitchRule::RoundedTo(64))
        );
        let mut mixed = samples(8, |r| r.div_ceil(256) * 256);
        mixed.extend(samples(32, |r| r.div_ceil(256) * 256));
        assert_eq!(infer_pitch_rule(&mixed), Ok(PitchRule::RoundedTo(256)));
        // Padding to 48 bytes is no power-of-two rounding: every pitch is a multiple of 48.
        assert_eq!(
            infer_pitch_rule(&samples(8, |r| r.div_ceil(48) * 48)),
            Ok(PitchRule::MultipleOf(48))
        );
    }

    #[test]
    fn impossible_pitches_are_refused() {
        let short = [PitchSample {
            width: 100,
            bpp: 32,
            pitch: 399,
        }];
        assert!(infer_pitch_rule(&short).unwrap_err().contains("shorter"));
        assert!(infer_pitch_rule(&[]).is_err());
    }

    fn blob(formats: &[u32], modifiers: &[(u64, u32, u64)]) -> Vec<u8> {
        let mut b = Vec::new();
        let formats_offset = 24u32;
        let modifiers_offset = formats_offset + 4 * formats.len() as u32;
        for word in [
            1,
            0,
            formats.len() as u32,
            formats_offset,
            modifiers.len() as u32,
            modifiers_offset,
        ] {
            b.extend(word.to_ne_bytes());
        }
        for f in formats {
            b.extend(f.to_ne_bytes());
        }
        for &(mask, offset, modifier) in modifiers {
            b.extend(mask.to_ne_bytes());
            b.extend(offset.to_ne_bytes());
            b.extend(0u32.to_ne_bytes());
            b.extend(modifier.to_ne_bytes());
        }
        b
    }

    #[test]
    fn in_formats_blob_parses() {
        let xr24 = central_gralloc::format::fourcc(b"XR24");
        let nv12 = central_gralloc::format::fourcc(b"NV12");
        let tiled = 0x0100_0000_0000_0001;
        let parsed = parse_in_formats(&blob(&[xr24, nv12], &[(0b11, 0, 0), (0b01, 0, tiled)]));
        assert_eq!(
            parsed,
            Ok(vec![
                FormatModifiers {
                    fourcc: xr24,
                    modifiers: vec![0, tiled]
                },
                FormatModifiers {
                    fourcc: nv12,
                    modifiers: vec![0]
                },
            ])
        );
    }

    #[test]
    fn bad_in_formats_blobs_are_typed_errors() {
        let xr24 = central_gralloc::format::fourcc(b"XR24");
        let good = blob(&[xr24], &[(1, 0, 0)]);
        // Short: every prefix fails cleanly.
        for len in 0..good.len() {
            assert!(parse_in_formats(&good[..len]).is_err(), "prefix of {len}");
        }
        // A modifier naming a format beyond the list.
        assert!(parse_in_formats(&blob(&[xr24], &[(0b10, 0, 0)]))
            .unwrap_err()
            .contains("names format 1"));
        // A count that would make the probe allocate for a million formats.
        let mut huge = good.clone();
        huge[8..12].copy_from_slice(&1_000_000u32.to_ne_bytes());
        assert!(parse_in_formats(&huge).unwrap_err().contains("trusts"));
        let mut v2 = good;
        v2[0] = 2;
        assert!(parse_in_formats(&v2).unwrap_err().contains("version 2"));
    }

    #[test]
    fn drm_fourccs_map_to_android_formats() {
        let f = central_gralloc::format::fourcc;
        assert_eq!(
            android_formats_for_fourcc(f(b"AR24")),
            [PixelFormat::BGRA_8888]
        );
        assert_eq!(
            android_formats_for_fourcc(f(b"NV12")),
            [PixelFormat::YCBCR_420_888]
        );
        // XRGB8888 has no Android format (Android's RGBX is XBGR in DRM terms).
        assert!(android_formats_for_fourcc(f(b"XR24")).is_empty());
        assert_eq!(fourcc_text(f(b"R8  ")), "R8");
        assert_eq!(fourcc_text(0x00ff_4141), "AA??");
    }
}
