//! What sysfs and the device tree say about a device's DMA (address width, cache coherency), and
//! which dma-heaps exist and what they are for.

use central_gralloc::profile::HeapRole;
use std::path::Path;

/// A fact and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from, for the profile's comment.
    pub source: String,
}

/// Whether a device's DMA snoops the CPU caches.
pub fn coherent(arch: &str, device_dir: &Path) -> Sourced<bool> {
    if matches!(arch, "x86" | "x86_64") {
        return Sourced {
            value: true,
            source: format!("{arch}: device DMA is cache-coherent by architecture"),
        };
    }
    let of_node = device_dir.join("of_node");
    if of_node.join("dma-coherent").exists() {
        return Sourced {
            value: true,
            source: format!("{}/dma-coherent", of_node.display()),
        };
    }
    let source = if of_node.exists() {
        format!("no dma-coherent in {}", of_node.display())
    } else {
        "no device-tree node says dma-coherent; assumed not (maintenance is never skipped)"
            .to_string()
    };
    Sourced {
        value: false,
        source,
    }
}

/// Parses a `dma_mask_bits` attribute: 12..=64.
pub fn parse_mask_bits(text: &str) -> Result<u8, String> {
    match text.trim().parse::<u8>() {
        Ok(bits) if (12..=64).contains(&bits) => Ok(bits),
        _ => Err(format!(
            "dma_mask_bits reads `{}`, not 12..=64",
            text.trim()
        )),
    }
}

/// The device's DMA address width from its `dma_mask_bits` attribute (PCI devices have one).
/// `Ok(None)` when sysfs does not expose it; `Err` when the attribute holds nonsense.
pub fn address_bits(device_dir: &Path) -> Result<Option<Sourced<u8>>, String> {
    let path = device_dir.join("dma_mask_bits");
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_mask_bits(&text)
            .map(|bits| {
                Some(Sourced {
                    value: bits,
                    source: path.display().to_string(),
                })
            })
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(_) => Ok(None),
    }
}

/// What a dma-heap name is for, if the probe knows the name.
pub fn heap_role(name: &str) -> Option<(HeapRole, &'static str)> {
    match name {
        "system" => Some((
            HeapRole::System,
            "the kernel's system heap: cached pages from anywhere",
        )),
        "system-uncached" => Some((
            HeapRole::SystemUncached,
            "Android's write-combined system heap",
        )),
        "linux,cma" | "reserved" | "default_cma_region" => {
            Some((HeapRole::Contiguous, "a CMA heap: physically contiguous"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("cg-probe-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn coherency_from_the_architecture_or_the_device_tree() {
        let dir = scratch("coherent");
        assert!(coherent("x86_64", &dir).value);
        let arm = coherent("aarch64", &dir);
        assert!(
            !arm.value && arm.source.contains("assumed not"),
            "{}",
            arm.source
        );
        std::fs::create_dir_all(dir.join("of_node")).unwrap();
        assert!(coherent("aarch64", &dir).source.contains("no dma-coherent"));
        std::fs::write(dir.join("of_node/dma-coherent"), b"").unwrap();
        assert!(coherent("aarch64", &dir).value);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn mask_bits_are_read_and_nonsense_is_refused() {
        let dir = scratch("mask");
        assert_eq!(address_bits(&dir), Ok(None));
        std::fs::write(dir.join("dma_mask_bits"), "32\n").unwrap();
        assert_eq!(address_bits(&dir).unwrap().unwrap().value, 32);
        for bad in ["", "abc", "0", "65", "-1", "99999"] {
            std::fs::write(dir.join("dma_mask_bits"), bad).unwrap();
            assert!(address_bits(&dir).is_err(), "{bad:?}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn heap_names_map_to_roles() {
        assert_eq!(heap_role("system").map(|r| r.0), Some(HeapRole::System));
        assert_eq!(
            heap_role("linux,cma").map(|r| r.0),
            Some(HeapRole::Contiguous)
        );
        assert!(heap_role("vendor-secure").is_none());
    }
}
