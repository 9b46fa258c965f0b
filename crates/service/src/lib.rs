//! Service adapter: the IAllocator implementation over the core and memory layers.
//!
//! - [`gralloc`]: the policy (count, solve, quota, memory, counters, failures, dump), in plain
//!   functions returning [`error::ServiceError`].
//! - [`adapter`]: the binder methods, each one call into [`gralloc::Gralloc`].
//! - [`status`]: the one mapping from errors to `AllocationError` statuses.
//! - Host builds only (`cfg(host_binder)`, set by `build.rs`): [`rpc`] (serving on a Unix
//!   socket), [`debug`] (the dump over a socket), [`host`] (the host main's setup) and
//!   [`child`] (starting a service process from the demo, the tests and the benchmark).
//!
//! The same source builds with Soong against AOSP's crates and with Cargo against the host
//! facade; the host build aliases its one AIDL crate under the three AOSP crate names.
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(host_binder)]
extern crate central_gralloc_aidl as android_hardware_common;
#[cfg(host_binder)]
extern crate central_gralloc_aidl as android_hardware_graphics_allocator;
#[cfg(host_binder)]
extern crate central_gralloc_aidl as android_hardware_graphics_common;

pub mod adapter;
#[cfg(host_binder)]
pub mod child;
#[cfg(host_binder)]
pub mod debug;
pub mod error;
pub mod failures;
pub mod gralloc;
#[cfg(host_binder)]
pub mod host;
pub mod quota;
pub mod realtime;
pub mod recent;
#[cfg(host_binder)]
pub mod rpc;
pub mod status;

/// The AIDL types the service speaks, under one path for the binaries and tests.
///
/// Code that Soong builds never names a graphics.common type: it reads and fills the fields of
/// `BufferDescriptorInfo` (`format.0`, `usage.0`, `additionalOptions`) whose types the allocator
/// crate brings along. So Android.bp needs no graphics.common module, and the same Android.bp
/// builds on Android 15 (allocator V2 imports graphics.common V5) and 16 (V6): naming one
/// version next to an allocator built against the other is Soong's "depends on multiple
/// versions of the same aidl_interface" error. The host build re-exports them for its tools.
pub mod aidl {
    pub use android_hardware_common::aidl::android::hardware::common::NativeHandle::NativeHandle;
    pub use android_hardware_graphics_allocator::aidl::android::hardware::graphics::allocator::{
        AllocationError::AllocationError,
        AllocationResult::AllocationResult,
        BufferDescriptorInfo::BufferDescriptorInfo,
        IAllocator::{BnAllocator, IAllocator},
    };
    #[cfg(host_binder)]
    pub use android_hardware_graphics_common::aidl::android::hardware::graphics::common::{
        BufferUsage::BufferUsage, ExtendableType::ExtendableType, PixelFormat::PixelFormat,
    };
}

/// The instance name the framework looks up.
pub const SERVICE_NAME: &str = "android.hardware.graphics.allocator.IAllocator/default";
