//! Fault cases: wrong fds, failures part way through a batch, limits; nothing may leak.

use super::*;

pub(super) fn decode_rejects_wrong_fds() -> TestResult {
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    let buffer = a
        .allocate(&rgba_1080p("decode")?, 1)
        .context("allocate")?
        .buffers
        .pop()
        .ok_or("no buffer")?;
    let before = open_fds();
    let dup = |fd: BorrowedFd<'_>| fd.try_clone_to_owned().map_err(|e| e.to_string());
    let ints = buffer.info().to_ints();
    let mut cases: Vec<(&str, NativeHandle)> = Vec::new();
    let mut as_memfd = ints.clone();
    as_memfd[21] = 2; // kind: memfd, but the fd is a dma-buf
    cases.push((
        "kind mismatch",
        NativeHandle {
            fds: vec![dup(buffer.fd())?, dup(buffer.metadata_fd())?],
            ints: as_memfd,
        },
    ));
    let mut meta_as_memfd = ints.clone();
    meta_as_memfd[54] = 2; // metadata kind: memfd, but the region is a dma-buf
    cases.push((
        "metadata kind mismatch",
        NativeHandle {
            fds: vec![dup(buffer.fd())?, dup(buffer.metadata_fd())?],
            ints: meta_as_memfd,
        },
    ));
    cases.push((
        "truncated",
        NativeHandle {
            fds: vec![dup(buffer.fd())?, dup(buffer.metadata_fd())?],
            ints: ints[..20].to_vec(),
        },
    ));
    cases.push((
        "swapped fds",
        NativeHandle {
            fds: vec![dup(buffer.metadata_fd())?, dup(buffer.fd())?],
            ints: ints.clone(),
        },
    ));
    let small = a
        .allocate(
            &descriptor("small", 16, 16, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE)?,
            1,
        )
        .context("small")?;
    let small = small.buffers.into_iter().next().ok_or("no buffer")?;
    cases.push((
        "smaller dma-buf",
        NativeHandle {
            fds: vec![dup(small.fd())?, dup(buffer.metadata_fd())?],
            ints: ints.clone(),
        },
    ));
    drop(small);
    for (what, handle) in cases {
        match BufferHandle::decode(handle) {
            Ok(_) => return Err(format!("{what}: accepted")),
            Err(e) => info(format_args!("{what}: {e}")),
        }
    }
    ensure(open_fds() == before, || {
        format!("fds: {} before, {} after", before, open_fds())
    })
}

/// A dma-heap that fails with ENOMEM after `ok` buffers.
#[derive(Debug)]
struct FailAfter {
    heap: DmaHeap,
    ok: u32,
    made: AtomicU32,
}

impl Heap for FailAfter {
    fn kind(&self) -> BufferKind {
        BufferKind::DmaHeap
    }
    fn describe(&self) -> String {
        format!("{} failing after {}", self.heap.describe(), self.ok)
    }
    fn allocate(&self, size: u64, name: &str) -> Result<OwnedFd, MemError> {
        if self.made.fetch_add(1, Ordering::Relaxed) >= self.ok {
            return Err(MemError::sys(SysOp::HeapAlloc, nix::errno::Errno::ENOMEM));
        }
        self.heap.allocate(size, name)
    }
}

pub(super) fn batch_failure_closes_dma_bufs() -> TestResult {
    let heap = DmaHeap::open(std::path::Path::new(HEAP_DIR), "system").context("open heap")?;
    let failing = FailAfter {
        heap,
        ok: 3,
        made: AtomicU32::new(0),
    };
    let a = Allocator::with_heaps(
        profile("host")?,
        vec![(HeapRole::System, Box::new(failing))],
        Limits::default(),
    );
    let (fds, bufs) = (open_fds(), bufinfo()?.len());
    let e = a
        .allocate(&rgba_1080p("batch-fail")?, 5)
        .err()
        .ok_or("batch succeeded")?;
    ensure(e.code() == ErrorCode::NoResources, || format!("{e}"))?;
    ensure(open_fds() == fds, || {
        format!("fds {} -> {}", fds, open_fds())
    })?;
    let now = bufinfo()?.len();
    ensure(now == bufs, || {
        format!("dma-bufs {bufs} -> {now}: buffers 0..3 were not released")
    })
}

pub(super) fn limits_refuse_before_allocating() -> TestResult {
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    let limits = a.limits();
    info(format_args!(
        "default limits: {} MiB per request, {} buffers",
        limits.max_batch_bytes >> 20,
        limits.max_count
    ));
    let bufs = bufinfo()?.len();
    let d = rgba_1080p("too-many")?;
    let count = (limits.max_batch_bytes / (8 << 20) + 1).min(u64::from(limits.max_count)) as u32;
    let e = a
        .allocate(&d, count)
        .err()
        .ok_or("batch beyond the limit allocated")?;
    ensure(
        matches!(e, MemError::TooLarge { .. }) && e.code() == ErrorCode::NoResources,
        || format!("{e}"),
    )?;
    ensure(bufinfo()?.len() == bufs, || {
        "allocated before refusing".into()
    })
}

/// Sets the soft limit on open fds, returning the old soft limit.
fn set_fd_limit(soft: u64) -> Result<u64, String> {
    let mut old = nix::libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `old` is a writable rlimit for the duration of the call.
    if unsafe { nix::libc::getrlimit(nix::libc::RLIMIT_NOFILE, &mut old) } != 0 {
        return Err(format!("getrlimit: {}", nix::errno::Errno::last()));
    }
    let new = nix::libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: `new` is a valid rlimit read by the kernel during the call.
    if unsafe { nix::libc::setrlimit(nix::libc::RLIMIT_NOFILE, &new) } != 0 {
        return Err(format!("setrlimit: {}", nix::errno::Errno::last()));
    }
    Ok(old.rlim_cur)
}

/// A real kernel failure part way through a batch of real dma-bufs: the fd table fills up, so
/// DMA_HEAP_IOCTL_ALLOC (for a buffer or its metadata region) fails with EMFILE at buffer 2 or 3. (Real ENOMEM
/// from the system heap cannot be provoked safely: on this kernel the allocating process is
/// OOM-killed instead, which is what `Limits` exists to prevent; kernel_facts shows it.)
pub(super) fn emfile_mid_batch_closes_dma_bufs() -> TestResult {
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    let d = rgba_1080p("emfile")?;
    let (fds, bufs) = (open_fds(), bufinfo()?.len());
    // Room for two buffers (two fds each) and a little more; read_dir itself needs one.
    let old = set_fd_limit(fds as u64 + 5)?;
    let result = a.allocate(&d, 6);
    set_fd_limit(old)?;
    let e = match result {
        Ok(alloc) => {
            return Err(format!(
                "{} buffers allocated under the fd limit",
                alloc.buffers.len()
            ))
        }
        Err(e) => e,
    };
    info(format_args!("{e}"));
    ensure(
        e.errno() == Some(nix::errno::Errno::EMFILE) && e.code() == ErrorCode::NoResources,
        || format!("{e}"),
    )?;
    ensure(open_fds() == fds, || format!("fds {fds} -> {}", open_fds()))?;
    let now = bufinfo()?.len();
    ensure(now == bufs, || format!("dma-bufs {bufs} -> {now}"))?;
    a.allocate(&d, 6)
        .context("the same batch afterwards")
        .map(drop)
}
