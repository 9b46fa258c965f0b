//! AIDL bindings for host builds, generated from the `aidl/` folder by rsbinder-aidl.
//!
//! Paths mirror AOSP's generated crates. Where an Android build writes
//! `android_hardware_graphics_allocator::aidl::android::hardware::graphics::allocator::IAllocator`,
//! a host build reaches the same item as
//! `central_gralloc_aidl::aidl::android::hardware::graphics::allocator::IAllocator`
//! (also re-exported as `central_gralloc_aidl::android::...`). One crate holds all three AOSP
//! packages (`android.hardware.graphics.allocator`, `android.hardware.graphics.common`,
//! `android.hardware.common`), so code shared with the Android build can alias it under each
//! AOSP crate name at its crate root:
//!
//! ```
//! extern crate central_gralloc_aidl as android_hardware_graphics_allocator;
//! extern crate central_gralloc_aidl as android_hardware_graphics_common;
//! extern crate central_gralloc_aidl as android_hardware_common;
//! use android_hardware_graphics_allocator::aidl::android::hardware::graphics::allocator::IAllocator::IAllocator;
//! use android_hardware_common::aidl::android::hardware::common::NativeHandle::NativeHandle;
//! ```
//!
//! `IAllocator` is stamped with its frozen version and hash (see `build.rs`): the generated
//! `getInterfaceVersion()` answers [`ALLOCATOR_VERSION`] and `getInterfaceHash()` answers
//! [`ALLOCATOR_HASH`] without the service implementing them.

#![warn(missing_docs)]

/// The generated modules, under AOSP's `aidl::` prefix.
#[allow(
    missing_docs,
    reason = "generated from AIDL, which carries no Rust docs"
)]
pub mod aidl {
    include!(concat!(env!("OUT_DIR"), "/android_hardware.rs"));
}

pub use aidl::android;

/// Frozen version of `android.hardware.graphics.allocator` that `aidl/` matches.
pub const ALLOCATOR_VERSION: i32 =
    aidl::android::hardware::graphics::allocator::IAllocator::VERSION;

/// Frozen hash of `android.hardware.graphics.allocator` V2, as AOSP's `aidl_api/.../2/.hash`.
pub const ALLOCATOR_HASH: &str = aidl::android::hardware::graphics::allocator::IAllocator::HASH;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_is_stamped_with_frozen_v2() {
        assert_eq!(ALLOCATOR_VERSION, 2);
        assert_eq!(ALLOCATOR_HASH, "9499fec09c544e9de5be3c87125721600f8ade66");
    }
}
