//! The device heap's failure paths against a device that fails on purpose: every one names the
//! device and leaves no GEM handle and no fd. (The kernel tier runs the real virtio-gpu.)

use super::*;
use crate::sys::sealed_memfd;
use std::sync::Mutex;

/// What the fake device does; `live` is the set of GEM handles it has not had closed.
#[derive(Debug, Default)]
struct Script {
    /// `create` fails with this.
    create: Option<Errno>,
    /// `create` reports this many bytes fewer than the shape holds.
    short_by: u64,
    /// `export` fails with this.
    export: Option<Errno>,
    /// `export` returns a memfd this many bytes smaller than the buffer.
    export_short_by: u64,
    /// `close` fails with this (the handle still goes, as the kernel's would on EINVAL).
    close: Option<Errno>,
}

#[derive(Debug, Default)]
struct Fake {
    script: Script,
    next: Mutex<u32>,
    live: Mutex<Vec<(u32, u64)>>,
    created: Mutex<Vec<(u32, u32)>>,
    /// Names of the memfds `export` made, to look for in `/proc/self/fd` afterwards.
    exports: Mutex<Vec<String>>,
}

impl DumbDevice for std::sync::Arc<Fake> {
    fn create(&self, width: u32, height: u32) -> Result<DumbBuffer, Errno> {
        if let Some(e) = self.script.create {
            return Err(e);
        }
        self.created.lock().unwrap().push((width, height));
        let mut next = self.next.lock().unwrap();
        *next += 1;
        let size = u64::from(width) * 4 * u64::from(height) - self.script.short_by;
        self.live.lock().unwrap().push((*next, size));
        Ok(DumbBuffer {
            handle: *next,
            pitch: width * 4,
            size,
        })
    }
    fn export(&self, handle: u32) -> Result<OwnedFd, Errno> {
        if let Some(e) = self.script.export {
            return Err(e);
        }
        let size = self
            .live
            .lock()
            .unwrap()
            .iter()
            .find(|(h, _)| *h == handle)
            .map(|(_, size)| *size)
            .ok_or(Errno::ENOENT)?;
        // No dma-buf exporter on the host: a sealed memfd stands for the export's fd, named
        // uniquely so a leak shows in /proc/self/fd whatever other tests have open.
        let name = format!("cg-fake-export-{}-{handle}-{:p}", std::process::id(), self);
        self.exports.lock().unwrap().push(name.clone());
        sealed_memfd(&name, size - self.script.export_short_by, true, true)
    }
    fn close(&self, handle: u32) -> Result<(), Errno> {
        self.live.lock().unwrap().retain(|(h, _)| *h != handle);
        self.script.close.map_or(Ok(()), Err)
    }
}

fn heap(script: Script) -> (DrmHeap, std::sync::Arc<Fake>) {
    let fake = std::sync::Arc::new(Fake {
        script,
        ..Fake::default()
    });
    let heap = DrmHeap::with_device("fakegpu", "/dev/dri/card9", Box::new(fake.clone()));
    (heap, fake)
}

/// Whether an fd of this process is one of the fake's exports.
fn export_still_open(fake: &Fake) -> bool {
    let names = fake.exports.lock().unwrap().clone();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|target| {
            let target = target.to_string_lossy().into_owned();
            names.iter().any(|n| target.contains(n.as_str()))
        })
}

/// Runs `allocate_shaped` and checks that it failed naming the device, with no handle or fd
/// left behind.
fn fails_clean(script: Script, size: u64, pitch: u64) -> MemError {
    let (heap, fake) = heap(script);
    let e = heap.allocate_shaped(size, pitch, "t").unwrap_err();
    assert!(
        fake.live.lock().unwrap().is_empty(),
        "GEM handle left open: {e}"
    );
    assert!(!export_still_open(&fake), "exported fd left open: {e}");
    e
}

#[test]
fn every_failure_names_the_device_and_leaves_nothing() {
    let device = "fakegpu (/dev/dri/card9)";

    // The device vanished: every call fails with ENODEV.
    let e = fails_clean(
        Script {
            create: Some(Errno::ENODEV),
            ..Script::default()
        },
        1 << 20,
        2560,
    );
    assert!(e.to_string().contains(device), "{e}");
    assert_eq!(e.errno(), Some(Errno::ENODEV));
    assert_eq!(e.code(), central_gralloc::error::ErrorCode::Unsupported);

    // ... or between create and export: the handle is still closed.
    let e = fails_clean(
        Script {
            export: Some(Errno::ENODEV),
            ..Script::default()
        },
        1 << 20,
        2560,
    );
    assert!(
        matches!(&e, MemError::Sys { op: SysOp::PrimeExport, errno: Errno::ENODEV, context } if context == device),
        "{e}"
    );

    // The driver refuses the size.
    let e = fails_clean(
        Script {
            create: Some(Errno::EINVAL),
            ..Script::default()
        },
        1 << 20,
        2560,
    );
    assert!(
        matches!(&e, MemError::Sys { op: SysOp::DumbCreate, errno: Errno::EINVAL, context } if context == device),
        "{e}"
    );

    // The driver makes less than asked: refused before export.
    let e = fails_clean(
        Script {
            short_by: 4096,
            ..Script::default()
        },
        1 << 20,
        4096,
    );
    assert!(
        matches!(&e, MemError::DeviceShort { device: d, what: "dumb buffer", .. } if d == device),
        "{e}"
    );

    // The export is smaller than the buffer: the fd is closed too.
    let e = fails_clean(
        Script {
            export_short_by: 4096,
            ..Script::default()
        },
        1 << 20,
        4096,
    );
    assert!(
        matches!(&e, MemError::DeviceShort { device: d, what: "exported dma-buf", .. } if d == device),
        "{e}"
    );
    assert_eq!(e.code(), central_gralloc::error::ErrorCode::Unsupported);

    // The handle cannot be closed: the export is not handed out either.
    let e = fails_clean(
        Script {
            close: Some(Errno::EINVAL),
            ..Script::default()
        },
        1 << 20,
        4096,
    );
    assert!(
        matches!(
            &e,
            MemError::Sys {
                op: SysOp::GemClose,
                ..
            }
        ),
        "{e}"
    );

    // An export that is not a dma-buf (here: the host's memfd) is refused, and closed.
    let e = fails_clean(Script::default(), 1 << 20, 4096);
    assert!(matches!(e, MemError::WrongFdKind(_)), "{e}");
}

#[test]
fn allocations_take_the_buffers_pitch() {
    let (heap, fake) = heap(Script::default());
    // 640 RGBA pixels a row, 480 rows: a 640 x 480 dumb buffer, so the host reads the rows
    // where the mapper wrote them.
    let _ = heap.allocate_shaped(640 * 4 * 480, 640 * 4, "t");
    // A size that is not whole rows gets one more row; a pitch that is not whole 32-bit pixels
    // (a 3-byte format) gets the container shape.
    let _ = heap.allocate_shaped(2560 * 10 + 4096, 2560, "t");
    let _ = heap.allocate_shaped(3 * 4096, 999, "t");
    let _ = heap.allocate(8192, "t");
    assert_eq!(
        *fake.created.lock().unwrap(),
        [(640, 480), (640, 12), (1024, 3), (1024, 2)]
    );
    assert!(fake.live.lock().unwrap().is_empty());
    assert_eq!(heap.kind(), BufferKind::Drm);
    // Its buffers of one size but different pitches are different shapes: pooled apart.
    assert!(heap.shapes_to_pitch());
    assert_eq!(heap.describe(), "drm fakegpu (/dev/dri/card9)");
}

#[test]
fn a_missing_device_is_named() {
    let dir = std::env::temp_dir().join(format!("cg-dri-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let e = DrmHeap::open(&dir, "virtio_gpu").unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("virtio_gpu") && text.contains("it has none"),
        "{text}"
    );
    assert!(
        matches!(
            e,
            MemError::HeapUnavailable {
                role: HeapRole::Device,
                ..
            }
        ),
        "{e:?}"
    );
    // A card node that is not a DRM device (a regular file here) is listed with its error.
    std::fs::write(dir.join("card0"), b"").unwrap();
    let text = DrmHeap::open(&dir, "virtio_gpu").unwrap_err().to_string();
    assert!(text.contains("card0"), "{text}");
    let e = DrmHeap::open(Path::new("/nonexistent/dri"), "virtio_gpu").unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOENT), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
