//! Host build only (Soong never runs it): marks the build with `cfg(host_binder)` and generates
//! the host-only debug interface from `aidl/`.

use std::path::PathBuf;

fn main() {
    // Code that only the Cargo build has (rsbinder constructors, the debug interface, the
    // extern-crate aliases for the AOSP AIDL crate names) sits behind this cfg.
    println!("cargo:rustc-check-cfg=cfg(host_binder)");
    println!("cargo:rustc-cfg=host_binder");

    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let root = PathBuf::from(manifest).join("aidl");
    println!("cargo:rerun-if-changed={}", root.display());
    let result = rsbinder_aidl::Builder::new()
        .include_dir(&root)
        .source(root.join("central/gralloc/IAllocatorDebug.aidl"))
        .set_async_support(false)
        .output("central_gralloc_debug.rs")
        .generate();
    if let Err(err) = result {
        eprintln!("rsbinder-aidl failed: {err:?}");
        std::process::exit(1);
    }
}
