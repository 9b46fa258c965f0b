//! Buffer ids that stay unique across allocator restarts.
//!
//! An id is `epoch << 32 | counter`. The epoch is 32 random bits drawn when the allocator starts
//! (getrandom, non-blocking: the service starts before the entropy pool is ready and needs
//! uniqueness, not secrecy); the counter starts at 1. A pid-based epoch would repeat: init starts
//! the service at the same point of every boot, so it often gets the same pid, and a restarted
//! service can get a recycled one. Two runs of the service pick the same epoch with probability
//! 2⁻³², so ids from before a restart (still held by SurfaceFlinger's caches) do not alias new
//! buffers. After 2³² buffers the counter carries into the epoch, which stays unique in practice.

use crate::sys;
use std::sync::atomic::{AtomicU64, Ordering};

/// Hands out buffer ids.
#[derive(Debug)]
pub struct BufferIds {
    next: AtomicU64,
}

impl BufferIds {
    /// Ids under a fresh random epoch.
    pub fn new() -> BufferIds {
        BufferIds::with_epoch(sys::random_u32())
    }

    /// Ids under `epoch` (tests).
    pub fn with_epoch(epoch: u32) -> BufferIds {
        BufferIds {
            next: AtomicU64::new(u64::from(epoch) << 32 | 1),
        }
    }

    /// The epoch of ids handed out now.
    pub fn epoch(&self) -> u32 {
        (self.next.load(Ordering::Relaxed) >> 32) as u32
    }

    /// A new id: never 0, never repeated by this allocator.
    pub fn next(&self) -> u64 {
        loop {
            let id = self.next.fetch_add(1, Ordering::Relaxed);
            // A counter of 0 would make epoch 0's first id 0, the "no id" value.
            if id as u32 != 0 {
                return id;
            }
        }
    }
}

impl Default for BufferIds {
    fn default() -> BufferIds {
        BufferIds::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_epoch_and_skip_zero() {
        let ids = BufferIds::with_epoch(0xabcd_0123);
        assert_eq!(ids.next(), 0xabcd_0123_0000_0001);
        assert_eq!(ids.next(), 0xabcd_0123_0000_0002);
        let ids = BufferIds {
            next: AtomicU64::new(0xffff_ffff),
        };
        assert_eq!(ids.next(), 0xffff_ffff);
        assert_eq!(ids.next(), 0x1_0000_0001);
        let ids = BufferIds::with_epoch(0);
        assert_ne!(ids.next(), 0);
    }

    #[test]
    fn restarts_get_different_epochs() {
        let epochs: Vec<u32> = (0..4).map(|_| BufferIds::new().epoch()).collect();
        assert!(epochs.windows(2).any(|w| w[0] != w[1]), "{epochs:?}");
    }
}
