//! Cache-domain tracker: which domain owns a buffer, and the cache maintenance a handoff needs.
//!
//! - [`state`]: the rules, as pure functions over one buffer's 64-bit state word.
//! - [`Tracker`]: those rules applied by compare-and-swap to a word shared between processes.
//! - [`sim`]: a coherency simulator (memory plus an adversarial CPU cache) that finds stale reads
//!   and lost writes.
//! - [`policy`]: the naive policy, the tracker and an offline optimum, replayed through the simulator.

pub mod policy;
mod shared;
pub mod sim;
pub mod state;

pub use policy::{Counts, Event, Policy};
pub use shared::Tracker;
pub use state::{
    BufferState, CacheDomains, CpuAccess, CpuLines, DeviceAccess, DeviceSync, Domain, SyncFlags,
    TrackerError, V4L2_BUF_FLAG_NO_CACHE_CLEAN, V4L2_BUF_FLAG_NO_CACHE_INVALIDATE,
};

#[cfg(test)]
mod tests;
