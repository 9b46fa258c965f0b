//! `bringup soak` and `bringup kill-under-load`: the allocator over kernel binder under load from
//! several client processes (fresh execs of this binary, each its own binder client).
//!
//! - soak: many `allocate2` calls with a mix of sizes, formats and usages, each client keeping a
//!   few buffers and dropping the oldest as it goes. The service's RSS and fd count are sampled
//!   throughout (start, peak, end); its fd count must come back to where it started, its RSS stay
//!   within a small margin, no call may fail except `NO_RESOURCES` (the per-client quota), and
//!   once the clients have exited and the service's pool has released what it made ahead (after
//!   its idle time), no buffer of theirs may be left in bufinfo (the service keeps the metadata
//!   regions of its last [`RECENT_LEN`] buffers mapped for its dump, no more).
//! - kill-under-load: clients allocating in a loop, each holding a buffer it filled with a
//!   pattern first; the service is killed with SIGKILL. Every client must see `DeadObject`, look
//!   the service up again once the supervisor restarted it, allocate from the new one, and find
//!   its old buffer intact and still writable: the dma-buf outlives the process that made it.

use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use binder::{StatusCode, Strong};
use central_gralloc_memory::handle::BufferInfo;
use central_gralloc_memory::{CpuAccess, Mapping};
use central_gralloc_service::aidl::{
    AllocationError, AllocationResult, BufferDescriptorInfo, BufferUsage, IAllocator, PixelFormat,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{live_allocator, open_binder, poll, read_pid, BUFINFO};

/// Buffers whose metadata regions the service keeps mapped (crates/service/src/recent.rs).
const RECENT_LEN: usize = 32;
/// Buffers each soak client holds at once before dropping its oldest.
const HELD: usize = 4;
/// How far the service's RSS may end above where it started.
const RSS_MARGIN_KB: u64 = 4096;
/// How long after the clients exit the service may still hold buffers: its pool keeps
/// pre-made buffers of the sizes clients asked for until they have gone unasked for 30 s
/// (`central_gralloc_memory::pool::PoolConfig::idle`), then releases them.
const DRAIN: Duration = Duration::from_secs(45);
/// How often the parent samples the service.
const SAMPLE: Duration = Duration::from_millis(100);
/// Name prefix of every soak buffer (bufinfo shows it; metadata regions are `meta:` + it).
const SOAK_NAME: &str = "soak";

/// One kind of request in the mix.
struct Kind {
    width: i32,
    height: i32,
    format: PixelFormat,
    usage: i64,
    count: i32,
}

const CPU: i64 = BufferUsage::CPU_READ_OFTEN.0 | BufferUsage::CPU_WRITE_OFTEN.0;
const CPU_RARELY: i64 = BufferUsage::CPU_READ_RARELY.0 | BufferUsage::CPU_WRITE_RARELY.0;

/// The mix: UI layers, textures, video and camera frames, blobs; every buffer over 4 KiB so it
/// cannot be taken for a metadata region in bufinfo.
fn kinds() -> Vec<Kind> {
    let k = |width, height, format, usage, count| Kind {
        width,
        height,
        format,
        usage,
        count,
    };
    let gpu = BufferUsage::GPU_TEXTURE.0;
    let target = BufferUsage::GPU_RENDER_TARGET.0;
    let overlay = BufferUsage::COMPOSER_OVERLAY.0;
    vec![
        k(64, 64, PixelFormat::RGBA_8888, CPU | gpu, 1),
        k(128, 96, PixelFormat::RGBA_8888, gpu | target | overlay, 2),
        k(256, 256, PixelFormat::RGBX_8888, CPU_RARELY | gpu, 1),
        k(320, 240, PixelFormat::RGB_565, gpu | target, 1),
        k(176, 144, PixelFormat::YCBCR_420_888, CPU | gpu, 1),
        k(352, 288, PixelFormat::YCRCB_420_SP, CPU_RARELY | gpu, 2),
        k(160, 120, PixelFormat::YV12, CPU | gpu, 1),
        k(65536, 1, PixelFormat::BLOB, CPU, 1),
        k(512, 384, PixelFormat::RGBA_8888, gpu | overlay, 1),
        k(96, 64, PixelFormat::BGRA_8888, CPU | overlay, 3),
        k(200, 100, PixelFormat::RGBA_FP16, gpu, 1),
        k(
            640,
            360,
            PixelFormat::RGBA_8888,
            CPU_RARELY | gpu | overlay,
            1,
        ),
    ]
}

fn descriptor(kind: &Kind, client: usize) -> BufferDescriptorInfo {
    let mut name = [0u8; 128];
    let text = format!("{SOAK_NAME}-{client}");
    name[..text.len()].copy_from_slice(text.as_bytes());
    BufferDescriptorInfo {
        name,
        width: kind.width,
        height: kind.height,
        layerCount: 1,
        format: kind.format,
        usage: BufferUsage(kind.usage),
        ..Default::default()
    }
}

/// Waits until the allocator is registered and answers (this group may run without bringup's).
fn wait_for_service() -> Result<(), String> {
    open_binder()?;
    poll(Duration::from_secs(60), live_allocator).map(drop)
}

/// The service's resident set (kB) and open fds.
fn sample(pid: i32) -> Result<(u64, usize), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmRSS")?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map_err(|e| format!("/proc/{pid}/fd: {e}"))?
        .count();
    Ok((rss, fds))
}

/// The bufinfo records named `soak…` (buffers) and `meta:soak…` (their metadata regions).
fn soak_dma_bufs() -> Result<(usize, usize), String> {
    let text = std::fs::read_to_string(BUFINFO).map_err(|e| format!("{BUFINFO}: {e}"))?;
    let mut buffers = 0;
    let mut regions = 0;
    // Record header: size flags mode count exp_name ino name (tab-separated).
    for fields in text
        .lines()
        .map(|l| l.split('\t').map(str::trim).collect::<Vec<_>>())
    {
        match fields.get(6) {
            Some(name) if name.starts_with(SOAK_NAME) => buffers += 1,
            Some(name) if name.starts_with(&format!("meta:{SOAK_NAME}")) => regions += 1,
            _ => {}
        }
    }
    Ok((buffers, regions))
}

/// Starts `procs` clients: this binary with `mode` and `args`, the client's index last.
fn spawn_clients(mode: &str, args: &[String], procs: usize) -> Result<Vec<Child>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    (0..procs)
        .map(|index| {
            Command::new(&exe)
                .arg(mode)
                .args(args)
                .arg(index.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| format!("spawn {mode}: {e}"))
        })
        .collect()
}

/// Waits for every client, sampling the service meanwhile; each client's last stdout line.
fn collect(
    mut children: Vec<Child>,
    pid: i32,
    peak: &mut (u64, usize),
    limit: Duration,
) -> Result<Vec<Result<String, String>>, String> {
    let start = Instant::now();
    let mut outcomes: Vec<Option<Result<String, String>>> = children.iter().map(|_| None).collect();
    while outcomes.iter().any(Option::is_none) {
        if let Ok((rss, fds)) = sample(pid) {
            peak.0 = peak.0.max(rss);
            peak.1 = peak.1.max(fds);
        }
        for (child, outcome) in children.iter_mut().zip(outcomes.iter_mut()) {
            if outcome.is_some() {
                continue;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let last = child
                    .stdout
                    .take()
                    .map(|out| BufReader::new(out).lines().map_while(Result::ok).last())
                    .unwrap_or_default()
                    .unwrap_or_default();
                *outcome = Some(if status.success() {
                    Ok(last)
                } else {
                    Err(format!("{status}: {last}"))
                });
            }
        }
        if start.elapsed() > limit {
            for child in &mut children {
                let _ = child.kill();
                let _ = child.wait();
            }
            return Err(format!("clients still running after {} s", limit.as_secs()));
        }
        std::thread::sleep(SAMPLE);
    }
    Ok(outcomes.into_iter().flatten().collect())
}

/// Waits until the service's fd count is at most `baseline` (a reply's copies are closed just
/// after it is sent) or `limit` passes; the last sample.
fn settle(pid: i32, baseline: usize, limit: Duration) -> Result<(u64, usize), String> {
    let start = Instant::now();
    loop {
        let now = sample(pid)?;
        if now.1 <= baseline || start.elapsed() > limit {
            return Ok(now);
        }
        std::thread::sleep(SAMPLE);
    }
}

/// `bringup soak PIDFILE CALLS PROCS`.
pub fn soak(pidfile: &str, calls: usize, procs: usize) -> Result<String, String> {
    wait_for_service()?;
    let pid = read_pid(pidfile)?;
    let (bufs_before, _) = soak_dma_bufs()?;
    let start = sample(pid)?;
    let mut peak = start;
    let began = Instant::now();
    let per_client = calls.div_ceil(procs.max(1));
    let children = spawn_clients("soak-client", &[per_client.to_string()], procs)?;
    let outcomes = collect(children, pid, &mut peak, Duration::from_secs(1800))?;
    let elapsed = began.elapsed();
    if read_pid(pidfile)? != pid {
        return Err("the service restarted during the soak".into());
    }
    // The pool lets go of what it made ahead once no client asks for it any more.
    let drain = Instant::now();
    let end = settle(pid, start.1, DRAIN)?;
    let _ = poll(
        DRAIN.saturating_sub(drain.elapsed()),
        || match soak_dma_bufs() {
            Ok((buffers, _)) if buffers <= bufs_before => Ok(()),
            Ok((buffers, _)) => Err(format!("{buffers} soak buffers")),
            Err(e) => Err(e),
        },
    );
    let drained = drain.elapsed();
    let (mut ok, mut quota) = (0u64, 0u64);
    let mut failures = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(line) => {
                // "ok N no_resources M"
                let numbers: Vec<u64> = line
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                match numbers.as_slice() {
                    [o, q] => {
                        ok += o;
                        quota += q;
                    }
                    _ => failures.push(format!("unreadable client report `{line}`")),
                }
            }
            Err(e) => failures.push(e),
        }
    }
    let (bufs_after, regions_after) = soak_dma_bufs()?;
    let figures = format!(
        "{} allocate2 calls from {procs} processes in {} s ({ok} ok, {quota} NO_RESOURCES by quota); \
         service RSS start {} kB, peak {} kB, end {} kB; fds start {}, peak {}, end {} \
         ({} s after the clients, the pool drained); bufinfo after: {bufs_after} soak buffers, \
         {regions_after} metadata regions (recent ring)",
        ok + quota,
        elapsed.as_secs(),
        start.0,
        peak.0,
        end.0,
        start.1,
        peak.1,
        end.1,
        drained.as_secs()
    );
    if !failures.is_empty() {
        return Err(format!(
            "{figures}; clients failed: {}",
            failures.join("; ")
        ));
    }
    if ok + quota < calls as u64 {
        return Err(format!("{figures}; fewer calls than {calls}"));
    }
    if end.1 > start.1 {
        return Err(format!(
            "{figures}; the service kept {} fds",
            end.1 - start.1
        ));
    }
    if end.0 > start.0 + RSS_MARGIN_KB {
        return Err(format!(
            "{figures}; RSS grew by {} kB (margin {RSS_MARGIN_KB})",
            end.0 - start.0
        ));
    }
    if bufs_after > bufs_before || regions_after > RECENT_LEN {
        return Err(format!("{figures}; dma-bufs left behind"));
    }
    if ok == 0 {
        return Err(format!("{figures}; nothing was allocated"));
    }
    Ok(figures)
}

/// `bringup soak-client CALLS INDEX`: prints `ok N no_resources M`; any other failure ends it.
pub fn soak_client(calls: usize, index: usize) -> Result<(), String> {
    open_binder()?;
    let allocator = live_allocator()?;
    let kinds: Vec<Kind> = kinds()
        .into_iter()
        .filter(|k| allocator.isSupported(&descriptor(k, index)) == Ok(true))
        .collect();
    if kinds.len() < 6 {
        return Err(format!(
            "only {} of the mix's kinds are supported",
            kinds.len()
        ));
    }
    let mut held: std::collections::VecDeque<AllocationResult> = Default::default();
    let (mut ok, mut quota) = (0u64, 0u64);
    for call in 0..calls {
        let kind = &kinds[(call * 7 + index * 3) % kinds.len()];
        match allocator.allocate2(&descriptor(kind, index), kind.count) {
            Ok(result) => {
                if result.buffers.len() != kind.count as usize {
                    return Err(format!(
                        "{} buffers for {}",
                        result.buffers.len(),
                        kind.count
                    ));
                }
                ok += 1;
                held.push_back(result);
                if held.len() > HELD {
                    held.pop_front();
                }
            }
            Err(s) if s.service_specific_error() == AllocationError::NO_RESOURCES.0 => {
                quota += 1;
                // The window is a second; let part of it pass.
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(s) => return Err(format!("call {call}: {s:?} (after {ok} ok)")),
        }
    }
    println!("ok {ok} no_resources {quota}");
    Ok(())
}

/// The byte a client writes at `offset` of its kept buffer.
fn pattern(client: usize, offset: usize) -> u8 {
    (offset % 251) as u8 ^ (client as u8).wrapping_mul(37)
}

/// `bringup kill-under-load PIDFILE PROCS LIMIT`.
pub fn kill_under_load(pidfile: &str, procs: usize, limit: Duration) -> Result<String, String> {
    wait_for_service()?;
    let old_pid = read_pid(pidfile)?;
    let children = spawn_clients("load-client", &[limit.as_secs().to_string()], procs)?;
    // Let every client get its kept buffer and into its loop.
    std::thread::sleep(Duration::from_secs(3));
    kill(Pid::from_raw(old_pid), Signal::SIGKILL).map_err(|e| format!("kill -9 {old_pid}: {e}"))?;
    let killed = Instant::now();
    let mut peak = (0, 0);
    // The clients wait for the new pid themselves; sample the old one (gone) is harmless.
    let outcomes = collect(
        children,
        old_pid,
        &mut peak,
        limit + Duration::from_secs(10),
    )?;
    let new_pid = read_pid(pidfile)?;
    let mut lines = Vec::new();
    for (index, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(line) => lines.push(format!("client {index}: {line}")),
            Err(e) => return Err(format!("client {index}: {e}")),
        }
    }
    if new_pid == old_pid {
        return Err("the supervisor did not restart the service".into());
    }
    Ok(format!(
        "pid {old_pid} killed under load from {procs} processes, restarted as {new_pid}; all recovered within {} ms; {}",
        killed.elapsed().as_millis(),
        lines.join("; ")
    ))
}

/// Maps the first buffer of `result` for reading and writing.
fn map_first(result: &AllocationResult) -> Result<Mapping, String> {
    let handle = result.buffers.first().ok_or("no buffer")?;
    let info = BufferInfo::from_ints(&handle.ints).map_err(|e| format!("handle ints: {e}"))?;
    let fd = handle.fds.first().ok_or("no fd")?.as_ref().as_fd();
    Mapping::new(fd, info.size, CpuAccess::Write).map_err(|e| format!("map: {e}"))
}

/// `bringup load-client LIMIT INDEX`: keeps a filled buffer, allocates until the service dies,
/// recovers, checks the kept buffer; prints what it saw.
pub fn load_client(limit: Duration, index: usize) -> Result<(), String> {
    open_binder()?;
    let old = live_allocator()?;
    let kinds = kinds();
    let kept_kind = &kinds[0];
    let kept = poll(Duration::from_secs(5), || {
        old.allocate2(&descriptor(kept_kind, index), 1)
            .map_err(|e| format!("allocate2: {e:?}"))
    })?;
    let map = map_first(&kept)?;
    let bytes: Vec<u8> = (0..map.len()).map(|o| pattern(index, o)).collect();
    map.write(0, &bytes).map_err(|e| format!("fill: {e}"))?;
    let kept_fd = kept.buffers[0].fds[0].as_ref().as_raw_fd();

    let started = Instant::now();
    let mut calls = 0u64;
    let died_at = loop {
        let kind = &kinds[(calls as usize + index) % kinds.len()];
        match old.allocate2(&descriptor(kind, index), 1) {
            Ok(_) => calls += 1,
            Err(s) if s.transaction_error() == StatusCode::DeadObject => break Instant::now(),
            Err(s) if s.service_specific_error() == AllocationError::NO_RESOURCES.0 => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(s) => return Err(format!("before the kill, call {calls}: {s:?}")),
        }
        if started.elapsed() > limit {
            return Err(format!(
                "no DeadObject within {} s ({calls} calls)",
                limit.as_secs()
            ));
        }
    };
    drop(old);
    // As a client does after DeadObject: look the service up again until a proxy answers.
    let new: Strong<dyn IAllocator> =
        poll(limit, live_allocator).map_err(|e| format!("no new service after DeadObject: {e}"))?;
    poll(Duration::from_secs(5), || {
        new.allocate2(&descriptor(&kinds[1], index), 1)
            .map_err(|e| format!("allocate2 on the new service: {e:?}"))
    })?;
    let recovered = died_at.elapsed();
    // The kept buffer: same memory, same bytes, still writable.
    let mut now = vec![0u8; map.len()];
    map.read(0, &mut now)
        .map_err(|e| format!("read back: {e}"))?;
    if now != bytes {
        let at = now
            .iter()
            .zip(&bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(format!("the kept buffer changed at byte {at}"));
    }
    let remapped = map_first(&kept)?;
    remapped
        .write(0, &[0xa5; 64])
        .map_err(|e| format!("write after the restart: {e}"))?;
    let mut head = [0u8; 64];
    map.read(0, &mut head).map_err(|e| format!("read: {e}"))?;
    if head != [0xa5; 64] {
        return Err("two mappings of the kept buffer disagree".into());
    }
    println!(
        "{calls} calls, DeadObject, new service allocating {} ms later, kept buffer (fd {kept_fd}) intact",
        recovered.as_millis()
    );
    Ok(())
}
