//! `PixelFormat` (`@Backing(type="int")`): a newtype with one constant per value.

/// A pixel format.
#[derive(Default, Copy, Clone, PartialOrd, Ord, PartialEq, Eq, Hash, Debug)]
pub struct PixelFormat(pub i32);

#[allow(missing_docs)]
impl PixelFormat {
    pub const UNSPECIFIED: Self = Self(0);
    pub const RGBA_8888: Self = Self(0x1);
    pub const RGBX_8888: Self = Self(0x2);
    pub const RGB_888: Self = Self(0x3);
    pub const RGB_565: Self = Self(0x4);
    pub const BGRA_8888: Self = Self(0x5);
    pub const YCBCR_422_SP: Self = Self(0x10);
    pub const YCRCB_420_SP: Self = Self(0x11);
    pub const YCBCR_422_I: Self = Self(0x14);
    pub const RGBA_FP16: Self = Self(0x16);
    pub const RAW16: Self = Self(0x20);
    pub const BLOB: Self = Self(0x21);
    pub const IMPLEMENTATION_DEFINED: Self = Self(0x22);
    pub const YCBCR_420_888: Self = Self(0x23);
    pub const RAW_OPAQUE: Self = Self(0x24);
    pub const RAW10: Self = Self(0x25);
    pub const RAW12: Self = Self(0x26);
    pub const RGBA_1010102: Self = Self(0x2B);
    pub const Y8: Self = Self(0x20203859);
    pub const Y16: Self = Self(0x20363159);
    pub const YV12: Self = Self(0x32315659);
    pub const DEPTH_16: Self = Self(0x30);
    pub const DEPTH_24: Self = Self(0x31);
    pub const DEPTH_24_STENCIL_8: Self = Self(0x32);
    pub const DEPTH_32F: Self = Self(0x33);
    pub const DEPTH_32F_STENCIL_8: Self = Self(0x34);
    pub const STENCIL_8: Self = Self(0x35);
    pub const YCBCR_P010: Self = Self(0x36);
    pub const HSV_888: Self = Self(0x37);
    pub const R_8: Self = Self(0x38);
    pub const R_16_UINT: Self = Self(0x39);
    pub const RG_1616_UINT: Self = Self(0x3a);
    pub const RGBA_10101010: Self = Self(0x3b);

    /// Added in V6 (Android 16).
    #[cfg(feature = "v6")]
    pub const YCBCR_P210: Self = Self(0x3c);
}
