//! Kernel facts baseline: the dma-heap, dma-buf, udmabuf and PRIME behaviour our memory layer
//! relies on, checked against the kernel directly, without any project code in between.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::signal::Signal;
use nix::unistd::{ftruncate, lseek, Whence};

use crate::harness::{ensure, in_child, info, ChildOutcome, Context, TestCase, TestResult};
use crate::sys::{self, sync, Mapping};

/// The kernel-facts test cases, in the order they run.
pub const TESTS: &[TestCase] = &[
    TestCase {
        name: "kernel.dma_heap_alloc_sizes",
        run: dma_heap_alloc_sizes,
    },
    TestCase {
        name: "kernel.dma_heap_rejects_bad_args",
        run: dma_heap_rejects_bad_args,
    },
    TestCase {
        name: "kernel.dma_buf_set_name_in_bufinfo",
        run: dma_buf_set_name_in_bufinfo,
    },
    TestCase {
        name: "kernel.dma_buf_sync_fork_child_reads",
        run: dma_buf_sync_fork_child_reads,
    },
    TestCase {
        name: "kernel.udmabuf_from_sealed_memfd",
        run: udmabuf_from_sealed_memfd,
    },
    TestCase {
        name: "kernel.udmabuf_rejects_bad_memfds",
        run: udmabuf_rejects_bad_memfds,
    },
    TestCase {
        name: "kernel.vgem_prime_import_attaches",
        run: vgem_prime_import_attaches,
    },
    TestCase {
        name: "kernel.vgem_prime_import_udmabuf",
        run: vgem_prime_import_udmabuf,
    },
    TestCase {
        name: "kernel.virtio_gpu_refuses_foreign_dma_buf",
        run: virtio_gpu_refuses_foreign_dma_buf,
    },
    TestCase {
        name: "kernel.binder_device_speaks_protocol_8",
        run: binder_device_speaks_protocol_8,
    },
    TestCase {
        name: "kernel.dma_heap_oversize_contained",
        run: dma_heap_oversize_contained,
    },
    TestCase {
        name: "kernel.dma_heap_exhaustion_recovers",
        run: dma_heap_exhaustion_recovers,
    },
];

const SYSTEM_HEAP: &str = "/dev/dma_heap/system";
const BUFINFO: &str = "/sys/kernel/debug/dma_buf/bufinfo";
const PAGE: u64 = 4096;
const MIB: u64 = 1 << 20;

fn dma_heap_alloc_sizes() -> TestResult {
    let heap = sys::open_rw(SYSTEM_HEAP).context(SYSTEM_HEAP)?;
    // Unaligned lengths included: the heap rounds every length up to whole pages.
    for len in [PAGE, 3 * PAGE, 5000, MIB, 8 * MIB + 1] {
        let buf = sys::dma_heap_alloc(heap.as_fd(), len).context(format!("alloc {len}"))?;
        let expected = len.div_ceil(PAGE) * PAGE;
        let (stat_size, seek_size) = dma_buf_size(&buf)?;
        ensure(stat_size == expected && seek_size == expected, || {
            format!("alloc {len}: fstat size {stat_size}, lseek(SEEK_END) {seek_size}, expected {expected}")
        })?;
        if len != expected {
            info(format_args!("len {len} rounded up to {expected}"));
        }
    }
    Ok(())
}

fn dma_heap_rejects_bad_args() -> TestResult {
    let heap = sys::open_rw(SYSTEM_HEAP).context(SYSTEM_HEAP)?;
    let rw_cloexec = sys::default_fd_flags();
    let nonblock = nix::fcntl::OFlag::O_NONBLOCK.bits() as u32;
    let cases: [(&str, u64, u32, u64); 3] = [
        ("len 0", 0, rw_cloexec, 0),
        ("heap_flags 1", PAGE, rw_cloexec, 1),
        ("fd_flags with O_NONBLOCK", PAGE, rw_cloexec | nonblock, 0),
    ];
    for (what, len, fd_flags, heap_flags) in cases {
        let result = sys::dma_heap_alloc_raw(heap.as_fd(), len, fd_flags, heap_flags);
        ensure(matches!(result, Err(Errno::EINVAL)), || {
            format!("{what}: expected EINVAL, got {:?}", result.map(drop))
        })?;
    }
    Ok(())
}

fn dma_buf_set_name_in_bufinfo() -> TestResult {
    let heap = sys::open_rw(SYSTEM_HEAP).context(SYSTEM_HEAP)?;
    let buf = sys::dma_heap_alloc(heap.as_fd(), 64 * 1024).context("alloc")?;
    let ino = inode(&buf)?;

    sys::dma_buf_set_name(buf.as_fd(), "cg-vmtest-name").context("DMA_BUF_SET_NAME_B")?;
    let entry = bufinfo_entry(ino)?;
    ensure(entry.name == "cg-vmtest-name", || {
        format!("bufinfo name {:?}", entry.name)
    })?;
    ensure(
        entry.exporter == "system" && entry.size == 64 * 1024,
        || format!("bufinfo exporter {:?} size {}", entry.exporter, entry.size),
    )?;

    // DMA_BUF_NAME_LEN counts the NUL: 31 characters fit, 32 do not.
    let longest = "n".repeat(sys::DMA_BUF_NAME_LEN - 1);
    sys::dma_buf_set_name(buf.as_fd(), &longest).context("31-character name")?;
    ensure(bufinfo_entry(ino)?.name == longest, || {
        "31-character name not in bufinfo".into()
    })?;
    let too_long = "n".repeat(sys::DMA_BUF_NAME_LEN);
    let result = sys::dma_buf_set_name(buf.as_fd(), &too_long);
    ensure(result == Err(Errno::EINVAL), || {
        format!("32-character name: expected EINVAL, got {result:?}")
    })
}

fn dma_buf_sync_fork_child_reads() -> TestResult {
    let heap = sys::open_rw(SYSTEM_HEAP).context(SYSTEM_HEAP)?;
    let len = MIB as usize;
    let buf = sys::dma_heap_alloc(heap.as_fd(), len as u64).context("alloc")?;
    let map = Mapping::shared(&buf, len).context("mmap")?;

    sys::dma_buf_sync(buf.as_fd(), sync::START | sync::WRITE).context("SYNC START|WRITE")?;
    map.write(0, &pattern(len, 7)).context("write")?;
    sys::dma_buf_sync(buf.as_fd(), sync::END | sync::WRITE).context("SYNC END|WRITE")?;
    drop(map);

    // The child maps the buffer itself: the data must travel through the pages, not a mapping.
    let outcome = in_child(|report| {
        let check = || -> TestResult {
            let map = Mapping::shared(&buf, len).context("child mmap")?;
            sys::dma_buf_sync(buf.as_fd(), sync::START | sync::RW).context("child SYNC START")?;
            let seen = map.read(0, len).context("child read")?;
            ensure(seen == pattern(len, 7), || {
                format!(
                    "child read differs at byte {:?}",
                    first_difference(&seen, &pattern(len, 7))
                )
            })?;
            map.write(len / 2, &pattern(4096, 99))
                .context("child write")?;
            sys::dma_buf_sync(buf.as_fd(), sync::END | sync::RW).context("child SYNC END")
        };
        report_result(report, check())
    })?;
    child_passed(outcome)?;

    let map = Mapping::shared(&buf, len).context("mmap again")?;
    sys::dma_buf_sync(buf.as_fd(), sync::START | sync::READ).context("SYNC START|READ")?;
    let seen = map.read(len / 2, 4096).context("read")?;
    sys::dma_buf_sync(buf.as_fd(), sync::END | sync::READ).context("SYNC END|READ")?;
    ensure(seen == pattern(4096, 99), || {
        "parent does not see the child's write".into()
    })
}

fn udmabuf_from_sealed_memfd() -> TestResult {
    let udmabuf = sys::open_rw("/dev/udmabuf").context("/dev/udmabuf")?;
    let len = 256 * 1024;
    let memfd = sealable_memfd(len)?;
    fcntl(&memfd, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK)).context("F_SEAL_SHRINK")?;

    let whole = sys::udmabuf_create(udmabuf.as_fd(), memfd.as_fd(), 0, len as u64)
        .context("UDMABUF_CREATE")?;
    let (stat_size, seek_size) = dma_buf_size(&whole)?;
    ensure(stat_size == len as u64 && seek_size == len as u64, || {
        format!("udmabuf size fstat {stat_size} lseek {seek_size}, expected {len}")
    })?;
    let entry = bufinfo_entry(inode(&whole)?)?;
    ensure(entry.exporter == "udmabuf", || {
        format!("bufinfo exporter {:?}", entry.exporter)
    })?;

    // Both fds name the same pages: a write through the memfd shows through the udmabuf.
    let mem_map = Mapping::shared(&memfd, len).context("mmap memfd")?;
    let buf_map = Mapping::shared(&whole, len).context("mmap udmabuf")?;
    mem_map.write(0, &pattern(len, 3)).context("write memfd")?;
    sys::dma_buf_sync(whole.as_fd(), sync::START | sync::READ).context("SYNC START")?;
    let seen = buf_map.read(0, len).context("read udmabuf")?;
    sys::dma_buf_sync(whole.as_fd(), sync::END | sync::READ).context("SYNC END")?;
    ensure(seen == pattern(len, 3), || {
        "udmabuf does not show the memfd's data".into()
    })?;

    // A page-aligned sub-range starts at its offset in the memfd.
    let offset = 64 * 1024;
    let part = sys::udmabuf_create(udmabuf.as_fd(), memfd.as_fd(), offset as u64, 64 * 1024)
        .context("UDMABUF_CREATE at offset 64 KiB")?;
    let part_map = Mapping::shared(&part, 64 * 1024).context("mmap sub-range")?;
    let seen = part_map.read(0, 4096).context("read sub-range")?;
    ensure(seen == pattern(len, 3)[offset..offset + 4096], || {
        "sub-range udmabuf does not start at its memfd offset".into()
    })
}

fn udmabuf_rejects_bad_memfds() -> TestResult {
    let udmabuf = sys::open_rw("/dev/udmabuf").context("/dev/udmabuf")?;
    let len = 64 * 1024;
    let create = |memfd: &OwnedFd, offset: u64, size: u64| {
        sys::udmabuf_create(udmabuf.as_fd(), memfd.as_fd(), offset, size).map(drop)
    };

    let unsealed = sealable_memfd(len)?;
    let sealed_write = sealable_memfd(len)?;
    fcntl(
        &sealed_write,
        FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_WRITE),
    )
    .context("F_SEAL_SHRINK|F_SEAL_WRITE")?;
    let good = sealable_memfd(len)?;
    fcntl(&good, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK)).context("F_SEAL_SHRINK")?;

    let cases = [
        ("no F_SEAL_SHRINK", create(&unsealed, 0, len as u64)),
        ("F_SEAL_WRITE", create(&sealed_write, 0, len as u64)),
        ("unaligned size", create(&good, 0, 5000)),
        ("unaligned offset", create(&good, 100, PAGE)),
        ("range past the end", create(&good, 0, 2 * len as u64)),
    ];
    for (what, result) in cases {
        ensure(result == Err(Errno::EINVAL), || {
            format!("{what}: expected EINVAL, got {result:?}")
        })?;
    }
    Ok(())
}

fn vgem_prime_import_attaches() -> TestResult {
    let card = open_card_of("vgem")?;
    let heap = sys::open_rw(SYSTEM_HEAP).context(SYSTEM_HEAP)?;
    let len = 256 * 1024;
    let buf = sys::dma_heap_alloc(heap.as_fd(), len as u64).context("alloc")?;
    let ino = inode(&buf)?;
    ensure(bufinfo_entry(ino)?.attached.is_empty(), || {
        "fresh buffer already has attachments".into()
    })?;

    let handle = sys::drm_prime_fd_to_handle(card.as_fd(), buf.as_fd())
        .context("DRM_IOCTL_PRIME_FD_TO_HANDLE")?;
    let entry = bufinfo_entry(ino)?;
    ensure(entry.attached.iter().any(|d| d == "vgem"), || {
        format!("bufinfo attachments after import: {:?}", entry.attached)
    })?;
    // Importing the same dma-buf again finds it in the device's PRIME cache.
    let again = sys::drm_prime_fd_to_handle(card.as_fd(), buf.as_fd()).context("second import")?;
    ensure(again.handle() == handle.handle(), || {
        format!(
            "second import gave handle {}, first {}",
            again.handle(),
            handle.handle()
        )
    })?;
    std::mem::forget(again); // Same handle: closing it twice would close someone else's.

    // CPU access still round-trips while a device attachment is mapped.
    let map = Mapping::shared(&buf, len).context("mmap")?;
    sys::dma_buf_sync(buf.as_fd(), sync::START | sync::WRITE).context("SYNC START|WRITE")?;
    map.write(0, &pattern(len, 11)).context("write")?;
    sys::dma_buf_sync(buf.as_fd(), sync::END | sync::WRITE).context("SYNC END|WRITE")?;
    sys::dma_buf_sync(buf.as_fd(), sync::START | sync::READ).context("SYNC START|READ")?;
    let seen = map.read(0, len).context("read")?;
    sys::dma_buf_sync(buf.as_fd(), sync::END | sync::READ).context("SYNC END|READ")?;
    ensure(seen == pattern(len, 11), || {
        "data changed across SYNC with vgem attached".into()
    })?;

    drop(handle); // GEM_CLOSE releases the import and with it the attachment.
    let entry = bufinfo_entry(ino)?;
    ensure(entry.attached.is_empty(), || {
        format!("attachments after GEM_CLOSE: {:?}", entry.attached)
    })
}

fn vgem_prime_import_udmabuf() -> TestResult {
    let card = open_card_of("vgem")?;
    let udmabuf = sys::open_rw("/dev/udmabuf").context("/dev/udmabuf")?;
    let len = 64 * 1024;
    let memfd = sealable_memfd(len)?;
    fcntl(&memfd, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK)).context("F_SEAL_SHRINK")?;
    let buf = sys::udmabuf_create(udmabuf.as_fd(), memfd.as_fd(), 0, len as u64)
        .context("UDMABUF_CREATE")?;
    let handle = sys::drm_prime_fd_to_handle(card.as_fd(), buf.as_fd())
        .context("DRM_IOCTL_PRIME_FD_TO_HANDLE")?;
    let entry = bufinfo_entry(inode(&buf)?)?;
    ensure(entry.attached.iter().any(|d| d == "vgem"), || {
        format!("bufinfo attachments after import: {:?}", entry.attached)
    })?;
    drop(handle);
    Ok(())
}

/// Why the cuttlefish profile has a device heap: virtio-gpu will not import a dma-buf another
/// exporter made (its PRIME import returns ENODEV), while its own exports import back to the
/// same GEM object.
fn virtio_gpu_refuses_foreign_dma_buf() -> TestResult {
    use central_gralloc_memory::sys as memsys;
    let card = open_card_of("virtio_gpu")?;
    let heap = sys::open_rw(SYSTEM_HEAP).context(SYSTEM_HEAP)?;
    let foreign = sys::dma_heap_alloc(heap.as_fd(), 640 * 480 * 4).context("alloc")?;
    match sys::drm_prime_fd_to_handle(card.as_fd(), foreign.as_fd()) {
        Err(Errno::ENODEV) => {}
        Err(e) => return Err(format!("foreign import failed with {e}, not ENODEV")),
        Ok(h) => {
            return Err(format!(
                "virtio-gpu imported a system-heap dma-buf (handle {})",
                h.handle()
            ))
        }
    }
    let dumb = memsys::drm_create_dumb(card.as_fd(), 640, 480).context("CREATE_DUMB")?;
    let result = (|| {
        let own = memsys::drm_prime_export(card.as_fd(), dumb.handle).context("export")?;
        let back = sys::drm_prime_fd_to_handle(card.as_fd(), own.as_fd()).context("re-import")?;
        let same = back.handle() == dumb.handle;
        // The same handle as the dumb buffer's: it is closed once, below.
        std::mem::forget(back);
        ensure(same, || {
            "its own export imported as another GEM object".into()
        })?;
        ensure(dumb.pitch == 640 * 4 && dumb.size >= 640 * 480 * 4, || {
            format!("dumb buffer pitch {} size {}", dumb.pitch, dumb.size)
        })?;
        info(format_args!(
            "system-heap dma-buf: ENODEV; own 640x480 dumb export (pitch {}, {} bytes): re-imports as handle {}",
            dumb.pitch, dumb.size, dumb.handle
        ));
        Ok(())
    })();
    memsys::drm_gem_close(card.as_fd(), dumb.handle).context("GEM_CLOSE")?;
    result
}

/// The binder node the service tier will use: 64-bit protocol 8, and it accepts the read-only
/// mapping every binder process makes before its first transaction.
fn binder_device_speaks_protocol_8() -> TestResult {
    let binder = sys::open_rw("/dev/binder").context("/dev/binder")?;
    let version = sys::binder_protocol_version(binder.as_fd()).context("BINDER_VERSION")?;
    ensure(version == 8, || {
        format!("binder protocol version {version}, expected 8")
    })?;
    sys::Mapping::read_only_private(&binder, 1 << 20)
        .map(drop)
        .context("mmap 1 MiB of /dev/binder")
}

/// One request for twice the RAM. The 6.12 system heap does not refuse it up front: it starts
/// allocating and the OOM killer ends the caller (docs/architecture.md §7). Either ENOMEM or that kill of
/// the (sacrificial) caller passes; afterwards the heap must work again.
fn dma_heap_oversize_contained() -> TestResult {
    let total = mem_total()?;
    let outcome = in_child(|report| {
        prefer_as_oom_victim();
        let heap = match sys::open_rw(SYSTEM_HEAP) {
            Ok(heap) => heap,
            Err(e) => return report_result(report, Err(format!("{SYSTEM_HEAP}: {e}"))),
        };
        let result = sys::dma_heap_alloc(heap.as_fd(), 2 * total).map(drop);
        let _ = write!(report, "{result:?}");
        i32::from(result != Err(Errno::ENOMEM))
    })?;
    let what = format!("alloc of 2 x MemTotal ({} MiB)", 2 * total / MIB);
    match outcome {
        ChildOutcome::Exited { code: 0, .. } => info(format_args!("{what}: ENOMEM")),
        ChildOutcome::Signaled {
            signal: Signal::SIGKILL,
            ..
        } => info(format_args!(
            "{what}: caller OOM-killed (SIGKILL) instead of ENOMEM"
        )),
        ChildOutcome::Exited { report, .. } => {
            return Err(format!(
                "{what}: expected ENOMEM or an OOM kill, got {report}"
            ))
        }
        ChildOutcome::Signaled { signal, report } => {
            return Err(format!("{what}: caller killed by {signal} ({report})"))
        }
    }
    let heap = sys::open_rw(SYSTEM_HEAP).context(SYSTEM_HEAP)?;
    sys::dma_heap_alloc(heap.as_fd(), 8 * MIB)
        .map(drop)
        .context("8 MiB alloc afterwards")
}

fn dma_heap_exhaustion_recovers() -> TestResult {
    let total = mem_total()?;
    let chunk = 8 * MIB;
    let limit = 2 * total / chunk; // Refusing before twice RAM is certain; stop there if not.
    let outcome = in_child(|report| {
        prefer_as_oom_victim();
        let heap = match sys::open_rw(SYSTEM_HEAP) {
            Ok(heap) => heap,
            Err(e) => return report_result(report, Err(format!("{SYSTEM_HEAP}: {e}"))),
        };
        let mut held = Vec::new();
        for _ in 0..limit {
            match sys::dma_heap_alloc(heap.as_fd(), chunk) {
                Ok(buf) => held.push(buf),
                Err(errno) => {
                    let _ = writeln!(report, "refused {errno:?} after {}", held.len());
                    return 0;
                }
            }
            // Progress survives in the pipe if the OOM killer ends this process.
            let _ = writeln!(report, "held {}", held.len());
        }
        let _ = writeln!(report, "never refused after {}", held.len());
        1
    })?;
    let (held, verdict) = match &outcome {
        ChildOutcome::Exited { code: 0, report } => {
            let line = report.lines().next_back().unwrap_or_default();
            let refused = line.strip_prefix("refused ").unwrap_or(line);
            info(format_args!(
                "heap refused with {refused} x {} MiB",
                chunk / MIB
            ));
            let held = last_count(report);
            let verdict = ensure(line.starts_with("refused ENOMEM"), || {
                format!("expected ENOMEM, got {line}")
            });
            (held, verdict)
        }
        ChildOutcome::Exited { code, report } => (
            0,
            Err(format!(
                "child exited {code}: {}",
                report.lines().next_back().unwrap_or_default()
            )),
        ),
        ChildOutcome::Signaled { signal, report } => {
            let held = last_count(report);
            info(format_args!(
                "caller killed by {signal} after {held} x {} MiB instead of ENOMEM (docs/architecture.md §7)",
                chunk / MIB
            ));
            let verdict = ensure(*signal == Signal::SIGKILL, || {
                format!("child killed by {signal}, expected SIGKILL from the OOM killer")
            });
            (held, verdict)
        }
    };
    verdict?;

    // The child's buffers died with it: half of what it held must be allocatable again.
    let heap = sys::open_rw(SYSTEM_HEAP).context(SYSTEM_HEAP)?;
    let mut again = Vec::new();
    for i in 0..(held / 2).max(1) {
        again.push(sys::dma_heap_alloc(heap.as_fd(), chunk).context(format!(
            "re-allocating chunk {i} of {} after the child exited",
            (held / 2).max(1)
        ))?);
    }
    Ok(())
}

/// Size of a dma-buf as fstat and lseek(SEEK_END) report it.
fn dma_buf_size(buf: &OwnedFd) -> Result<(u64, u64), String> {
    let stat = nix::sys::stat::fstat(buf).context("fstat")?;
    let end = lseek(buf, 0, Whence::SeekEnd).context("lseek(SEEK_END)")?;
    lseek(buf, 0, Whence::SeekSet).context("lseek(SEEK_SET)")?;
    Ok((stat.st_size as u64, end as u64))
}

fn inode(buf: &OwnedFd) -> Result<u64, String> {
    Ok(nix::sys::stat::fstat(buf).context("fstat")?.st_ino)
}

fn sealable_memfd(len: usize) -> Result<OwnedFd, String> {
    let memfd = memfd_create(
        "cg-vmtest",
        MFdFlags::MFD_ALLOW_SEALING | MFdFlags::MFD_CLOEXEC,
    )
    .context("memfd_create")?;
    ftruncate(&memfd, len as i64).context("ftruncate")?;
    Ok(memfd)
}

/// One `Dma-buf Objects` record of debugfs `dma_buf/bufinfo`.
struct BufInfoEntry {
    size: u64,
    exporter: String,
    name: String,
    attached: Vec<String>,
}

/// Finds the bufinfo record of the dma-buf with inode `ino`. Record layout (6.x): a header line
/// `size flags mode count exp_name ino name` (tab-separated), fence lines, `\tAttached Devices:`,
/// one `\t<device>` line per attachment, then `Total N devices attached`.
fn bufinfo_entry(ino: u64) -> Result<BufInfoEntry, String> {
    let text = std::fs::read_to_string(BUFINFO).context(BUFINFO)?;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [size, _flags, _mode, _count, exporter, line_ino, name] = fields[..] else {
            continue;
        };
        if line_ino.trim().parse::<u64>() != Ok(ino) {
            continue;
        }
        let mut attached = Vec::new();
        let mut in_devices = false;
        for line in lines.by_ref() {
            if line.starts_with("Total ") {
                break;
            }
            if line.trim() == "Attached Devices:" {
                in_devices = true;
            } else if in_devices {
                attached.push(line.trim().to_owned());
            }
        }
        return Ok(BufInfoEntry {
            size: size
                .trim()
                .parse()
                .context(format!("bufinfo size {size:?}"))?,
            exporter: exporter.to_owned(),
            name: name.to_owned(),
            attached,
        });
    }
    Err(format!("no bufinfo record for inode {ino}"))
}

/// Opens the `/dev/dri/card*` node whose DRM driver is `driver`.
fn open_card_of(driver: &str) -> Result<File, String> {
    let mut seen = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir("/dev/dri")
        .context("/dev/dri")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("card"))
        })
        .collect();
    entries.sort();
    for path in entries {
        let card = sys::open_rw(&path.to_string_lossy()).context(path.display())?;
        let name = sys::drm_driver_name(card.as_fd()).context("DRM_IOCTL_VERSION")?;
        if name == driver {
            return Ok(card);
        }
        seen.push(format!("{}={name}", path.display()));
    }
    Err(format!("no DRM card with driver {driver}; found {seen:?}"))
}

fn mem_total() -> Result<u64, String> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").context("/proc/meminfo")?;
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| "no MemTotal in /proc/meminfo".to_owned())
}

/// Makes the calling process the OOM killer's first choice, so an over-allocation kills the
/// test's child rather than the harness or the VM's shell.
fn prefer_as_oom_victim() {
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
}

fn report_result(report: &mut File, result: TestResult) -> i32 {
    match result {
        Ok(()) => 0,
        Err(reason) => {
            let _ = write!(report, "{reason}");
            1
        }
    }
}

fn child_passed(outcome: ChildOutcome) -> TestResult {
    match outcome {
        ChildOutcome::Exited { code: 0, .. } => Ok(()),
        ChildOutcome::Exited { code, report } => Err(format!("child exited {code}: {report}")),
        ChildOutcome::Signaled { signal, report } => {
            Err(format!("child killed by {signal}: {report}"))
        }
    }
}

/// The count in the child's last `held N` / `refused E after N` progress line.
fn last_count(report: &str) -> u64 {
    report
        .lines()
        .rev()
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// Deterministic bytes that differ between neighbouring pages and between seeds.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 12) as u8))
        .collect()
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_count_reads_the_final_progress_line() {
        assert_eq!(last_count("held 1\nheld 2\nrefused ENOMEM after 2\n"), 2);
        assert_eq!(last_count("held 1\nheld 7\n"), 7);
        assert_eq!(last_count(""), 0);
    }

    #[test]
    fn pattern_differs_by_seed_and_page() {
        assert_ne!(pattern(64, 1), pattern(64, 2));
        let p = pattern(8192, 0);
        assert_ne!(p[..4096], p[4096..]);
    }
}
