//! central-gralloc core: usage bits, pixel formats and layouts, devices and their constraints,
//! platform profiles, the central solver and the cache-domain tracker. Pure Rust, no I/O, no binder.
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cache;
pub mod descriptor;
pub mod device;
pub mod error;
pub mod format;
pub mod layout;
pub mod placement;
pub mod profile;
pub mod solver;
pub mod text;
pub mod usage;
