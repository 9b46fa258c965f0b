//! How many buffers one `allocate2` reply carries over kernel binder, and how many fds kernel
//! binder itself lets one reply carry.
//!
//! - `bringup reply-limit`: the service answers 32 buffers (64 fds, the bound it keeps for every
//!   transport: rsbinder's RPC transport carries at most 64 fds a message) and refuses 33 and 64
//!   with `NO_RESOURCES` before charging anything, as over the socket.
//! - `bringup reply-fds`: a probe service in a forked process answers a transaction with N fds,
//!   N doubling from 64, until a reply fails; prints the largest that went through and how the
//!   next failed. Kernel binder has no count of its own: a reply's fds are limited by the
//!   receiver's binder buffer (each is a 24-byte object and an 8-byte offset in it; rsbinder maps
//!   1 MiB less two pages) and its fd limit, both raised here past what is probed.

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use binder::rsbinder::{self, Parcel, ParcelFileDescriptor, Remotable, TransactionCode};
use central_gralloc_service::aidl::{
    AllocationError, BufferDescriptorInfo, BufferUsage, PixelFormat,
};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use crate::{live_allocator, open_binder, poll, BINDER_DEVICE};

/// The probe service's name with the service manager.
const PROBE: &str = "central.gralloc.vmtest.FdProbe";
/// Fds the service's replies stay within (`central_gralloc_service::gralloc::MAX_REPLY_FDS`).
const SERVICE_REPLY_FDS: usize = central_gralloc_service::gralloc::MAX_REPLY_FDS;
/// Largest reply probed.
const PROBE_MAX: usize = 1 << 16;

fn descriptor() -> BufferDescriptorInfo {
    let mut name = [0u8; 128];
    name[..11].copy_from_slice(b"reply-limit");
    BufferDescriptorInfo {
        name,
        width: 64,
        height: 64,
        layerCount: 1,
        format: PixelFormat::RGBA_8888,
        usage: BufferUsage(BufferUsage::CPU_READ_OFTEN.0 | BufferUsage::CPU_WRITE_OFTEN.0),
        ..Default::default()
    }
}

/// `bringup reply-limit`.
pub fn reply_limit() -> Result<String, String> {
    open_binder()?;
    let allocator = live_allocator()?;
    let most = (SERVICE_REPLY_FDS / 2) as i32;
    let allocate = |count: i32| {
        // A window still full from an earlier burst of this uid clears within a second.
        poll(Duration::from_secs(3), || {
            match allocator.allocate2(&descriptor(), count) {
                Err(s)
                    if s.service_specific_error() == AllocationError::NO_RESOURCES.0
                        && count <= most =>
                {
                    Err(format!("allocate2({count}): {s:?}"))
                }
                other => Ok(other),
            }
        })
    };
    let full = allocate(most)?.map_err(|e| format!("allocate2({most}): {e:?}"))?;
    let fds: usize = full.buffers.iter().map(|b| b.fds.len()).sum();
    if full.buffers.len() != most as usize || fds != SERVICE_REPLY_FDS {
        return Err(format!(
            "{} buffers with {fds} fds for {most}",
            full.buffers.len()
        ));
    }
    drop(full);
    for count in [most + 1, 2 * most, 1000] {
        match allocate(count)? {
            Err(s) if s.service_specific_error() == AllocationError::NO_RESOURCES.0 => {}
            Err(s) => return Err(format!("allocate2({count}): {s:?}, not NO_RESOURCES")),
            Ok(r) => {
                return Err(format!(
                    "allocate2({count}) gave {} buffers",
                    r.buffers.len()
                ))
            }
        }
    }
    // Nothing was charged for the refused requests.
    allocate(most)?.map_err(|e| format!("allocate2({most}) after the refusals: {e:?}"))?;
    Ok(format!(
        "{most} buffers ({SERVICE_REPLY_FDS} fds) in one reply; {}, {} and 1000 refused with NO_RESOURCES, nothing charged",
        most + 1,
        2 * most
    ))
}

/// Answers transaction 1 carrying N with N duplicates of one fd.
struct FdProbe(OwnedFd);

impl Remotable for FdProbe {
    fn descriptor() -> &'static str {
        PROBE
    }

    fn on_transact(
        &self,
        code: TransactionCode,
        reader: &mut Parcel,
        reply: &mut Parcel,
    ) -> rsbinder::Result<()> {
        // Everything else (the service manager asks for the descriptor) is the library's.
        if code != rsbinder::FIRST_CALL_TRANSACTION {
            return Err(rsbinder::StatusCode::UnknownTransaction);
        }
        let count: i32 = reader.read()?;
        for _ in 0..count {
            let copy = self
                .0
                .as_fd()
                .try_clone_to_owned()
                .map_err(|_| rsbinder::StatusCode::NoMemory)?;
            reply.write(&ParcelFileDescriptor::new(copy))?;
        }
        Ok(())
    }

    fn on_dump(&self, _w: &mut dyn std::io::Write, _a: &[String]) -> rsbinder::Result<()> {
        Ok(())
    }
}

/// Raises this process's fd limit to `n` (root in the VM).
fn raise_fd_limit(n: u64) -> Result<(), String> {
    let limit = nix::libc::rlimit {
        rlim_cur: n,
        rlim_max: n,
    };
    // SAFETY: `limit` is a valid rlimit for the duration of the call.
    if unsafe { nix::libc::setrlimit(nix::libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(format!("setrlimit: {}", nix::errno::Errno::last()));
    }
    Ok(())
}

fn serve_probe() -> Result<(), String> {
    // Each reply's fds are duplicated twice here before the kernel takes them.
    raise_fd_limit(4 * PROBE_MAX as u64)?;
    rsbinder::ProcessState::init(BINDER_DEVICE, 2).map_err(|e| format!("{e}"))?;
    // As the allocator's main does: the pool runs before the service manager hears of us.
    rsbinder::ProcessState::start_thread_pool();
    let memfd = central_gralloc_memory::sys::sealed_memfd("fd-probe", 4096, true, true)
        .map_err(|e| format!("memfd: {e}"))?;
    let binder = rsbinder::Binder::new(FdProbe(memfd));
    rsbinder::hub::add_service(PROBE, rsbinder::Interface::as_binder(&binder))
        .map_err(|e| format!("add_service: {e:?}"))?;
    rsbinder::ProcessState::join_thread_pool().map_err(|e| format!("{e:?}"))
}

/// Sends transaction 1 asking for `count` fds; how many came back.
fn ask(service: &rsbinder::SIBinder, count: usize) -> Result<usize, String> {
    let proxy = service.as_proxy().ok_or("not a kernel binder proxy")?;
    // With the interface token: the library checks it before our code sees the call.
    let mut data = proxy
        .prepare_transact(true)
        .map_err(|e| format!("prepare: {e:?}"))?;
    data.write(&(count as i32)).map_err(|e| format!("{e:?}"))?;
    let mut reply = proxy
        .submit_transact(rsbinder::FIRST_CALL_TRANSACTION, &data, 0)
        .map_err(|e| format!("{e:?}"))?
        .ok_or("no reply")?;
    let mut got = 0;
    while got < count {
        let fd: ParcelFileDescriptor = reply.read().map_err(|e| format!("fd {got}: {e:?}"))?;
        drop(fd);
        got += 1;
    }
    Ok(got)
}

/// `bringup reply-fds`.
pub fn reply_fds() -> Result<String, String> {
    // SAFETY: bringup is single-threaded here and has not opened binder yet; the child serves
    // the probe until it is killed and never returns into the parent's code.
    let child = match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            let code = match serve_probe() {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("fd probe: {e}");
                    1
                }
            };
            std::process::exit(code)
        }
        ForkResult::Parent { child } => child,
    };
    let outcome = (|| {
        raise_fd_limit(4 * PROBE_MAX as u64)?;
        open_binder()?;
        let service = poll(Duration::from_secs(20), || {
            rsbinder::hub::check_service(PROBE).ok_or_else(|| format!("no {PROBE}"))
        })
        .map_err(|e| {
            let hub = std::fs::read_to_string("/tmp/rsb_hub.log").unwrap_or_default();
            let tail: Vec<&str> = hub.lines().rev().take(5).collect();
            format!("{e}; rsb_hub log ends {tail:?}")
        })?;
        let mut count = SERVICE_REPLY_FDS;
        let mut largest = 0;
        let failure = loop {
            match ask(&service, count) {
                Ok(got) if got == count => largest = count,
                Ok(got) => break format!("{count} fds: {got} arrived"),
                Err(e) => break format!("{count} fds: {e}"),
            }
            if count >= PROBE_MAX {
                break format!("none up to {PROBE_MAX}");
            }
            count *= 2;
        };
        if largest < SERVICE_REPLY_FDS {
            return Err(format!(
                "kernel binder refused a reply of {SERVICE_REPLY_FDS} fds: {failure}"
            ));
        }
        Ok(format!(
            "kernel binder carried {largest} fds in one reply (the service keeps to {SERVICE_REPLY_FDS}); failed at {failure}"
        ))
    })();
    let _ = kill(child, Signal::SIGKILL);
    let _ = waitpid(child, None);
    outcome
}
