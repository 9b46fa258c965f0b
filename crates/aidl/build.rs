//! Generates the Rust stubs for `aidl/` with rsbinder-aidl, stamping IAllocator with its frozen V2 version and hash.

use std::path::PathBuf;

/// Frozen version of android.hardware.graphics.allocator this copy of the interface matches.
const ALLOCATOR_VERSION: i32 = 2;
/// AOSP's `aidl_api/android.hardware.graphics.allocator/2/.hash`.
const ALLOCATOR_HASH: &str = "9499fec09c544e9de5be3c87125721600f8ade66";

fn main() {
    // Read at run time, not baked in with env!(): a build script binary reused from another
    // checkout sharing the target directory must still read this checkout's sources.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let root = PathBuf::from(manifest).join("../../aidl");
    println!("cargo:rerun-if-changed={}", root.display());
    let android = root.join("android/hardware");
    let builder = rsbinder_aidl::Builder::new()
        .include_dir(&root)
        .source(android.join("common/NativeHandle.aidl"))
        .source(android.join("graphics/common/BufferUsage.aidl"))
        .source(android.join("graphics/common/ExtendableType.aidl"))
        .source(android.join("graphics/common/PixelFormat.aidl"))
        .source(android.join("graphics/allocator/AllocationError.aidl"))
        .source(android.join("graphics/allocator/AllocationResult.aidl"))
        .source(android.join("graphics/allocator/BufferDescriptorInfo.aidl"))
        // version() and hash() stamp the source added just before them.
        .source(android.join("graphics/allocator/IAllocator.aidl"))
        .version(ALLOCATOR_VERSION)
        .hash(ALLOCATOR_HASH)
        .set_async_support(false)
        .output("android_hardware.rs");
    if let Err(err) = builder.generate() {
        // Debug output carries the file, line and snippet of the AIDL diagnostic.
        eprintln!("rsbinder-aidl failed: {err:?}");
        std::process::exit(1);
    }
}
