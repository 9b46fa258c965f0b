//! `mapper.central.so`: the IMapper stable-C v5 library through which every client of
//! central-gralloc imports, locks and describes buffers.
//!
//! Layers, top to bottom: [`ffi`] is the C ABI (the only unsafe code), [`registry`] the table of
//! imported buffers, [`buffer`] one imported buffer with its mapping, its locks and the
//! lock-path cache rule, [`standard`] and [`vendor`] the metadata types read from the handle and
//! the shared metadata region, [`codec`] their byte encoding.
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod buffer;
pub mod codec;
pub mod error;
pub mod ffi;
pub mod registry;
pub mod standard;
pub mod vendor;

pub use ffi::{AIMapper_loadIMapper, ANDROID_HAL_MAPPER_VERSION, ANDROID_HAL_STABLEC_VERSION};
