//! Bounds on what one request and one client can make the service allocate, so no client can get
//! the service OOM-killed (a dma-heap allocation beyond memory kills the caller, not the client).

use crate::error::MemError;
use crate::sys;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Largest default batch: one GiB.
pub const DEFAULT_MAX_BATCH_BYTES: u64 = 1 << 30;
/// Default most buffers per request (each costs two fds in the service until it is sent).
pub const DEFAULT_MAX_COUNT: u32 = 64;

/// Per-request limits, checked before anything is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes one `allocate` call may make, buffers and metadata regions together.
    pub max_batch_bytes: u64,
    /// Most buffers one `allocate` call may make.
    pub max_count: u32,
}

impl Limits {
    /// `min(1 GiB, RAM / 4)` per batch and [`DEFAULT_MAX_COUNT`] buffers: well below device memory,
    /// well above any real frame (an 8K RGBA_FP16 frame is 256 MiB).
    pub fn for_this_machine() -> Limits {
        Limits::for_ram(sys::total_ram())
    }

    /// The default limits for a machine with `ram` bytes (unknown: one GiB).
    pub fn for_ram(ram: Option<u64>) -> Limits {
        let quarter = ram.map_or(DEFAULT_MAX_BATCH_BYTES, |r| r / 4);
        Limits {
            max_batch_bytes: quarter.min(DEFAULT_MAX_BATCH_BYTES),
            max_count: DEFAULT_MAX_COUNT,
        }
    }

    /// Checks a request for `count` buffers of `bytes_each` bytes.
    pub fn check(&self, count: u32, bytes_each: u64) -> Result<u64, MemError> {
        if count == 0 {
            return Err(MemError::ZeroCount);
        }
        if count > self.max_count {
            return Err(MemError::TooManyBuffers {
                count,
                limit: self.max_count,
            });
        }
        let total = bytes_each.saturating_mul(u64::from(count));
        if total > self.max_batch_bytes {
            return Err(MemError::TooLarge {
                what: "request",
                bytes: total,
                limit: self.max_batch_bytes,
            });
        }
        Ok(total)
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::for_this_machine()
    }
}

/// One client's outstanding bytes against a cap: the accounting primitive behind a per-client
/// limit. The service decides what a client is and when a buffer stops counting (it cannot see
/// the client close its fds); it holds each [`Charge`] for as long as it counts the buffer.
#[derive(Debug)]
pub struct Ledger {
    cap: u64,
    used: AtomicU64,
}

impl Ledger {
    /// A ledger allowing `cap` bytes outstanding.
    pub fn new(cap: u64) -> Arc<Ledger> {
        Arc::new(Ledger {
            cap,
            used: AtomicU64::new(0),
        })
    }

    /// Bytes currently charged.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// The cap.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// Charges `bytes`, or refuses with `NoResources` if the cap would be exceeded. Concurrent
    /// charges never overshoot the cap together.
    pub fn try_charge(self: &Arc<Self>, bytes: u64) -> Result<Charge, MemError> {
        let mut used = self.used.load(Ordering::Acquire);
        loop {
            let next = match used.checked_add(bytes) {
                Some(next) if next <= self.cap => next,
                _ => {
                    return Err(MemError::OverQuota {
                        used,
                        requested: bytes,
                        cap: self.cap,
                    })
                }
            };
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    return Ok(Charge {
                        ledger: Arc::clone(self),
                        bytes,
                    })
                }
                Err(now) => used = now,
            }
        }
    }
}

/// Bytes charged to a [`Ledger`], given back when dropped.
#[derive(Debug)]
pub struct Charge {
    ledger: Arc<Ledger>,
    bytes: u64,
}

impl Charge {
    /// Bytes it holds.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.ledger.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use central_gralloc::error::ErrorCode;

    #[test]
    fn default_is_a_quarter_of_ram_at_most_a_gib() {
        assert_eq!(Limits::for_ram(Some(1 << 30)).max_batch_bytes, 256 << 20);
        assert_eq!(Limits::for_ram(Some(64 << 30)).max_batch_bytes, 1 << 30);
        assert_eq!(Limits::for_ram(None).max_batch_bytes, 1 << 30);
        assert!(Limits::for_this_machine().max_batch_bytes <= 1 << 30);
    }

    #[test]
    fn check_refuses_zero_too_many_too_large_and_overflow() {
        let l = Limits {
            max_batch_bytes: 1 << 20,
            max_count: 4,
        };
        assert_eq!(l.check(0, 1).unwrap_err().code(), ErrorCode::BadDescriptor);
        assert_eq!(l.check(5, 1).unwrap_err().code(), ErrorCode::NoResources);
        assert_eq!(
            l.check(2, 1 << 20).unwrap_err().code(),
            ErrorCode::NoResources
        );
        assert_eq!(
            l.check(4, u64::MAX / 2).unwrap_err().code(),
            ErrorCode::NoResources
        );
        assert_eq!(l.check(4, 1 << 18).unwrap(), 1 << 20);
    }

    #[test]
    fn ledger_charges_refunds_and_caps() {
        let ledger = Ledger::new(100);
        let a = ledger.try_charge(60).unwrap();
        assert_eq!(
            ledger.try_charge(41).unwrap_err().code(),
            ErrorCode::NoResources
        );
        let b = ledger.try_charge(40).unwrap();
        assert_eq!(ledger.used(), 100);
        drop(a);
        assert_eq!(ledger.used(), 40);
        drop(b);
        assert_eq!(ledger.used(), 0);
        assert!(ledger.try_charge(u64::MAX).is_err());
    }
}
