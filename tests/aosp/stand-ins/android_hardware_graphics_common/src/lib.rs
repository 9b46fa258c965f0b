//! Stand-in for the AIDL Rust backend's crate of `android.hardware.graphics.common`
//! (`android.hardware.graphics.common-V5-rust` on android15-release; with the `v6` feature, the
//! `-V6-rust` that Android 16's allocator V2 imports): the generated paths and types, no parcel code.

/// What the backend generates under `aidl::`.
pub mod aidl {
    /// `android.*`
    pub mod android {
        /// `android.hardware.*`
        pub mod hardware {
            /// `android.hardware.graphics.*`
            pub mod graphics {
                /// `android.hardware.graphics.common.*`
                pub mod common {
                    #![allow(non_snake_case)]
                    pub mod BufferUsage;
                    pub mod ExtendableType;
                    pub mod PixelFormat;
                }
            }
        }
    }
}
