//! `BufferDescriptorInfo`: what `allocate2` and `isSupported` are asked for.

use android_hardware_graphics_common::aidl::android::hardware::graphics::common::{
    BufferUsage::BufferUsage, ExtendableType::ExtendableType, PixelFormat::PixelFormat,
};

/// A buffer request. (`[u8; 128]` has no derived `Default`, so the backend writes one.)
#[derive(Debug)]
pub struct BufferDescriptorInfo {
    /// Debug name, NUL-padded (`byte[128]`).
    pub r#name: [u8; 128],
    /// Width in pixels.
    pub r#width: i32,
    /// Height in rows.
    pub r#height: i32,
    /// Layers.
    pub r#layerCount: i32,
    /// Format.
    pub r#format: PixelFormat,
    /// Usage bits.
    pub r#usage: BufferUsage,
    /// Client bytes in the metadata region.
    pub r#reservedSize: i64,
    /// Vendor options.
    pub r#additionalOptions: Vec<ExtendableType>,
}

impl Default for BufferDescriptorInfo {
    fn default() -> Self {
        Self {
            r#name: [0; 128],
            r#width: 0,
            r#height: 0,
            r#layerCount: 0,
            r#format: PixelFormat::UNSPECIFIED,
            r#usage: BufferUsage::CPU_READ_NEVER,
            r#reservedSize: 0,
            r#additionalOptions: Vec::new(),
        }
    }
}
