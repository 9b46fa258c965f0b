//! The demo's lock/unlock round: buffers from the service imported twice through the mapper, once
//! under the lock-path rule and once naive (a sync at every lock and unlock, as minigbm and Arm
//! gralloc do), locked frame after frame as their users lock them; the syncs each asked for.

use crate::client::allocation_error_name;
use central_gralloc::cache::CpuAccess;
use central_gralloc::descriptor::DescriptorInfo;
use central_gralloc::format::PixelFormat;
use central_gralloc::usage::Usage;
use central_gralloc_mapper::buffer::{ImportedBuffer, SyncMode};
use central_gralloc_memory::{BufferHandle, NativeHandle};
use central_gralloc_service::adapter::buffer_descriptor;
use central_gralloc_service::rpc::Connection;
use std::os::fd::AsFd;

/// One buffer's round.
struct Round {
    what: &'static str,
    format: PixelFormat,
    usage: &'static str,
    access: CpuAccess,
}

const ROUNDS: [Round; 4] = [
    Round {
        what: "decoded frame, CPU analysis",
        format: PixelFormat::YCBCR_420_888,
        usage: "VIDEO_DECODER|CPU_READ_OFTEN",
        access: CpuAccess::Read,
    },
    Round {
        what: "CPU-drawn frame to encode",
        format: PixelFormat::YCBCR_420_888,
        usage: "CPU_WRITE_OFTEN|VIDEO_ENCODER",
        access: CpuAccess::Write,
    },
    Round {
        what: "screenshot read-back",
        format: PixelFormat::RGBA_8888,
        usage: "GPU_RENDER_TARGET|CPU_READ_OFTEN",
        access: CpuAccess::Read,
    },
    Round {
        what: "CPU scratch (no device)",
        format: PixelFormat::RGBA_8888,
        usage: "CPU_READ_OFTEN|CPU_WRITE_OFTEN",
        access: CpuAccess::ReadWrite,
    },
];

/// Lock/unlock frames per buffer.
const FRAMES: u64 = 10;

fn import(result: &NativeHandle, mode: SyncMode) -> Result<ImportedBuffer, String> {
    let fds = result
        .fds
        .iter()
        .map(|fd| fd.as_fd().try_clone_to_owned())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("dup: {e}"))?;
    let handle = BufferHandle::decode(NativeHandle {
        fds,
        ints: result.ints.clone(),
    })
    .map_err(|e| format!("decode: {e}"))?;
    ImportedBuffer::new(handle, mode).map_err(|e| format!("import: {e}"))
}

/// Prints one line per round: syncs the rule decided (and the ioctls made) against naive's.
pub fn print(connection: &Connection) -> Result<(), String> {
    println!(
        "mapper lock/unlock, {FRAMES} frames each: syncs the lock-path rule decided against what a naive mapper issues"
    );
    println!(
        "{:<28} {:<13} {:>6} {:>6} {:>7}  ioctls made",
        "buffer", "cache", "access", "rule", "naive"
    );
    for round in &ROUNDS {
        let info = DescriptorInfo {
            name: round.what.as_bytes().to_vec(),
            width: 640,
            height: 480,
            layer_count: 1,
            format: round.format.0,
            usage: Usage::parse(round.usage)?.bits() as i64,
            reserved_size: 0,
            additional_options: Vec::new(),
        };
        let result = match connection.allocator.allocate2(&buffer_descriptor(&info), 1) {
            Ok(result) => result,
            Err(status) => {
                let name = allocation_error_name(&status)
                    .ok_or_else(|| format!("{}: the call failed: {status:?}", round.what))?;
                println!("{:<28} not allocatable on this host ({name})", round.what);
                continue;
            }
        };
        let handle = result
            .buffers
            .first()
            .ok_or_else(|| format!("{}: no buffer", round.what))?;
        let native = NativeHandle {
            fds: handle
                .fds
                .iter()
                .map(|p| p.as_ref().as_fd().try_clone_to_owned())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("dup: {e}"))?,
            ints: handle.ints.clone(),
        };
        let tracked = import(&native, SyncMode::Tracked)?;
        let naive = import(&native, SyncMode::Naive)?;
        for b in [&tracked, &naive] {
            for _ in 0..FRAMES {
                b.lock(round.access, None)
                    .map_err(|e| format!("lock: {e}"))?;
                b.unlock().map_err(|e| format!("unlock: {e}"))?;
            }
        }
        let (t, n) = (tracked.counts(), naive.counts());
        let cache = if tracked.domains().cpu_cached {
            "cached"
        } else {
            "write-combine"
        };
        let made = if tracked.info().kind.is_dma_buf() {
            format!("{} and {}", t.issued, n.issued)
        } else {
            "none (a memfd has no device)".into()
        };
        println!(
            "{:<28} {cache:<13} {:>6} {:>6} {:>7}  {made}",
            round.what,
            round.access.name(),
            t.decided,
            n.decided
        );
    }
    Ok(())
}
