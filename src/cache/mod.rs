//! Cache-domain tracker: which domain owns a buffer, and the cache maintenance a handoff needs.
//!
//! - [`state`]: the rules, as pure functions over one buffer's 64-bit state word.
//! - [`Tracker`]: those rules applied by compare-and-swap to a word shared between processes.
//! - [`sim`]: a coherency simulator (memory plus an adversarial CPU cache) that finds stale reads
//!   and lost writes.
//! - [`policy`]: the naive policy, the tracker and an offline optimum, replayed through the simulator.
//! - [`trace`]: the trace file format; [`report`]: the shipped traces and the tables comparing policies.

pub mod lockpath;
pub mod policy;
pub mod report;
mod shared;
pub mod sim;
pub mod state;
pub mod trace;

pub use lockpath::LockDomains;
pub use policy::{Counts, Event, Policy};
pub use report::{replay_trace, shipped_table, Replay};
pub use shared::Tracker;
pub use state::{
    BufferState, CacheDomains, CpuAccess, CpuLines, DeviceAccess, DeviceSync, Domain, SyncFlags,
    TrackerError, V4L2_BUF_FLAG_NO_CACHE_CLEAN, V4L2_BUF_FLAG_NO_CACHE_INVALIDATE,
};
pub use trace::{Trace, TraceError};

#[cfg(test)]
mod tests;
