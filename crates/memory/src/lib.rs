//! Memory layer of central-gralloc: turns a placement into shareable memory (dma-heap, a DRM
//! device's own export, udmabuf or memfd), gives every buffer a shared metadata region and a unique id, and encodes it all into a
//! versioned buffer handle. Depends on the core, never on binder.
//!
//! The service adapter's path: [`Allocator::new`] once at start-up (log
//! [`Allocator::unavailable`]), then per request [`Allocator::is_supported`] or
//! [`Allocator::allocate`], mapping failures with [`MemError::code`], and
//! [`Buffer::into_handle`] for each buffer it sends. The mapper's path: [`BufferHandle::decode`].
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod allocator;
pub mod drm;
pub mod error;
pub mod fence;
pub mod handle;
pub mod heap;
pub mod id;
pub mod limits;
pub mod map;
pub mod metadata;
pub mod pool;
pub mod sys;

pub use allocator::{Allocation, Allocator, Buffer, Plan, Unavailable};
pub use drm::DrmHeap;
pub use error::{MemError, SysOp};
pub use handle::{BufferHandle, BufferInfo, HandleError, NativeHandle};
pub use heap::{Backend, BackendConfig, BufferKind, DmaHeap, Heap, MemfdHeap, Udmabuf};
pub use limits::{Charge, Ledger, Limits};
pub use map::{CpuAccess, Mapping, SyncOutcome};
