//! Vendor overlays: a profile file that pins or overrides values of a base profile (typically one
//! `gralloc probe` read from the running kernel) instead of restating all of it.
//!
//! The merge rule, applied section by section in file order:
//! - `profile NAME` (optional) names the result; without it the base's name is kept.
//! - `device NAME` of a device the base has: each key the overlay gives replaces the base's value
//!   (`roles` and format lists are replaced whole, not extended); every key it does not give keeps
//!   the base's value. So a vendor pins exactly what the probe cannot see (an IOMMU-less display
//!   whose test buffer happened to be contiguous, a tighter alignment the firmware needs).
//! - `device NAME` the base lacks: a new device, built as in a profile file (not coherent, not
//!   protected, no limits until keys say otherwise); it must get `roles`. New devices follow the
//!   base's, in overlay order.
//! - `omit = yes` in a device or heap section drops that base device or heap; it must be the
//!   section's only key, and the base must have it.
//! - `heap ROLE`: as for devices, by role.
//!
//! The result is checked like any profile (a `system` heap, at most 32 devices, positive
//! alignments); an overlay error names its line.

use super::{device_key, heap_key, parse_bool, HeapRole, HeapSpec, Profile, ProfileError};
use crate::device::{Constraints, Device};

/// One section of an overlay: what it names, where it starts, its keys in order.
struct Edit<'a> {
    line: usize,
    name: &'a str,
    keys: Vec<(usize, &'a str, &'a str)>,
}

impl Edit<'_> {
    /// Whether the section is `omit = yes` (and nothing else).
    fn omits(&self) -> Result<bool, ProfileError> {
        let Some(&(line, _, value)) = self.keys.iter().find(|(_, key, _)| *key == "omit") else {
            return Ok(false);
        };
        let omit = parse_bool(value).map_err(|message| ProfileError { line, message })?;
        if self.keys.len() > 1 {
            return Err(ProfileError {
                line,
                message: format!("`omit` must be the only key of `{}`", self.name),
            });
        }
        Ok(omit)
    }
}

/// An overlay file split into its sections.
#[derive(Default)]
struct Overlay<'a> {
    name: Option<&'a str>,
    devices: Vec<Edit<'a>>,
    heaps: Vec<Edit<'a>>,
}

enum Current {
    None,
    Device,
    Heap,
}

fn split(text: &str) -> Result<Overlay<'_>, ProfileError> {
    let mut overlay = Overlay::default();
    let mut current = Current::None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let err = |message: String| ProfileError { line, message };
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        if let Some((key, value)) = content.split_once('=') {
            let entry = (line, key.trim(), value.trim());
            let section = match current {
                Current::Device => overlay.devices.last_mut(),
                Current::Heap => overlay.heaps.last_mut(),
                Current::None => None,
            };
            section
                .ok_or_else(|| err(format!("`{}` outside a device or heap section", entry.1)))?
                .keys
                .push(entry);
            continue;
        }
        let mut words = content.split_whitespace();
        let (keyword, arg) = (words.next().unwrap_or(""), words.next());
        if words.next().is_some() {
            return Err(err(format!("unexpected text after `{keyword}`")));
        }
        let edit = |name| Edit {
            line,
            name,
            keys: Vec::new(),
        };
        match (keyword, arg) {
            ("profile", Some(name)) if overlay.name.is_none() => overlay.name = Some(name),
            ("profile", Some(_)) => return Err(err("second `profile` line".into())),
            ("device", Some(name)) => {
                if overlay.devices.iter().any(|e| e.name == name) {
                    return Err(err(format!("device `{name}` appears twice")));
                }
                overlay.devices.push(edit(name));
                current = Current::Device;
            }
            ("heap", Some(role)) => {
                if overlay.heaps.iter().any(|e| e.name == role) {
                    return Err(err(format!("heap `{role}` appears twice")));
                }
                overlay.heaps.push(edit(role));
                current = Current::Heap;
            }
            _ => {
                return Err(err(format!(
                    "expected `profile NAME`, `device NAME`, `heap ROLE` or `key = value`, \
                     found `{content}`"
                )))
            }
        }
    }
    Ok(overlay)
}

impl Profile {
    /// This profile with the overlay `text` applied (the merge rule is in this module's doc).
    pub fn overlay(&self, text: &str) -> Result<Profile, ProfileError> {
        let overlay = split(text)?;
        let mut devices: Vec<Option<Device>> = self.devices.iter().cloned().map(Some).collect();
        for edit in &overlay.devices {
            let at = |line, message| ProfileError { line, message };
            let found = self.devices.iter().position(|d| d.name == edit.name);
            if edit.omits()? {
                let i = found.ok_or_else(|| {
                    at(
                        edit.line,
                        format!("cannot omit `{}`: no such device", edit.name),
                    )
                })?;
                devices[i] = None;
                continue;
            }
            let mut device = match found.and_then(|i| devices[i].take()) {
                Some(device) => device,
                None => Device::new(
                    edit.name,
                    &[],
                    Constraints {
                        coherent: false,
                        protected: false,
                        ..Constraints::NONE
                    },
                ),
            };
            for &(line, key, value) in &edit.keys {
                device_key(&mut device, key, value).map_err(|m| at(line, m))?;
            }
            if device.roles == 0 {
                return Err(at(
                    edit.line,
                    format!("device `{}` has no roles", edit.name),
                ));
            }
            match found {
                Some(i) => devices[i] = Some(device),
                None => devices.push(Some(device)),
            }
        }
        let mut heaps: Vec<Option<HeapSpec>> = self.heaps.iter().cloned().map(Some).collect();
        for edit in &overlay.heaps {
            let at = |line, message| ProfileError { line, message };
            let role = HeapRole::parse(edit.name)
                .ok_or_else(|| at(edit.line, format!("unknown heap role `{}`", edit.name)))?;
            let found = self.heaps.iter().position(|h| h.role == role);
            if edit.omits()? {
                let i = found.ok_or_else(|| {
                    at(
                        edit.line,
                        format!("cannot omit heap `{role}`: the base has none"),
                    )
                })?;
                heaps[i] = None;
                continue;
            }
            let mut heap = match found.and_then(|i| heaps[i].take()) {
                Some(heap) => heap,
                None => HeapSpec::new(role, ""),
            };
            for &(line, key, value) in &edit.keys {
                heap_key(&mut heap, key, value).map_err(|m| at(line, m))?;
            }
            if heap.name.is_empty() {
                return Err(at(edit.line, format!("heap `{role}` has no name")));
            }
            match found {
                Some(i) => heaps[i] = Some(heap),
                None => heaps.push(Some(heap)),
            }
        }
        Profile::new(
            overlay.name.unwrap_or(&self.name),
            devices.into_iter().flatten().collect(),
            heaps.into_iter().flatten().collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::PixelFormat;

    const PROBED: &str = "profile probe
heap system
  name = system
device cpu
  roles = cpu
  coherent = yes
  size-align = 4096
device cam0
  roles = camera
  coherent = yes
  stride-align = 1
  height-align = 2
  min-width = 16
  max-width = 16384
  writes = YCBCR_420_888, YCBCR_422_I
";

    fn probed() -> Profile {
        Profile::parse(PROBED).unwrap()
    }

    #[test]
    fn given_keys_replace_and_the_rest_keep_their_probed_values() {
        let merged = probed()
            .overlay("device cam0\n  stride-align = 64\n  writes = YCBCR_420_888\n")
            .unwrap();
        let cam = merged.device("cam0").unwrap().constraints;
        assert_eq!(cam.stride_align, 64);
        assert_eq!(
            cam.writes.iter().collect::<Vec<_>>(),
            [PixelFormat::YCBCR_420_888]
        );
        // Untouched: everything else the probe said, and the other devices and heaps.
        assert_eq!(
            (cam.height_align, cam.min_width, cam.max_width),
            (2, 16, 16384)
        );
        assert!(cam.coherent);
        assert_eq!(merged.device("cpu"), probed().device("cpu"));
        assert_eq!(merged.heaps(), probed().heaps());
        assert_eq!(merged.name, "probe");
    }

    #[test]
    fn an_empty_overlay_is_the_identity() {
        assert_eq!(probed().overlay("# nothing\n").unwrap(), probed());
        assert_eq!(probed().overlay(&probed().to_string()).unwrap(), probed());
    }

    #[test]
    fn new_devices_and_heaps_are_added_after_the_probed_ones() {
        let merged = probed()
            .overlay(
                "profile board\nheap contiguous\n  name = linux,cma\n  address-bits = 32\n\
                 device gpu\n  roles = gpu\n  stride-align = 64\n",
            )
            .unwrap();
        assert_eq!(merged.name, "board");
        let names: Vec<&str> = merged.devices().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["cpu", "cam0", "gpu"]);
        // A new device starts from the file defaults: not coherent, no limits.
        let gpu = merged.device("gpu").unwrap().constraints;
        assert!(!gpu.coherent && gpu.stride_align == 64 && gpu.max_width == u32::MAX);
        let cma = merged.heap(HeapRole::Contiguous).unwrap();
        assert!(cma.contiguous && cma.address_bits == 32);
    }

    #[test]
    fn omit_drops_a_probed_device_or_heap() {
        let merged = probed().overlay("device cam0\n  omit = yes\n").unwrap();
        assert!(merged.device("cam0").is_none() && merged.device("cpu").is_some());
        // The system heap cannot go: every profile needs one.
        let e = probed().overlay("heap system\n  omit = yes\n").unwrap_err();
        assert!(e.message.contains("system"), "{e}");
    }

    #[test]
    fn errors_name_the_overlay_line() {
        let cases = [
            ("device cam0\n  stride-align = 0\n", 2),
            ("device cam0\n  omit = yes\n  stride-align = 4\n", 2),
            ("device ghost\n  omit = yes\n", 1),
            ("device gpu\n  stride-align = 64\n", 1),
            ("  coherent = no\n", 1),
            ("heap magic\n  name = x\n", 1),
            ("heap contiguous\n  address-bits = 32\n", 1),
            ("device cam0\ndevice cam0\n", 2),
            ("device cam0\n  roles = toaster\n", 2),
        ];
        for (text, line) in cases {
            let e = probed().overlay(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
        }
    }
}
