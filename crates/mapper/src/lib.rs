//! `mapper.central.so`: the IMapper stable-C v5 library through which every client of
//! central-gralloc imports, locks and describes buffers.
//!
//! Layers, top to bottom: [`ffi`] is the C ABI (the only unsafe code), [`registry`] the table of
//! imported buffers, [`buffer`] one imported buffer with its mappings and lock state,
//! [`standard`] the standard metadata types read from the handle and the shared metadata region,
//! [`codec`] their byte encoding.
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod codec;
pub mod standard;
