//! The most recent buffers the service made, for `dumpsys`: what they are and the cache
//! maintenance every client's mapper has done on them, read from their shared metadata regions.
//!
//! The service keeps the mapping of each recent buffer's metadata header page that the memory
//! layer made to write the header (no fd: the service's fd count still returns to its baseline
//! when clients free their buffers, and no system call on the request path), which keeps that
//! region, not the buffer's memory, alive until the entry leaves the ring. Regions with large
//! reserved areas are not kept, so the ring holds at most [`RECENT_LEN`] small regions.

use central_gralloc::format::PixelFormat;
use central_gralloc_memory::metadata::{self, SyncCounters};
use central_gralloc_memory::{Buffer, Mapping};
use std::collections::VecDeque;
use std::io::{self, Write};

/// Buffers kept.
pub const RECENT_LEN: usize = 32;
/// Largest metadata region kept (the header page plus a little reserved space).
const MAX_KEPT_REGION: u64 = 64 << 10;

struct Recent {
    id: u64,
    name: String,
    width: u32,
    height: u32,
    format: PixelFormat,
    size: u64,
    region: Mapping,
}

/// A ring of recent buffers.
#[derive(Default)]
pub struct RecentBuffers {
    ring: VecDeque<Recent>,
}

impl RecentBuffers {
    /// Remembers `buffer` (its descriptor's name, already at most 127 bytes), dropping the oldest
    /// past the ring's length. A buffer whose region is large, or whose fd cannot be copied, is not kept: this is
    /// diagnostics and must cost the allocation nothing.
    pub fn push(&mut self, buffer: &mut Buffer, name: &str) {
        if buffer.info().metadata_size > MAX_KEPT_REGION {
            return;
        }
        let Some(region) = buffer.take_header() else {
            return;
        };
        let info = buffer.info();
        if self.ring.len() == RECENT_LEN {
            self.ring.pop_front();
        }
        self.ring.push_back(Recent {
            id: info.id,
            name: name.to_owned(),
            width: info.width,
            height: info.height,
            format: info.format,
            size: info.size,
            region,
        });
    }

    /// One line per recent buffer, oldest first.
    pub fn dump(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(
            w,
            "\n== last {} buffers (oldest first): cache syncs by every client's mapper: decided / skipped (a naive mapper would have made them) / ioctls made",
            self.ring.len()
        )?;
        for r in &self.ring {
            let syncs = match metadata::read_sync_counters(&r.region) {
                Ok(SyncCounters {
                    decided,
                    skipped,
                    issued,
                }) => format!("syncs {decided} / {skipped} / {issued}"),
                Err(e) => format!("syncs unreadable: {e}"),
            };
            writeln!(
                w,
                "{:#018x} {:?} {}x{} {} {} bytes, {syncs}",
                r.id, r.name, r.width, r.height, r.format, r.size
            )?;
        }
        Ok(())
    }
}
