//! The mapper's error: an `AIMapper_Error` code and the reason, for logs and dumps.

use central_gralloc_memory::fence::FenceError;
use central_gralloc_memory::MemError;
use std::borrow::Cow;
use std::fmt;

/// `AIMAPPER_ERROR_BAD_BUFFER`.
pub const BAD_BUFFER: i32 = 2;
/// `AIMAPPER_ERROR_BAD_VALUE`.
pub const BAD_VALUE: i32 = 3;
/// `AIMAPPER_ERROR_NO_RESOURCES`.
pub const NO_RESOURCES: i32 = 5;
/// `AIMAPPER_ERROR_UNSUPPORTED`.
pub const UNSUPPORTED: i32 = 7;

/// Why a mapper call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapperError {
    code: i32,
    why: Cow<'static, str>,
}

impl MapperError {
    /// The `AIMapper_Error` value.
    pub const fn code(&self) -> i32 {
        self.code
    }
    /// The reason.
    pub fn why(&self) -> &str {
        &self.why
    }
    /// Not a buffer this mapper imported, or a raw handle that does not validate.
    pub fn bad_buffer(why: impl fmt::Display) -> MapperError {
        MapperError {
            code: BAD_BUFFER,
            why: Cow::Owned(why.to_string()),
        }
    }
    /// An unknown handle.
    pub const fn unknown_buffer() -> MapperError {
        MapperError {
            code: BAD_BUFFER,
            why: Cow::Borrowed("not a buffer imported by this mapper"),
        }
    }
    /// Unlock, flush or reread of a buffer this import does not hold locked.
    pub const fn not_locked() -> MapperError {
        MapperError {
            code: BAD_BUFFER,
            why: Cow::Borrowed("the buffer is not locked"),
        }
    }
    /// An argument out of range.
    pub const fn bad_value(why: &'static str) -> MapperError {
        MapperError {
            code: BAD_VALUE,
            why: Cow::Borrowed(why),
        }
    }
    /// A type this mapper does not know.
    pub const fn unsupported(why: &'static str) -> MapperError {
        MapperError {
            code: UNSUPPORTED,
            why: Cow::Borrowed(why),
        }
    }
    /// Out of a resource.
    pub const fn no_resources(why: &'static str) -> MapperError {
        MapperError {
            code: NO_RESOURCES,
            why: Cow::Borrowed(why),
        }
    }
    /// A kernel call (map, sync) failed.
    pub fn no_resources_from(e: MemError) -> MapperError {
        MapperError {
            code: NO_RESOURCES,
            why: Cow::Owned(e.to_string()),
        }
    }
    /// The acquire fence could not be waited on.
    pub fn fence(e: FenceError) -> MapperError {
        let code = match e {
            FenceError::BadFd => BAD_VALUE,
            FenceError::Timeout | FenceError::Poll(_) => NO_RESOURCES,
        };
        MapperError {
            code,
            why: Cow::Owned(e.to_string()),
        }
    }
}

impl fmt::Display for MapperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.code {
            BAD_BUFFER => "BAD_BUFFER",
            BAD_VALUE => "BAD_VALUE",
            NO_RESOURCES => "NO_RESOURCES",
            UNSUPPORTED => "UNSUPPORTED",
            _ => "ERROR",
        };
        write!(f, "{name}: {}", self.why)
    }
}

impl std::error::Error for MapperError {}
