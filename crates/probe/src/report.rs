//! The probe's result as a profile: heap and device sections whose every value carries the
//! reason it has, printed in the profile file format with that reason as a comment.

use crate::drm::{self, DrmProbe, Import};
use crate::sysfs::{self, Sourced};
use crate::v4l2::{Contiguity, NodeKind, V4l2Probe};
use central_gralloc::format::FormatSet;
use central_gralloc::profile::{format_list, HeapRole, Profile, ProfileError};
use nix::errno::Errno;
use std::fmt::Write;
use std::path::Path;

/// One `key = value` with where the value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The profile key.
    pub key: &'static str,
    /// Its value as the file spells it.
    pub value: String,
    /// Where it came from.
    pub source: String,
}

/// A `heap` or `device` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// `heap` or `device`.
    pub kind: &'static str,
    /// The heap role or device name.
    pub name: String,
    /// The node it describes (empty for the CPU).
    pub node: String,
    /// Comment lines describing it.
    pub about: Vec<String>,
    /// Its values.
    pub entries: Vec<Entry>,
}

impl Section {
    fn new(kind: &'static str, name: &str, node: &str) -> Section {
        Section {
            kind,
            name: name.to_string(),
            node: node.to_string(),
            about: Vec::new(),
            entries: Vec::new(),
        }
    }
    fn set(&mut self, key: &'static str, value: impl ToString, source: impl Into<String>) {
        self.entries.push(Entry {
            key,
            value: value.to_string(),
            source: source.into(),
        });
    }
    /// The value given for `key`.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }
}

/// A node the probe saw and did not turn into a device, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The node.
    pub node: String,
    /// Why.
    pub reason: String,
}

/// Everything one probe found.
#[derive(Clone, Debug)]
pub struct Probe {
    /// `uname -r`.
    pub kernel: String,
    /// The CPU architecture.
    pub arch: String,
    /// Heaps, then devices, in profile order.
    pub sections: Vec<Section>,
    /// Nodes listed and skipped.
    pub skipped: Vec<Skipped>,
    /// The raw DRM results.
    pub drm: Vec<DrmProbe>,
    /// The raw V4L2 results.
    pub v4l2: Vec<V4l2Probe>,
}

/// The name a probed profile has.
pub const PROFILE_NAME: &str = "probe";

impl Probe {
    /// The profile file text, every value commented with its source.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# central-gralloc profile read from the running kernel by `gralloc probe`\n\
             # (Linux {}, {}). Every value says where it came from; pin or override any of them\n\
             # with an overlay (see `Profile::overlay`: only the keys it names change).\n\
             profile {PROFILE_NAME}",
            self.kernel, self.arch
        );
        for s in &self.sections {
            let _ = writeln!(out, "\n{} {}", s.kind, s.name);
            for line in &s.about {
                let _ = writeln!(out, "  # {line}");
            }
            for e in &s.entries {
                let _ = writeln!(out, "  {} = {}  # {}", e.key, e.value, e.source);
            }
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(out, "\n# Listed and skipped:");
            for s in &self.skipped {
                let _ = writeln!(out, "#   {}: {}", s.node, s.reason);
            }
        }
        out
    }

    /// The profile the text describes.
    pub fn profile(&self) -> Result<Profile, ProfileError> {
        Profile::parse(&self.text())
    }

    /// The section of the device probed from `node`.
    pub fn device_for(&self, node: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.kind == "device" && s.node == node)
    }
}

/// A profile-safe device name: `{driver}-{node}`.
pub fn device_name(driver: &str, node: &str) -> String {
    let base = Path::new(node)
        .file_name()
        .map_or(node.to_string(), |n| n.to_string_lossy().into_owned());
    format!("{driver}-{base}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The heap sections for the heaps in `names`; unknown heaps are skipped with the reason.
pub fn heap_sections(dir: &Path, names: &[String], skipped: &mut Vec<Skipped>) -> Vec<Section> {
    let mut sections = Vec::new();
    for name in names {
        let node = dir.join(name).display().to_string();
        let Some((role, what)) = sysfs::heap_role(name) else {
            skipped.push(Skipped {
                node,
                reason: "a heap the probe has no role for (a vendor heap): add it with a `heap` \
                         section in an overlay"
                    .into(),
            });
            continue;
        };
        if sections.iter().any(|s: &Section| s.name == role.name()) {
            skipped.push(Skipped {
                node,
                reason: format!("a second {role} heap"),
            });
            continue;
        }
        let mut s = Section::new("heap", role.name(), &node);
        s.about.push(format!("{node}: {what}"));
        s.set("name", name, "the node's name");
        s.set(
            "address-bits",
            64,
            "a heap does not say where its memory lies; pin it if it is limited",
        );
        s.set("contiguous", yes(role == HeapRole::Contiguous), what);
        sections.push(s);
    }
    if !sections.iter().any(|s| s.name == HeapRole::System.name()) {
        let mut s = Section::new("heap", HeapRole::System.name(), "");
        s.about.push(format!(
            "{} has no system heap: every profile names one, allocations will fail here",
            dir.display()
        ));
        s.set("name", "system", "the standard name");
        sections.insert(0, s);
    }
    sections
}

/// The CPU as a device: coherent with itself, mapping whole pages.
pub fn cpu_section(page_size: u64) -> Section {
    let mut s = Section::new("device", "cpu", "");
    s.about.push("the CPU: locks map the buffer".into());
    s.set(
        "roles",
        "cpu, sensor",
        "CPU reads and writes, sensor direct channels",
    );
    s.set("coherent", "yes", "the CPU is coherent with its own caches");
    s.set(
        "size-align",
        page_size,
        "sysconf(_SC_PAGESIZE): mappings are whole pages",
    );
    s
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// What sysfs says about a device's DMA, as entries.
fn dma_entries(s: &mut Section, arch: &str, device_dir: &Path) {
    let Sourced { value, source } = sysfs::coherent(arch, device_dir);
    s.set("coherent", yes(value), source);
    match sysfs::address_bits(device_dir) {
        Ok(Some(bits)) => s.set("address-bits", bits.value, bits.source),
        Ok(None) => s.set(
            "address-bits",
            64,
            format!(
                "{}/dma_mask_bits absent: not exposed for this bus",
                device_dir.display()
            ),
        ),
        // Nonsense in sysfs: say so and assume the widest, which a vendor pins if wrong.
        Err(e) => s.set("address-bits", 64, format!("unreadable, assumed 64: {e}")),
    }
}

/// The display device a KMS node is, or why it is skipped.
pub fn drm_section(p: &DrmProbe, arch: &str, device_dir: &Path) -> Result<Section, String> {
    let kms = match &p.kms {
        Ok(kms) if kms.crtcs > 0 && !kms.planes.is_empty() => kms,
        Ok(_) => {
            return Err(format!(
                "{}: KMS without CRTCs or planes: not a display",
                p.driver
            ))
        }
        Err(e) if matches!(e.errno(), Some(Errno::EOPNOTSUPP) | Some(Errno::EINVAL)) => {
            return Err(format!(
                "{}: no KMS ({e}), so not a display, and the kernel does not say what engine it \
                 drives; imports foreign dma-bufs: {}; name it in an overlay to use it",
                p.driver,
                import_summary(&p.import)
            ))
        }
        Err(e) => return Err(e.to_string()),
    };
    let mut s = Section::new("device", &device_name(&p.driver, &p.node), &p.node);
    s.about.push(format!(
        "{}: driver {} {}.{}.{} ({}); {} CRTC(s), {} connector(s), universal planes {}",
        p.node,
        p.driver,
        p.version[0],
        p.version[1],
        p.version[2],
        p.description,
        kms.crtcs,
        kms.connectors,
        if kms.universal_planes {
            "on"
        } else {
            "refused"
        }
    ));
    let mut scanned = FormatSet::EMPTY;
    for plane in &kms.planes {
        let (formats, source) = plane.linear_formats();
        let names: Vec<String> = formats.iter().map(|&f| drm::fourcc_text(f)).collect();
        s.about.push(format!(
            "plane {} ({}): {} [{source}{}]",
            plane.id,
            plane.kind.name(),
            names.join(" "),
            match &plane.in_formats {
                None => "; no IN_FORMATS".to_string(),
                Some(Err(e)) => format!("; IN_FORMATS unreadable: {e}"),
                Some(Ok(_)) => String::new(),
            }
        ));
        for f in formats {
            for android in drm::android_formats_for_fourcc(f) {
                scanned = scanned.with(android);
            }
        }
    }
    s.about
        .push(format!("PRIME import: {}", import_summary(&p.import)));
    s.set("roles", "display", "KMS: CRTCs and planes");
    dma_entries(&mut s, arch, device_dir);
    let (contiguous, why) = match &p.import {
        Import::Imports(Ok(f)) => (
            false,
            format!("imported a fragmented dma-buf ({})", f.describe()),
        ),
        Import::Imports(Err((e, f))) => (
            true,
            format!(
                "refused a fragmented dma-buf with {e} after taking one page ({})",
                f.describe()
            ),
        ),
        Import::ImportsUntested(why) => (false, format!("untested ({why}); assumed not")),
        Import::Refused(_) | Import::Untested(_) => (
            false,
            "no foreign buffer reaches it (see reads)".to_string(),
        ),
    };
    s.set("contiguous", yes(contiguous), why);
    match &p.dumb {
        Ok(samples) => match drm::infer_pitch_rule(samples) {
            Ok(rule) => {
                let seen: Vec<String> = samples
                    .iter()
                    .take(8)
                    .map(|x| format!("{}@{}bpp:{}", x.width, x.bpp, x.pitch))
                    .collect();
                let how = match rule {
                    drm::PitchRule::RoundedTo(1) => "pitch = row bytes".to_string(),
                    drm::PitchRule::RoundedTo(n) => format!("pitch = row rounded up to {n}"),
                    drm::PitchRule::MultipleOf(n) => format!("pitches are multiples of {n}"),
                };
                s.set(
                    "stride-align",
                    rule.alignment(),
                    format!("dumb buffers: {how} ({} ...)", seen.join(" ")),
                );
            }
            Err(e) => s.about.push(format!("dumb buffers: {e}")),
        },
        Err(e) => s.about.push(format!("no dumb buffers: {e}")),
    }
    let mode = "mode config (DRM_IOCTL_MODE_GETRESOURCES)";
    if kms.min_width > 0 {
        s.set("min-width", kms.min_width, mode);
    }
    if kms.min_height > 0 {
        s.set("min-height", kms.min_height, mode);
    }
    if kms.max_width > 0 {
        s.set("max-width", kms.max_width, mode);
    }
    if kms.max_height > 0 {
        s.set("max-height", kms.max_height, mode);
    }
    match &p.import {
        Import::Refused(e) => s.set(
            "reads",
            "",
            format!(
                "the planes scan {}, but PRIME import of a foreign dma-buf fails ({e}): no \
                 allocator buffer reaches a plane",
                if scanned == FormatSet::EMPTY {
                    "no Android format".into()
                } else {
                    format_list(scanned)
                }
            ),
        ),
        _ => s.set(
            "reads",
            format_list(scanned),
            "Android formats whose DRM fourcc a plane lists (linear)",
        ),
    }
    s.set("writes", "", "a display scans out; it writes no buffer");
    Ok(s)
}

fn import_summary(import: &Import) -> String {
    match import {
        Import::Refused(e) => format!("refused ({e})"),
        Import::Imports(Ok(_)) => "yes, fragmented ones too".into(),
        Import::Imports(Err((e, _))) => format!("contiguous only (fragmented: {e})"),
        Import::ImportsUntested(why) => format!("yes (fragmented untested: {why})"),
        Import::Untested(why) => format!("untested ({why})"),
    }
}

/// The camera device a V4L2 node is, or why it is skipped.
pub fn v4l2_section(p: &V4l2Probe, arch: &str, device_dir: &Path) -> Result<Section, String> {
    if let NodeKind::Other(why) = &p.kind {
        return Err(format!("{} ({}): {why}", p.driver, p.card));
    }
    let cam = &p.camera;
    if cam.writes.is_empty() {
        let why: Vec<String> = cam
            .left_out
            .iter()
            .map(|(f, why)| format!("{}: {why}", drm::fourcc_text(*f)))
            .collect();
        return Err(format!(
            "{} ({}): no format an Android buffer can carry ({})",
            p.driver,
            p.card,
            why.join("; ")
        ));
    }
    let mut s = Section::new("device", &device_name(&p.driver, &p.node), &p.node);
    s.about.push(format!(
        "{}: driver {} card \"{}\" bus {}; video capture, streaming; input {}",
        p.node,
        p.driver,
        p.card,
        p.bus_info,
        p.input
            .as_ref()
            .map_or("unknown".to_string(), |(i, name)| format!("{i} \"{name}\""))
    ));
    for (format, fourcc, rule) in &cam.writes {
        s.about.push(format!(
            "{} as {}: {rule}",
            format,
            drm::fourcc_text(*fourcc)
        ));
    }
    for (fourcc, why) in &cam.left_out {
        s.about
            .push(format!("left out {}: {why}", drm::fourcc_text(*fourcc)));
    }
    s.set("roles", "camera", "V4L2 video capture");
    dma_entries(&mut s, arch, device_dir);
    let (contiguous, why) = match &p.contiguity {
        Contiguity::NotNeeded(f) => (
            false,
            format!("QBUF took a fragmented dma-buf ({})", f.describe()),
        ),
        Contiguity::Needed(f) => (
            true,
            format!(
                "QBUF refused a fragmented dma-buf with EFAULT, videobuf2-dma-contig's answer ({})",
                f.describe()
            ),
        ),
        // Unknown is treated as needed: claiming less would let the solver place buffers the
        // device may refuse.
        Contiguity::Unknown(why) => (true, format!("untested ({why}); assumed needed")),
    };
    s.set("contiguous", yes(contiguous), why);
    let c = &cam.constraints;
    let source = |key: &str| {
        cam.sources
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    s.set("stride-align", c.stride_align, source("stride-align"));
    s.set("height-align", c.height_align, source("height-align"));
    let size = source("size");
    for (key, value) in [
        ("min-width", c.min_width),
        ("min-height", c.min_height),
        ("max-width", c.max_width),
        ("max-height", c.max_height),
    ] {
        if value > 0 && value < u32::MAX {
            s.set(key, value, size.clone());
        }
    }
    if c.max_stride < u64::MAX {
        s.set("max-stride", c.max_stride, source("max-stride"));
    }
    s.set("reads", "", "a capture device writes only");
    let writes = cam
        .writes
        .iter()
        .fold(FormatSet::EMPTY, |set, (f, _, _)| set.with(*f));
    s.set(
        "writes",
        format_list(writes),
        "ENUM_FMT formats whose layout the driver reproduces (TRY_FMT at sample sizes)",
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drm::{Kms, PitchSample, Plane, PlaneKind};
    use crate::error::ProbeError;
    use crate::testbuf::Fragmentation;
    use central_gralloc::format::fourcc;

    fn virtio_like(import: Import) -> DrmProbe {
        DrmProbe {
            node: "/dev/dri/card0".into(),
            driver: "virtio_gpu".into(),
            description: "virtio GPU".into(),
            version: [0, 1, 0],
            prime_cap: Some(3),
            kms: Ok(Kms {
                crtcs: 1,
                connectors: 1,
                min_width: 32,
                max_width: 8192,
                min_height: 32,
                max_height: 8192,
                universal_planes: true,
                planes: vec![
                    Plane {
                        id: 32,
                        kind: PlaneKind::Primary,
                        formats: vec![fourcc(b"XR24")],
                        in_formats: None,
                    },
                    Plane {
                        id: 33,
                        kind: PlaneKind::Cursor,
                        formats: vec![fourcc(b"AR24")],
                        in_formats: None,
                    },
                ],
            }),
            dumb: Ok([1, 7, 641]
                .iter()
                .map(|&w| PitchSample {
                    width: w,
                    bpp: 32,
                    pitch: 4 * w,
                })
                .collect()),
            import,
        }
    }

    fn probe_of(sections: Vec<Section>) -> Probe {
        Probe {
            kernel: "6.12".into(),
            arch: "x86_64".into(),
            sections,
            skipped: vec![Skipped {
                node: "/dev/dri/card1".into(),
                reason: "vgem: no KMS".into(),
            }],
            drm: Vec::new(),
            v4l2: Vec::new(),
        }
    }

    #[test]
    fn a_display_that_refuses_imports_reads_nothing_and_says_why() {
        let dir = std::env::temp_dir();
        let s = drm_section(&virtio_like(Import::Refused(Errno::ENODEV)), "x86_64", &dir).unwrap();
        assert_eq!(s.name, "virtio_gpu-card0");
        assert_eq!(s.value("reads"), Some(""));
        assert_eq!(s.value("stride-align"), Some("1"));
        assert_eq!(s.value("min-width"), Some("32"));
        let reads = s.entries.iter().find(|e| e.key == "reads").unwrap();
        assert!(reads.source.contains("ENODEV") && reads.source.contains("BGRA_8888"));
        let mut skipped = Vec::new();
        let mut sections =
            heap_sections(Path::new("/dev/dma_heap"), &["system".into()], &mut skipped);
        sections.push(cpu_section(4096));
        sections.push(s);
        let probe = probe_of(sections);
        let profile = probe.profile().unwrap();
        let display = profile.device("virtio_gpu-card0").unwrap().constraints;
        assert_eq!(display.reads, FormatSet::EMPTY);
        assert_eq!((display.min_width, display.max_width), (32, 8192));
        assert!(probe.text().contains("#   /dev/dri/card1: vgem: no KMS"));
    }

    #[test]
    fn a_display_that_imports_reads_its_plane_formats() {
        let dir = std::env::temp_dir();
        let fragmented = Fragmentation::Verified { breaks: 63 };
        let s = drm_section(
            &virtio_like(Import::Imports(Ok(fragmented))),
            "x86_64",
            &dir,
        )
        .unwrap();
        assert_eq!(s.value("reads"), Some("BGRA_8888"));
        assert_eq!(s.value("contiguous"), Some("no"));
        let cma = Import::Imports(Err((Errno::EINVAL, Fragmentation::Verified { breaks: 63 })));
        let s = drm_section(&virtio_like(cma), "x86_64", &dir).unwrap();
        assert_eq!(s.value("contiguous"), Some("yes"));
    }

    #[test]
    fn nodes_without_kms_are_skipped_with_the_reason() {
        let mut vgem = virtio_like(Import::Imports(Ok(Fragmentation::Unverified("x".into()))));
        vgem.driver = "vgem".into();
        vgem.kms = Err(ProbeError::sys(
            "/dev/dri/card1",
            "DRM_IOCTL_MODE_GETRESOURCES",
            Errno::EOPNOTSUPP,
        ));
        let why = drm_section(&vgem, "x86_64", &std::env::temp_dir()).unwrap_err();
        assert!(
            why.contains("no KMS") && why.contains("imports foreign dma-bufs: yes"),
            "{why}"
        );
        vgem.kms = Err(ProbeError::Absurd {
            device: "/dev/dri/card1".into(),
            what: "planes".into(),
            value: 1 << 20,
            limit: 64,
        });
        assert!(drm_section(&vgem, "x86_64", &std::env::temp_dir())
            .unwrap_err()
            .contains("trusts"));
    }

    #[test]
    fn unknown_heaps_are_skipped_and_a_missing_system_heap_is_said() {
        let mut skipped = Vec::new();
        let names = ["linux,cma".to_string(), "secure-video".to_string()];
        let s = heap_sections(Path::new("/dev/dma_heap"), &names, &mut skipped);
        let roles: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(roles, ["system", "contiguous"]);
        assert!(s[0].about[0].contains("no system heap"));
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].node.ends_with("secure-video"));
    }

    #[test]
    fn device_names_are_profile_words() {
        assert_eq!(
            device_name("virtio_gpu", "/dev/dri/card0"),
            "virtio_gpu-card0"
        );
        assert_eq!(
            device_name("odd name/x", "/dev/video3"),
            "odd_name_x-video3"
        );
    }
}
