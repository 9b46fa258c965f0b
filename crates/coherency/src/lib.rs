//! Checks the cache-domain tracker against a model of the hardware: test and tooling code that the
//! `gralloc` CLI and the tests use and that no device build links.
//!
//! - [`sim`]: a coherency simulator (memory plus an adversarial CPU cache) that finds stale reads
//!   and lost writes.
//! - [`policy`]: ways to decide cache maintenance (the naive one of today's allocators, the
//!   core's tracker, an offline optimum), replayed through the simulator. A new policy is a
//!   [`Policy`] variant, its entry in [`Policy::ALL`] and its arm in [`policy::replay`].
//! - [`trace`]: the trace file format; [`report`]: the shipped traces (`traces/`) and the tables
//!   comparing the policies.
#![warn(missing_docs)]

pub mod policy;
pub mod report;
pub mod sim;
pub mod trace;

pub use policy::{Counts, Event, Policy, ReplayError};
pub use report::{replay_trace, shipped_table, Replay};
pub use trace::{Trace, TraceError};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod trace_tests;
