//! Checks `Android.bp`: it parses, every file it names exists, it uses only platform crates, and its names agree with the Cargo crates, the init script and the install paths.

mod common;

use android_bp::{BluePrint, Module};
use common::{
    blueprint, by_name, name, read, repo_root, resolved, strings, ALLOCATOR_FRAGMENT, BINARY,
    INSTALL_PATH, MAPPER_FRAGMENT, MAPPER_SUFFIX, PENDING, RC_PATH,
};
use std::collections::BTreeSet;

/// Crates the platform provides to vendor Rust modules (external/rust/crates, system/, AIDL
/// backends). Anything else in `rustlibs` must be a library this file defines.
const PLATFORM_RUSTLIBS: &[&str] = &[
    "android.hardware.common-V2-rust",
    "android.hardware.graphics.allocator-V2-rust",
    "libandroid_logger",
    "libanyhow",
    "libbinder_rs",
    "libclap",
    "liblibc",
    "liblog_rust",
    "libnix",
    "libproptest",
    "librustutils",
    "libserde_json",
];

/// Properties whose values are source paths relative to the `Android.bp` directory.
const PATH_PROPERTIES: &[&str] = &[
    "srcs",
    "init_rc",
    "vintf_fragments",
    "src",
    "data",
    "version_script",
];

/// Cargo-only parts of the workspace: nothing under them may be built by Soong.
const CARGO_ONLY: &[&str] = &[
    "crates/binder/",
    "crates/aidl/",
    "crates/vmtest/",
    "crates/packaging/",
    "crates/service/src/bin/",
    "crates/coherency/",
    "benches/",
];

/// Test and tooling crates. Soong may build one only as a library that tests alone link; no
/// module a device installs may compile or link it.
const TOOLING: &[&str] = &["crates/coherency/", "crates/conformance/"];

/// Module types that never reach a device image: tests, and defaults (which are not modules).
const NOT_SHIPPED: &[&str] = &[
    "rust_test",
    "rust_test_host",
    "rust_defaults",
    "cc_test",
    "package",
    "license",
];

/// Properties naming other modules a module links or depends on.
const DEPENDENCY_PROPERTIES: &[&str] = &[
    "rustlibs",
    "rlibs",
    "dylibs",
    "static_libs",
    "whole_static_libs",
    "shared_libs",
    "required",
];

#[test]
fn parses_and_names_are_unique() {
    let bp = blueprint();
    assert!(!bp.modules.is_empty(), "Android.bp defines no module");
    let mut seen = BTreeSet::new();
    for module in bp.modules.iter().filter(|m| m.typ != "package") {
        let module_name = module
            .get_string("name")
            .expect("every module but package has a name");
        assert!(
            seen.insert(module_name.clone()),
            "module {module_name} is defined twice"
        );
    }
}

#[test]
fn every_named_file_exists() {
    let bp = blueprint();
    let root = repo_root();
    let mut missing = Vec::new();
    for module in &bp.modules {
        for key in PATH_PROPERTIES {
            for path in strings(module, key) {
                if path.starts_with(':') {
                    continue; // another module's output
                }
                if root.join(&path).is_file() {
                    continue;
                }
                match PENDING.iter().find(|(pending, _)| *pending == path) {
                    Some((_, what)) => {
                        eprintln!("pending: {path} ({what}), named by {}", name(module))
                    }
                    None => missing.push(format!("{}: {key} {path}", name(module))),
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "Android.bp names files that do not exist: {missing:#?}"
    );
}

#[test]
fn pending_paths_are_still_named() {
    // A pending entry that Android.bp no longer names is stale.
    let text = read("Android.bp");
    for (path, _) in PENDING {
        assert!(
            text.contains(&format!("\"{path}\"")),
            "PENDING lists {path} but Android.bp does not name it"
        );
    }
}

#[test]
fn defaults_resolve_to_rust_defaults() {
    let bp = blueprint();
    let modules = by_name(&bp);
    for module in &bp.modules {
        for default in strings(module, "defaults") {
            let parent = modules.get(default.as_str()).unwrap_or_else(|| {
                panic!("{}: defaults {default} is not defined here", name(module))
            });
            assert_eq!(
                parent.typ,
                "rust_defaults",
                "{}: defaults {default}",
                name(module)
            );
        }
    }
}

#[test]
fn rustlibs_are_platform_crates_or_ours() {
    let bp = blueprint();
    let ours: BTreeSet<String> = bp
        .modules_by_type("rust_library")
        .map(|m| name(m).to_owned())
        .collect();
    for module in &bp.modules {
        for key in ["rustlibs", "rlibs", "dylibs", "proc_macros"] {
            for lib in strings(module, key) {
                assert!(
                    PLATFORM_RUSTLIBS.contains(&lib.as_str()) || ours.contains(&lib),
                    "{}: {key} {lib} is neither a platform crate nor a library of this file",
                    name(module)
                );
            }
        }
    }
}

#[test]
fn cargo_only_sources_stay_out_of_soong() {
    let bp = blueprint();
    for module in &bp.modules {
        for path in strings(module, "srcs") {
            assert!(
                !CARGO_ONLY.iter().any(|prefix| path.starts_with(prefix)),
                "{}: {path} is Cargo-only",
                name(module)
            );
        }
    }
}

/// The `[lib] name` of the Cargo package at `dir` (relative to the repository root).
fn cargo_lib_name(dir: &str) -> String {
    let manifest = read(&format!("{dir}Cargo.toml"));
    let mut in_lib = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_lib = line == "[lib]";
        } else if let (true, Some(value)) = (in_lib, line.strip_prefix("name")) {
            let value = value.trim_start().trim_start_matches('=').trim();
            return value.trim_matches('"').to_owned();
        }
    }
    panic!("{dir}Cargo.toml has no [lib] name");
}

#[test]
fn library_crate_names_match_cargo() {
    let bp = blueprint();
    let libraries: Vec<&Module> = bp.modules_by_type("rust_library").collect();
    assert_eq!(
        libraries.len(),
        4,
        "core, memory and service libraries, and the conformance cases"
    );
    for library in libraries {
        let srcs = resolved(&bp, library, "srcs");
        let [root] = srcs.as_slice() else {
            panic!("{}: one crate root expected, got {srcs:?}", name(library));
        };
        let dir = root.strip_suffix("src/lib.rs").unwrap_or_else(|| {
            panic!(
                "{}: crate root {root} is not a Cargo src/lib.rs",
                name(library)
            )
        });
        let crate_name = resolved(&bp, library, "crate_name");
        assert_eq!(
            crate_name,
            vec![cargo_lib_name(dir)],
            "{}: crate_name",
            name(library)
        );
        assert_eq!(
            name(library),
            format!("lib{}", crate_name[0]),
            "Soong library naming"
        );
    }
}

#[test]
fn core_library_is_vendor_available() {
    let bp = blueprint();
    let core = bp
        .modules_by_type("rust_library")
        .find(|m| resolved(&bp, m, "srcs") == ["src/lib.rs"])
        .expect("a rust_library for the core crate");
    assert_eq!(core.get_bool("vendor_available"), Some(true));
}

#[test]
fn service_binary_installs_where_init_starts_it() {
    let bp = blueprint();
    let binaries: Vec<&Module> = bp.modules_by_type("rust_binary").collect();
    let [binary] = binaries.as_slice() else {
        panic!("one rust_binary expected, got {}", binaries.len());
    };
    assert_eq!(name(binary), BINARY);
    assert_eq!(binary.get_bool("vendor"), Some(true));
    let dir = binary
        .get_string("relative_install_path")
        .expect("relative_install_path");
    assert_eq!(format!("/vendor/bin/{dir}/{}", name(binary)), INSTALL_PATH);
    assert_eq!(
        strings(binary, "srcs"),
        ["crates/service/src/android_main.rs"]
    );
    assert_eq!(strings(binary, "init_rc"), [RC_PATH]);
    assert_eq!(strings(binary, "vintf_fragments"), [ALLOCATOR_FRAGMENT]);

    let rc = central_gralloc_packaging::only_service(&read(RC_PATH)).expect("init script");
    assert_eq!(
        rc.program(),
        INSTALL_PATH,
        "the .rc starts the installed binary"
    );
    assert!(RC_PATH.ends_with(&format!("/{BINARY}.rc")));
    assert!(ALLOCATOR_FRAGMENT.ends_with(&format!("/{BINARY}.xml")));

    let libs = resolved(&bp, binary, "rustlibs");
    for needed in [
        "libbinder_rs",
        "liblog_rust",
        "libandroid_logger",
        "librustutils",
        "libanyhow",
        "android.hardware.graphics.allocator-V2-rust",
        "libcentral_gralloc_service",
    ] {
        assert!(
            libs.iter().any(|l| l == needed),
            "{BINARY}: rustlibs lacks {needed}"
        );
    }
}

/// The names `#[no_mangle]` gives in a Rust source: what a cdylib or static library exports.
fn exported_symbols(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut lines = source.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line != "#[no_mangle]" {
            continue;
        }
        let Some(item) = lines.next() else { break };
        let name = item
            .split(['(', ':', ' '])
            .skip_while(|w| !matches!(*w, "fn" | "static"))
            .nth(1);
        if let Some(name) = name {
            names.insert(name.to_string());
        }
    }
    names
}

#[test]
fn mapper_library_is_named_for_the_suffix_and_exports_only_its_abi() {
    let bp = blueprint();
    let modules = by_name(&bp);
    let wrapper_name = format!("mapper.{MAPPER_SUFFIX}");
    let wrapper = modules.get(wrapper_name.as_str()).unwrap_or_else(|| {
        panic!("no module {wrapper_name}: the platform loads {wrapper_name}.so")
    });
    assert_eq!(wrapper.typ, "cc_library_shared");
    assert_eq!(wrapper.get_bool("vendor"), Some(true));
    assert_eq!(
        wrapper
            .get_string("relative_install_path")
            .map(String::as_str),
        Some("hw"),
        "the platform loads /vendor/lib[64]/hw/{wrapper_name}.so"
    );
    assert_eq!(strings(wrapper, "vintf_fragments"), [MAPPER_FRAGMENT]);
    let statics = strings(wrapper, "whole_static_libs");
    let [rust] = statics.as_slice() else {
        panic!("{wrapper_name}: one whole_static_libs entry expected, got {statics:?}");
    };
    let rust = modules
        .get(rust.as_str())
        .unwrap_or_else(|| panic!("{wrapper_name} links {rust}, which Android.bp lacks"));
    assert_eq!(rust.typ, "rust_ffi_static");
    assert_eq!(resolved(&bp, rust, "srcs"), ["crates/mapper/src/lib.rs"]);
    assert_eq!(rust.get_bool("vendor"), Some(true));

    // The allocator names the same suffix the library and the VINTF instance carry.
    assert!(read("crates/service/src/adapter.rs").contains(&format!(
        "pub const MAPPER_SUFFIX: &str = \"{MAPPER_SUFFIX}\";"
    )));
    assert!(read(MAPPER_FRAGMENT).contains(&format!("<instance>{MAPPER_SUFFIX}</instance>")));

    // The version script keeps global exactly what the Rust code exports.
    let script_path = wrapper
        .get_string("version_script")
        .expect("a version_script keeps the Rust static library's symbols local");
    let script = read(script_path);
    let global: BTreeSet<String> = script
        .split("global:")
        .nth(1)
        .and_then(|rest| rest.split("local:").next())
        .unwrap_or_default()
        .split(';')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && !s.starts_with('#'))
        .collect();
    let exported = exported_symbols(&read("crates/mapper/src/ffi.rs"));
    assert_eq!(
        global, exported,
        "{script_path} against crates/mapper/src/ffi.rs"
    );
    assert!(exported.contains("AIMapper_loadIMapper"));
    assert!(exported.contains("ANDROID_HAL_MAPPER_VERSION"));
}

#[test]
fn tests_join_general_tests() {
    let bp = blueprint();
    let tests: Vec<&Module> = bp.modules_by_type("rust_test").collect();
    assert!(
        tests.len() >= 4,
        "unit tests of three crates and the conformance suite"
    );
    for test in tests {
        assert!(
            strings(test, "test_suites")
                .iter()
                .any(|s| s == "general-tests"),
            "{}: test_suites lacks general-tests",
            name(test)
        );
        assert!(
            !resolved(&bp, test, "srcs").is_empty(),
            "{}: no srcs",
            name(test)
        );
    }
    let conformance: Vec<String> = bp
        .modules_by_type("rust_test")
        .flat_map(|t| strings(t, "srcs"))
        .collect();
    assert!(conformance
        .iter()
        .any(|s| s == "crates/service/tests/conformance.rs"));
}

#[test]
fn profile_installs_under_vendor_etc() {
    let bp = blueprint();
    let profiles: Vec<&Module> = bp.modules_by_type("prebuilt_etc").collect();
    assert!(
        !profiles.is_empty(),
        "a prebuilt_etc for cuttlefish's profile"
    );
    for profile in profiles {
        assert_eq!(profile.get_bool("vendor"), Some(true), "{}", name(profile));
        let path = format!(
            "/vendor/etc/{}/{}",
            profile.get_string("sub_dir").expect("sub_dir"),
            profile.get_string("filename").expect("filename")
        );
        assert_eq!(
            path,
            "/vendor/etc/gralloc/central/profile.conf",
            "{}",
            name(profile)
        );
        let src = profile.get_string("src").expect("src");
        assert!(
            src.starts_with("profiles/") && src.ends_with(".conf"),
            "{}: {src}",
            name(profile)
        );
    }
}

/// Whether `module` compiles sources of a test or tooling crate.
fn compiles_tooling(bp: &BluePrint, module: &Module) -> Option<String> {
    resolved(bp, module, "srcs")
        .into_iter()
        .find(|src| TOOLING.iter().any(|prefix| src.starts_with(prefix)))
}

/// Every module of this file that `module` depends on, directly or through another.
fn dependencies_of<'a>(bp: &'a BluePrint, module: &Module) -> BTreeSet<&'a str> {
    let modules = by_name(bp);
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = DEPENDENCY_PROPERTIES
        .iter()
        .flat_map(|key| resolved(bp, module, key))
        .collect();
    while let Some(dep) = todo.pop() {
        let Some((&name, &found)) = modules.get_key_value(dep.as_str()) else {
            continue; // a platform module
        };
        if seen.insert(name) {
            todo.extend(
                DEPENDENCY_PROPERTIES
                    .iter()
                    .flat_map(|key| resolved(bp, found, key)),
            );
        }
    }
    seen
}

#[test]
fn shipped_modules_neither_compile_nor_link_tooling() {
    let bp = blueprint();
    let modules = by_name(&bp);
    let mut tooling_libraries = 0;
    for module in &bp.modules {
        if let Some(src) = compiles_tooling(&bp, module) {
            assert!(
                module.typ == "rust_library" || NOT_SHIPPED.contains(&module.typ.as_str()),
                "{}: a {} compiles the tooling source {src}",
                name(module),
                module.typ
            );
            for key in [
                "vendor",
                "vendor_available",
                "product_available",
                "odm_available",
            ] {
                assert_ne!(
                    module.get_bool(key),
                    Some(true),
                    "{}: compiles {src}, so it must not be {key}",
                    name(module)
                );
            }
            tooling_libraries += usize::from(module.typ == "rust_library");
        }
    }
    assert!(
        tooling_libraries > 0,
        "no tooling library found: is TOOLING out of date?"
    );
    for module in &bp.modules {
        if NOT_SHIPPED.contains(&module.typ.as_str()) || compiles_tooling(&bp, module).is_some() {
            continue;
        }
        for dep in dependencies_of(&bp, module) {
            if let Some(src) = compiles_tooling(&bp, modules[dep]) {
                panic!(
                    "{} ({}) depends on {dep}, which compiles the tooling source {src}",
                    name(module),
                    module.typ
                );
            }
        }
    }
}

/// The `.rs` files under `dir` (relative to the repository root), without its `bin/` directories.
fn library_sources(dir: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![repo_root().join(dir)];
    while let Some(dir) = todo.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                if !path.ends_with("bin") {
                    todo.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn shipped_crates_do_not_name_tooling_crates() {
    // Soong compiles a crate root and every module file it reaches; a shipped library that named
    // a tooling crate would pull it in (or fail to build without it).
    let bp = blueprint();
    let tooling: Vec<String> = TOOLING.iter().map(|dir| cargo_lib_name(dir)).collect();
    let mut roots = BTreeSet::new();
    for module in &bp.modules {
        if NOT_SHIPPED.contains(&module.typ.as_str()) || compiles_tooling(&bp, module).is_some() {
            continue;
        }
        for src in resolved(&bp, module, "srcs") {
            if let Some((dir, _)) = src.rsplit_once('/').filter(|_| src.ends_with(".rs")) {
                roots.insert(format!("{dir}/"));
            }
        }
    }
    assert!(
        roots.contains("src/"),
        "the core crate is shipped: {roots:?}"
    );
    for root in roots {
        for path in library_sources(&root) {
            let text = std::fs::read_to_string(&path).expect("a source file");
            for crate_name in &tooling {
                assert!(
                    !text.contains(crate_name.as_str()),
                    "{} names the tooling crate {crate_name}",
                    path.display()
                );
            }
        }
    }
}
