//! `bringup`: the kernel-binder client of the VM tier's virtual-device bring-up
//! (`tests/vm/tests.d/60-bringup.sh`); each mode is one process and prints protocol lines.
//!
//! ```text
//! bringup hub SECONDS                 wait for the service manager; silent, exit 0 when it answers
//! bringup registered SECONDS          PASS/FAIL bringup.service_registered
//! bringup dma-heap HEAP               PASS/FAIL bringup.buffers_from_dma_heap_<HEAP>
//! bringup dump PROFILE                PASS/FAIL bringup.dump (the dump names PROFILE)
//! bringup restart PIDFILE SECONDS     PASS/FAIL bringup.restart_recovers
//! bringup mapper-pattern              PASS/FAIL bringup.mapper_cross_process_pattern
//! bringup mapper-reader FD            (helper: the second process of mapper-pattern)
//! bringup display SECONDS             PASS/FAIL display.* (waits up to SECONDS for the service)
//! bringup display-composer FD         (helper: the composer process of display)
//! bringup rc-option RC SERVICE KEY    print the arguments of SERVICE's KEY option (`user`,
//!                                     `group`, ...) in RC, space-separated; exit 1 if absent
//! bringup reply-limit                 PASS/FAIL bringup.allocate2_reply_limit (reply_limit.rs)
//! bringup reply-fds                   PASS/FAIL bringup.kernel_binder_reply_fds (reply_limit.rs)
//! bringup soak PIDFILE CALLS PROCS    PASS/FAIL soak.allocate2_kernel_binder (see soak.rs)
//! bringup soak-client CALLS INDEX     (helper: one client process of soak)
//! bringup kill-under-load PIDFILE PROCS SECONDS
//!                                     PASS/FAIL faults.service_killed_under_load
//! bringup load-client SECONDS INDEX   (helper: one client process of kill-under-load)
//! ```
//!
//! `restart` kills the service whose pid the supervisor wrote to PIDFILE, expects its old proxy
//! to fail with `DeadObject`, waits for the supervisor's new pid, and recovers as an Android
//! client does: look the service up again until a proxy answers, then allocate.

#[path = "bringup/display.rs"]
mod display;
#[path = "../kms.rs"]
mod kms;
#[path = "bringup/mapper.rs"]
mod mapper;
#[path = "../mapper_client.rs"]
mod mapper_client;
#[path = "bringup/peer.rs"]
mod peer;
#[path = "bringup/reply_limit.rs"]
mod reply_limit;
#[path = "bringup/soak.rs"]
mod soak;
// The raw dma-buf and PRIME wrappers the display check's vgem reader uses; the rest of the file
// serves the test runner.
#[allow(dead_code)]
#[path = "../sys.rs"]
mod sys;

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use binder::rsbinder::{self, ProxyHandle};
use binder::{StatusCode, Strong};
use central_gralloc::error::ErrorCode;
use central_gralloc_service::aidl::{BufferDescriptorInfo, BufferUsage, IAllocator, PixelFormat};
use central_gralloc_service::status::allocation_error;
use central_gralloc_service::SERVICE_NAME;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The device the allocator service opens when init starts it (no arguments).
const BINDER_DEVICE: &str = "/dev/binder";
/// How often the waits poll.
const POLL: Duration = Duration::from_millis(50);
/// Longer than the service's per-client quota window (one second).
const QUOTA_WAIT: Duration = Duration::from_secs(3);
const BUFINFO: &str = "/sys/kernel/debug/dma_buf/bufinfo";
/// The buffer name the checks ask for; the service names dma-bufs after the descriptor.
const BUFFER_NAME: &str = "bringup";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Test modes print a protocol line under their name; helper modes only set the exit status.
    let (test, result) = match args.as_slice() {
        ["hub", seconds] => (None, seconds_arg(seconds).and_then(wait_for_hub)),
        ["registered", seconds] => (
            Some("bringup.service_registered".to_string()),
            seconds_arg(seconds).and_then(registered),
        ),
        ["dma-heap", heap] => (
            Some(format!("bringup.buffers_from_dma_heap_{heap}")),
            buffers_from_heap(heap),
        ),
        ["dump", profile] => (Some("bringup.dump".into()), dump_names_profile(profile)),
        ["restart", pidfile, seconds] => (
            Some("bringup.restart_recovers".into()),
            seconds_arg(seconds).and_then(|limit| restart_recovers(pidfile, limit)),
        ),
        ["mapper-pattern"] => (
            Some("bringup.mapper_cross_process_pattern".into()),
            mapper_pattern(),
        ),
        ["mapper-reader", fd] => match fd.parse() {
            Ok(fd) => match mapper::reader(fd) {
                Ok(report) => {
                    println!("{report}");
                    return ExitCode::SUCCESS;
                }
                Err(e) => (None, Err(e)),
            },
            Err(_) => (None, Err(format!("`{fd}` is not an fd number"))),
        },
        ["display", seconds] => (None, seconds_arg(seconds).and_then(display_check)),
        ["display-composer", fd] => match fd.parse() {
            Ok(fd) => (None, display::composer(fd)),
            Err(_) => (None, Err(format!("`{fd}` is not an fd number"))),
        },
        ["rc-option", rc, service, keyword] => (None, rc_option(rc, service, keyword)),
        ["reply-limit"] => {
            let name = "bringup.allocate2_reply_limit";
            (
                Some(name.to_string()),
                with_info(name, reply_limit::reply_limit()),
            )
        }
        ["reply-fds"] => {
            let name = "bringup.kernel_binder_reply_fds";
            (
                Some(name.to_string()),
                with_info(name, reply_limit::reply_fds()),
            )
        }
        ["soak", pidfile, calls, procs] => {
            let name = "soak.allocate2_kernel_binder";
            let run = count_arg(calls)
                .and_then(|calls| Ok((calls, count_arg(procs)?)))
                .and_then(|(calls, procs)| soak::soak(pidfile, calls, procs));
            (Some(name.to_string()), with_info(name, run))
        }
        ["soak-client", calls, index] => (
            None,
            count_arg(calls)
                .and_then(|calls| Ok((calls, count_arg(index)?)))
                .and_then(|(calls, index)| soak::soak_client(calls, index)),
        ),
        ["kill-under-load", pidfile, procs, seconds] => {
            let name = "faults.service_killed_under_load";
            let run = count_arg(procs)
                .and_then(|procs| Ok((procs, seconds_arg(seconds)?)))
                .and_then(|(procs, limit)| soak::kill_under_load(pidfile, procs, limit));
            (Some(name.to_string()), with_info(name, run))
        }
        ["load-client", seconds, index] => (
            None,
            seconds_arg(seconds)
                .and_then(|limit| Ok((limit, count_arg(index)?)))
                .and_then(|(limit, index)| soak::load_client(limit, index)),
        ),
        _ => {
            eprintln!("usage: bringup hub SECONDS | registered SECONDS | dma-heap HEAP | dump PROFILE | restart PIDFILE SECONDS | mapper-pattern | mapper-reader FD | display SECONDS | display-composer FD | rc-option RC SERVICE KEYWORD | reply-limit | reply-fds | soak PIDFILE CALLS PROCS | kill-under-load PIDFILE PROCS SECONDS");
            return ExitCode::from(2);
        }
    };
    match (test, result) {
        (Some(name), result) => report(&name, result),
        (None, Ok(())) => ExitCode::SUCCESS,
        (None, Err(e)) => {
            eprintln!("bringup: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the protocol line for `name`; exit 1 on failure.
fn report(name: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => {
            println!("PASS {name}");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            println!("FAIL {name}: {}", reason.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn info(name: &str, text: impl std::fmt::Display) {
    println!("INFO {name}: {text}");
}

fn count_arg(text: &str) -> Result<usize, String> {
    text.parse().map_err(|_| format!("`{text}` is not a count"))
}

/// Prints a successful run's figures as an INFO line of `name`.
fn with_info(name: &str, run: Result<String, String>) -> Result<(), String> {
    run.map(|figures| info(name, figures))
}

fn seconds_arg(text: &str) -> Result<Duration, String> {
    text.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("`{text}` is not a number of seconds"))
}

/// Opens the binder device as a client: no pool threads of its own.
fn open_binder() -> Result<(), String> {
    rsbinder::ProcessState::init(BINDER_DEVICE, 0)
        .map(|_| ())
        .map_err(|e| format!("cannot open {BINDER_DEVICE}: {e}"))
}

/// Polls `attempt` until it gives a value or `limit` passes; the error is the last attempt's.
fn poll<T>(limit: Duration, mut attempt: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let start = Instant::now();
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(e) if start.elapsed() >= limit => {
                return Err(format!("not within {} s: {e}", limit.as_secs()))
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

fn wait_for_hub(limit: Duration) -> Result<(), String> {
    open_binder()?;
    poll(limit, || {
        let hub = rsbinder::hub::default().map_err(|e| format!("service manager: {e:?}"))?;
        hub.try_list_services(rsbinder::hub::DUMP_FLAG_PRIORITY_ALL)
            .map(|_| ())
            .map_err(|e| format!("listServices: {e:?}"))
    })
}

/// The registered allocator, if it answers a call now.
fn live_allocator() -> Result<Strong<dyn IAllocator>, String> {
    let allocator: Strong<dyn IAllocator> = binder::check_interface(SERVICE_NAME)
        .map_err(|e| format!("checkService({SERVICE_NAME}): {e:?}"))?;
    allocator
        .as_binder()
        .ping_binder()
        .map_err(|e| format!("ping: {e:?}"))?;
    Ok(allocator)
}

fn registered(limit: Duration) -> Result<(), String> {
    open_binder()?;
    let start = Instant::now();
    let allocator = poll(limit, live_allocator)?;
    let version = allocator
        .getInterfaceVersion()
        .map_err(|e| format!("getInterfaceVersion: {e:?}"))?;
    info(
        "bringup.service_registered",
        format!(
            "{SERVICE_NAME} answered after {} ms (interface version {version})",
            start.elapsed().as_millis()
        ),
    );
    Ok(())
}

fn descriptor() -> BufferDescriptorInfo {
    let mut name = [0u8; 128];
    name[..BUFFER_NAME.len()].copy_from_slice(BUFFER_NAME.as_bytes());
    BufferDescriptorInfo {
        name,
        width: 640,
        height: 480,
        layerCount: 1,
        format: PixelFormat::RGBA_8888,
        // A CPU-drawn frame for the video encoder: on the system dma-heap. (GPU or composer
        // usage puts a cuttlefish buffer in virtio-gpu's memory: `bringup display`.)
        usage: BufferUsage(
            BufferUsage::CPU_READ_OFTEN.0
                | BufferUsage::CPU_WRITE_OFTEN.0
                | BufferUsage::VIDEO_ENCODER.0,
        ),
        ..Default::default()
    }
}

/// Allocates one buffer and checks that its fd is a dma-buf exported by `heap`, both from this
/// process's view (`/proc/self/fdinfo`) and the kernel's list of live dma-bufs (bufinfo).
fn check_allocation(allocator: &Strong<dyn IAllocator>, heap: &str) -> Result<String, String> {
    // NO_RESOURCES can be the service's per-client window still full from an earlier burst by
    // this uid (the conformance sweep); a charge leaves the window within a second.
    let mut refused = 0;
    let result = poll(QUOTA_WAIT, || match allocator.allocate2(&descriptor(), 1) {
        Err(s) if allocation_error(&s) == Some(ErrorCode::NoResources) => {
            refused += 1;
            Err(format!("allocate2: {s:?}"))
        }
        other => Ok(other),
    })?
    .map_err(|e| format!("allocate2: {e:?}"))?;
    if refused > 0 {
        println!("INFO bringup: allocate2 was refused NO_RESOURCES {refused} times before it succeeded (per-client window)");
    }
    let handle = result
        .buffers
        .first()
        .ok_or("allocate2 returned no buffer")?;
    let pfd = handle.fds.first().ok_or("the handle has no fd")?;
    let fd = pfd.as_ref().as_fd();
    let fdinfo_path = format!("/proc/self/fdinfo/{}", fd.as_raw_fd());
    let fdinfo =
        std::fs::read_to_string(&fdinfo_path).map_err(|e| format!("{fdinfo_path}: {e}"))?;
    let field = |key: &str| {
        fdinfo
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_owned())
    };
    let exporter = field("exp_name:").ok_or_else(|| {
        format!(
            "fd {} is not a dma-buf (no exp_name in fdinfo)",
            fd.as_raw_fd()
        )
    })?;
    if exporter != heap {
        return Err(format!("fdinfo exp_name is `{exporter}`, not `{heap}`"));
    }
    let ino = nix::sys::stat::fstat(fd)
        .map_err(|e| format!("fstat: {e}"))?
        .st_ino;
    let bufinfo = std::fs::read_to_string(BUFINFO).map_err(|e| format!("{BUFINFO}: {e}"))?;
    // Record header: size flags mode count exp_name ino name (tab-separated).
    let record = bufinfo
        .lines()
        .map(|l| l.split('\t').map(str::trim).collect::<Vec<_>>())
        .find(|f| f.len() >= 7 && f[5].parse::<u64>() == Ok(ino))
        .ok_or_else(|| format!("inode {ino} is not in {BUFINFO}"))?;
    if record[4] != heap {
        return Err(format!("bufinfo exporter `{}`, not `{heap}`", record[4]));
    }
    Ok(format!(
        "stride {}, fd exp_name {exporter}, bufinfo size {} name `{}`",
        result.stride, record[0], record[6]
    ))
}

fn buffers_from_heap(heap: &str) -> Result<(), String> {
    open_binder()?;
    let allocator = live_allocator()?;
    let seen = check_allocation(&allocator, heap)?;
    info(&format!("bringup.buffers_from_dma_heap_{heap}"), seen);
    Ok(())
}

/// What the service writes for a kernel `DUMP_TRANSACTION` (what `dumpsys` sends).
fn dump_text(allocator: &Strong<dyn IAllocator>) -> Result<String, String> {
    let binder = allocator.as_binder();
    let proxy = binder
        .as_any()
        .downcast_ref::<ProxyHandle>()
        .ok_or("the allocator is not a kernel binder proxy")?;
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    // Read while the service writes: a dump larger than the pipe would otherwise block it.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        File::from(read_end).read_to_string(&mut text).map(|_| text)
    });
    let sent = proxy.dump(write_end, &[]);
    let text = reader
        .join()
        .map_err(|_| "the dump reader panicked".to_string())?
        .map_err(|e| format!("reading the dump: {e}"))?;
    sent.map_err(|e| format!("dump transaction: {e:?}"))?;
    Ok(text)
}

fn dump_names_profile(profile: &str) -> Result<(), String> {
    open_binder()?;
    let allocator = live_allocator()?;
    let text = dump_text(&allocator)?;
    let wanted = format!("== profile {profile}");
    if !text.lines().any(|l| l.trim() == wanted) {
        let head: Vec<&str> = text.lines().take(3).collect();
        return Err(format!("no `{wanted}` line; dump begins {head:?}"));
    }
    info(
        "bringup.dump",
        format!(
            "{} lines, first: {}",
            text.lines().count(),
            text.lines().next().unwrap_or("")
        ),
    );
    Ok(())
}

fn read_pid(pidfile: &str) -> Result<i32, String> {
    let text = std::fs::read_to_string(pidfile).map_err(|e| format!("{pidfile}: {e}"))?;
    text.trim()
        .parse()
        .map_err(|_| format!("{pidfile} holds `{}`, not a pid", text.trim()))
}

fn restart_recovers(pidfile: &str, limit: Duration) -> Result<(), String> {
    const NAME: &str = "bringup.restart_recovers";
    open_binder()?;
    let old = live_allocator()?;
    check_allocation(&old, "system").map_err(|e| format!("before the kill: {e}"))?;
    let old_pid = read_pid(pidfile)?;
    kill(Pid::from_raw(old_pid), Signal::SIGKILL).map_err(|e| format!("kill -9 {old_pid}: {e}"))?;
    let killed = Instant::now();

    // The held proxy must report the death, not hang or pretend to work.
    poll(limit, || match old.getIMapperLibrarySuffix() {
        Err(status) if status.transaction_error() == StatusCode::DeadObject => Ok(()),
        Err(status) => Err(format!("old proxy failed with {status:?}, not DeadObject")),
        Ok(_) => Err("the old proxy still answers".into()),
    })?;
    drop(old);

    let new_pid = poll(limit, || match read_pid(pidfile) {
        Ok(pid) if pid != old_pid && std::path::Path::new(&format!("/proc/{pid}")).exists() => {
            Ok(pid)
        }
        Ok(pid) => Err(format!("pidfile still names {pid}")),
        Err(e) => Err(e),
    })
    .map_err(|e| format!("no restarted service: {e}"))?;

    // As a client does after DeadObject: look the service up again until a proxy answers.
    let new = poll(limit, live_allocator).map_err(|e| format!("no re-registration: {e}"))?;
    let recovered_ms = killed.elapsed().as_millis();
    let seen = check_allocation(&new, "system").map_err(|e| format!("after the restart: {e}"))?;
    info(
        NAME,
        format!("pid {old_pid} killed, old proxy DeadObject, restarted as pid {new_pid}, re-registered and allocating {recovered_ms} ms after the kill ({seen})"),
    );
    Ok(())
}

fn mapper_pattern() -> Result<(), String> {
    open_binder()?;
    let allocator = live_allocator()?;
    let seen = mapper::writer(&allocator)?;
    info("bringup.mapper_cross_process_pattern", seen);
    Ok(())
}

fn display_check(limit: Duration) -> Result<(), String> {
    open_binder()?;
    let allocator = poll(limit, live_allocator)?;
    display::surfaceflinger(&allocator)
}

fn rc_option(rc: &str, service: &str, keyword: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(rc).map_err(|e| format!("{rc}: {e}"))?;
    let service = central_gralloc_packaging::find_service(&text, service)
        .map_err(|e| format!("{rc}: {e}"))?;
    let args = service
        .option(keyword)
        .ok_or_else(|| format!("{rc}: service {} has no `{keyword}`", service.name))?;
    println!("{}", args.join(" "));
    Ok(())
}
