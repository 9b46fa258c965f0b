//! `bringup display`: a real screen. A SurfaceFlinger-like process allocates two
//! COMPOSER_OVERLAY|CPU_WRITE buffers from the allocator over kernel binder and draws known
//! patterns into them through the mapper; a composer-like process (`display-composer`, a fresh
//! exec) receives the handles over a socket, imports the buffers into virtio-gpu, makes
//! framebuffers, does an atomic modeset and page flips between them. After each frame the
//! composer asks the host (`tests/vm/screen.py`, over the VM's second serial port) to take a
//! QEMU `screendump` and compare every pixel with the pattern. vgem imports the same buffers as a
//! second reader. Last, a buffer of the same frame from the system heap (no composer usage)
//! must fail the composer's import with ENODEV: the solver's choice is what makes the display
//! work.
//!
//! Protocol lines: `display.buffers_are_virtio_gpu_memory`, `display.vgem_reads_the_buffers`,
//! `display.frames_on_screen` (with the line `display: F of F frames matched on screen (P pixels
//! each)`), `display.system_heap_buffer_refused_by_composer`.

use std::fs::File;
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::process::Child;
use std::time::{Duration, Instant};

use central_gralloc_memory::handle::{BufferInfo, HANDLE_FDS, HANDLE_INTS};
use central_gralloc_memory::heap::BufferKind;
use central_gralloc_service::aidl::{
    BufferDescriptorInfo, BufferUsage, IAllocator, NativeHandle, PixelFormat,
};
use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

use crate::kms::Kms;
use crate::mapper_client::Mapper;

/// The VM's second serial port: a socket to `tests/vm/screen.py` on the host.
const SCREEN_CHANNEL: &str = "/dev/ttyS1";
/// How long the host may take to dump and compare one frame (TCG on a loaded host).
const SCREEN_TIMEOUT: Duration = Duration::from_secs(60);
const BUFINFO: &str = "/sys/kernel/debug/dma_buf/bufinfo";
const PEER_TIMEOUT: Duration = Duration::from_secs(60);

/// Pattern `seed`'s pixel at (x, y) as R, G, B. The host's `screen.py` has the same formula;
/// every request carries a checksum of the whole frame so the two cannot drift apart silently.
/// The `>> 8` terms keep it from repeating every 256 pixels, so a row or column shifted by 256
/// shows too.
pub fn pixel(x: u32, y: u32, seed: u32) -> [u8; 3] {
    let term = |a: u32, b: u32, c: u32| (a.wrapping_add(b).wrapping_add(c) & 0xff) as u8;
    [
        term(
            x.wrapping_mul(3),
            (x >> 8).wrapping_mul(85),
            seed.wrapping_mul(67),
        ),
        term(
            y.wrapping_mul(5),
            (y >> 8).wrapping_mul(51),
            seed.wrapping_mul(29),
        ),
        term(
            x ^ y,
            ((x + y) >> 8).wrapping_mul(13),
            seed.wrapping_mul(101),
        ),
    ]
}

/// FNV-1a over the frame's RGB bytes, row by row (what the host hashes its own image with).
fn frame_checksum(width: u32, height: u32, seed: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for y in 0..height {
        for x in 0..width {
            for b in pixel(x, y, seed) {
                h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    h
}

fn line(name: &str, result: &Result<String, String>) {
    match result {
        Ok(text) if text.is_empty() => println!("PASS {name}"),
        Ok(text) => {
            println!("INFO {name}: {text}");
            println!("PASS {name}");
        }
        Err(e) => println!("FAIL {name}: {}", e.replace('\n', " ")),
    }
}

// ---- the socket between the two processes ------------------------------------------------

/// Sends `text` and, if given, a buffer's handle (its ints after the text, its fds attached).
fn send(socket: &OwnedFd, text: &str, handle: Option<(&[RawFd], &[i32])>) -> Result<(), String> {
    let mut bytes = Vec::new();
    let text = text.as_bytes();
    bytes.extend((text.len() as u32).to_le_bytes());
    bytes.extend(text);
    let mut fds: &[RawFd] = &[];
    if let Some((handle_fds, ints)) = handle {
        bytes.extend(ints.iter().flat_map(|i| i.to_le_bytes()));
        fds = handle_fds;
    }
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(&bytes)],
        cmsgs,
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("sendmsg: {e}"))?;
    Ok(())
}

/// One message: its text, the ints after it and the fds that came with it.
struct Message {
    text: String,
    ints: Vec<i32>,
    fds: Vec<OwnedFd>,
}

fn recv(socket: &OwnedFd, timeout: Duration) -> Result<Message, String> {
    let mut fds = [nix::poll::PollFd::new(
        socket.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let ms = nix::poll::PollTimeout::try_from(timeout).unwrap_or(nix::poll::PollTimeout::MAX);
    match nix::poll::poll(&mut fds, ms) {
        Ok(0) => return Err(format!("the peer said nothing for {} s", timeout.as_secs())),
        Ok(_) => {}
        Err(e) => return Err(format!("poll: {e}")),
    }
    let mut bytes = vec![0u8; 256 + HANDLE_INTS * 4];
    let mut space = nix::cmsg_space!([RawFd; HANDLE_FDS]);
    let mut iov = [IoSliceMut::new(&mut bytes)];
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| format!("recvmsg: {e}"))?;
    let mut received = Vec::new();
    for cmsg in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
        if let ControlMessageOwned::ScmRights(list) = cmsg {
            // SAFETY: SCM_RIGHTS installed these descriptors in this process for us alone.
            received.extend(
                list.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let len = msg.bytes;
    if len == 0 {
        return Err("the peer closed the socket".into());
    }
    let bytes = &bytes[..len];
    let text_len = bytes
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or("short message")?;
    let text = bytes.get(4..4 + text_len).ok_or("truncated message")?;
    let ints = bytes[4 + text_len..]
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Message {
        text: String::from_utf8_lossy(text).into_owned(),
        ints,
        fds: received,
    })
}

/// Expects a message whose text starts with `word`; a peer's `error ...` becomes the error.
fn expect(socket: &OwnedFd, word: &str) -> Result<Message, String> {
    let m = recv(socket, PEER_TIMEOUT)?;
    if let Some(e) = m.text.strip_prefix("error ") {
        return Err(format!("peer: {e}"));
    }
    if !m.text.starts_with(word) {
        return Err(format!("expected `{word}`, the peer sent `{}`", m.text));
    }
    Ok(m)
}

/// Starts `bringup display-composer 3` with the socket's other end as its fd 3.
fn spawn_composer(theirs: OwnedFd) -> Result<Child, String> {
    crate::peer::spawn_with_fd3("display-composer", theirs, false)
}

// ---- the SurfaceFlinger side --------------------------------------------------------------

fn descriptor(width: i32, height: i32, usage: BufferUsage) -> BufferDescriptorInfo {
    let mut name = [0u8; 128];
    name[..7].copy_from_slice(b"display");
    BufferDescriptorInfo {
        name,
        width,
        height,
        layerCount: 1,
        format: PixelFormat::BGRA_8888,
        usage,
        ..Default::default()
    }
}

/// A buffer the SurfaceFlinger side holds: its handle and what it says.
struct Held {
    fds: Vec<RawFd>,
    ints: Vec<i32>,
    info: BufferInfo,
    /// Owns the fds.
    _handle: NativeHandle,
}

/// Draws pattern `seed` into `held` through the mapper: import, lock for CPU writes, one row at
/// a time at the buffer's stride, unlock.
fn draw(mapper: &Mapper, held: &Held, seed: u32) -> Result<(), String> {
    let imported = mapper.import(&held.fds, &held.ints)?;
    let pitch = held.info.planes()[0].stride as usize;
    let (w, h) = (held.info.width, held.info.height);
    let data = imported.lock(BufferUsage::CPU_WRITE_OFTEN.0 as u64)?;
    let mut row = vec![0u8; w as usize * 4];
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = pixel(x, y, seed);
            let i = x as usize * 4;
            row[i..i + 4].copy_from_slice(&[b, g, r, 0xff]);
        }
        // SAFETY: the lock maps the whole allocation; row `y` of `pitch` bytes lies inside it
        // (the handle's planes were validated against its size at import).
        unsafe {
            std::ptr::copy_nonoverlapping(row.as_ptr(), data.add(y as usize * pitch), row.len())
        };
    }
    imported.unlock()
}

/// The exporter `/proc/self/fdinfo` names for `fd`.
fn exporter(fd: RawFd) -> Result<String, String> {
    let path = format!("/proc/self/fdinfo/{fd}");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("exp_name:"))
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| format!("fd {fd} is not a dma-buf"))
}

fn allocate(
    allocator: &binder::Strong<dyn IAllocator>,
    d: &BufferDescriptorInfo,
    count: i32,
) -> Result<(Vec<Held>, i32), String> {
    let result = allocator
        .allocate2(d, count)
        .map_err(|e| format!("allocate2: {e:?}"))?;
    let mut held = Vec::new();
    for handle in result.buffers {
        let fds: Vec<RawFd> = handle.fds.iter().map(|p| p.as_ref().as_raw_fd()).collect();
        let info = BufferInfo::from_ints(&handle.ints).map_err(|e| format!("handle ints: {e}"))?;
        held.push(Held {
            fds,
            ints: handle.ints.clone(),
            info,
            _handle: handle,
        });
    }
    Ok((held, result.stride))
}

/// `bringup display`: the SurfaceFlinger side. Prints the protocol lines of the checks it owns;
/// the composer prints the others. Fails if either side failed.
pub fn surfaceflinger(allocator: &binder::Strong<dyn IAllocator>) -> Result<(), String> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("socketpair: {e}"))?;
    let mut composer = spawn_composer(theirs)?;
    let result = drive(allocator, &ours);
    if let Err(e) = &result {
        // Tell the composer, so it stops waiting, then let it finish its lines.
        let _ = send(&ours, &format!("error {e}"), None);
    }
    drop(ours);
    let status = composer
        .wait()
        .map_err(|e| format!("waiting for the composer: {e}"))?;
    result?;
    if !status.success() {
        return Err(format!("the composer failed ({status})"));
    }
    Ok(())
}

fn drive(allocator: &binder::Strong<dyn IAllocator>, socket: &OwnedFd) -> Result<(), String> {
    let mode = expect(socket, "mode ")?;
    let mut words = mode.text.split_whitespace().skip(1);
    let mut next = || -> Result<i32, String> {
        words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| format!("bad mode message `{}`", mode.text))
    };
    let (width, height) = (next()?, next()?);

    // What SurfaceFlinger allocates for a CPU-drawn layer the composer scans out.
    let overlay = BufferUsage(BufferUsage::COMPOSER_OVERLAY.0 | BufferUsage::CPU_WRITE_OFTEN.0);
    let memory_check = (|| {
        let (held, stride) = allocate(allocator, &descriptor(width, height, overlay), 2)?;
        let mut seen = Vec::new();
        for h in &held {
            let exp = exporter(h.fds[0])?;
            if h.info.kind != BufferKind::Drm || exp != "virtio_gpu" {
                return Err(format!(
                    "buffer {:#x}: handle kind {}, heap {}, exporter {exp}",
                    h.info.id, h.info.kind, h.info.heap
                ));
            }
            seen.push(format!("{:#x}", h.info.id));
        }
        Ok((held, stride, seen))
    })();
    let held = match memory_check {
        Ok((held, stride, seen)) => {
            line(
                "display.buffers_are_virtio_gpu_memory",
                &Ok(format!(
                    "2 x {width}x{height} BGRA_8888 COMPOSER_OVERLAY|CPU_WRITE_OFTEN (buffers {}), stride {stride} px: handle kind drm, heap device, fd exporter virtio_gpu",
                    seen.join(", ")
                )),
            );
            held
        }
        Err(e) => {
            line("display.buffers_are_virtio_gpu_memory", &Err(e.clone()));
            return Err(e);
        }
    };
    let mapper = Mapper::load()?;
    for (i, h) in held.iter().enumerate() {
        draw(&mapper, h, i as u32)?;
        send(socket, &format!("buffer {i} {i}"), Some((&h.fds, &h.ints)))?;
    }
    // The composer shows both, then asks for buffer 0 to be redrawn while it is off screen.
    let m = expect(socket, "redraw ")?;
    let seed: u32 = m
        .text
        .split_whitespace()
        .nth(2)
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("bad redraw message `{}`", m.text))?;
    draw(&mapper, &held[0], seed)?;
    send(socket, &format!("redrawn 0 {seed}"), None)?;

    // The negative control: the same frame in a buffer no display usage placed, so on the
    // system heap.
    expect(socket, "control")?;
    let cpu_only = BufferUsage(BufferUsage::CPU_WRITE_OFTEN.0);
    let (control, _) = allocate(allocator, &descriptor(width, height, cpu_only), 1)?;
    let c = control.first().ok_or("allocate2 returned no buffer")?;
    let exp = exporter(c.fds[0])?;
    if c.info.kind != BufferKind::DmaHeap || exp != "system" {
        return Err(format!(
            "the control buffer is {} from {exp}, not the system heap",
            c.info.kind
        ));
    }
    draw(&mapper, c, 0)?;
    send(socket, "buffer 2 0", Some((&c.fds, &c.ints)))?;
    expect(socket, "done")?;
    Ok(())
}

// ---- the composer side --------------------------------------------------------------------

/// The host's end of the screen check.
struct Screen {
    tty: File,
    /// Set once the host failed to answer: later frames fail at once instead of waiting again.
    silent: Option<String>,
}

impl Screen {
    fn open() -> Result<Screen, String> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(SCREEN_CHANNEL)
            .map_err(|e| format!("{SCREEN_CHANNEL}: {e}"))?;
        let mut t = tcgetattr(&tty).map_err(|e| format!("tcgetattr: {e}"))?;
        // Raw bytes, no echo or line editing. The speed stays the default: QEMU's socket
        // backend passes bytes at whatever rate the guest's UART runs.
        cfmakeraw(&mut t);
        tcsetattr(&tty, SetArg::TCSANOW, &t).map_err(|e| format!("tcsetattr: {e}"))?;
        Ok(Screen { tty, silent: None })
    }

    /// Asks the host to dump the screen and compare it with pattern `seed`; returns
    /// `(differing pixels, pixels, first difference)`.
    fn check(
        &mut self,
        frame: u32,
        w: u32,
        h: u32,
        seed: u32,
    ) -> Result<(u64, u64, String), String> {
        if let Some(e) = &self.silent {
            return Err(e.clone());
        }
        let request = format!(
            "frame {frame} {w} {h} {seed} {:016x}\n",
            frame_checksum(w, h, seed)
        );
        self.tty
            .write_all(request.as_bytes())
            .map_err(|e| format!("{SCREEN_CHANNEL}: {e}"))?;
        let reply = self.read_line(SCREEN_TIMEOUT).inspect_err(|e| {
            self.silent = Some(format!("no screen check (frame {frame}: {e})"));
        })?;
        let words: Vec<&str> = reply.split_whitespace().collect();
        match words.as_slice() {
            ["screen", n, sw, sh, diff, first] if *n == frame.to_string() => {
                if *sw != w.to_string() || *sh != h.to_string() {
                    return Err(format!("the screen is {sw}x{sh}, the frame {w}x{h}"));
                }
                let diff = diff.parse().map_err(|_| format!("bad reply `{reply}`"))?;
                Ok((diff, u64::from(w) * u64::from(h), (*first).to_string()))
            }
            _ => Err(format!("the host replied `{reply}`")),
        }
    }

    fn read_line(&mut self, timeout: Duration) -> Result<String, String> {
        let start = Instant::now();
        let mut line = Vec::new();
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(format!(
                    "no answer from the host's screen check within {} s (is tests/vm/screen.py running?)",
                    timeout.as_secs()
                ));
            }
            let mut fds = [nix::poll::PollFd::new(
                self.tty.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let ms = nix::poll::PollTimeout::try_from(left).unwrap_or(nix::poll::PollTimeout::MAX);
            match nix::poll::poll(&mut fds, ms) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(format!("poll {SCREEN_CHANNEL}: {e}")),
            }
            let mut byte = [0u8; 1];
            match self.tty.read(&mut byte) {
                Ok(1) if byte[0] == b'\n' => {
                    return Ok(String::from_utf8_lossy(&line).trim().to_owned())
                }
                Ok(1) => line.push(byte[0]),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("{SCREEN_CHANNEL}: {e}")),
            }
        }
    }
}

/// Opens the card node whose DRM driver is `driver`.
fn open_card(driver: &str) -> Result<File, String> {
    let mut nodes: Vec<_> = std::fs::read_dir("/dev/dri")
        .map_err(|e| format!("/dev/dri: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("card"))
        })
        .collect();
    nodes.sort();
    for node in nodes {
        let card = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&node)
            .map_err(|e| format!("{}: {e}", node.display()))?;
        let name = central_gralloc_memory::sys::drm_driver_name(card.as_fd())
            .map_err(|e| format!("DRM_IOCTL_VERSION on {}: {e}", node.display()))?;
        if name == driver {
            return Ok(card);
        }
    }
    Err(format!("no DRM card node of driver {driver}"))
}

/// Checks every pixel of `fd` (a `w` x `h` BGRA buffer, rows `pitch` apart) against pattern
/// `seed` through a fresh read-only mapping; the number of differing pixels.
fn differing_pixels(fd: &OwnedFd, w: u32, h: u32, pitch: usize, seed: u32) -> Result<u64, String> {
    let len = pitch * h as usize;
    // Shared: a private mapping of a DRM export is refused (it could be copy-on-write).
    let map = crate::sys::Mapping::shared(fd, len).map_err(|e| format!("mmap: {e}"))?;
    crate::sys::dma_buf_sync(fd.as_fd(), crate::sys::sync::START | crate::sys::sync::READ)
        .map_err(|e| format!("SYNC START: {e}"))?;
    let bytes = map.read(0, len).map_err(|e| format!("read: {e}"))?;
    crate::sys::dma_buf_sync(fd.as_fd(), crate::sys::sync::END | crate::sys::sync::READ)
        .map_err(|e| format!("SYNC END: {e}"))?;
    let mut wrong = 0;
    for y in 0..h {
        for x in 0..w {
            let i = y as usize * pitch + x as usize * 4;
            let [r, g, b] = pixel(x, y, seed);
            if bytes[i..i + 3] != [b, g, r] {
                wrong += 1;
            }
        }
    }
    Ok(wrong)
}

/// The vgem check: imports `fd` into vgem, sees the attachment in bufinfo, and reads every
/// pixel through a mapping while vgem holds it.
fn vgem_reads(
    vgem: &File,
    fd: &OwnedFd,
    w: u32,
    h: u32,
    pitch: usize,
    seed: u32,
) -> Result<(), String> {
    let handle = crate::sys::drm_prime_fd_to_handle(vgem.as_fd(), fd.as_fd())
        .map_err(|e| format!("vgem PRIME import: {e}"))?;
    let ino = nix::sys::stat::fstat(fd.as_fd())
        .map_err(|e| format!("fstat: {e}"))?
        .st_ino;
    let bufinfo = std::fs::read_to_string(BUFINFO).map_err(|e| format!("{BUFINFO}: {e}"))?;
    // A record's header line, then its attachments as indented device names.
    let mut lines = bufinfo.lines();
    let mut attached = Vec::new();
    let mut exporter = String::new();
    while let Some(l) = lines.next() {
        let f: Vec<&str> = l.split('\t').map(str::trim).collect();
        if f.len() >= 7 && f[5].parse::<u64>() == Ok(ino) {
            exporter = f[4].to_owned();
            for a in lines.by_ref() {
                let a = a.trim();
                if a.is_empty() || a.starts_with("Total") {
                    break;
                }
                if !a.starts_with("Attached") {
                    attached.push(a.to_owned());
                }
            }
            break;
        }
    }
    if exporter != "virtio_gpu" || !attached.iter().any(|d| d == "vgem") {
        return Err(format!(
            "bufinfo: exporter `{exporter}`, attached {attached:?} (want virtio_gpu, vgem)"
        ));
    }
    let wrong = differing_pixels(fd, w, h, pitch, seed)?;
    drop(handle);
    if wrong > 0 {
        return Err(format!("{wrong} pixels differ with vgem attached"));
    }
    Ok(())
}

/// `bringup display-composer FD`: the composer side, on the socket at fd `socket`.
pub fn composer(socket: RawFd) -> Result<(), String> {
    // SAFETY: fd `socket` was placed by the SurfaceFlinger side for this process alone.
    let socket = unsafe { OwnedFd::from_raw_fd(socket) };
    let result = compose(&socket);
    if let Err(e) = &result {
        let _ = send(&socket, &format!("error {e}"), None);
    }
    result
}

fn compose(socket: &OwnedFd) -> Result<(), String> {
    let card = open_card("virtio_gpu")?;
    let kms = Kms::open(card)?;
    let (w, h) = (u32::from(kms.mode.hdisplay), u32::from(kms.mode.vdisplay));
    println!(
        "INFO display.frames_on_screen: virtio-gpu mode {w}x{h}, framebuffers up to {}x{}",
        kms.max.0, kms.max.1
    );
    send(socket, &format!("mode {w} {h}"), None)?;

    // The two buffers, imported into virtio-gpu (the composer's import) and vgem.
    let mut buffers = Vec::new();
    for _ in 0..2 {
        let m = expect(socket, "buffer ")?;
        let seed: u32 = m
            .text
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or("bad buffer message")?;
        let info = BufferInfo::from_ints(&m.ints).map_err(|e| format!("handle ints: {e}"))?;
        let memory = m.fds.into_iter().next().ok_or("a buffer without fds")?;
        buffers.push((info, memory, seed));
    }
    let mut gem = Vec::new();
    let mut fbs = Vec::new();
    for (info, memory, _) in &buffers {
        let pitch = u32::try_from(info.planes()[0].stride).map_err(|_| "pitch")?;
        let handle = kms
            .import(memory.as_fd())
            .map_err(|e| format!("virtio-gpu PRIME import: {e}"))?;
        fbs.push(kms.add_fb(handle.handle(), pitch)?);
        gem.push(handle);
    }

    let vgem = open_card("vgem")?;
    let vgem_result = buffers
        .iter()
        .try_for_each(|(info, memory, seed)| {
            vgem_reads(&vgem, memory, w, h, info.planes()[0].stride as usize, *seed)
        })
        .map(|()| format!("both buffers imported into vgem (bufinfo: exporter virtio_gpu, attached vgem) and read back pixel for pixel ({w}x{h} each)"));
    line("display.vgem_reads_the_buffers", &vgem_result);

    // Frame 0: modeset on buffer 0; frame 1: flip to buffer 1; frame 2: buffer 0 redrawn with
    // another pattern while off screen, flipped back.
    let mut screen = Screen::open()?;
    let mut outcomes = Vec::new();
    let frames = [(0usize, 0u32), (1, 1), (0, 2)];
    for (frame, &(index, seed)) in frames.iter().enumerate() {
        let shown = if frame == 0 {
            kms.modeset(fbs[index])
        } else {
            if frame == 2 {
                send(socket, &format!("redraw 0 {seed}"), None)?;
                expect(socket, "redrawn")?;
            }
            kms.flip(fbs[index], Duration::from_secs(5))
        };
        let outcome = shown.and_then(|()| {
            println!(
                "INFO display.frames_on_screen: frame {frame}: buffer {index} with pattern {seed} on screen"
            );
            screen.check(frame as u32, w, h, seed)
        });
        outcomes.push(outcome);
    }
    let matched = outcomes
        .iter()
        .filter(|o| matches!(o, Ok((0, _, _))))
        .count();
    let total = outcomes.len();
    println!(
        "display: {matched} of {total} frames matched on screen ({} pixels each)",
        u64::from(w) * u64::from(h)
    );
    let problems: Vec<String> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            Ok((0, _, _)) => None,
            Ok((diff, all, first)) => Some(format!(
                "frame {i}: {diff} of {all} pixels differ (first {first})"
            )),
            Err(e) => Some(format!("frame {i}: {e}")),
        })
        .collect();
    line(
        "display.frames_on_screen",
        &if problems.is_empty() {
            Ok(format!(
                "{total} frames (a modeset and {} flips), every pixel of each QEMU screendump equal to the pattern",
                total - 1
            ))
        } else {
            Err(problems.join("; "))
        },
    );

    // The negative control.
    send(socket, "control", None)?;
    let m = expect(socket, "buffer ")?;
    let memory = m.fds.into_iter().next().ok_or("a buffer without fds")?;
    let control = match kms.import(memory.as_fd()) {
        Err(Errno::ENODEV) => Ok(
            "the same frame in a system-heap buffer (CPU_WRITE_OFTEN only): virtio-gpu's PRIME import fails with ENODEV".to_string(),
        ),
        Err(e) => Err(format!("the import failed with {e}, not ENODEV")),
        Ok(h) => Err(format!(
            "virtio-gpu imported a system-heap buffer (handle {})",
            h.handle()
        )),
    };
    line("display.system_heap_buffer_refused_by_composer", &control);
    send(socket, "done", None)?;

    for fb in fbs {
        kms.rm_fb(fb);
    }
    drop(gem);
    let failed = vgem_result.is_err() || !problems.is_empty() || control.is_err();
    if failed {
        return Err("see the FAIL lines above".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_is_not_periodic_in_a_row_or_column_and_differs_by_seed() {
        let row: Vec<[u8; 3]> = (0..640).map(|x| pixel(x, 7, 0)).collect();
        assert!((0..384).all(|x| row[x] != row[x + 256]));
        assert!((0..224).all(|y| pixel(5, y, 1) != pixel(5, y + 256, 1)));
        assert_ne!(pixel(3, 3, 0), pixel(3, 3, 1));
        assert_ne!(frame_checksum(64, 48, 0), frame_checksum(64, 48, 2));
        // tests/vm/screen.py's self-test checks the same pixel and the same frame checksum.
        assert_eq!(pixel(10, 20, 2), [164, 158, 232]);
        assert_eq!(frame_checksum(300, 270, 2), 0x5ed6_ff18_98dd_6818);
    }
}
