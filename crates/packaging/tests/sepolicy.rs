//! Checks the device policy: labels compile and match the installed paths, the property has a declared type, and the `.te` holds only commented rules that the platform does not already grant.

mod common;

use common::{file_context_regex, file_contexts, policy_lines, read, INSTALL_PATH};

const TE: &str = "sepolicy/hal_graphics_allocator_default.te";
/// What cuttlefish's board adds for the device heap (virtio-gpu's card node).
const CUTTLEFISH_TE: &str = "sepolicy/cuttlefish/hal_graphics_allocator_default.te";

/// Types the platform's hal_graphics_allocator policy already grants; a rule naming one of them
/// duplicates platform policy (system/sepolicy private/hal_graphics_allocator.te, domain.te).
const PLATFORM_GRANTED: &[&str] = &[
    "dmabuf_system_heap_device",
    "dmabuf_system_secure_heap_device",
    "gpu_device",
    "ion_device",
    "sys_nice",
    "vendor_configs_file",
    "hal_graphics_allocator_default_tmpfs",
    "servicemanager",
];

/// Paths the platform labels itself; the device policy must not relabel them.
const PLATFORM_LABELLED: &[&str] = &[
    "/dev/dma_heap/system",
    "/dev/dma_heap/system-uncached",
    "/vendor/etc/gralloc/central/profile.conf",
];

fn labels_of(path: &str) -> Vec<String> {
    file_contexts()
        .into_iter()
        .filter(|(pattern, _)| file_context_regex(pattern).is_match(path))
        .map(|(_, ty)| ty)
        .collect()
}

#[test]
fn binary_runs_in_the_platform_allocator_domain() {
    assert_eq!(
        labels_of(INSTALL_PATH),
        ["hal_graphics_allocator_default_exec"]
    );
    // Anchored and escaped: neighbours of the install path are not labelled by our line.
    for near in [
        "/vendor/bin/hw/android.hardware.graphics.allocator-service.centralx",
        "/vendor/bin/hw/android.hardware.graphics.allocator-service.minigbm",
        "/vendor/bin/hw/android_hardware_graphics_allocator-service_central",
        "/system/bin/hw/android.hardware.graphics.allocator-service.central",
    ] {
        assert!(labels_of(near).is_empty(), "{near} must not match");
    }
}

#[test]
fn every_file_context_compiles_and_labels_something_of_ours() {
    let ours = [
        INSTALL_PATH,
        "/vendor/lib/hw/mapper.central.so",
        "/vendor/lib64/hw/mapper.central.so",
    ];
    for (pattern, ty) in file_contexts() {
        let re = file_context_regex(&pattern);
        assert!(
            ours.iter().any(|p| re.is_match(p)),
            "{pattern} ({ty}) labels none of our files"
        );
    }
}

#[test]
fn platform_labelled_paths_are_left_alone() {
    for path in PLATFORM_LABELLED {
        assert!(
            labels_of(path).is_empty(),
            "{path} is labelled by the platform already"
        );
    }
}

#[test]
fn profile_property_has_a_declared_vendor_type() {
    let contexts = read("sepolicy/property_contexts");
    let lines = policy_lines(&contexts);
    let [(n, line)] = lines.as_slice() else {
        panic!("property_contexts: one property expected")
    };
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [property, context, "exact", "string"] = fields.as_slice() else {
        panic!("property_contexts:{n}: expected `NAME CONTEXT exact string`: {line}");
    };
    assert_eq!(*property, "ro.vendor.gralloc.central.profile");
    let ty = common::selinux_type(context, &format!("property_contexts:{n}"));
    assert!(
        ty.starts_with("vendor_"),
        "vendor properties take vendor_ types: {ty}"
    );
    let te = read(TE);
    assert!(
        te.contains(&format!("vendor_internal_prop({ty})")),
        "{ty} is not declared in {TE}"
    );
    assert!(te.contains(&format!("get_prop(hal_graphics_allocator_default, {ty})")));
}

#[test]
fn te_rules_are_commented_narrow_and_new() {
    for te in [TE, CUTTLEFISH_TE] {
        te_rules_in(te);
    }
}

#[test]
fn cuttlefish_adds_only_the_card_node_for_the_device_heap() {
    let text = read(CUTTLEFISH_TE);
    let rules = policy_lines(&text);
    let rules: Vec<&str> = rules.iter().map(|(_, l)| *l).collect();
    assert_eq!(
        rules,
        ["allow hal_graphics_allocator_default graphics_device:chr_file rw_file_perms;"]
    );
    // The profile it serves really has a device heap on virtio-gpu.
    let profile = read("profiles/cuttlefish.conf");
    assert!(profile.contains("heap device") && profile.contains("name = virtio_gpu"));
}

fn te_rules_in(te: &str) {
    let text = read(te);
    let lines: Vec<&str> = text.lines().collect();
    let allowed_statements = [
        "allow ",
        "get_prop(",
        "set_prop(",
        "vendor_internal_prop(",
        "type ",
    ];
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        assert!(
            allowed_statements.iter().any(|s| line.starts_with(s)),
            "{te}:{}: unexpected statement: {line}",
            i + 1
        );
        // Each rule says which code path needs it, on the line right above.
        let above = i.checked_sub(1).map(|j| lines[j].trim()).unwrap_or("");
        assert!(
            above.starts_with('#'),
            "{te}:{}: rule without a comment above: {line}",
            i + 1
        );
        for granted in PLATFORM_GRANTED {
            assert!(
                !line
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|w| w == *granted),
                "{te}:{}: {granted} is granted by the platform already: {line}",
                i + 1
            );
        }
        assert!(
            !line.contains('*') && !line.contains("domain,") && !line.contains(" domain "),
            "{te}:{}: rule broader than one domain: {line}",
            i + 1
        );
    }
}
