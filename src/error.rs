//! The three outcomes a failed request can have on the wire, and the core's typed errors.
//!
//! The rules, for every layer, are in docs/architecture.md §3: malformed is `BadDescriptor`,
//! never satisfiable here is `Unsupported`, may succeed later is `NoResources`. Each of the core's
//! errors names its own outcome with a `code()`.

use std::fmt;

/// `android.hardware.graphics.allocator.AllocationError`, without the AIDL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `BAD_DESCRIPTOR = 0`.
    BadDescriptor,
    /// `NO_RESOURCES = 1`.
    NoResources,
    /// `UNSUPPORTED = 2`.
    Unsupported,
}

impl ErrorCode {
    /// Every code, in the order of their AIDL values.
    pub const ALL: [ErrorCode; 3] = [
        ErrorCode::BadDescriptor,
        ErrorCode::NoResources,
        ErrorCode::Unsupported,
    ];

    /// The AIDL enumerator name.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::BadDescriptor => "BAD_DESCRIPTOR",
            ErrorCode::NoResources => "NO_RESOURCES",
            ErrorCode::Unsupported => "UNSUPPORTED",
        }
    }
    /// The code whose AIDL value is `value`, if any.
    pub const fn from_value(value: i32) -> Option<ErrorCode> {
        match value {
            0 => Some(ErrorCode::BadDescriptor),
            1 => Some(ErrorCode::NoResources),
            2 => Some(ErrorCode::Unsupported),
            _ => None,
        }
    }
    /// The AIDL value.
    pub const fn value(self) -> i32 {
        match self {
            ErrorCode::BadDescriptor => 0,
            ErrorCode::NoResources => 1,
            ErrorCode::Unsupported => 2,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
