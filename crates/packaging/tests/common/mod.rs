//! Paths and names the packaging checks share: the one place that says what the Android build installs where.

#![allow(dead_code)] // each test file uses a different subset

use android_bp::{BluePrint, Module, Value};
use std::collections::HashMap;
use std::path::PathBuf;

/// Soong module name of the service binary, and the stem of its .rc and VINTF files.
pub const BINARY: &str = "android.hardware.graphics.allocator-service.central";
/// Where the binary lands on the device (`vendor: true`, `relative_install_path: "hw"`).
pub const INSTALL_PATH: &str = "/vendor/bin/hw/android.hardware.graphics.allocator-service.central";
/// The init script, relative to the repository root.
pub const RC_PATH: &str = "init/android.hardware.graphics.allocator-service.central.rc";
/// The allocator's VINTF fragment, relative to the repository root.
pub const ALLOCATOR_FRAGMENT: &str =
    "vintf/android.hardware.graphics.allocator-service.central.xml";
/// The mapper's VINTF fragment, relative to the repository root.
pub const MAPPER_FRAGMENT: &str = "vintf/mapper.central.xml";
/// IMapper library suffix: `getIMapperLibrarySuffix()`, the VINTF instance, `mapper.<suffix>.so`.
pub const MAPPER_SUFFIX: &str = "central";
/// The IAllocator service instance.
pub const ALLOCATOR_INSTANCE: &str = "android.hardware.graphics.allocator.IAllocator/default";

/// Paths that `Android.bp` names before their owners have written them. A missing path listed
/// here is reported, not failed; one that exists is checked like any other.
pub const PENDING: &[(&str, &str)] = &[
    (
        "crates/service/src/android_main.rs",
        "the Android service main (service owner)",
    ),
    (
        "crates/service/tests/conformance.rs",
        "the IAllocator conformance suite (service owner)",
    ),
    (
        "profiles/cuttlefish.conf",
        "cuttlefish's platform profile (core owner)",
    ),
];

/// The repository root (this crate lives at `crates/packaging`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The text of a repository file, with the path in the panic message when it cannot be read.
pub fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Lines of a policy file without comments and blank lines, with their 1-based numbers.
pub fn policy_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// A file_contexts regex compiled the way SELinux applies it: anchored at both ends.
pub fn file_context_regex(pattern: &str) -> regex::Regex {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .unwrap_or_else(|err| panic!("file_contexts regex {pattern:?}: {err}"))
}

/// `(regex, type)` for every line of `sepolicy/file_contexts`.
pub fn file_contexts() -> Vec<(String, String)> {
    let text = read("sepolicy/file_contexts");
    policy_lines(&text)
        .into_iter()
        .map(|(n, line)| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (pattern, context) = match fields.as_slice() {
                [pattern, context] => (*pattern, *context),
                // An optional file-type field (`--`, `-d`, ...) sits between the two.
                [pattern, kind, context] if kind.starts_with('-') => (*pattern, *context),
                _ => panic!("sepolicy/file_contexts:{n}: expected `regex [type] context`: {line}"),
            };
            (
                pattern.to_owned(),
                selinux_type(context, &format!("sepolicy/file_contexts:{n}")),
            )
        })
        .collect()
}

/// The type field of a `u:object_r:TYPE:s0` context.
pub fn selinux_type(context: &str, at: &str) -> String {
    match context.split(':').collect::<Vec<_>>().as_slice() {
        ["u", "object_r", ty, "s0"] if !ty.is_empty() => (*ty).to_owned(),
        _ => panic!("{at}: malformed context {context:?}, expected u:object_r:TYPE:s0"),
    }
}

/// `Android.bp`, parsed.
pub fn blueprint() -> BluePrint {
    BluePrint::parse(&read("Android.bp")).unwrap_or_else(|err| panic!("Android.bp: {err}"))
}

/// A module's name.
pub fn name(module: &Module) -> &str {
    module
        .get_string("name")
        .map_or("<unnamed>", String::as_str)
}

/// `key` of `module` as a list of strings (a single string is a list of one).
pub fn strings(module: &Module, key: &str) -> Vec<String> {
    match module.get(key) {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                other => panic!("{}: {key} holds a non-string {other:?}", name(module)),
            })
            .collect(),
        Some(other) => panic!("{}: {key} is not a string or list: {other:?}", name(module)),
    }
}

/// The modules by name.
pub fn by_name(bp: &BluePrint) -> HashMap<&str, &Module> {
    bp.modules.iter().map(|m| (name(m), m)).collect()
}

/// `key` of `module`, following `defaults` (Soong appends lists from defaults to the module's).
pub fn resolved(bp: &BluePrint, module: &Module, key: &str) -> Vec<String> {
    let modules = by_name(bp);
    let mut values = Vec::new();
    for default in strings(module, "defaults") {
        let parent = modules
            .get(default.as_str())
            .unwrap_or_else(|| panic!("{}: unknown defaults {default}", name(module)));
        values.extend(resolved(bp, parent, key));
    }
    values.extend(strings(module, key));
    values
}
