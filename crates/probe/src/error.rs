//! `ProbeError`: what went wrong reading one device, named so the probe can skip it and go on.

use nix::errno::Errno;
use std::fmt;

/// Why one device (or one fact about it) could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// A system call failed.
    Sys {
        /// The node or sysfs file.
        device: String,
        /// The ioctl or call (`DRM_IOCTL_MODE_GETPLANE`, `open`).
        op: &'static str,
        /// The kernel's answer.
        errno: Errno,
    },
    /// The driver reported a count or size beyond what any real device has: refused, not trusted.
    Absurd {
        /// The node.
        device: String,
        /// What was counted (`planes`, `formats of plane 31`).
        what: String,
        /// The reported value.
        value: u64,
        /// The most the probe accepts.
        limit: u64,
    },
    /// The driver's answer is malformed (a short blob, an offset outside it, a count that changed
    /// between two calls).
    Malformed {
        /// The node.
        device: String,
        /// What is wrong.
        what: String,
    },
}

impl ProbeError {
    /// A failed call on `device`.
    pub fn sys(device: &str, op: &'static str, errno: Errno) -> ProbeError {
        ProbeError::Sys {
            device: device.to_string(),
            op,
            errno,
        }
    }

    /// A malformed answer from `device`.
    pub fn malformed(device: &str, what: impl Into<String>) -> ProbeError {
        ProbeError::Malformed {
            device: device.to_string(),
            what: what.into(),
        }
    }

    /// `value` checked against `limit`: an `Absurd` error naming `what` when it is above.
    pub fn bounded(device: &str, what: &str, value: u64, limit: u64) -> Result<u64, ProbeError> {
        if value > limit {
            return Err(ProbeError::Absurd {
                device: device.to_string(),
                what: what.to_string(),
                value,
                limit,
            });
        }
        Ok(value)
    }

    /// The errno, for a failed call.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            ProbeError::Sys { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Sys { device, op, errno } => {
                write!(f, "{device}: {op}: {errno}")
            }
            ProbeError::Absurd {
                device,
                what,
                value,
                limit,
            } => write!(
                f,
                "{device}: the driver reports {value} {what}, more than the {limit} the probe trusts"
            ),
            ProbeError::Malformed { device, what } => write!(f, "{device}: {what}"),
        }
    }
}

impl std::error::Error for ProbeError {}
