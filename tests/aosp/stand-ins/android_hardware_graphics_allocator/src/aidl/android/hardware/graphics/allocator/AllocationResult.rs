//! `AllocationResult`: the stride and the buffers' handles.

use android_hardware_common::aidl::android::hardware::common::NativeHandle::NativeHandle;

/// What `allocate2` returns.
#[derive(Debug, Default)]
pub struct AllocationResult {
    /// Stride in pixels, shared by every buffer.
    pub r#stride: i32,
    /// One handle per buffer.
    pub r#buffers: Vec<NativeHandle>,
}
