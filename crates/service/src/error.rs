//! `ServiceError`: every way a request to the service can fail, with its wire outcome.

use central_gralloc::descriptor::DescriptorError;
use central_gralloc::error::ErrorCode;
use central_gralloc::solver::SolveError;
use central_gralloc_memory::MemError;
use std::fmt;

/// Why the service refused or failed a request. Binder methods turn it into a `Status` only in
/// `status::into_status`.
#[derive(Debug)]
pub enum ServiceError {
    /// `count` was zero or negative: a malformed request.
    InvalidCount(i32),
    /// The descriptor is invalid or no placement satisfies it.
    Solve(SolveError),
    /// The memory layer could not make the buffers (limits, quotas, the kernel).
    Memory(MemError),
    /// Even one buffer is over a fixed bound of this service (the per-request byte limit, the
    /// heap's largest buffer, the per-client quota cap): no request for it can ever succeed.
    NeverFits(MemError),
    /// `allocate` (V1): its IMapper 4 encoded descriptor is not accepted.
    Deprecated,
}

impl ServiceError {
    /// The `AllocationError` this failure is sent as (rules in docs/architecture.md §3).
    pub fn code(&self) -> ErrorCode {
        match self {
            ServiceError::InvalidCount(_) => ErrorCode::BadDescriptor,
            ServiceError::Solve(e) => e.code(),
            ServiceError::Memory(e) => e.code(),
            ServiceError::Deprecated | ServiceError::NeverFits(_) => ErrorCode::Unsupported,
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::InvalidCount(n) => write!(f, "count {n} is not positive"),
            ServiceError::Solve(e) => write!(f, "{e}"),
            ServiceError::Memory(e) => write!(f, "{e}"),
            ServiceError::NeverFits(e) => {
                write!(
                    f,
                    "{e}, for a single buffer: it can never be allocated here"
                )
            }
            ServiceError::Deprecated => {
                write!(
                    f,
                    "allocate (V1, IMapper 4 descriptors) is not supported; use allocate2"
                )
            }
        }
    }
}

impl std::error::Error for ServiceError {}

impl From<SolveError> for ServiceError {
    fn from(e: SolveError) -> Self {
        ServiceError::Solve(e)
    }
}

impl From<DescriptorError> for ServiceError {
    fn from(e: DescriptorError) -> Self {
        ServiceError::Solve(SolveError::Descriptor(e))
    }
}

impl From<MemError> for ServiceError {
    fn from(e: MemError) -> Self {
        match e {
            MemError::Solve(e) => ServiceError::Solve(e),
            other => ServiceError::Memory(other),
        }
    }
}
