//! Host only: `IAllocatorDebug`, the dump text over an RPC socket.
//!
//! `dumpsys` reaches `Interface::dump` with a kernel `DUMP_TRANSACTION` carrying an fd; an
//! rsbinder socket client cannot send that transaction. So the host service serves this small
//! interface as the root object of a second socket beside the IAllocator one (`PATH.debug`;
//! rsbinder 0.12 RPC proxies do not fetch binder extensions, and its named services would
//! displace IAllocator as the root), and `gralloc dump --socket PATH` calls it. Both paths print the same
//! text, from [`crate::gralloc::Gralloc::dump`]. The Android build neither generates nor
//! serves it: there, `dumpsys android.hardware.graphics.allocator.IAllocator/default` works.

use crate::gralloc::Gralloc;
use std::sync::Arc;

/// The generated stubs (`aidl/central/gralloc/IAllocatorDebug.aidl`).
// Generated from AIDL, which carries no Rust docs.
#[allow(missing_docs)]
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/central_gralloc_debug.rs"));
}

pub use generated::central::gralloc::IAllocatorDebug::{BnAllocatorDebug, IAllocatorDebug};

/// Serves the dump of one [`Gralloc`].
pub struct DebugService {
    gralloc: Arc<Gralloc>,
}

impl DebugService {
    /// The debug view of `gralloc`.
    pub fn new(gralloc: Arc<Gralloc>) -> DebugService {
        DebugService { gralloc }
    }
}

impl binder::Interface for DebugService {}

impl IAllocatorDebug for DebugService {
    fn dumpText(&self, args: &[String]) -> binder::Result<String> {
        let mut text = Vec::new();
        if let Err(e) = self.gralloc.dump(&mut text, args) {
            log::error!("debug dump: {e}");
        }
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}
