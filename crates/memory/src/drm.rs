//! Device-exported memory: dumb buffers a DRM device allocates and exports as dma-bufs, for the
//! profile's `device` heap (devices that import nothing but their own driver's memory).
//!
//! Why dumb buffers, on virtio-gpu (the first such device): its driver copies a dumb buffer's
//! pages to the host resource at every plane update (modeset, page flip, `DIRTYFB`), so what a
//! client writes through the mapper reaches the screen with no call from the client, the
//! mapper or the composer. A resource made with `DRM_IOCTL_VIRTGPU_RESOURCE_CREATE` reaches the
//! host only through `DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST` on a GEM handle of that device: every
//! process that writes would need the DRM node open, a PRIME import per buffer and the transfer
//! after each write, and policy letting every client domain do so. Dumb buffers cost one thing:
//! they are made on the card (primary) node, so the allocator gives up DRM master there.
//!
//! A dumb buffer is `width` 32-bit pixels by `height` rows with a pitch of exactly `width * 4`.
//! The host reads a scanout's rows at the resource's own width, so the allocation is shaped to
//! the buffer's first plane: `pitch / 4` pixels wide, as many rows as the size needs. A buffer
//! whose pitch is not a multiple of 4 (never a scanout format) gets a 4096-byte pitch.
//!
//! Every path closes the GEM handle; the exported dma-buf alone keeps the memory.

use crate::error::{MemError, SysOp};
use crate::heap::{name_dma_buf, BufferKind, Heap};
use crate::sys::{self, fd_kind, DumbBuffer, FdKind};
use central_gralloc::profile::HeapRole;
use nix::errno::Errno;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where DRM device nodes live.
pub const DRI_DIR: &str = "/dev/dri";

/// Pitch used when a buffer's rows cannot be a dumb buffer's (not whole 32-bit pixels).
const CONTAINER_PITCH: u64 = 4096;

/// The DRM calls the device heap makes; a trait so the cleanup on every failure path can be
/// tested against a device that fails on purpose.
pub(crate) trait DumbDevice: Send + Sync + fmt::Debug {
    /// `DRM_IOCTL_MODE_CREATE_DUMB` with 32 bits per pixel.
    fn create(&self, width: u32, height: u32) -> Result<DumbBuffer, Errno>;
    /// `DRM_IOCTL_PRIME_HANDLE_TO_FD` (close-on-exec, read-write).
    fn export(&self, handle: u32) -> Result<OwnedFd, Errno>;
    /// `DRM_IOCTL_GEM_CLOSE`.
    fn close(&self, handle: u32) -> Result<(), Errno>;
}

/// An open card node.
#[derive(Debug)]
struct Card(OwnedFd);

impl DumbDevice for Card {
    fn create(&self, width: u32, height: u32) -> Result<DumbBuffer, Errno> {
        sys::drm_create_dumb(self.0.as_fd(), width, height)
    }
    fn export(&self, handle: u32) -> Result<OwnedFd, Errno> {
        sys::drm_prime_export(self.0.as_fd(), handle)
    }
    fn close(&self, handle: u32) -> Result<(), Errno> {
        sys::drm_gem_close(self.0.as_fd(), handle)
    }
}

/// Memory one DRM device allocates and exports.
#[derive(Debug)]
pub struct DrmHeap {
    driver: String,
    node: PathBuf,
    device: Box<dyn DumbDevice>,
}

/// The card nodes (`cardN`) under `dir`, in number order.
fn card_nodes(dir: &Path) -> Result<Vec<PathBuf>, MemError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        MemError::sys_on(SysOp::ReadDir, errno, dir.display().to_string())
    })?;
    let mut cards: Vec<(u32, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let number = name.strip_prefix("card")?.parse::<u32>().ok()?;
            Some((number, e.path()))
        })
        .collect();
    cards.sort();
    Ok(cards.into_iter().map(|(_, path)| path).collect())
}

impl DrmHeap {
    /// Opens the card node under `dir` whose driver is `driver` (as `DRM_IOCTL_VERSION` names
    /// it) and gives up DRM master on it, so the composer can still become master. The error
    /// says which nodes exist and what they are.
    pub fn open(dir: &Path, driver: &str) -> Result<DrmHeap, MemError> {
        let mut seen = Vec::new();
        for node in card_nodes(dir)? {
            let card = match sys::open(&node, libc::O_RDWR) {
                Ok(card) => card,
                Err(e) => {
                    seen.push(format!("{}: {e}", node.display()));
                    continue;
                }
            };
            match sys::drm_driver_name(card.as_fd()) {
                Ok(name) if name == driver => {
                    sys::drm_drop_master(card.as_fd()).map_err(|e| {
                        MemError::sys_on(
                            SysOp::DropMaster,
                            e,
                            format!("{driver} ({})", node.display()),
                        )
                    })?;
                    return Ok(DrmHeap {
                        driver: driver.to_string(),
                        node,
                        device: Box::new(Card(card)),
                    });
                }
                Ok(name) => seen.push(format!("{} is {name}", node.display())),
                Err(e) => seen.push(format!("{}: {e}", node.display())),
            }
        }
        Err(MemError::HeapUnavailable {
            role: HeapRole::Device,
            reason: format!(
                "no DRM card node of driver `{driver}` in {} ({})",
                dir.display(),
                if seen.is_empty() {
                    "it has none".to_string()
                } else {
                    seen.join(", ")
                }
            ),
        })
    }

    /// A heap over `device` (fault tests).
    #[cfg(test)]
    pub(crate) fn with_device(driver: &str, node: &str, device: Box<dyn DumbDevice>) -> DrmHeap {
        DrmHeap {
            driver: driver.to_string(),
            node: PathBuf::from(node),
            device,
        }
    }

    /// The DRM driver name.
    pub fn driver(&self) -> &str {
        &self.driver
    }

    /// The card node it allocates on.
    pub fn node(&self) -> &Path {
        &self.node
    }

    /// The device as errors name it: `virtio_gpu (/dev/dri/card0)`.
    fn who(&self) -> String {
        format!("{} ({})", self.driver, self.node.display())
    }

    /// Width and height of the dumb buffer holding `size` bytes in rows of `pitch` bytes.
    fn shape(&self, size: u64, pitch: u64) -> Result<(u32, u32), MemError> {
        let pitch = if pitch >= 4 && pitch % 4 == 0 && pitch / 4 <= u64::from(u32::MAX) {
            pitch
        } else {
            CONTAINER_PITCH
        };
        let rows = u32::try_from(size.div_ceil(pitch)).map_err(|_| MemError::TooLarge {
            what: "dumb buffer rows",
            bytes: size,
            limit: u64::from(u32::MAX).saturating_mul(pitch),
        })?;
        // `pitch / 4` fits: checked above, or the container pitch.
        let width = u32::try_from(pitch / 4).unwrap_or(u32::MAX);
        Ok((width, rows.max(1)))
    }

    /// Allocates `size` bytes shaped to rows of `pitch` bytes, exports them and names the
    /// dma-buf. The GEM handle is closed on every path; on error no fd is left either.
    pub fn allocate_shaped(&self, size: u64, pitch: u64, name: &str) -> Result<OwnedFd, MemError> {
        let (width, height) = self.shape(size, pitch)?;
        let who = self.who();
        let dumb = self
            .device
            .create(width, height)
            .map_err(|e| MemError::sys_on(SysOp::DumbCreate, e, who.clone()))?;
        let exported = if dumb.size < size {
            Err(MemError::DeviceShort {
                device: who.clone(),
                what: "dumb buffer",
                bytes: dumb.size,
                wanted: size,
            })
        } else {
            self.device
                .export(dumb.handle)
                .map_err(|e| MemError::sys_on(SysOp::PrimeExport, e, who.clone()))
        };
        let closed = self.device.close(dumb.handle);
        let fd = exported?;
        closed.map_err(|e| MemError::sys_on(SysOp::GemClose, e, who.clone()))?;
        let kind = fd_kind(fd.as_fd())?;
        if kind.size() < size {
            return Err(MemError::DeviceShort {
                device: who,
                what: "exported dma-buf",
                bytes: kind.size(),
                wanted: size,
            });
        }
        if !matches!(kind, FdKind::DmaBuf(_)) {
            return Err(MemError::WrongFdKind("an export that is not a dma-buf"));
        }
        name_dma_buf(fd.as_fd(), name, &who)?;
        Ok(fd)
    }
}

impl Heap for DrmHeap {
    fn kind(&self) -> BufferKind {
        BufferKind::Drm
    }
    fn describe(&self) -> String {
        format!("drm {}", self.who())
    }
    fn allocate(&self, size: u64, name: &str) -> Result<OwnedFd, MemError> {
        self.allocate_shaped(size, 0, name)
    }
    fn allocate_with_pitch(&self, size: u64, pitch: u64, name: &str) -> Result<OwnedFd, MemError> {
        self.allocate_shaped(size, pitch, name)
    }
    fn shapes_to_pitch(&self) -> bool {
        true
    }
    fn rename(&self, fd: BorrowedFd<'_>, name: &str) -> Result<(), MemError> {
        name_dma_buf(fd, name, &self.who())
    }
}

#[cfg(test)]
mod tests;
