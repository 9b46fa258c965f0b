//! The V4L2 and KMS calls the probe tier's judges make and a probe never does: setting a format,
//! an input and a control, streaming, MMAP buffers, and framebuffers. The struct layouts are the
//! probe crate's (`central_gralloc_probe::sys`); each wrapper owns its argument for the call.

use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

use central_gralloc_probe::sys::{V4l2Buffer, V4l2Format, V4l2PixFormat};
use nix::errno::Errno;
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

/// `struct v4l2_control`.
#[repr(C)]
struct V4l2Control {
    id: u32,
    value: i32,
}

/// `struct drm_mode_fb_cmd2`.
#[repr(C)]
#[derive(Default)]
pub struct DrmModeFbCmd2 {
    /// Out: the framebuffer id.
    pub fb_id: u32,
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// DRM fourcc.
    pub pixel_format: u32,
    /// Flags (modifiers: none).
    pub flags: u32,
    /// GEM handle of each plane.
    pub handles: [u32; 4],
    /// Pitch of each plane.
    pub pitches: [u32; 4],
    /// Offset of each plane.
    pub offsets: [u32; 4],
    /// Modifier of each plane (unused without the flag).
    pub modifier: [u64; 4],
}

nix::ioctl_readwrite!(vidioc_s_fmt, b'V', 5, V4l2Format);
nix::ioctl_readwrite!(vidioc_querybuf, b'V', 9, V4l2Buffer);
nix::ioctl_readwrite!(vidioc_dqbuf, b'V', 17, V4l2Buffer);
nix::ioctl_write_ptr!(vidioc_streamon, b'V', 18, libc::c_int);
nix::ioctl_write_ptr!(vidioc_streamoff, b'V', 19, libc::c_int);
nix::ioctl_readwrite!(vidioc_s_ctrl, b'V', 28, V4l2Control);
nix::ioctl_readwrite!(vidioc_s_input, b'V', 39, libc::c_int);
nix::ioctl_readwrite!(drm_mode_rmfb, b'd', 0xaf, u32);
nix::ioctl_readwrite!(drm_mode_addfb2, b'd', 0xb8, DrmModeFbCmd2);

/// `VIDIOC_S_FMT` of a single-planar capture format; the driver's answer.
pub fn s_fmt(fd: BorrowedFd<'_>, pix: V4l2PixFormat) -> Result<V4l2PixFormat, Errno> {
    let mut arg = V4l2Format::single(central_gralloc_probe::sys::V4L2_BUF_TYPE_VIDEO_CAPTURE, pix);
    // SAFETY: `arg` is a live, correctly sized `struct v4l2_format` for the whole call.
    unsafe { vidioc_s_fmt(fd.as_raw_fd(), &mut arg) }?;
    Ok(arg.fmt.pix)
}

/// `VIDIOC_S_INPUT`.
pub fn s_input(fd: BorrowedFd<'_>, input: u32) -> Result<(), Errno> {
    let mut arg = libc::c_int::try_from(input).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `arg` is a live int for the whole call.
    unsafe { vidioc_s_input(fd.as_raw_fd(), &mut arg) }.map(drop)
}

/// `VIDIOC_S_CTRL`.
pub fn s_ctrl(fd: BorrowedFd<'_>, id: u32, value: i32) -> Result<(), Errno> {
    let mut arg = V4l2Control { id, value };
    // SAFETY: `arg` is a live `struct v4l2_control` for the whole call.
    unsafe { vidioc_s_ctrl(fd.as_raw_fd(), &mut arg) }.map(drop)
}

/// `VIDIOC_QUERYBUF`.
pub fn querybuf(fd: BorrowedFd<'_>, buffer: &mut V4l2Buffer) -> Result<(), Errno> {
    // SAFETY: `buffer` is a live `struct v4l2_buffer` for the whole call.
    unsafe { vidioc_querybuf(fd.as_raw_fd(), buffer) }.map(drop)
}

/// `VIDIOC_DQBUF`.
pub fn dqbuf(fd: BorrowedFd<'_>, buffer: &mut V4l2Buffer) -> Result<(), Errno> {
    // SAFETY: `buffer` is a live `struct v4l2_buffer` for the whole call.
    unsafe { vidioc_dqbuf(fd.as_raw_fd(), buffer) }.map(drop)
}

/// `VIDIOC_STREAMON` (`on`) or `VIDIOC_STREAMOFF` of the capture queue.
pub fn stream(fd: BorrowedFd<'_>, on: bool) -> Result<(), Errno> {
    let kind = central_gralloc_probe::sys::V4L2_BUF_TYPE_VIDEO_CAPTURE as libc::c_int;
    // SAFETY: `kind` is a live int the kernel only reads.
    unsafe {
        if on {
            vidioc_streamon(fd.as_raw_fd(), &kind)
        } else {
            vidioc_streamoff(fd.as_raw_fd(), &kind)
        }
    }
    .map(drop)
}

/// A KMS framebuffer; removed on drop.
pub struct Framebuffer<'a> {
    card: BorrowedFd<'a>,
    id: u32,
}

/// `DRM_IOCTL_MODE_ADDFB2`.
pub fn addfb2<'a>(card: BorrowedFd<'a>, cmd: &mut DrmModeFbCmd2) -> Result<Framebuffer<'a>, Errno> {
    // SAFETY: `cmd` is a live `struct drm_mode_fb_cmd2` for the whole call.
    unsafe { drm_mode_addfb2(card.as_raw_fd(), cmd) }?;
    Ok(Framebuffer {
        card,
        id: cmd.fb_id,
    })
}

impl Drop for Framebuffer<'_> {
    fn drop(&mut self) {
        let mut id = self.id;
        // SAFETY: the id is this framebuffer's, removed once; `id` lives for the call.
        let _ = unsafe { drm_mode_rmfb(self.card.as_raw_fd(), &mut id) };
    }
}

/// A read-only shared mapping of `len` bytes at `offset` of an fd (a V4L2 MMAP buffer); copied
/// out, never referenced, since the driver writes it.
pub struct Mapped {
    addr: NonNull<std::ffi::c_void>,
    len: NonZeroUsize,
}

impl Mapped {
    /// Maps the buffer.
    pub fn new(fd: BorrowedFd<'_>, len: usize, offset: u32) -> Result<Mapped, Errno> {
        let len = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
        let offset = libc::off_t::from(offset);
        // SAFETY: a fresh mapping at an address the kernel picks aliases no Rust object.
        let addr = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ,
                MapFlags::MAP_SHARED,
                fd,
                offset,
            )
        }?;
        Ok(Mapped { addr, len })
    }

    /// A copy of the first `len` bytes.
    pub fn copy(&self, len: usize) -> Vec<u8> {
        let len = len.min(self.len.get());
        let mut out = vec![0u8; len];
        // SAFETY: `len` is within the live mapping; `out` is a distinct buffer of `len` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(self.addr.as_ptr().cast::<u8>(), out.as_mut_ptr(), len)
        };
        out
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: exactly what mmap returned; no reference into it outlives `self`.
        let _ = unsafe { munmap(self.addr, self.len.get()) };
    }
}
