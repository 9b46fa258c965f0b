//! Standard metadata (placeholder until the codec lands; every type answers UNSUPPORTED).

use central_gralloc_memory::handle::BufferInfo;
use central_gralloc_memory::map::Mapping;

/// A supported standard type.
pub struct SupportedType {
    /// `StandardMetadataType` value.
    pub value: i64,
    /// Gettable.
    pub gettable: bool,
    /// Settable.
    pub settable: bool,
}

/// Supported types.
pub const SUPPORTED: &[SupportedType] = &[];

/// Why a metadata call failed.
#[derive(Debug)]
pub enum MetadataError {
    /// Unknown type.
    Unsupported,
}

impl MetadataError {
    /// The `AIMapper_Error`.
    pub fn code(&self) -> i32 {
        crate::error::UNSUPPORTED
    }
}

/// Encodes a type.
pub fn get(_: &BufferInfo, _: &Mapping, _: i64, _: &mut Vec<u8>) -> Result<(), MetadataError> {
    Err(MetadataError::Unsupported)
}

/// Sets a type.
pub fn set(_: &BufferInfo, _: &Mapping, _: i64, _: &[u8]) -> Result<(), MetadataError> {
    Err(MetadataError::Unsupported)
}

/// Every gettable type.
pub fn dump(_: &BufferInfo, _: &Mapping) -> Vec<(i64, Vec<u8>)> {
    Vec::new()
}
