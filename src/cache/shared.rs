//! The tracker over a shared word: every process that maps the buffer's metadata sees one state.

use super::state::{
    BufferState, CacheDomains, CpuAccess, DeviceAccess, DeviceSync, SyncFlags, TrackerError,
};
use std::sync::atomic::{AtomicU64, Ordering};

/// One buffer's cache-domain tracker. The word normally lives in the buffer's shared metadata
/// region (a memfd every process maps), so the app, SurfaceFlinger and the camera HAL update the
/// same state; a zero word is a fresh buffer.
///
/// Each event is one read-modify-write of the word by compare-and-swap, so concurrent events never
/// lose an update. Ordering *between* a handoff's maintenance and the next party's access comes
/// from the buffer's fences, as for the access itself.
#[derive(Clone, Copy, Debug)]
pub struct Tracker<'a> {
    domains: CacheDomains,
    word: &'a AtomicU64,
}

impl<'a> Tracker<'a> {
    /// A tracker for the buffer described by `domains` whose state is `word`.
    pub const fn new(domains: CacheDomains, word: &'a AtomicU64) -> Tracker<'a> {
        Tracker { domains, word }
    }

    /// The buffer's CPU mapping and devices.
    pub const fn domains(&self) -> &CacheDomains {
        &self.domains
    }

    /// The current state.
    pub fn state(&self) -> Result<BufferState, TrackerError> {
        BufferState::from_word(self.word.load(Ordering::Acquire))
    }

    /// The CPU is about to access the mapping (lock): the `DMA_BUF_IOCTL_SYNC` flags to issue first.
    pub fn cpu_begin(&self, access: CpuAccess) -> Result<Option<SyncFlags>, TrackerError> {
        self.update(|state| state.cpu_begin(&self.domains, access))
    }

    /// The CPU is done with an access begun with `access` (unlock): the flags to issue, if any.
    pub fn cpu_end(&self, access: CpuAccess) -> Result<Option<SyncFlags>, TrackerError> {
        self.update(|state| state.cpu_end(&self.domains, access))
    }

    /// Device `index` (profile order) is about to be handed the buffer.
    pub fn device_access(
        &self,
        index: usize,
        access: DeviceAccess,
    ) -> Result<DeviceSync, TrackerError> {
        self.update(|state| state.device_access(&self.domains, index, access))
    }

    fn update<T>(
        &self,
        step: impl Fn(BufferState) -> Result<(BufferState, T), TrackerError>,
    ) -> Result<T, TrackerError> {
        let mut word = self.word.load(Ordering::Acquire);
        loop {
            let (next, out) = step(BufferState::from_word(word)?)?;
            match self.word.compare_exchange_weak(
                word,
                next.to_word(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(out),
                Err(seen) => word = seen,
            }
        }
    }
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
