//! The DRM/KMS and V4L2 ioctls the probe issues: the uapi struct layouts (drm/drm.h,
//! drm/drm_mode.h, linux/videodev2.h) and one safe wrapper per call.
//!
//! This is the only file of the crate with `unsafe`. Each wrapper owns the argument struct and
//! every buffer the kernel writes through it, sized by the caller's count, so the kernel can never
//! write past what the wrapper allocated; counts the kernel returns are checked by the callers.
//! The structs are public so the kernel tier's judges can declare the calls a probe never makes
//! (S_FMT, STREAMON, ADDFB2) over the same layouts.

use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

// ---- DRM -------------------------------------------------------------------------------------

/// `struct drm_version`.
#[repr(C)]
pub struct DrmVersion {
    /// Major version.
    pub version_major: i32,
    /// Minor version.
    pub version_minor: i32,
    /// Patch level.
    pub version_patchlevel: i32,
    /// In: bytes at `name`; out: the name's full length.
    pub name_len: usize,
    /// Buffer for the driver name.
    pub name: *mut u8,
    /// As `name_len`, for `date`.
    pub date_len: usize,
    /// Buffer for the date (unused: length 0).
    pub date: *mut u8,
    /// As `name_len`, for `desc`.
    pub desc_len: usize,
    /// Buffer for the description.
    pub desc: *mut u8,
}

/// `struct drm_get_cap` and `struct drm_set_client_cap` (same layout).
#[repr(C)]
#[derive(Default)]
pub struct DrmCap {
    /// The capability.
    pub capability: u64,
    /// Its value.
    pub value: u64,
}

/// `struct drm_mode_card_res`.
#[repr(C)]
#[derive(Default)]
pub struct DrmModeCardRes {
    /// Pointer to a u32 array of framebuffer ids.
    pub fb_id_ptr: u64,
    /// Pointer to a u32 array of CRTC ids.
    pub crtc_id_ptr: u64,
    /// Pointer to a u32 array of connector ids.
    pub connector_id_ptr: u64,
    /// Pointer to a u32 array of encoder ids.
    pub encoder_id_ptr: u64,
    /// Framebuffers.
    pub count_fbs: u32,
    /// CRTCs.
    pub count_crtcs: u32,
    /// Connectors.
    pub count_connectors: u32,
    /// Encoders.
    pub count_encoders: u32,
    /// Mode-config minimum width.
    pub min_width: u32,
    /// Mode-config maximum width.
    pub max_width: u32,
    /// Mode-config minimum height.
    pub min_height: u32,
    /// Mode-config maximum height.
    pub max_height: u32,
}

/// `struct drm_mode_get_plane_res`.
#[repr(C)]
#[derive(Default)]
struct DrmModeGetPlaneRes {
    plane_id_ptr: u64,
    count_planes: u32,
}

/// `struct drm_mode_get_plane`.
#[repr(C)]
#[derive(Default)]
struct DrmModeGetPlane {
    plane_id: u32,
    crtc_id: u32,
    fb_id: u32,
    possible_crtcs: u32,
    gamma_size: u32,
    count_format_types: u32,
    format_type_ptr: u64,
}

/// `struct drm_mode_obj_get_properties`.
#[repr(C)]
#[derive(Default)]
struct DrmModeObjGetProperties {
    props_ptr: u64,
    prop_values_ptr: u64,
    count_props: u32,
    obj_id: u32,
    obj_type: u32,
}

/// `struct drm_mode_get_property`.
#[repr(C)]
#[derive(Default)]
struct DrmModeGetProperty {
    values_ptr: u64,
    enum_blob_ptr: u64,
    prop_id: u32,
    flags: u32,
    name: [u8; 32],
    count_values: u32,
    count_enum_blobs: u32,
}

/// `struct drm_mode_get_blob`.
#[repr(C)]
#[derive(Default)]
struct DrmModeGetBlob {
    blob_id: u32,
    length: u32,
    data: u64,
}

/// `struct drm_mode_create_dumb`.
#[repr(C)]
#[derive(Default)]
pub struct DrmModeCreateDumb {
    /// Rows.
    pub height: u32,
    /// Pixels per row.
    pub width: u32,
    /// Bits per pixel.
    pub bpp: u32,
    /// Must be 0.
    pub flags: u32,
    /// Out: the GEM handle.
    pub handle: u32,
    /// Out: the pitch the driver chose.
    pub pitch: u32,
    /// Out: the object's size.
    pub size: u64,
}

/// `struct drm_prime_handle`.
#[repr(C)]
#[derive(Default)]
pub struct DrmPrimeHandle {
    /// The GEM handle.
    pub handle: u32,
    /// Flags (export only).
    pub flags: u32,
    /// The dma-buf fd.
    pub fd: i32,
}

/// `struct drm_gem_close`.
#[repr(C)]
#[derive(Default)]
pub struct DrmGemClose {
    /// The GEM handle.
    pub handle: u32,
    /// Padding.
    pub pad: u32,
}

/// `DRM_MODE_OBJECT_PLANE`.
const DRM_MODE_OBJECT_PLANE: u32 = 0xeeee_eeee;
/// `DRM_CLIENT_CAP_UNIVERSAL_PLANES`.
pub const DRM_CLIENT_CAP_UNIVERSAL_PLANES: u64 = 2;
/// `DRM_CAP_PRIME` and its bits.
pub const DRM_CAP_PRIME: u64 = 5;
/// `DRM_PRIME_CAP_IMPORT`.
pub const DRM_PRIME_CAP_IMPORT: u64 = 1;

mod drm_ioctl {
    use super::*;
    nix::ioctl_readwrite!(version, b'd', 0x00, DrmVersion);
    nix::ioctl_write_ptr!(gem_close, b'd', 0x09, DrmGemClose);
    nix::ioctl_readwrite!(get_cap, b'd', 0x0c, DrmCap);
    nix::ioctl_write_ptr!(set_client_cap, b'd', 0x0d, DrmCap);
    nix::ioctl_readwrite!(prime_fd_to_handle, b'd', 0x2e, DrmPrimeHandle);
    nix::ioctl_readwrite!(mode_getresources, b'd', 0xa0, DrmModeCardRes);
    nix::ioctl_readwrite!(mode_getproperty, b'd', 0xaa, DrmModeGetProperty);
    nix::ioctl_readwrite!(mode_getpropblob, b'd', 0xac, DrmModeGetBlob);
    nix::ioctl_readwrite!(mode_create_dumb, b'd', 0xb2, DrmModeCreateDumb);
    nix::ioctl_readwrite!(mode_destroy_dumb, b'd', 0xb4, u32);
    nix::ioctl_readwrite!(mode_getplaneresources, b'd', 0xb5, DrmModeGetPlaneRes);
    nix::ioctl_readwrite!(mode_getplane, b'd', 0xb6, DrmModeGetPlane);
    nix::ioctl_readwrite!(mode_obj_getproperties, b'd', 0xb9, DrmModeObjGetProperties);
}

/// Issues `call` again when a signal interrupted it (DRM ioctls restart on EINTR/EAGAIN).
fn restart<T>(mut call: impl FnMut() -> nix::Result<T>) -> nix::Result<T> {
    let mut left = 100;
    loop {
        match call() {
            Err(Errno::EINTR) | Err(Errno::EAGAIN) if left > 0 => left -= 1,
            other => return other,
        }
    }
}

/// Longest driver name or description the probe reads.
const DRM_STRING_MAX: usize = 256;

/// `DRM_IOCTL_VERSION`: (driver name, description, major, minor, patch).
pub fn drm_version(fd: BorrowedFd<'_>) -> Result<(String, String, [i32; 3]), Errno> {
    let mut name = vec![0u8; DRM_STRING_MAX];
    let mut desc = vec![0u8; DRM_STRING_MAX];
    let mut arg = DrmVersion {
        version_major: 0,
        version_minor: 0,
        version_patchlevel: 0,
        name_len: name.len(),
        name: name.as_mut_ptr(),
        date_len: 0,
        date: std::ptr::null_mut(),
        desc_len: desc.len(),
        desc: desc.as_mut_ptr(),
    };
    restart(|| {
        // SAFETY: `arg` points at `name` and `desc`, each valid for the length given beside it
        // for the whole call; the kernel copies at most that many bytes and never keeps them.
        unsafe { drm_ioctl::version(fd.as_raw_fd(), &mut arg) }
    })?;
    let text = |buf: &[u8], len: usize| {
        let bytes = buf.get(..len.min(buf.len())).unwrap_or_default();
        String::from_utf8_lossy(bytes)
            .trim_end_matches('\0')
            .to_string()
    };
    Ok((
        text(&name, arg.name_len),
        text(&desc, arg.desc_len),
        [arg.version_major, arg.version_minor, arg.version_patchlevel],
    ))
}

/// `DRM_IOCTL_GET_CAP`.
pub fn drm_get_cap(fd: BorrowedFd<'_>, capability: u64) -> Result<u64, Errno> {
    let mut arg = DrmCap {
        capability,
        value: 0,
    };
    // SAFETY: `arg` is a live `struct drm_get_cap` for the whole call.
    restart(|| unsafe { drm_ioctl::get_cap(fd.as_raw_fd(), &mut arg) })?;
    Ok(arg.value)
}

/// `DRM_IOCTL_SET_CLIENT_CAP`.
pub fn drm_set_client_cap(fd: BorrowedFd<'_>, capability: u64, value: u64) -> Result<(), Errno> {
    let arg = DrmCap { capability, value };
    // SAFETY: `arg` is a live `struct drm_set_client_cap` the kernel only reads.
    restart(|| unsafe { drm_ioctl::set_client_cap(fd.as_raw_fd(), &arg) }).map(drop)
}

/// `DRM_IOCTL_MODE_GETRESOURCES` with every id array left out: counts and mode-config limits.
pub fn drm_mode_resources(fd: BorrowedFd<'_>) -> Result<DrmModeCardRes, Errno> {
    let mut arg = DrmModeCardRes::default();
    // SAFETY: all four array pointers are null with zero counts, so the kernel writes only `arg`.
    restart(|| unsafe { drm_ioctl::mode_getresources(fd.as_raw_fd(), &mut arg) })?;
    Ok(arg)
}

/// Runs a count-then-fill ioctl: `fill(ptr, capacity)` returns the kernel's count, which must not
/// exceed `max`; the array is read once at the reported size and once more if the count grew in
/// between (a hot-plug), then refused.
fn counted_u32s(
    max: u32,
    mut fill: impl FnMut(*mut u32, u32) -> Result<u32, Errno>,
) -> Result<Result<Vec<u32>, u32>, Errno> {
    let mut count = fill(std::ptr::null_mut(), 0)?;
    for _ in 0..2 {
        if count > max {
            return Ok(Err(count));
        }
        let mut ids = vec![0u32; count as usize];
        let got = fill(ids.as_mut_ptr(), count)?;
        if got <= count {
            ids.truncate(got as usize);
            return Ok(Ok(ids));
        }
        count = got;
    }
    Ok(Err(count))
}

/// `DRM_IOCTL_MODE_GETPLANERESOURCES`: the plane ids, or `Err(count)` when more than `max`.
pub fn drm_plane_ids(fd: BorrowedFd<'_>, max: u32) -> Result<Result<Vec<u32>, u32>, Errno> {
    counted_u32s(max, |ptr, capacity| {
        let mut arg = DrmModeGetPlaneRes {
            plane_id_ptr: ptr as u64,
            count_planes: capacity,
        };
        // SAFETY: `ptr` is null with capacity 0, or valid for `capacity` u32s (allocated by
        // `counted_u32s`); the kernel writes at most `count_planes` ids.
        restart(|| unsafe { drm_ioctl::mode_getplaneresources(fd.as_raw_fd(), &mut arg) })?;
        Ok(arg.count_planes)
    })
}

/// `DRM_IOCTL_MODE_GETPLANE`: the plane's formats, or `Err(count)` when more than `max`.
pub fn drm_plane_formats(
    fd: BorrowedFd<'_>,
    plane: u32,
    max: u32,
) -> Result<Result<Vec<u32>, u32>, Errno> {
    counted_u32s(max, |ptr, capacity| {
        let mut arg = DrmModeGetPlane {
            plane_id: plane,
            count_format_types: capacity,
            format_type_ptr: ptr as u64,
            ..Default::default()
        };
        // SAFETY: `ptr` is null with capacity 0, or valid for `capacity` u32s; the kernel copies
        // the formats only when they fit in `count_format_types`.
        restart(|| unsafe { drm_ioctl::mode_getplane(fd.as_raw_fd(), &mut arg) })?;
        Ok(arg.count_format_types)
    })
}

/// `DRM_IOCTL_MODE_OBJ_GETPROPERTIES` of a plane: (property id, value) pairs, or `Err(count)`.
pub fn drm_plane_properties(
    fd: BorrowedFd<'_>,
    plane: u32,
    max: u32,
) -> Result<Result<Vec<(u32, u64)>, u32>, Errno> {
    let ask = |ids: *mut u32, values: *mut u64, capacity: u32| {
        let mut arg = DrmModeObjGetProperties {
            props_ptr: ids as u64,
            prop_values_ptr: values as u64,
            count_props: capacity,
            obj_id: plane,
            obj_type: DRM_MODE_OBJECT_PLANE,
        };
        // SAFETY: both pointers are null with capacity 0, or valid for `capacity` elements of
        // their type; the kernel copies only when the properties fit.
        restart(|| unsafe { drm_ioctl::mode_obj_getproperties(fd.as_raw_fd(), &mut arg) })?;
        Ok(arg.count_props)
    };
    let mut count = ask(std::ptr::null_mut(), std::ptr::null_mut(), 0)?;
    for _ in 0..2 {
        if count > max {
            return Ok(Err(count));
        }
        let mut ids = vec![0u32; count as usize];
        let mut values = vec![0u64; count as usize];
        let got = ask(ids.as_mut_ptr(), values.as_mut_ptr(), count)?;
        if got <= count {
            return Ok(Ok(ids.into_iter().zip(values).take(got as usize).collect()));
        }
        count = got;
    }
    Ok(Err(count))
}

/// `DRM_IOCTL_MODE_GETPROPERTY`: the property's name only (no values, no enum entries).
pub fn drm_property_name(fd: BorrowedFd<'_>, property: u32) -> Result<String, Errno> {
    let mut arg = DrmModeGetProperty {
        prop_id: property,
        ..Default::default()
    };
    // SAFETY: both array pointers are null with zero counts, so the kernel writes only `arg`.
    restart(|| unsafe { drm_ioctl::mode_getproperty(fd.as_raw_fd(), &mut arg) })?;
    let end = arg
        .name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(arg.name.len());
    Ok(String::from_utf8_lossy(arg.name.get(..end).unwrap_or_default()).into_owned())
}

/// `DRM_IOCTL_MODE_GETPROPBLOB`: the blob's bytes, or `Err(length)` when longer than `max`.
pub fn drm_blob(fd: BorrowedFd<'_>, blob: u32, max: u32) -> Result<Result<Vec<u8>, u32>, Errno> {
    let ask = |ptr: *mut u8, capacity: u32| {
        let mut arg = DrmModeGetBlob {
            blob_id: blob,
            length: capacity,
            data: ptr as u64,
        };
        // SAFETY: `ptr` is null with capacity 0, or valid for `capacity` bytes; the kernel copies
        // the blob only when it fits.
        restart(|| unsafe { drm_ioctl::mode_getpropblob(fd.as_raw_fd(), &mut arg) })?;
        Ok(arg.length)
    };
    let length = ask(std::ptr::null_mut(), 0)?;
    if length > max {
        return Ok(Err(length));
    }
    let mut data = vec![0u8; length as usize];
    let got = ask(data.as_mut_ptr(), length)?;
    if got != length {
        // A blob's contents never change; a different length means a different blob.
        return Ok(Err(got));
    }
    Ok(Ok(data))
}

/// A dumb buffer; destroyed on drop.
pub struct DumbBuffer<'a> {
    fd: BorrowedFd<'a>,
    /// What the driver answered (handle, pitch, size).
    pub info: DrmModeCreateDumb,
}

/// `DRM_IOCTL_MODE_CREATE_DUMB`.
pub fn drm_create_dumb(
    fd: BorrowedFd<'_>,
    width: u32,
    height: u32,
    bpp: u32,
) -> Result<DumbBuffer<'_>, Errno> {
    let mut info = DrmModeCreateDumb {
        width,
        height,
        bpp,
        ..Default::default()
    };
    // SAFETY: `info` is a live `struct drm_mode_create_dumb` for the whole call.
    restart(|| unsafe { drm_ioctl::mode_create_dumb(fd.as_raw_fd(), &mut info) })?;
    Ok(DumbBuffer { fd, info })
}

impl Drop for DumbBuffer<'_> {
    fn drop(&mut self) {
        let mut handle = self.info.handle;
        // SAFETY: the handle is this buffer's, destroyed once; the argument lives for the call.
        let _ = unsafe { drm_ioctl::mode_destroy_dumb(self.fd.as_raw_fd(), &mut handle) };
    }
}

/// A GEM handle of an imported dma-buf; closed on drop.
pub struct ImportedGem<'a> {
    fd: BorrowedFd<'a>,
    /// The handle.
    pub handle: u32,
}

/// `DRM_IOCTL_PRIME_FD_TO_HANDLE`: imports `buf` into the device.
pub fn drm_prime_import<'a>(
    fd: BorrowedFd<'a>,
    buf: BorrowedFd<'_>,
) -> Result<ImportedGem<'a>, Errno> {
    let mut arg = DrmPrimeHandle {
        fd: buf.as_raw_fd(),
        ..Default::default()
    };
    // SAFETY: `arg` is a live `struct drm_prime_handle`; the kernel takes its own reference to
    // the dma-buf and returns a handle we own.
    restart(|| unsafe { drm_ioctl::prime_fd_to_handle(fd.as_raw_fd(), &mut arg) })?;
    Ok(ImportedGem {
        fd,
        handle: arg.handle,
    })
}

impl Drop for ImportedGem<'_> {
    fn drop(&mut self) {
        let arg = DrmGemClose {
            handle: self.handle,
            pad: 0,
        };
        // SAFETY: the handle is ours and closed once; `arg` lives for the call.
        let _ = unsafe { drm_ioctl::gem_close(self.fd.as_raw_fd(), &arg) };
    }
}

// ---- V4L2 ------------------------------------------------------------------------------------

/// `struct v4l2_capability`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct V4l2Capability {
    /// Driver name.
    pub driver: [u8; 16],
    /// Device name.
    pub card: [u8; 32],
    /// Bus location.
    pub bus_info: [u8; 32],
    /// `KERNEL_VERSION` of the driver.
    pub version: u32,
    /// Capabilities of the whole physical device.
    pub capabilities: u32,
    /// Capabilities of this node (valid when `capabilities` has `V4L2_CAP_DEVICE_CAPS`).
    pub device_caps: u32,
    /// Reserved.
    pub reserved: [u32; 3],
}

/// `struct v4l2_fmtdesc`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct V4l2FmtDesc {
    /// Which entry.
    pub index: u32,
    /// Buffer type.
    pub type_: u32,
    /// `V4L2_FMT_FLAG_*`.
    pub flags: u32,
    /// Description.
    pub description: [u8; 32],
    /// The fourcc.
    pub pixelformat: u32,
    /// Media bus code filter.
    pub mbus_code: u32,
    /// Reserved.
    pub reserved: [u32; 3],
}

/// `struct v4l2_pix_format`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct V4l2PixFormat {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// The fourcc.
    pub pixelformat: u32,
    /// `enum v4l2_field`.
    pub field: u32,
    /// Row pitch of the first plane.
    pub bytesperline: u32,
    /// Bytes of one frame.
    pub sizeimage: u32,
    /// Colour space.
    pub colorspace: u32,
    /// Private.
    pub priv_: u32,
    /// Flags.
    pub flags: u32,
    /// Y'CbCr (or HSV) encoding.
    pub ycbcr_enc: u32,
    /// Quantization.
    pub quantization: u32,
    /// Transfer function.
    pub xfer_func: u32,
}

/// The `fmt` union of `struct v4l2_format`: 200 bytes, aligned like a pointer (the union holds
/// `struct v4l2_window`, which has pointers), of which the probe reads the single-planar `pix`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct V4l2FormatUnion {
    /// The single-planar format.
    pub pix: V4l2PixFormat,
    rest: [u8; 200 - std::mem::size_of::<V4l2PixFormat>()],
    _align: [usize; 0],
}

/// `struct v4l2_format`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct V4l2Format {
    /// Buffer type.
    pub type_: u32,
    /// The format.
    pub fmt: V4l2FormatUnion,
}

impl V4l2Format {
    /// A single-planar format of buffer type `type_`.
    pub fn single(type_: u32, pix: V4l2PixFormat) -> V4l2Format {
        V4l2Format {
            type_,
            fmt: V4l2FormatUnion {
                pix,
                rest: [0; 200 - std::mem::size_of::<V4l2PixFormat>()],
                _align: [],
            },
        }
    }
}

/// `struct v4l2_frmsizeenum`; the union is read as six u32s.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct V4l2FrmSizeEnum {
    /// Which entry.
    pub index: u32,
    /// The fourcc.
    pub pixel_format: u32,
    /// `V4L2_FRMSIZE_TYPE_*`.
    pub type_: u32,
    /// Discrete: width, height; stepwise: min/max/step width, min/max/step height.
    pub sizes: [u32; 6],
    /// Reserved.
    pub reserved: [u32; 2],
}

/// `struct v4l2_requestbuffers`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct V4l2RequestBuffers {
    /// Buffers wanted; out: allocated.
    pub count: u32,
    /// Buffer type.
    pub type_: u32,
    /// `V4L2_MEMORY_*`.
    pub memory: u32,
    /// Out: `V4L2_BUF_CAP_*`.
    pub capabilities: u32,
    /// Flags.
    pub flags: u8,
    /// Reserved.
    pub reserved: [u8; 3],
}

/// `struct v4l2_timecode`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct V4l2Timecode {
    /// Fields of the timecode, unused here.
    pub fields: [u32; 2],
    /// Frames, seconds, minutes, hours, user bits.
    pub bytes: [u8; 8],
}

/// The `m` union of `struct v4l2_buffer`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union V4l2BufferM {
    /// MMAP: the offset to map.
    pub offset: u32,
    /// USERPTR: the address.
    pub userptr: libc::c_ulong,
    /// DMABUF: the dma-buf fd.
    pub fd: i32,
}

/// `struct v4l2_buffer`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct V4l2Buffer {
    /// Buffer index.
    pub index: u32,
    /// Buffer type.
    pub type_: u32,
    /// Bytes of data.
    pub bytesused: u32,
    /// `V4L2_BUF_FLAG_*`.
    pub flags: u32,
    /// Field order.
    pub field: u32,
    /// Capture time.
    pub timestamp: libc::timeval,
    /// Timecode.
    pub timecode: V4l2Timecode,
    /// Frame sequence number.
    pub sequence: u32,
    /// `V4L2_MEMORY_*`.
    pub memory: u32,
    /// Offset, pointer or fd.
    pub m: V4l2BufferM,
    /// Size of the buffer (DMABUF: of the dma-buf, 0 for all of it).
    pub length: u32,
    /// Reserved.
    pub reserved2: u32,
    /// Request fd (unused).
    pub request_fd: i32,
}

impl V4l2Buffer {
    /// A buffer description of `type_` and `memory` at `index`, everything else zero.
    pub fn new(type_: u32, memory: u32, index: u32) -> V4l2Buffer {
        V4l2Buffer {
            index,
            type_,
            bytesused: 0,
            flags: 0,
            field: 0,
            timestamp: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            timecode: V4l2Timecode::default(),
            sequence: 0,
            memory,
            m: V4l2BufferM { userptr: 0 },
            length: 0,
            reserved2: 0,
            request_fd: 0,
        }
    }
}

/// `struct v4l2_input`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct V4l2Input {
    /// Which input.
    pub index: u32,
    /// Its name.
    pub name: [u8; 32],
    /// `V4L2_INPUT_TYPE_*`.
    pub type_: u32,
    /// Audio inputs.
    pub audioset: u32,
    /// Tuner.
    pub tuner: u32,
    /// Video standards.
    pub std: u64,
    /// Status.
    pub status: u32,
    /// Capabilities.
    pub capabilities: u32,
    /// Reserved.
    pub reserved: [u32; 3],
}

/// `V4L2_BUF_TYPE_VIDEO_CAPTURE`.
pub const V4L2_BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
/// `V4L2_MEMORY_MMAP`.
pub const V4L2_MEMORY_MMAP: u32 = 1;
/// `V4L2_MEMORY_DMABUF`.
pub const V4L2_MEMORY_DMABUF: u32 = 4;
/// `V4L2_FIELD_NONE`: progressive frames.
pub const V4L2_FIELD_NONE: u32 = 1;

mod v4l2_ioctl {
    use super::*;
    nix::ioctl_read!(querycap, b'V', 0, V4l2Capability);
    nix::ioctl_readwrite!(enum_fmt, b'V', 2, V4l2FmtDesc);
    nix::ioctl_readwrite!(g_fmt, b'V', 4, V4l2Format);
    nix::ioctl_readwrite!(reqbufs, b'V', 8, V4l2RequestBuffers);
    nix::ioctl_readwrite!(qbuf, b'V', 15, V4l2Buffer);
    nix::ioctl_readwrite!(enuminput, b'V', 26, V4l2Input);
    nix::ioctl_read!(g_input, b'V', 38, libc::c_int);
    nix::ioctl_readwrite!(try_fmt, b'V', 64, V4l2Format);
    nix::ioctl_readwrite!(enum_framesizes, b'V', 74, V4l2FrmSizeEnum);
}

/// `VIDIOC_QUERYCAP`.
pub fn v4l2_querycap(fd: BorrowedFd<'_>) -> Result<V4l2Capability, Errno> {
    let mut cap = V4l2Capability {
        driver: [0; 16],
        card: [0; 32],
        bus_info: [0; 32],
        version: 0,
        capabilities: 0,
        device_caps: 0,
        reserved: [0; 3],
    };
    // SAFETY: `cap` is a live `struct v4l2_capability` the kernel fills.
    restart(|| unsafe { v4l2_ioctl::querycap(fd.as_raw_fd(), &mut cap) })?;
    Ok(cap)
}

/// `VIDIOC_ENUM_FMT` entry `index` of buffer type `type_`.
pub fn v4l2_enum_fmt(fd: BorrowedFd<'_>, type_: u32, index: u32) -> Result<V4l2FmtDesc, Errno> {
    let mut desc = V4l2FmtDesc {
        index,
        type_,
        flags: 0,
        description: [0; 32],
        pixelformat: 0,
        mbus_code: 0,
        reserved: [0; 3],
    };
    // SAFETY: `desc` is a live `struct v4l2_fmtdesc` for the whole call.
    restart(|| unsafe { v4l2_ioctl::enum_fmt(fd.as_raw_fd(), &mut desc) })?;
    Ok(desc)
}

/// `VIDIOC_ENUM_FRAMESIZES` entry `index` of `fourcc`.
pub fn v4l2_enum_framesizes(
    fd: BorrowedFd<'_>,
    fourcc: u32,
    index: u32,
) -> Result<V4l2FrmSizeEnum, Errno> {
    let mut arg = V4l2FrmSizeEnum {
        index,
        pixel_format: fourcc,
        ..Default::default()
    };
    // SAFETY: `arg` is a live `struct v4l2_frmsizeenum` for the whole call.
    restart(|| unsafe { v4l2_ioctl::enum_framesizes(fd.as_raw_fd(), &mut arg) })?;
    Ok(arg)
}

/// `VIDIOC_G_FMT` of a single-planar buffer type.
pub fn v4l2_g_fmt(fd: BorrowedFd<'_>, type_: u32) -> Result<V4l2PixFormat, Errno> {
    let mut arg = V4l2Format::single(type_, V4l2PixFormat::default());
    // SAFETY: `arg` is a live, correctly sized `struct v4l2_format` for the whole call.
    restart(|| unsafe { v4l2_ioctl::g_fmt(fd.as_raw_fd(), &mut arg) })?;
    Ok(arg.fmt.pix)
}

/// `VIDIOC_TRY_FMT`: what the driver would make of `pix` (the device's state is unchanged).
pub fn v4l2_try_fmt(
    fd: BorrowedFd<'_>,
    type_: u32,
    pix: V4l2PixFormat,
) -> Result<V4l2PixFormat, Errno> {
    let mut arg = V4l2Format::single(type_, pix);
    // SAFETY: `arg` is a live, correctly sized `struct v4l2_format` for the whole call.
    restart(|| unsafe { v4l2_ioctl::try_fmt(fd.as_raw_fd(), &mut arg) })?;
    Ok(arg.fmt.pix)
}

/// `VIDIOC_REQBUFS`: (buffers granted, `V4L2_BUF_CAP_*`).
pub fn v4l2_reqbufs(
    fd: BorrowedFd<'_>,
    type_: u32,
    memory: u32,
    count: u32,
) -> Result<(u32, u32), Errno> {
    let mut arg = V4l2RequestBuffers {
        count,
        type_,
        memory,
        ..Default::default()
    };
    // SAFETY: `arg` is a live `struct v4l2_requestbuffers` for the whole call.
    restart(|| unsafe { v4l2_ioctl::reqbufs(fd.as_raw_fd(), &mut arg) })?;
    Ok((arg.count, arg.capabilities))
}

/// `VIDIOC_QBUF` of buffer `index` backed by the dma-buf `buf` (`length` bytes of it).
pub fn v4l2_qbuf_dmabuf(
    fd: BorrowedFd<'_>,
    type_: u32,
    index: u32,
    buf: BorrowedFd<'_>,
    length: u32,
) -> Result<(), Errno> {
    let mut arg = V4l2Buffer::new(type_, V4L2_MEMORY_DMABUF, index);
    arg.m = V4l2BufferM {
        fd: buf.as_raw_fd(),
    };
    arg.length = length;
    // SAFETY: `arg` is a live `struct v4l2_buffer` for the whole call; the driver takes its own
    // reference to the dma-buf, so `buf` may close afterwards.
    unsafe { v4l2_ioctl::qbuf(fd.as_raw_fd(), &mut arg) }.map(drop)
}

/// `VIDIOC_QBUF` with an arbitrary buffer description (the judges' MMAP and DMABUF queues).
pub fn v4l2_qbuf(fd: BorrowedFd<'_>, buffer: &mut V4l2Buffer) -> Result<(), Errno> {
    // SAFETY: `buffer` is a live `struct v4l2_buffer`; for DMABUF its fd is the caller's open
    // dma-buf, which the driver references itself.
    unsafe { v4l2_ioctl::qbuf(fd.as_raw_fd(), buffer) }.map(drop)
}

/// `VIDIOC_G_INPUT`.
pub fn v4l2_g_input(fd: BorrowedFd<'_>) -> Result<u32, Errno> {
    let mut input: libc::c_int = 0;
    // SAFETY: `input` is a live int the kernel writes.
    restart(|| unsafe { v4l2_ioctl::g_input(fd.as_raw_fd(), &mut input) })?;
    u32::try_from(input).map_err(|_| Errno::EINVAL)
}

/// `VIDIOC_ENUMINPUT` entry `index`.
pub fn v4l2_enum_input(fd: BorrowedFd<'_>, index: u32) -> Result<V4l2Input, Errno> {
    let mut arg = V4l2Input {
        index,
        ..Default::default()
    };
    // SAFETY: `arg` is a live `struct v4l2_input` for the whole call.
    restart(|| unsafe { v4l2_ioctl::enuminput(fd.as_raw_fd(), &mut arg) })?;
    Ok(arg)
}

/// A NUL-padded C string field as text.
pub fn c_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

/// Opens a device node read-write, non-blocking, close-on-exec.
pub fn open_node(path: &std::path::Path) -> Result<OwnedFd, Errno> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let flags = libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK;
    // SAFETY: `c` is a NUL-terminated path that outlives the call.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: open returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, size_of};

    /// The uapi sizes the ioctl numbers encode (x86_64 and other LP64 targets).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn struct_sizes_match_the_uapi() {
        assert_eq!(size_of::<DrmVersion>(), 64);
        assert_eq!(size_of::<DrmModeCardRes>(), 64);
        assert_eq!(size_of::<DrmModeGetPlane>(), 32);
        assert_eq!(size_of::<DrmModeObjGetProperties>(), 32);
        assert_eq!(size_of::<DrmModeGetProperty>(), 64);
        assert_eq!(size_of::<DrmModeGetBlob>(), 16);
        assert_eq!(size_of::<DrmModeCreateDumb>(), 32);
        assert_eq!(size_of::<V4l2Capability>(), 104);
        assert_eq!(size_of::<V4l2FmtDesc>(), 64);
        assert_eq!(size_of::<V4l2PixFormat>(), 48);
        assert_eq!(size_of::<V4l2Format>(), 208);
        assert_eq!(align_of::<V4l2Format>(), 8);
        assert_eq!(size_of::<V4l2FrmSizeEnum>(), 44);
        assert_eq!(size_of::<V4l2RequestBuffers>(), 20);
        assert_eq!(size_of::<V4l2Buffer>(), 88);
        assert_eq!(size_of::<V4l2Input>(), 80);
    }

    #[test]
    fn c_text_stops_at_the_first_nul() {
        assert_eq!(c_text(b"vivid\0\0junk"), "vivid");
        assert_eq!(c_text(b"full"), "full");
    }
}
