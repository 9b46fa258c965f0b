//! `IAllocator` V2: the trait a service implements (the version methods have defaults), the
//! native-binder constructor and the remote-proxy conversion.

use super::{AllocationResult::AllocationResult, BufferDescriptorInfo::BufferDescriptorInfo};

/// The frozen version this crate was generated for.
pub const VERSION: i32 = 2;
/// The frozen hash of V2.
pub const HASH: &str = "9499fec09c544e9de5be3c87125721600f8ade66";

/// The allocator interface.
pub trait IAllocator: binder::Interface + Send {
    /// The interface descriptor.
    fn get_descriptor() -> &'static str
    where
        Self: Sized,
    {
        "android.hardware.graphics.allocator.IAllocator"
    }
    /// V1 allocation from an IMapper 4 descriptor.
    #[deprecated = "the V1 entry point; use allocate2"]
    fn r#allocate(
        &self,
        _arg_descriptor: &[u8],
        _arg_count: i32,
    ) -> binder::Result<AllocationResult>;
    /// Allocates `count` buffers.
    fn r#allocate2(
        &self,
        _arg_descriptor: &BufferDescriptorInfo,
        _arg_count: i32,
    ) -> binder::Result<AllocationResult>;
    /// Whether `allocate2` could ever succeed for the descriptor.
    fn r#isSupported(&self, _arg_descriptor: &BufferDescriptorInfo) -> binder::Result<bool>;
    /// The mapper library's suffix (`mapper.<suffix>.so`).
    fn r#getIMapperLibrarySuffix(&self) -> binder::Result<String>;
    /// The interface version the implementation was built with.
    fn r#getInterfaceVersion(&self) -> binder::Result<i32> {
        Ok(VERSION)
    }
    /// The interface hash the implementation was built with.
    fn r#getInterfaceHash(&self) -> binder::Result<String> {
        Ok(HASH.into())
    }
}

/// The native (service-side) binder of `IAllocator`.
pub struct BnAllocator(());

impl BnAllocator {
    /// A binder object serving `inner`.
    pub fn new_binder<T: IAllocator + Sync + Send + 'static>(
        inner: T,
        _features: binder::BinderFeatures,
    ) -> binder::Strong<dyn IAllocator> {
        binder::Strong::new(Box::new(inner))
    }
}

impl binder::FromIBinder for dyn IAllocator {
    fn try_from(
        _ibinder: binder::SpIBinder,
    ) -> std::result::Result<binder::Strong<dyn IAllocator>, binder::StatusCode> {
        Err(binder::StatusCode::BAD_TYPE)
    }
}
