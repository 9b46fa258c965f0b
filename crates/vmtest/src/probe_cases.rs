//! The probe against real drivers: `gralloc probe` on virtio-gpu, vgem and two vivid cameras
//! (one videobuf2-vmalloc, one videobuf2-dma-contig), then a grid of formats x sizes x usages in
//! which the solver's verdict on the probed profile is compared with the drivers': each buffer
//! goes to vivid with the placement's pitch and rows (`VIDIOC_S_FMT`, then `VIDIOC_QBUF` of the
//! dma-buf) and to virtio-gpu by PRIME import. virtio-gpu imports no foreign dma-buf, so its
//! layouts are also judged on its own dumb buffers with `ADDFB2`.

use std::fmt::Write as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use central_gralloc::descriptor::Descriptor;
use central_gralloc::device::{Constraints, Device, Role};
use central_gralloc::format::{FormatSet, PixelFormat};
use central_gralloc::profile::Profile;
use central_gralloc::solver::{self, Placement};
use central_gralloc::usage::Usage;
use central_gralloc_probe::sys::{self as psys, V4l2PixFormat};
use central_gralloc_probe::{v4l2, Probe};

use crate::harness::{ensure, info, Context, TestCase, TestResult};
use crate::mapper_cases::system_heap_allocator;
use crate::media_sys;

/// The probe cases, in the order they run.
pub const TESTS: &[TestCase] = &[
    TestCase {
        name: "probe.profile",
        run: profile,
    },
    TestCase {
        name: "probe.agreement",
        run: agreement,
    },
    TestCase {
        name: "probe.camera_to_mapper",
        run: camera_to_mapper,
    },
    TestCase {
        name: "probe.service_profile",
        run: service_profile,
    },
    TestCase {
        name: "probe.demo",
        run: demo,
    },
];

/// vivid's "OSD Text Mode" control: 2 draws no text, so frames depend only on the pattern.
pub const VIVID_OSD_TEXT_MODE: u32 = 0x00f0_f001;

/// Every vivid capture node, switched to its HDMI input (any frame size, progressive; the default
/// webcam input offers six fixed sizes) with the text overlay off. Returns the nodes.
pub fn prepare_vivid() -> Result<Vec<String>, String> {
    let mut nodes = Vec::new();
    for n in 0..8 {
        let node = format!("/dev/video{n}");
        let Ok(fd) = psys::open_node(Path::new(&node)) else {
            continue;
        };
        let cap = psys::v4l2_querycap(fd.as_fd()).context(format!("{node}: QUERYCAP"))?;
        if psys::c_text(&cap.driver) != "vivid" {
            continue;
        }
        let hdmi = (0..8)
            .find(|&i| {
                psys::v4l2_enum_input(fd.as_fd(), i)
                    .is_ok_and(|input| psys::c_text(&input.name).starts_with("HDMI"))
            })
            .ok_or(format!("{node}: no HDMI input"))?;
        media_sys::s_input(fd.as_fd(), hdmi).context(format!("{node}: S_INPUT {hdmi}"))?;
        media_sys::s_ctrl(fd.as_fd(), VIVID_OSD_TEXT_MODE, 2)
            .context(format!("{node}: OSD text mode"))?;
        nodes.push(node);
    }
    ensure(nodes.len() == 2, || {
        format!("expected two vivid nodes, found {nodes:?}")
    })?;
    Ok(nodes)
}

/// Probes, after [`prepare_vivid`]; the probe and its profile.
pub fn probed() -> Result<(Probe, Profile), String> {
    prepare_vivid()?;
    let probe = central_gralloc_probe::probe();
    let profile = probe.profile().context("the probed profile")?;
    Ok((probe, profile))
}

/// The device section probed from `node`.
fn section<'a>(probe: &'a Probe, node: &str) -> Result<&'a central_gralloc_probe::Section, String> {
    probe
        .device_for(node)
        .ok_or_else(|| format!("the probe made no device of {node}"))
}

/// `gralloc probe` here: virtio-gpu is a display that imports nothing, vgem is listed and
/// skipped, vivid's vmalloc instance takes a fragmented buffer and its dma-contig one does not.
fn profile() -> TestResult {
    let (probe, profile) = probed()?;
    for line in probe.text().lines() {
        info(line);
    }
    let cli = std::process::Command::new("gralloc")
        .arg("probe")
        .output()
        .context("run gralloc probe")?;
    let cli_profile =
        Profile::parse(&String::from_utf8_lossy(&cli.stdout)).context("gralloc probe")?;
    ensure(cli_profile == profile, || {
        "`gralloc probe` and the in-process probe differ".into()
    })?;

    let display = section(&probe, "/dev/dri/card0")?;
    ensure(
        display.value("roles") == Some("display") && display.value("reads") == Some(""),
        || format!("virtio-gpu: {:?}", display.entries),
    )?;
    let reads = display
        .entries
        .iter()
        .find(|e| e.key == "reads")
        .ok_or("no reads")?;
    ensure(reads.source.contains("ENODEV"), || {
        format!("virtio-gpu reads: {}", reads.source)
    })?;
    ensure(display.value("min-width") == Some("32"), || {
        "virtio-gpu min-width".into()
    })?;
    let vgem = probe
        .skipped
        .iter()
        .find(|s| s.node == "/dev/dri/card1")
        .ok_or("vgem (card1) is not listed as skipped")?;
    ensure(
        vgem.reason.contains("no KMS") && vgem.reason.contains("imports"),
        || format!("vgem: {}", vgem.reason),
    )?;
    let vmalloc = section(&probe, "/dev/video0")?;
    let contig = section(&probe, "/dev/video1")?;
    ensure(vmalloc.value("contiguous") == Some("no"), || {
        "video0 (vmalloc) contiguous".into()
    })?;
    ensure(contig.value("contiguous") == Some("yes"), || {
        "video1 (dma-contig) contiguous".into()
    })?;
    for cam in [vmalloc, contig] {
        let device = profile
            .device(&cam.name)
            .ok_or("camera not in the profile")?;
        let c = device.constraints;
        ensure(
            c.height_align == 2 && c.min_width == 16 && c.max_width == 16384,
            || format!("{}: {c:?}", cam.name),
        )?;
        ensure(c.writes.contains(PixelFormat::YCBCR_420_888), || {
            format!("{} does not write NV12", cam.name)
        })?;
    }
    ensure(profile.heaps().len() == 1, || {
        "only the system heap exists here".into()
    })
}

// ---- the grid --------------------------------------------------------------------------------

/// A driver's verdict on one buffer.
type Verdict = Result<(), String>;

/// One row of the grid.
struct Case {
    device: String,
    format: PixelFormat,
    size: (u32, u32),
    usage: &'static str,
    solver: Verdict,
    driver: Verdict,
}

/// `profile` with only the devices in `keep` (the others of the same role dropped): the buffer
/// meets this camera, as a camera HAL knows which sensor a stream is for while usage bits do not.
fn restricted(profile: &Profile, drop_names: &[&str]) -> Result<Profile, String> {
    let devices: Vec<Device> = profile
        .devices()
        .iter()
        .filter(|d| !drop_names.contains(&d.name.as_str()))
        .cloned()
        .collect();
    Profile::new(&profile.name, devices, profile.heaps().to_vec()).map_err(|e| e.message)
}

/// `profile` with every format, size and contiguity requirement lifted and only its alignments
/// kept (`bare`: those too): the layout the solver would give a buffer it refuses, for the
/// driver to judge.
fn relaxed(profile: &Profile, bare: bool) -> Result<Profile, String> {
    let devices = profile
        .devices()
        .iter()
        .map(|d| {
            let c = d.constraints;
            let roles: Vec<Role> = d.role_list().collect();
            Device::new(
                &d.name,
                &roles,
                Constraints {
                    reads: FormatSet::ALL,
                    writes: FormatSet::ALL,
                    contiguous: false,
                    min_width: 0,
                    min_height: 0,
                    max_width: u32::MAX,
                    max_height: u32::MAX,
                    max_stride: u64::MAX,
                    ..if bare { Constraints::NONE } else { c }
                },
            )
        })
        .collect();
    Profile::new(&profile.name, devices, profile.heaps().to_vec()).map_err(|e| e.message)
}

/// The V4L2 fourcc of `format` among the node's formats.
fn v4l2_fourcc(probe: &Probe, node: &str, format: PixelFormat) -> Option<u32> {
    probe
        .v4l2
        .iter()
        .find(|p| p.node == node)?
        .formats
        .iter()
        .find(|f| f.android == Some(format))
        .map(|f| f.fourcc)
}

/// vivid's verdict: told the placement's width, rows and pitch, does it keep them, lay the planes
/// where the placement has them, and queue the dma-buf?
fn judge_v4l2(
    probe: &Probe,
    node: &str,
    width: u32,
    p: &Placement,
    buf: BorrowedFd<'_>,
) -> Verdict {
    let fourcc = v4l2_fourcc(probe, node, p.format)
        .ok_or_else(|| format!("no V4L2 format stores {}", p.format))?;
    let first = p.layout.planes().first().copied().ok_or("no planes")?;
    let (rows, pitch) = (first.height as u32, first.stride as u32);
    let fd = psys::open_node(Path::new(node)).map_err(|e| format!("open: {e}"))?;
    let fd = fd.as_fd();
    let asked = V4l2PixFormat {
        width,
        height: rows,
        pixelformat: fourcc,
        field: psys::V4L2_FIELD_NONE,
        bytesperline: pitch,
        ..Default::default()
    };
    let got = media_sys::s_fmt(fd, asked).map_err(|e| format!("S_FMT: {e}"))?;
    if (got.pixelformat, got.width, got.height, got.bytesperline) != (fourcc, width, rows, pitch) {
        return Err(format!(
            "S_FMT {width}x{rows} pitch {pitch} answered {}x{} pitch {}",
            got.width, got.height, got.bytesperline
        ));
    }
    let implied = v4l2::implied_planes(fourcc, first.stride, first.height).ok_or("no planes")?;
    let theirs: Vec<(u64, u64)> = implied.iter().map(|q| (q.offset, q.stride)).collect();
    let ours: Vec<(u64, u64)> = p
        .layout
        .planes()
        .iter()
        .map(|q| (q.offset, q.stride))
        .collect();
    if theirs != ours {
        return Err(format!(
            "the format puts planes at {theirs:?}, the placement at {ours:?}"
        ));
    }
    if u64::from(got.sizeimage) > p.size() {
        return Err(format!(
            "sizeimage {} above the buffer's {}",
            got.sizeimage,
            p.size()
        ));
    }
    let capture = psys::V4L2_BUF_TYPE_VIDEO_CAPTURE;
    let dmabuf = psys::V4L2_MEMORY_DMABUF;
    psys::v4l2_reqbufs(fd, capture, dmabuf, 1).map_err(|e| format!("REQBUFS: {e}"))?;
    let length = u32::try_from(p.size()).map_err(|_| "buffer above 4 GiB")?;
    let queued = psys::v4l2_qbuf_dmabuf(fd, capture, 0, buf, length);
    let _ = psys::v4l2_reqbufs(fd, capture, dmabuf, 0);
    queued.map_err(|e| format!("QBUF: {e}"))
}

/// virtio-gpu's verdict on a foreign buffer: PRIME import, then `ADDFB2` with the placement.
fn judge_drm(card: BorrowedFd<'_>, width: u32, p: &Placement, buf: BorrowedFd<'_>) -> Verdict {
    let gem = psys::drm_prime_import(card, buf).map_err(|e| format!("PRIME import: {e}"))?;
    addfb(card, gem.handle, width, p)
}

fn addfb(card: BorrowedFd<'_>, handle: u32, width: u32, p: &Placement) -> Verdict {
    let mut cmd = media_sys::DrmModeFbCmd2 {
        width,
        height: p.layout.planes().first().map_or(0, |q| q.height as u32),
        pixel_format: p.fourcc,
        ..Default::default()
    };
    for (i, q) in p.layout.planes().iter().enumerate().take(4) {
        cmd.handles[i] = handle;
        cmd.pitches[i] = q.stride as u32;
        cmd.offsets[i] = q.offset as u32;
    }
    media_sys::addfb2(card, &mut cmd)
        .map(drop)
        .map_err(|e| format!("ADDFB2: {e}"))
}

/// Whether the buffer is a mappable dma-buf (the CPU's verdict).
fn judge_cpu(buf: BorrowedFd<'_>, p: &Placement) -> Verdict {
    central_gralloc_memory::Mapping::new(buf, p.size(), central_gralloc_memory::CpuAccess::Read)
        .map(drop)
        .map_err(|e| format!("mmap: {e}"))
}

/// What the grid needs to hand buffers to drivers.
struct Judges<'a> {
    probe: &'a Probe,
    card: OwnedFd,
    vgem: OwnedFd,
    vgem_imports: (u32, u32),
}

impl Judges<'_> {
    /// Every driver the usage involves judges the buffer; the first refusal is the verdict.
    fn judge(
        &mut self,
        profile: &Profile,
        desc: &Descriptor,
        p: &Placement,
        buf: BorrowedFd<'_>,
    ) -> Verdict {
        let all = p.readers.0 | p.writers.0;
        for (i, device) in profile.devices().iter().enumerate() {
            if all & (1 << i) == 0 {
                continue;
            }
            let node = self
                .probe
                .sections
                .iter()
                .find(|s| s.name == device.name)
                .map(|s| s.node.clone());
            let verdict = match node.as_deref() {
                Some(n) if n.starts_with("/dev/video") => {
                    judge_v4l2(self.probe, n, desc.width, p, buf)
                }
                Some(n) if n.starts_with("/dev/dri/") => {
                    judge_drm(self.card.as_fd(), desc.width, p, buf)
                }
                _ => judge_cpu(buf, p),
            };
            verdict.map_err(|e| format!("{}: {e}", device.name))?;
        }
        // vgem is in no profile, but any dma-buf the allocator makes must import there.
        self.vgem_imports.1 += 1;
        if psys::drm_prime_import(self.vgem.as_fd(), buf).is_ok() {
            self.vgem_imports.0 += 1;
        }
        Ok(())
    }
}

/// Solver and drivers on one case of `profile`.
fn run_case(
    judges: &mut Judges<'_>,
    profile: &Profile,
    device: &str,
    format: PixelFormat,
    size: (u32, u32),
    usage: &'static str,
) -> Result<Option<Case>, String> {
    let bits = Usage::parse(usage)?;
    let desc = Descriptor::simple("probe-grid", size.0, size.1, format, bits)
        .map_err(|e| e.to_string())?;
    let allocator = system_heap_allocator(profile.clone())?;
    let (solver, placement, buf) = match allocator.allocate(&desc, 1) {
        Ok(mut a) => {
            let b = a.buffers.pop().ok_or("no buffer")?;
            (
                Ok(()),
                a.placement,
                b.into_handle().fds.into_iter().next().ok_or("no fd")?,
            )
        }
        Err(e) => {
            // The layout under the profile's alignments, else the format's bare layout (YV12 fixes
            // its own plane offsets, so it cannot pad rows for a device that wants that).
            let Some(p) = [false, true].iter().find_map(|&bare| {
                let loose = relaxed(profile, bare).ok()?;
                solver::solve(&desc, &loose).ok()
            }) else {
                info(format_args!(
                    "{device} {format} {}x{} {usage}: no layout at all ({e})",
                    size.0, size.1
                ));
                return Ok(None);
            };
            let heap = central_gralloc_memory::DmaHeap::open(Path::new("/dev/dma_heap"), "system")
                .context("system heap")?;
            let fd = heap.allocate_raw(p.size()).context("candidate buffer")?;
            (Err(e.to_string()), p, fd)
        }
    };
    let driver = judges.judge(profile, &desc, &placement, buf.as_fd());
    Ok(Some(Case {
        device: device.to_string(),
        format,
        size,
        usage,
        solver,
        driver,
    }))
}

/// The grid, bounded to keep the tier short: for each vivid camera 6 formats x 5 sizes x 3
/// usages, for the display 3 x 4 x 2.
fn agreement() -> TestResult {
    let (probe, profile) = probed()?;
    let card = psys::open_node(Path::new("/dev/dri/card0")).context("card0")?;
    let vgem = psys::open_node(Path::new("/dev/dri/card1")).context("card1")?;
    let mut judges = Judges {
        probe: &probe,
        card,
        vgem,
        vgem_imports: (0, 0),
    };
    let cameras = [
        section(&probe, "/dev/video0")?.name.clone(),
        section(&probe, "/dev/video1")?.name.clone(),
    ];
    let display = section(&probe, "/dev/dri/card0")?.name.clone();
    let mut cases = Vec::new();
    let camera_formats = [
        PixelFormat::YCBCR_420_888,
        PixelFormat::YCRCB_420_SP,
        PixelFormat::YCBCR_422_I,
        PixelFormat::RGBA_8888,
        PixelFormat::YV12,
        PixelFormat::RGBA_FP16,
    ];
    let camera_sizes = [(8, 8), (64, 64), (641, 479), (1280, 720), (20000, 16)];
    let camera_usages = [
        "CAMERA_OUTPUT",
        "CAMERA_OUTPUT|CPU_READ_OFTEN",
        "CAMERA_OUTPUT|COMPOSER_OVERLAY",
    ];
    for (i, camera) in cameras.iter().enumerate() {
        let other = &cameras[1 - i];
        let only = restricted(&profile, &[other.as_str()])?;
        for format in camera_formats {
            for size in camera_sizes {
                for usage in camera_usages {
                    cases.extend(run_case(&mut judges, &only, camera, format, size, usage)?);
                }
            }
        }
    }
    for format in [
        PixelFormat::BGRA_8888,
        PixelFormat::RGBA_8888,
        PixelFormat::RGB_565,
    ] {
        for size in [(16, 16), (64, 64), (1920, 1080), (9000, 64)] {
            for usage in ["COMPOSER_OVERLAY", "COMPOSER_OVERLAY|CPU_WRITE_OFTEN"] {
                cases.extend(run_case(
                    &mut judges,
                    &profile,
                    &display,
                    format,
                    size,
                    usage,
                )?);
            }
        }
    }
    let (imported, tried) = judges.vgem_imports;
    info(format_args!(
        "vgem imported {imported} of the grid's {tried} buffers"
    ));
    let false_accepts = report("probe agreement", &cases);
    let layout_false_accepts = layout_check(&profile, &display)?;
    ensure(imported == tried, || {
        format!("vgem refused {} buffers", tried - imported)
    })?;
    ensure(cases.len() >= 50, || format!("only {} cases", cases.len()))?;
    ensure(false_accepts == 0 && layout_false_accepts == 0, || {
        format!(
            "{false_accepts} false accepts in the grid, {layout_false_accepts} in the layout check"
        )
    })
}

/// Prints the agreement table, every disagreement and the summary line; the false accepts.
fn report(title: &str, cases: &[Case]) -> usize {
    let mut devices: Vec<&str> = cases.iter().map(|c| c.device.as_str()).collect();
    devices.dedup();
    info(format_args!(
        "{title}: {:<18} {:>22} {:>24} {:>24} {:>22}",
        "device",
        "solver ok, driver ok",
        "solver ok, driver no",
        "solver no, driver ok",
        "solver no, driver no"
    ));
    let count = |d: &str, s: bool, r: bool| {
        cases
            .iter()
            .filter(|c| c.device == d && c.solver.is_ok() == s && c.driver.is_ok() == r)
            .count()
    };
    for d in &devices {
        info(format_args!(
            "{title}: {d:<18} {:>22} {:>24} {:>24} {:>22}",
            count(d, true, true),
            count(d, true, false),
            count(d, false, true),
            count(d, false, false)
        ));
    }
    let mut false_accepts = 0;
    let mut false_refuses = 0;
    for c in cases {
        let kind = match (&c.solver, &c.driver) {
            (Ok(()), Err(_)) => {
                false_accepts += 1;
                "FALSE ACCEPT"
            }
            (Err(_), Ok(())) => {
                false_refuses += 1;
                "false refuse"
            }
            _ => continue,
        };
        let mut line = format!(
            "{title}: {kind} {} {} {}x{} {}",
            c.device, c.format, c.size.0, c.size.1, c.usage
        );
        let _ = write!(
            line,
            " | solver: {} | driver: {}",
            c.solver.as_ref().err().map_or("places it", String::as_str),
            c.driver.as_ref().err().map_or("takes it", String::as_str)
        );
        info(line);
    }
    let total = cases.len();
    let agree = total - false_accepts - false_refuses;
    info(format_args!(
        "{title}: {agree} of {total} cases ({:.1} %), false accepts {false_accepts}, false refuses {false_refuses}",
        100.0 * agree as f64 / total.max(1) as f64
    ));
    false_accepts
}

/// virtio-gpu cannot import, so its layouts are judged on its own memory: the probed profile with
/// the display's reads pinned by an overlay to its plane formats (what a vendor would do for a
/// composer that scans out of driver-allocated buffers), `ADDFB2` over a dumb buffer that holds
/// the placement. Returns the false accepts.
fn layout_check(profile: &Profile, display: &str) -> Result<usize, String> {
    let pinned = profile
        .overlay(&format!("device {display}\n  reads = BGRA_8888\n"))
        .context("overlay")?;
    let loose = relaxed(&pinned, false)?;
    let card = psys::open_node(Path::new("/dev/dri/card0")).context("card0")?;
    let mut cases = Vec::new();
    for format in [
        PixelFormat::BGRA_8888,
        PixelFormat::RGBA_8888,
        PixelFormat::RGB_565,
    ] {
        for size in [(16, 16), (64, 64), (641, 479), (1920, 1080), (9000, 64)] {
            let desc = Descriptor::simple(
                "probe-layout",
                size.0,
                size.1,
                format,
                Usage::COMPOSER_OVERLAY,
            )
            .map_err(|e| e.to_string())?;
            let (verdict, p) = match solver::solve(&desc, &pinned) {
                Ok(p) => (Ok(()), p),
                Err(e) => match solver::solve(&desc, &loose) {
                    Ok(p) => (Err(e.to_string()), p),
                    Err(_) => continue,
                },
            };
            // virtio-gpu makes 32-bpp dumb buffers only: one wide enough for the pitch.
            let rows = p.layout.planes().first().map_or(1, |q| q.height as u32);
            let width = (p.layout.planes().first().map_or(4, |q| q.stride) as u32).div_ceil(4);
            let driver = match psys::drm_create_dumb(card.as_fd(), width, rows, 32) {
                Ok(dumb) => addfb(card.as_fd(), dumb.info.handle, size.0, &p),
                Err(e) => Err(format!("CREATE_DUMB: {e}")),
            };
            cases.push(Case {
                device: display.to_string(),
                format,
                size,
                usage: "COMPOSER_OVERLAY (reads pinned)",
                solver: verdict,
                driver,
            });
        }
    }
    Ok(report(
        "probe layout check (virtio-gpu, ADDFB2 on dumb buffers)",
        &cases,
    ))
}

// ---- camera to CPU ---------------------------------------------------------------------------

/// Waits up to 20 s for a filled buffer and dequeues it.
fn dequeue(fd: BorrowedFd<'_>, memory: u32) -> Result<psys::V4l2Buffer, String> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    let ready = poll(&mut fds, PollTimeout::from(20_000u16)).context("poll")?;
    ensure(ready == 1, || "no frame within 20 s".into())?;
    let mut buf = psys::V4l2Buffer::new(psys::V4L2_BUF_TYPE_VIDEO_CAPTURE, memory, 0);
    media_sys::dqbuf(fd, &mut buf).context("DQBUF")?;
    ensure(buf.flags & 0x40 == 0, || {
        "the driver flagged the frame as erroneous".into()
    })?;
    Ok(buf)
}

/// One frame into vivid's own MMAP buffers, copied out: the reference.
fn mmap_frame(fd: BorrowedFd<'_>, size: usize) -> Result<Vec<u8>, String> {
    let (capture, mmap) = (psys::V4L2_BUF_TYPE_VIDEO_CAPTURE, psys::V4L2_MEMORY_MMAP);
    let (count, _) = psys::v4l2_reqbufs(fd, capture, mmap, 2).context("REQBUFS(MMAP)")?;
    let mut maps = Vec::new();
    for index in 0..count {
        let mut b = psys::V4l2Buffer::new(capture, mmap, index);
        media_sys::querybuf(fd, &mut b).context("QUERYBUF")?;
        // SAFETY: QUERYBUF of an MMAP buffer fills the union's `offset` member.
        let offset = unsafe { b.m.offset };
        maps.push(media_sys::Mapped::new(fd, b.length as usize, offset).context("mmap")?);
        psys::v4l2_qbuf(fd, &mut b).context("QBUF(MMAP)")?;
    }
    media_sys::stream(fd, true).context("STREAMON")?;
    let frame = dequeue(fd, mmap);
    let _ = media_sys::stream(fd, false);
    let frame = frame?;
    let copy = maps
        .get(frame.index as usize)
        .ok_or("DQBUF named no buffer of ours")?
        .copy(size);
    drop(maps);
    psys::v4l2_reqbufs(fd, capture, mmap, 0).context("REQBUFS(0)")?;
    Ok(copy)
}

/// vivid (videobuf2-vmalloc, HDMI input, no text overlay) captures into allocator buffers placed
/// for the probed profile; a second process imports them through the mapper's C entry points,
/// locks each for reading and compares it with the same frame captured into vivid's own MMAP
/// buffers. The kernel's count of CPU-access syncs during the locks shows what the tracker
/// decided about the camera's write: twice, as probed (x86: the camera is coherent, nothing to
/// invalidate) and with an overlay that declares the camera not coherent, as an Arm board's
/// vendor would, where every lock after the camera's write must invalidate.
fn camera_to_mapper() -> TestResult {
    let (probe, profile) = probed()?;
    let camera = section(&probe, "/dev/video0")?.name.clone();
    let as_probed = handoff(&probe, &profile)?;
    info(format_args!("as probed (coherent camera): {}", as_probed.0));
    let pinned = profile
        .overlay(&format!("device {camera}\n  coherent = no\n"))
        .context("overlay")?;
    let (text, syncs) = handoff(&probe, &pinned)?;
    info(format_args!("overlay `coherent = no`: {text}"));
    ensure(syncs.iter().all(|&(begin, _)| begin >= 1), || {
        format!("a non-coherent camera wrote, yet a lock issued no begin-access sync: {syncs:?}")
    })
}

/// One capture-to-mapper round on `profile`: the child's report and, per buffer, the kernel's
/// (begin, end) CPU-access syncs during its lock and unlock.
fn handoff(probe: &Probe, profile: &Profile) -> Result<(String, Vec<(u64, u64)>), String> {
    let camera = section(probe, "/dev/video0")?.name.clone();
    let other = section(probe, "/dev/video1")?.name.clone();
    let only = restricted(profile, &[other.as_str()])?;
    let usage = Usage::CAMERA_OUTPUT | Usage::CPU_READ_OFTEN;
    let desc = Descriptor::simple(
        "camera-handoff",
        640,
        480,
        PixelFormat::YCBCR_420_888,
        usage,
    )
    .map_err(|e| e.to_string())?;
    let allocator = system_heap_allocator(only)?;
    let allocation = allocator.allocate(&desc, 2).context("allocate")?;
    let placement = allocation.placement;
    let fourcc = v4l2_fourcc(probe, "/dev/video0", placement.format).ok_or("no NV12")?;
    let first = placement
        .layout
        .planes()
        .first()
        .copied()
        .ok_or("no planes")?;
    let fd = psys::open_node(Path::new("/dev/video0")).context("open video0")?;
    let fd = fd.as_fd();
    let got = media_sys::s_fmt(
        fd,
        V4l2PixFormat {
            width: 640,
            height: first.height as u32,
            pixelformat: fourcc,
            field: psys::V4L2_FIELD_NONE,
            bytesperline: first.stride as u32,
            ..Default::default()
        },
    )
    .context("S_FMT")?;
    ensure(got.bytesperline as u64 == first.stride, || {
        format!("S_FMT pitch {}", got.bytesperline)
    })?;
    let image = got.sizeimage as usize;
    let reference = mmap_frame(fd, image)?;
    ensure(reference.iter().any(|&b| b != reference[0]), || {
        "the reference frame is flat".into()
    })?;

    let (capture, dmabuf) = (psys::V4L2_BUF_TYPE_VIDEO_CAPTURE, psys::V4L2_MEMORY_DMABUF);
    psys::v4l2_reqbufs(fd, capture, dmabuf, 2).context("REQBUFS(DMABUF)")?;
    for (index, b) in allocation.buffers.iter().enumerate() {
        psys::v4l2_qbuf_dmabuf(fd, capture, index as u32, b.fd(), b.info().size as u32)
            .context("QBUF(DMABUF)")?;
    }
    media_sys::stream(fd, true).context("STREAMON")?;
    let frames = (0..2)
        .map(|_| dequeue(fd, dmabuf))
        .collect::<Result<Vec<_>, _>>();
    let _ = media_sys::stream(fd, false);
    let frames = frames?;
    psys::v4l2_reqbufs(fd, capture, dmabuf, 0).context("REQBUFS(0)")?;
    let filled: Vec<u32> = frames.iter().map(|f| f.index).collect();
    info(format_args!(
        "{camera} filled buffers {filled:?} ({} bytes of {} each, {} at pitch {})",
        frames.first().map_or(0, |f| f.bytesused),
        placement.size(),
        placement.format,
        first.stride
    ));

    let handles = allocation
        .buffers
        .into_iter()
        .map(|b| central_gralloc_memory::BufferHandle::decode(b.into_handle()).context("decode"))
        .collect::<Result<Vec<_>, _>>()?;
    let outcome = crate::harness::in_child(|report| {
        use std::io::Write as _;
        use std::os::fd::AsRawFd;
        let result = (|| -> Result<String, String> {
            let mapper = crate::mapper_client::Mapper::load()?;
            let tracer = crate::mapper_cases::SyncTracer::open()?;
            let mut lines = Vec::new();
            for (i, h) in handles.iter().enumerate() {
                let fds = [h.memory.as_raw_fd(), h.metadata.as_raw_fd()];
                let imported = mapper.import(&fds, &h.info.to_ints())?;
                tracer.start()?;
                let ptr = imported.lock(Usage::CPU_READ_OFTEN.0)?;
                let mut seen = vec![0u8; image];
                // SAFETY: the lock maps the whole buffer, which holds at least `image` bytes
                // (sizeimage was checked against the placement when the driver took it).
                unsafe { std::ptr::copy_nonoverlapping(ptr, seen.as_mut_ptr(), image) };
                imported.unlock()?;
                let [begin, end] = tracer.stop()?;
                match seen.iter().zip(&reference).position(|(a, b)| a != b) {
                    None => lines.push(format!("{begin} {end} buffer {i}: {image} bytes equal the MMAP frame; kernel syncs during lock+unlock: {begin} begin, {end} end")),
                    Some(at) => return Err(format!("buffer {i}: differs from the MMAP frame at byte {at}")),
                }
            }
            Ok(lines.join("\n"))
        })();
        match result {
            Ok(text) => {
                let _ = write!(report, "{text}");
                0
            }
            Err(e) => {
                let _ = write!(report, "{e}");
                1
            }
        }
    })?;
    match outcome {
        crate::harness::ChildOutcome::Exited { code: 0, report } => {
            // Each line: "BEGIN END text".
            let mut syncs = Vec::new();
            let mut texts = Vec::new();
            for line in report.lines() {
                let mut words = line.splitn(3, ' ');
                let count = |w: Option<&str>| w.and_then(|w| w.parse::<u64>().ok());
                let (begin, end) = (count(words.next()), count(words.next()));
                let (Some(begin), Some(end)) = (begin, end) else {
                    return Err(format!("child reported `{line}`"));
                };
                syncs.push((begin, end));
                texts.push(words.next().unwrap_or_default().to_string());
            }
            ensure(syncs.len() == 2, || {
                format!("child checked {} buffers", syncs.len())
            })?;
            Ok((format!("mapper process: {}", texts.join("; ")), syncs))
        }
        crate::harness::ChildOutcome::Exited { report, .. } => Err(report),
        crate::harness::ChildOutcome::Signaled { signal, report } => {
            Err(format!("{signal:?}: {report}"))
        }
    }
}

// ---- the service and the CLI on the probed profile -------------------------------------------

/// Runs `gralloc ARGS`: (exit code, stdout, stderr).
fn gralloc(args: &[&str]) -> Result<(i32, String, String), String> {
    let out = std::process::Command::new("gralloc")
        .args(args)
        .output()
        .context(format!("gralloc {}", args.join(" ")))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// An `allocator-service --socket` child; SIGTERM and reaped on drop.
struct Service {
    child: std::process::Child,
    socket: String,
}

impl Service {
    fn start(socket: &str, profile: &str) -> Result<Service, String> {
        let _ = std::fs::remove_file(socket);
        let child = std::process::Command::new("allocator-service")
            .args(["--socket", socket, "--profile", profile])
            .env("CENTRAL_GRALLOC_LOG", "warn")
            .spawn()
            .context("start allocator-service")?;
        let service = Service {
            child,
            socket: socket.to_string(),
        };
        // It probes before it listens: wait for the dump to answer.
        for _ in 0..200 {
            if gralloc(&["dump", "--socket", socket])?.0 == 0 {
                return Ok(service);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(format!(
            "allocator-service --profile {profile} did not answer within 20 s"
        ))
    }

    /// `gralloc alloc` of a camera frame for the CPU: the JSON answer.
    fn camera_frame(&self) -> Result<serde_json::Value, String> {
        let (_, out, err) = gralloc(&[
            "alloc",
            "--socket",
            &self.socket,
            "--width",
            "1280",
            "--height",
            "720",
            "--format",
            "YCBCR_420_888",
            "--usage",
            "CAMERA_OUTPUT|CPU_READ_OFTEN",
            "--json",
        ])?;
        serde_json::from_str(out.trim()).map_err(|e| format!("gralloc alloc: {e}: `{out}` {err}"))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// `gralloc profile show probe` is the probed profile; `allocator-service --profile probe`
/// probes at start (both cameras are cameras, so a camera buffer must suit the dma-contig one and
/// needs a contiguous heap this kernel lacks: UNSUPPORTED), and with an overlay that omits the
/// dma-contig camera the same request is served from the system dma-heap.
fn service_profile() -> TestResult {
    let (_, profile) = probed()?;
    let (code, shown, err) = gralloc(&["profile", "show", "probe"])?;
    ensure(code == 0, || format!("gralloc profile show probe: {err}"))?;
    let shown = Profile::parse(&shown).context("gralloc profile show probe")?;
    ensure(shown == profile, || {
        "`gralloc profile show probe` differs from the probe".into()
    })?;
    let contig = profile
        .devices()
        .iter()
        .find(|d| d.constraints.contiguous && d.has_role(Role::Camera))
        .ok_or("no camera needing contiguous memory")?
        .name
        .clone();

    let plain = Service::start("/tmp/probe-plain.sock", "probe")?;
    let refused = plain.camera_frame()?;
    ensure(refused["error"] == "UNSUPPORTED", || {
        format!("--profile probe: {refused}")
    })?;
    let (_, dump, _) = gralloc(&["dump", "--socket", &plain.socket])?;
    ensure(
        dump.contains("profile probe") && dump.contains(&contig),
        || "the dump does not show the probed profile".into(),
    )?;
    drop(plain);

    let overlay = "/tmp/probe-overlay.conf";
    std::fs::write(
        overlay,
        format!("# the dma-contig camera is not used for buffers\ndevice {contig}\n  omit = yes\n"),
    )
    .context("write overlay")?;
    let pinned = Service::start("/tmp/probe-overlay.sock", &format!("probe:{overlay}"))?;
    let served = pinned.camera_frame()?;
    ensure(served["buffers"][0]["kind"] == "dma-heap", || {
        format!("--profile probe:{overlay}: {served}")
    })?;
    info(format_args!(
        "allocator-service --profile probe: camera frame UNSUPPORTED ({contig} needs contiguous memory); \
         --profile probe:{overlay} (omits {contig}): served from the system dma-heap"
    ));
    Ok(())
}

/// `gralloc demo` here adds the probed profile and says so.
fn demo() -> TestResult {
    prepare_vivid()?;
    let (code, out, err) = gralloc(&["demo"])?;
    ensure(code == 0, || format!("gralloc demo: {err}"))?;
    ensure(
        out.contains("the profile `gralloc probe` reads from it"),
        || "no probe announcement".into(),
    )?;
    let section: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("== profile probe"))
        .take_while(|l| !l.starts_with("== counters"))
        .collect();
    ensure(!section.is_empty(), || {
        "the demo has no probe section".into()
    })?;
    for line in section {
        info(line);
    }
    Ok(())
}
