//! Stand-in for the AIDL Rust backend's crate of `android.hardware.common`
//! (`android.hardware.common-V2-rust`): the generated path of `NativeHandle`, no parcel code.

/// What the backend generates under `aidl::`.
pub mod aidl {
    /// `android.*`
    pub mod android {
        /// `android.hardware.*`
        pub mod hardware {
            /// `android.hardware.common.*`
            pub mod common {
                /// `NativeHandle.aidl`.
                #[allow(non_snake_case)]
                pub mod NativeHandle {
                    /// A `native_handle_t` on the wire: fds and ints.
                    #[derive(Debug, Default)]
                    pub struct NativeHandle {
                        /// The fds.
                        pub r#fds: Vec<binder::ParcelFileDescriptor>,
                        /// The ints.
                        pub r#ints: Vec<i32>,
                    }
                }
            }
        }
    }
}
