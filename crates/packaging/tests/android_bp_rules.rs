//! Rules that keep `Android.bp` building on Android 15 and 16: one version per AIDL interface and
//! no graphics.common version at all, every crate a module's sources use in its `rustlibs`, no
//! Cargo-only environment, `include_str!` inputs in `compile_data`, `prefer_rlib` on the binary
//! only, and the `tests/aosp` packages (what CI compiles) with the same dependencies.

mod common;

use android_bp::Module;
use common::{blueprint, name, read, repo_root, resolved, strings};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crate name each platform module provides, for the crates the sources may use. The
/// project's own libraries are `lib<crate_name>` (checked in android_bp.rs).
const PLATFORM_CRATES: &[(&str, &str)] = &[
    ("android.hardware.common-V2-rust", "android_hardware_common"),
    (
        "android.hardware.graphics.allocator-V2-rust",
        "android_hardware_graphics_allocator",
    ),
    ("libandroid_logger", "android_logger"),
    ("libanyhow", "anyhow"),
    ("libbinder_rs", "binder"),
    ("liblibc", "libc"),
    ("liblog_rust", "log"),
    ("libnix", "nix"),
    ("libproptest", "proptest"),
    ("librustutils", "rustutils"),
];

/// Crates whose version differs between the branches: the code must never name them.
const BRANCH_VERSIONED_CRATES: &[&str] = &["android_hardware_graphics_common"];

/// `(interface, version)` of an AIDL backend module `<interface>-V<n>-<backend>`.
fn aidl_version(module: &str) -> Option<(&str, u32)> {
    let (rest, _backend) = module.rsplit_once('-')?;
    let (interface, version) = rest.rsplit_once("-V")?;
    Some((interface, version.parse().ok()?))
}

/// The Rust modules (libraries, binaries, tests) with their sources.
fn rust_modules(bp: &android_bp::BluePrint) -> Vec<&Module> {
    bp.modules
        .iter()
        .filter(|m| ["rust_library", "rust_binary", "rust_test"].contains(&m.typ.as_str()))
        .collect()
}

#[test]
fn aidl_interfaces_appear_in_one_version() {
    let bp = blueprint();
    for module in rust_modules(&bp) {
        let mut versions: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
        let libs = resolved(&bp, module, "rustlibs");
        for lib in &libs {
            if let Some((interface, version)) = aidl_version(lib) {
                versions.entry(interface).or_default().insert(version);
            }
        }
        for (interface, found) in versions {
            assert_eq!(
                found.len(),
                1,
                "{}: {interface} in versions {found:?} (Soong: depends on multiple versions of the \
                 same aidl_interface)",
                name(module)
            );
        }
    }
}

#[test]
fn no_module_names_a_graphics_common_version() {
    // Allocator V2 imports graphics.common V5 on Android 15 and V6 on Android 16: any version
    // named here clashes with one of them.
    let bp = blueprint();
    for module in &bp.modules {
        for lib in strings(module, "rustlibs") {
            assert!(
                !lib.starts_with("android.hardware.graphics.common-"),
                "{}: names {lib}; the allocator crate brings the branch's graphics.common",
                name(module)
            );
        }
    }
}

#[test]
fn prefer_rlib_only_on_binaries() {
    let bp = blueprint();
    for module in rust_modules(&bp) {
        let prefer = std::iter::once(module)
            .chain(resolved(&bp, module, "defaults").iter().filter_map(|d| {
                bp.modules
                    .iter()
                    .find(|m| m.get_string("name").is_some_and(|n| n == d))
            }))
            .any(|m| m.get_bool("prefer_rlib") == Some(true));
        assert!(
            !prefer || module.typ == "rust_binary",
            "{}: prefer_rlib on a {} (Soong advises it for binaries only)",
            name(module),
            module.typ
        );
    }
}

/// Source text of a crate as one build sees it: files reached from `root` through `mod`
/// declarations, with items under `#[cfg(host_binder)]` (never set by Soong) removed, and items
/// under `#[cfg(test)]` removed unless `test`. Comments are dropped.
fn crate_text(root: &Path, test: bool) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let dir = root
        .parent()
        .expect("a crate root has a directory")
        .to_owned();
    visit(root, &dir, test, &mut files);
    files
}

fn visit(file: &Path, children_dir: &Path, test: bool, out: &mut Vec<(PathBuf, String)>) {
    let raw = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let text = strip_items(&raw, test);
    let decl = Regex::new(
        r#"(?m)(?:^\s*#\[path\s*=\s*"([^"]+)"\]\s*\n)?^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_0-9]+)\s*;"#,
    )
    .unwrap();
    for cap in decl.captures_iter(&text) {
        let module = &cap[2];
        if let Some(path) = cap.get(1) {
            // `#[path]` is relative to the declaring file's directory.
            let path = file.parent().unwrap().join(path.as_str());
            let dir = path.with_extension("");
            visit(&path, &dir, test, out);
            continue;
        }
        let flat = children_dir.join(format!("{module}.rs"));
        let (path, dir) = if flat.is_file() {
            (flat, children_dir.join(module))
        } else {
            let nested = children_dir.join(module).join("mod.rs");
            (nested, children_dir.join(module))
        };
        visit(&path, &dir, test, out);
    }
    out.push((file.to_owned(), text));
}

/// `text` without comments and without the items a Soong build drops.
fn strip_items(text: &str, test: bool) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let dropped = line.starts_with("#[cfg(host_binder)]")
            || (!test && (line.starts_with("#[cfg(test)]") || line.starts_with("#![cfg(test)]")));
        if !dropped {
            out.push_str(lines[i]);
            out.push('\n');
            i += 1;
            continue;
        }
        if line.starts_with("#![") {
            return String::new(); // the whole file is test-only
        }
        // Skip the attributed item (which may start on the attribute's line): through its `;`,
        // or through its balanced braces.
        let mut rest = line.split_once(")]").map_or("", |(_, rest)| rest);
        let mut depth = 0i32;
        loop {
            depth += rest.matches('{').count() as i32 - rest.matches('}').count() as i32;
            let t = rest.trim_end();
            let ends = t.ends_with(';') || t.ends_with('}') || t.ends_with("},");
            i += 1;
            if (depth <= 0 && ends) || i >= lines.len() {
                break;
            }
            rest = lines[i];
        }
    }
    out
}

/// The external crates `text` uses, among `known`.
fn crates_used<'a>(files: &[(PathBuf, String)], known: &[&'a str]) -> BTreeSet<&'a str> {
    known
        .iter()
        .copied()
        .filter(|krate| {
            let pattern = Regex::new(&format!(r"\b{krate}::|\bextern crate {krate}\b")).unwrap();
            files.iter().any(|(_, text)| pattern.is_match(text))
        })
        .collect()
}

/// Every crate name a module could use: the platform's and the project's libraries.
fn known_crates(bp: &android_bp::BluePrint) -> Vec<String> {
    let mut known: Vec<String> = PLATFORM_CRATES.iter().map(|(_, c)| c.to_string()).collect();
    known.extend(BRANCH_VERSIONED_CRATES.iter().map(|c| c.to_string()));
    known.extend(
        bp.modules_by_type("rust_library")
            .filter_map(|m| resolved(bp, m, "crate_name").first().cloned()),
    );
    known
}

/// The crate name `module` (a `rustlibs` entry) provides.
fn crate_of(bp: &android_bp::BluePrint, lib: &str) -> String {
    if let Some((_, krate)) = PLATFORM_CRATES.iter().find(|(m, _)| *m == lib) {
        return krate.to_string();
    }
    bp.modules_by_type("rust_library")
        .find(|m| name(m) == lib)
        .and_then(|m| resolved(bp, m, "crate_name").first().cloned())
        .unwrap_or_else(|| panic!("rustlibs {lib}: no crate name known"))
}

#[test]
fn every_crate_the_sources_use_is_in_rustlibs() {
    let bp = blueprint();
    let known = known_crates(&bp);
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let mut problems = Vec::new();
    for module in rust_modules(&bp) {
        let srcs = resolved(&bp, module, "srcs");
        let [root] = srcs.as_slice() else {
            panic!("{}: one crate root expected, got {srcs:?}", name(module));
        };
        let files = crate_text(&repo_root().join(root), module.typ == "rust_test");
        let own = resolved(&bp, module, "crate_name");
        let listed: BTreeSet<String> = resolved(&bp, module, "rustlibs")
            .iter()
            .map(|lib| crate_of(&bp, lib))
            .collect();
        for krate in crates_used(&files, &known) {
            if own.iter().any(|c| c == krate) {
                continue;
            }
            if BRANCH_VERSIONED_CRATES.contains(&krate) {
                problems.push(format!(
                    "{}: names {krate}, whose version differs between Android 15 and 16",
                    name(module)
                ));
            } else if !listed.contains(krate) {
                problems.push(format!(
                    "{}: the sources use {krate}, rustlibs lacks it",
                    name(module)
                ));
            }
        }
        for (path, text) in &files {
            for env in ["CARGO_MANIFEST_DIR", "OUT_DIR"] {
                if text.contains(&format!("env!(\"{env}\")"))
                    || text.contains(&format!("\"{env}\""))
                {
                    problems.push(format!(
                        "{}: {} reads {env}, which Soong never sets",
                        name(module),
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Whether `path` matches the Soong glob `pattern` (`*` within one path component).
fn glob_matches(pattern: &str, path: &str) -> bool {
    let regex = format!("^{}$", regex::escape(pattern).replace(r"\*", "[^/]*"));
    Regex::new(&regex).unwrap().is_match(path)
}

#[test]
fn include_str_inputs_are_compile_data() {
    let bp = blueprint();
    let include = Regex::new(r#"include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)"#).unwrap();
    let root_dir = repo_root();
    let mut problems = Vec::new();
    for module in rust_modules(&bp) {
        let srcs = resolved(&bp, module, "srcs");
        let Some(root) = srcs.first() else { continue };
        let compile_data = resolved(&bp, module, "compile_data");
        for (file, text) in crate_text(&root_dir.join(root), module.typ == "rust_test") {
            for cap in include.captures_iter(&text) {
                let target = file.parent().unwrap().join(&cap[1]);
                let target = target
                    .canonicalize()
                    .unwrap_or_else(|e| panic!("{}: {}: {e}", file.display(), &cap[1]));
                let relative = target
                    .strip_prefix(root_dir.canonicalize().unwrap())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if !compile_data.iter().any(|p| glob_matches(p, &relative)) {
                    problems.push(format!(
                        "{}: {relative} (include_str! in {}) is not in compile_data",
                        name(module),
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The dependency names of one section of a tests/aosp manifest.
fn manifest_deps(manifest: &str, section: &str) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == section;
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            let key = line.split(['=', '.']).next().unwrap_or("").trim();
            deps.insert(key.to_owned());
        }
    }
    deps
}

/// The tests/aosp package whose target has `root` as its crate root.
fn aosp_manifest_for(root: &str) -> String {
    let dir = repo_root().join("tests/aosp/soong");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        if text.contains(&format!("path = \"../../../../{root}\"")) {
            return text;
        }
    }
    panic!("no package in tests/aosp/soong builds {root}");
}

#[test]
fn ci_compiles_the_modules_with_their_rustlibs() {
    let bp = blueprint();
    for module in rust_modules(&bp) {
        let srcs = resolved(&bp, module, "srcs");
        let root = &srcs[0];
        let manifest = aosp_manifest_for(root);
        let listed: BTreeSet<String> = resolved(&bp, module, "rustlibs")
            .iter()
            .map(|lib| crate_of(&bp, lib))
            .collect();
        let mut compiled = manifest_deps(&manifest, "[dependencies]");
        // A rust_test of a library's root is that library's unit tests: Cargo's dev-dependencies.
        if module.typ == "rust_test" && root.ends_with("/lib.rs") {
            compiled.extend(manifest_deps(&manifest, "[dev-dependencies]"));
        }
        assert_eq!(
            compiled,
            listed,
            "{}: tests/aosp compiles {root} with other crates than its rustlibs",
            name(module)
        );
    }
}

#[test]
fn the_rules_catch_what_the_audit_found() {
    // The checks above must be able to fail: feed them the mistakes they exist for.
    assert_eq!(
        aidl_version("android.hardware.graphics.common-V5-rust"),
        Some(("android.hardware.graphics.common", 5))
    );
    assert_eq!(aidl_version("libbinder_rs"), None);
    let test_only = "fn f() {}\n#[cfg(test)]\nmod tests {\n    use proptest::prelude::*;\n}\n";
    let as_lib = [(PathBuf::from("x.rs"), strip_items(test_only, false))];
    let as_test = [(PathBuf::from("x.rs"), strip_items(test_only, true))];
    assert!(crates_used(&as_lib, &["proptest"]).is_empty());
    assert_eq!(crates_used(&as_test, &["proptest"]).len(), 1);
    let host = "#[cfg(host_binder)]\npub use android_hardware_graphics_common::X::{\n    A,\n};\n";
    let host = [(PathBuf::from("x.rs"), strip_items(host, true))];
    assert!(crates_used(&host, &["android_hardware_graphics_common"]).is_empty());
    assert!(glob_matches("traces/*.trace", "traces/a.trace"));
    assert!(!glob_matches("traces/*.trace", "traces/sub/a.trace"));
    assert!(!read("Android.bp").contains("graphics.common-V"));
}
