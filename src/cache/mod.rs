//! Cache-domain tracker: which domain owns a buffer, and the cache maintenance a handoff needs.
//!
//! - [`state`]: the rules, as pure functions over one buffer's 64-bit state word.
//! - [`Tracker`]: those rules applied by compare-and-swap to a word shared between processes.
//! - [`domains`]: the devices and cache policy of a placed buffer, as the rules see them.
//! - [`lockpath`]: the rule a mapper applies on CPU lock and unlock alone, never seeing devices.
//!
//! The coherency simulator that checks these rules against a naive policy and an offline optimum
//! is tooling, not shipped code: it lives in `crates/coherency`.

pub mod lockpath;
mod placed;
mod shared;
pub mod state;

pub use lockpath::LockDomains;
pub use placed::domains;
pub use shared::Tracker;
pub use state::{
    BufferState, CacheDomains, CpuAccess, CpuLines, DeviceAccess, DeviceSync, Domain, SyncFlags,
    TrackerError, V4L2_BUF_FLAG_NO_CACHE_CLEAN, V4L2_BUF_FLAG_NO_CACHE_INVALIDATE,
};

#[cfg(test)]
mod tests;
