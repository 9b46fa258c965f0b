//! Vendor metadata: the buffer's cache-maintenance counters, readable with `getMetadata` and
//! shown by `dumpBuffer` (libui ignores names it does not know, so dumps stay decodable).
//!
//! Encoding, like the standard types': `i64` name length, the name's bytes, `i64` type value, then
//! the payload. `SYNC_COUNTS` (1): six `u64`: the syncs the lock-path rule called for, the ones it
//! skipped that a naive mapper would have made, and the `DMA_BUF_IOCTL_SYNC` calls actually made
//! (none on a memfd), first for this buffer by every mapper in every process, then by this import.

use crate::buffer::ImportedBuffer;
use crate::error::{BAD_VALUE, UNSUPPORTED};
use std::ffi::CStr;

/// The vendor namespace.
pub const NAME: &CStr = c"vendor.centralgralloc.CacheMaintenance";
/// `SYNC_COUNTS`.
pub const SYNC_COUNTS: i64 = 1;

/// A vendor type and its description.
pub struct VendorType {
    /// The type's value.
    pub value: i64,
    /// What it holds.
    pub description: &'static CStr,
}

/// Every vendor type; all gettable, none settable.
pub const TYPES: &[VendorType] = &[VendorType {
    value: SYNC_COUNTS,
    description:
        c"DMA_BUF_IOCTL_SYNC calls issued and skipped: all processes, then this import (4 x u64)",
}];

/// Encodes vendor type `value` of `b` into `out`; the error is an `AIMapper_Error`.
pub fn get(b: &ImportedBuffer, value: i64, out: &mut Vec<u8>) -> Result<(), i32> {
    if value != SYNC_COUNTS {
        return Err(UNSUPPORTED);
    }
    let name = NAME.to_bytes();
    out.clear();
    out.extend_from_slice(&(name.len() as i64).to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(&value.to_le_bytes());
    let shared = b.shared_counts();
    let local = b.counts();
    for n in [
        shared.decided,
        shared.skipped,
        shared.issued,
        local.decided,
        local.skipped,
        local.issued,
    ] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    Ok(())
}

/// `setMetadata` on a vendor type: the counters are read-only.
pub fn set(value: i64) -> i32 {
    if TYPES.iter().any(|t| t.value == value) {
        BAD_VALUE
    } else {
        UNSUPPORTED
    }
}

/// Every vendor type of `b`, encoded, for dumps.
pub fn dump(b: &ImportedBuffer) -> Vec<(i64, Vec<u8>)> {
    TYPES
        .iter()
        .filter_map(|t| {
            let mut bytes = Vec::new();
            get(b, t.value, &mut bytes).ok().map(|()| (t.value, bytes))
        })
        .collect()
}
