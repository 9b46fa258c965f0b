//! `BufferUsage` (`@Backing(type="long")`): a newtype with one constant per bit or mask.

/// Buffer usage bits.
#[derive(Default, Copy, Clone, PartialOrd, Ord, PartialEq, Eq, Hash, Debug)]
pub struct BufferUsage(pub i64);

#[allow(missing_docs)]
impl BufferUsage {
    pub const CPU_READ_MASK: Self = Self(0xf);
    pub const CPU_READ_NEVER: Self = Self(0);
    pub const CPU_READ_RARELY: Self = Self(2);
    pub const CPU_READ_OFTEN: Self = Self(3);
    pub const CPU_WRITE_MASK: Self = Self(0xf << 4);
    pub const CPU_WRITE_NEVER: Self = Self(0 << 4);
    pub const CPU_WRITE_RARELY: Self = Self(2 << 4);
    pub const CPU_WRITE_OFTEN: Self = Self(3 << 4);
    pub const GPU_TEXTURE: Self = Self(1 << 8);
    pub const GPU_RENDER_TARGET: Self = Self(1 << 9);
    pub const COMPOSER_OVERLAY: Self = Self(1 << 11);
    pub const COMPOSER_CLIENT_TARGET: Self = Self(1 << 12);
    pub const PROTECTED: Self = Self(1 << 14);
    pub const COMPOSER_CURSOR: Self = Self(1 << 15);
    pub const VIDEO_ENCODER: Self = Self(1 << 16);
    pub const CAMERA_OUTPUT: Self = Self(1 << 17);
    pub const CAMERA_INPUT: Self = Self(1 << 18);
    pub const RENDERSCRIPT: Self = Self(1 << 20);
    pub const VIDEO_DECODER: Self = Self(1 << 22);
    pub const SENSOR_DIRECT_DATA: Self = Self(1 << 23);
    pub const GPU_DATA_BUFFER: Self = Self(1 << 24);
    pub const GPU_CUBE_MAP: Self = Self(1 << 25);
    pub const GPU_MIPMAP_COMPLETE: Self = Self(1 << 26);
    pub const HW_IMAGE_ENCODER: Self = Self(1 << 27);
    pub const FRONT_BUFFER: Self = Self(1 << 32);
    pub const VENDOR_MASK: Self = Self(0xf << 28);
    pub const VENDOR_MASK_HI: Self = Self((0xffff) << 48);
}
