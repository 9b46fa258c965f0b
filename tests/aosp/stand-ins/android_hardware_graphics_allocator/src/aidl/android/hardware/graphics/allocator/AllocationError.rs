//! `AllocationError` (`@Backing(type="int")`): the service-specific codes of `allocate2`.

/// A service-specific error code.
#[derive(Default, Copy, Clone, PartialOrd, Ord, PartialEq, Eq, Hash, Debug)]
pub struct AllocationError(pub i32);

#[allow(missing_docs)]
impl AllocationError {
    pub const BAD_DESCRIPTOR: Self = Self(0);
    pub const NO_RESOURCES: Self = Self(1);
    pub const UNSUPPORTED: Self = Self(2);
}
