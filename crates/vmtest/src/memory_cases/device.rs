//! The device heap on the real virtio-gpu: cuttlefish's display and GPU buffers are dumb buffers
//! virtio-gpu made and exported, and its failures name the device and leave nothing behind.

use super::*;
use central_gralloc_memory::drm::{DrmHeap, DRI_DIR};

/// A BGRA scanout buffer SurfaceFlinger would allocate for a CPU-drawn layer.
fn scanout(name: &str) -> Result<Descriptor, String> {
    descriptor(
        name,
        640,
        480,
        PixelFormat::BGRA_8888,
        Usage::COMPOSER_OVERLAY | Usage::CPU_WRITE_OFTEN | Usage::CPU_READ_OFTEN,
    )
}

pub(super) fn device_heap_buffers_are_virtio_gpu_exports() -> TestResult {
    let before = open_fds();
    let a = allocator("cuttlefish", Backend::DmaHeap)?;
    ensure(a.unavailable().is_empty(), || {
        format!("unavailable: {:?}", a.unavailable())
    })?;
    let served = a.describe().join("; ");
    ensure(
        served.contains("device: drm virtio_gpu (/dev/dri/card"),
        || format!("heaps: {served}"),
    )?;
    let d = scanout("scanout")?;
    let alloc = a.allocate(&d, 2).context("allocate")?;
    ensure(alloc.placement.heap == HeapRole::Device, || {
        format!("placed on {}", alloc.placement.heap)
    })?;
    for b in &alloc.buffers {
        ensure(
            b.kind() == BufferKind::Drm && b.info().heap == HeapRole::Device,
            || format!("kind {} heap {}", b.kind(), b.info().heap),
        )?;
        let (exporter, name, size) = bufinfo_of(b.fd())?;
        ensure(
            exporter == "virtio_gpu" && name == "scanout" && size >= b.info().size,
            || format!("bufinfo {exporter} {name:?} {size}"),
        )?;
        ensure(b.info().metadata_kind == BufferKind::DmaHeap, || {
            format!("metadata kind {}", b.info().metadata_kind)
        })?;
        // The export maps read-write (DRM_RDWR) and holds what the CPU wrote.
        let map = b.map(CpuAccess::ReadWrite).context("map")?;
        b.begin_cpu_access(CpuAccess::Write).context("begin")?;
        map.write(4096, b"device heap").context("write")?;
        b.end_cpu_access(CpuAccess::Write).context("end")?;
        let decoded = BufferHandle::decode(b.encode().context("encode")?).context("decode")?;
        let again = central_gralloc_memory::Mapping::new(
            decoded.memory.as_fd(),
            decoded.info.size,
            CpuAccess::Read,
        )
        .context("map the decoded handle")?;
        let mut back = [0u8; 11];
        again.read(4096, &mut back).context("read")?;
        ensure(&back == b"device heap", || {
            "a second mapping reads other bytes".into()
        })?;
    }
    let profile = a.profile().clone();
    let reasons: Vec<String> = alloc
        .placement
        .explain(&profile)
        .into_iter()
        .map(|(what, why)| format!("{what}: {why}"))
        .collect();
    info(format_args!(
        "2 x 640x480 BGRA COMPOSER_OVERLAY|CPU, stride {}: {}",
        alloc.stride(),
        reasons.join("; ")
    ));
    drop(alloc);
    drop(a);
    ensure(open_fds() == before, || {
        format!("{} fds left open", open_fds().saturating_sub(before))
    })
}

pub(super) fn device_heap_failures_name_the_device() -> TestResult {
    let before = open_fds();
    // The driver refuses a size: a dumb buffer's size is a u32 (here 8 GiB).
    let heap = DrmHeap::open(std::path::Path::new(DRI_DIR), "virtio_gpu").context("open")?;
    let e = heap
        .allocate_shaped(8 << 30, 4096, "too-big")
        .err()
        .ok_or("virtio-gpu made an 8 GiB dumb buffer")?;
    let text = e.to_string();
    ensure(
        matches!(
            &e,
            MemError::Sys {
                op: SysOp::DumbCreate,
                errno: nix::errno::Errno::EINVAL,
                ..
            }
        ) && text.contains("virtio_gpu (/dev/dri/card"),
        || format!("refused size: {e}"),
    )?;
    info(format_args!("refused size: {text}"));
    drop(heap);

    // The device is not there: the role is unavailable, and a display buffer is refused naming
    // both what needs the device and the driver that is missing.
    let text = profile("cuttlefish")?
        .to_string()
        .replace("name = virtio_gpu", "name = no_such_gpu");
    let gone = Allocator::new(
        Profile::parse(&text).map_err(|e| e.to_string())?,
        &BackendConfig::new(Backend::DmaHeap),
        Limits::default(),
    )
    .context("allocator")?;
    let missing: Vec<HeapRole> = gone.unavailable().iter().map(|u| u.role).collect();
    ensure(missing == [HeapRole::Device], || {
        format!("unavailable {missing:?}")
    })?;
    let e = gone
        .allocate(&scanout("gone")?, 1)
        .err()
        .ok_or("allocated without the device")?;
    let text = e.to_string();
    ensure(
        e.code() == ErrorCode::Unsupported
            && text.contains("display cannot import")
            && text.contains("no_such_gpu"),
        || format!("missing device: {text}"),
    )?;
    info(format_args!("missing device: {text}"));
    // Buffers no virtio-gpu device touches still allocate.
    gone.allocate(&rgba_1080p("still-system")?, 1)
        .context("a system-heap buffer without the device")?;
    drop(gone);
    ensure(open_fds() == before, || {
        format!("{} fds left open", open_fds().saturating_sub(before))
    })
}
