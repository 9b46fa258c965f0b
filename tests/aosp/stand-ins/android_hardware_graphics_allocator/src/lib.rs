//! Stand-in for the AIDL Rust backend's crate of `android.hardware.graphics.allocator`
//! (`android.hardware.graphics.allocator-V2-rust`): the generated paths, the `IAllocator` trait
//! with its default version methods, `BnAllocator::new_binder`, no parcel or transaction code.

/// What the backend generates under `aidl::`.
pub mod aidl {
    /// `android.*`
    pub mod android {
        /// `android.hardware.*`
        pub mod hardware {
            /// `android.hardware.graphics.*`
            pub mod graphics {
                /// `android.hardware.graphics.allocator.*`
                #[allow(non_snake_case)]
                pub mod allocator {
                    pub mod AllocationError;
                    pub mod AllocationResult;
                    pub mod BufferDescriptorInfo;
                    pub mod IAllocator;
                }
            }
        }
    }
}
