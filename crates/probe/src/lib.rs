//! `gralloc probe`: reads the running kernel's devices (DRM/KMS, V4L2), their DMA facts in sysfs
//! and the dma-heaps, and writes what it found as a central-gralloc profile whose every value says
//! where it came from. A vendor overlay pins or overrides any probed value
//! ([`central_gralloc::profile::Profile::overlay`] states the merge rule).
//!
//! Drivers and sysfs are input: every count and size they report is bounded, every failure is a
//! typed [`ProbeError`] naming the node, and a node that cannot be read or classified is listed in
//! [`Probe::skipped`] with the reason while the rest of the probe goes on.
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod drm;
pub mod error;
pub mod report;
pub mod sys;
pub mod sysfs;
pub mod testbuf;
pub mod v4l2;

pub use error::ProbeError;
pub use report::{Probe, Section, Skipped, PROFILE_NAME};

use central_gralloc::profile::Profile;
use std::path::{Path, PathBuf};

/// Where the probe looks: `/dev`, `/sys`, `/proc` (other roots for tests and containers).
#[derive(Clone, Debug)]
pub struct Roots {
    /// Device nodes.
    pub dev: PathBuf,
    /// sysfs.
    pub sys: PathBuf,
    /// procfs.
    pub proc: PathBuf,
}

impl Default for Roots {
    fn default() -> Roots {
        Roots {
            dev: PathBuf::from("/dev"),
            sys: PathBuf::from("/sys"),
            proc: PathBuf::from("/proc"),
        }
    }
}

/// Most nodes of one kind the probe looks at.
const MAX_NODES: usize = 64;

/// The nodes `dir/PREFIXn`, in numeric order; beyond [`MAX_NODES`] they are skipped.
fn nodes(dir: &Path, prefix: &str, skipped: &mut Vec<Skipped>) -> Vec<(u32, PathBuf)> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let n = name.strip_prefix(prefix)?.parse::<u32>().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    if found.len() > MAX_NODES {
        for (_, path) in found.drain(MAX_NODES..) {
            skipped.push(Skipped {
                node: path.display().to_string(),
                reason: format!("more than {MAX_NODES} {prefix} nodes"),
            });
        }
    }
    found
}

/// Probes the running kernel.
pub fn probe() -> Probe {
    probe_in(&Roots::default())
}

/// Probes the kernel seen through `roots`.
pub fn probe_in(roots: &Roots) -> Probe {
    let arch = std::env::consts::ARCH.to_string();
    let kernel = std::fs::read_to_string(roots.proc.join("sys/kernel/osrelease"))
        .map_or_else(|_| "unknown".to_string(), |s| s.trim().to_string());
    let mut skipped = Vec::new();
    let heap_dir = roots.dev.join("dma_heap");
    let heap_names = central_gralloc_memory::heap::list_heaps(&heap_dir).unwrap_or_default();
    let mut sections = report::heap_sections(&heap_dir, &heap_names, &mut skipped);
    let page = page_size();
    sections.push(report::cpu_section(page));
    let buffers = drm::BufferSource {
        heap_dir,
        udmabuf: roots.dev.join("udmabuf"),
    };

    let mut drm_probes = Vec::new();
    for (n, path) in nodes(&roots.dev.join("dri"), "card", &mut skipped) {
        let device_dir = roots.sys.join(format!("class/drm/card{n}/device"));
        match drm::probe(&path, &buffers) {
            Ok(p) => {
                match report::drm_section(&p, &arch, &device_dir) {
                    Ok(s) => sections.push(s),
                    Err(reason) => skipped.push(Skipped {
                        node: p.node.clone(),
                        reason,
                    }),
                }
                drm_probes.push(p);
            }
            Err(e) => skipped.push(Skipped {
                node: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }
    let mut v4l2_probes = Vec::new();
    for (n, path) in nodes(&roots.dev, "video", &mut skipped) {
        let device_dir = roots.sys.join(format!("class/video4linux/video{n}/device"));
        match v4l2::probe(&path, &buffers) {
            Ok(p) => {
                match report::v4l2_section(&p, &arch, &device_dir) {
                    Ok(s) => sections.push(s),
                    Err(reason) => skipped.push(Skipped {
                        node: p.node.clone(),
                        reason,
                    }),
                }
                v4l2_probes.push(p);
            }
            Err(e) => skipped.push(Skipped {
                node: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }
    // The profile format holds at most MAX_DEVICES devices: the rest are listed, not dropped
    // silently.
    let limit = central_gralloc::profile::MAX_DEVICES;
    let mut devices = 0;
    sections.retain(|s| {
        if s.kind != "device" {
            return true;
        }
        devices += 1;
        if devices > limit {
            skipped.push(Skipped {
                node: s.node.clone(),
                reason: format!("a profile holds at most {limit} devices"),
            });
        }
        devices <= limit
    });
    Probe {
        kernel,
        arch,
        sections,
        skipped,
        drm: drm_probes,
        v4l2: v4l2_probes,
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions; it reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// The overlay a device installs for probed profiles, applied when present.
pub const DEFAULT_OVERLAY: &str = "/vendor/etc/gralloc/central/probe-overlay.conf";

/// A profile by name: `probe` (the running kernel, with [`DEFAULT_OVERLAY`] applied if it
/// exists), `probe:FILE` (the running kernel with the overlay FILE), else a built-in name or a
/// profile file ([`Profile::resolve`]).
pub fn resolve_profile(spec: &str) -> Result<Profile, String> {
    let overlay = match spec.strip_prefix(PROFILE_NAME) {
        Some("") => Path::new(DEFAULT_OVERLAY)
            .exists()
            .then(|| PathBuf::from(DEFAULT_OVERLAY)),
        Some(rest) => match rest.strip_prefix(':') {
            Some(file) => Some(PathBuf::from(file)),
            None => return Profile::resolve(spec).map_err(|e| e.to_string()),
        },
        None => return Profile::resolve(spec).map_err(|e| e.to_string()),
    };
    let probed = probe()
        .profile()
        .map_err(|e| format!("the probed profile does not parse: {e}"))?;
    apply_overlay(&probed, overlay.as_deref())
}

/// `profile` with the overlay file at `path` applied (none: unchanged).
pub fn apply_overlay(profile: &Profile, path: Option<&Path>) -> Result<Profile, String> {
    let Some(path) = path else {
        return Ok(profile.clone());
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("overlay {}: {e}", path.display()))?;
    profile
        .overlay(&text)
        .map_err(|e| format!("overlay {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_machine_probes_to_a_valid_profile_that_says_what_is_missing() {
        let root = std::env::temp_dir().join(format!("cg-probe-empty-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["dev/dri", "sys", "proc"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        // A node that is no device: the probe lists it as skipped and goes on.
        std::fs::write(root.join("dev/dri/card0"), b"").unwrap();
        std::fs::write(root.join("dev/video7"), b"").unwrap();
        let roots = Roots {
            dev: root.join("dev"),
            sys: root.join("sys"),
            proc: root.join("proc"),
        };
        let p = probe_in(&roots);
        let profile = p.profile().unwrap();
        assert_eq!(profile.name, PROFILE_NAME);
        let names: Vec<&str> = profile.devices().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["cpu"]);
        assert!(p.text().contains("no system heap"));
        let skipped: Vec<&str> = p.skipped.iter().map(|s| s.node.as_str()).collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(p.skipped.iter().all(|s| !s.reason.is_empty()));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn overlays_apply_from_a_file_and_name_it_in_errors() {
        let probed = Profile::builtin("host").unwrap();
        let dir = std::env::temp_dir().join(format!("cg-probe-overlay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("overlay.conf");
        std::fs::write(&file, "device gpu\n  stride-align = 256\n").unwrap();
        let merged = apply_overlay(&probed, Some(&file)).unwrap();
        assert_eq!(merged.device("gpu").unwrap().constraints.stride_align, 256);
        std::fs::write(&file, "device gpu\n  stride-align = none\n").unwrap();
        let e = apply_overlay(&probed, Some(&file)).unwrap_err();
        assert!(e.contains("overlay.conf") && e.contains("line 2"), "{e}");
        assert!(apply_overlay(&probed, Some(&dir.join("missing"))).is_err());
        assert_eq!(apply_overlay(&probed, None).unwrap(), probed);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn names_other_than_probe_resolve_as_before() {
        assert_eq!(
            resolve_profile("soc").unwrap(),
            Profile::builtin("soc").unwrap()
        );
        assert!(resolve_profile("probex").is_err());
    }
}
