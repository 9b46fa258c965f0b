//! A small KMS client for the VM's display test, standing in for the composer: find the
//! connected connector, its CRTC and primary plane, import dma-bufs (PRIME), make framebuffers,
//! commit an atomic modeset and page flips, and wait for flip events.
//!
//! The structs are the uapi ones (drm/drm.h, drm/drm_mode.h); each ioctl is declared with nix's
//! macros and wrapped in a safe function that owns its argument and the arrays the kernel fills.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// `struct drm_set_client_cap`.
#[repr(C)]
struct SetClientCap {
    capability: u64,
    value: u64,
}

/// `struct drm_mode_card_res`.
#[repr(C)]
#[derive(Default)]
struct CardRes {
    fb_id_ptr: u64,
    crtc_id_ptr: u64,
    connector_id_ptr: u64,
    encoder_id_ptr: u64,
    count_fbs: u32,
    count_crtcs: u32,
    count_connectors: u32,
    count_encoders: u32,
    min_width: u32,
    max_width: u32,
    min_height: u32,
    max_height: u32,
}

/// `struct drm_mode_modeinfo`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ModeInfo {
    clock: u32,
    /// Visible width.
    pub hdisplay: u16,
    hsync_start: u16,
    hsync_end: u16,
    htotal: u16,
    hskew: u16,
    /// Visible height.
    pub vdisplay: u16,
    vsync_start: u16,
    vsync_end: u16,
    vtotal: u16,
    vscan: u16,
    vrefresh: u32,
    flags: u32,
    type_: u32,
    name: [u8; 32],
}

/// `struct drm_mode_get_connector`.
#[repr(C)]
#[derive(Default)]
struct GetConnector {
    encoders_ptr: u64,
    modes_ptr: u64,
    props_ptr: u64,
    prop_values_ptr: u64,
    count_modes: u32,
    count_props: u32,
    count_encoders: u32,
    encoder_id: u32,
    connector_id: u32,
    connector_type: u32,
    connector_type_id: u32,
    connection: u32,
    mm_width: u32,
    mm_height: u32,
    subpixel: u32,
    pad: u32,
}

/// `struct drm_mode_get_encoder`.
#[repr(C)]
#[derive(Default)]
struct GetEncoder {
    encoder_id: u32,
    encoder_type: u32,
    crtc_id: u32,
    possible_crtcs: u32,
    possible_clones: u32,
}

/// `struct drm_mode_get_plane_res`.
#[repr(C)]
#[derive(Default)]
struct GetPlaneRes {
    plane_id_ptr: u64,
    count_planes: u32,
}

/// `struct drm_mode_get_plane`.
#[repr(C)]
#[derive(Default)]
struct GetPlane {
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
struct ObjGetProperties {
    props_ptr: u64,
    prop_values_ptr: u64,
    count_props: u32,
    obj_id: u32,
    obj_type: u32,
}

/// `struct drm_mode_get_property`.
#[repr(C)]
#[derive(Default)]
struct GetProperty {
    values_ptr: u64,
    enum_blob_ptr: u64,
    prop_id: u32,
    flags: u32,
    name: [u8; 32],
    count_values: u32,
    count_enum_blobs: u32,
}

/// `struct drm_mode_create_blob`.
#[repr(C)]
#[derive(Default)]
struct CreateBlob {
    data: u64,
    length: u32,
    blob_id: u32,
}

/// `struct drm_mode_fb_cmd2`.
#[repr(C)]
#[derive(Default)]
struct FbCmd2 {
    fb_id: u32,
    width: u32,
    height: u32,
    pixel_format: u32,
    flags: u32,
    handles: [u32; 4],
    pitches: [u32; 4],
    offsets: [u32; 4],
    modifier: [u64; 4],
}

/// `struct drm_mode_atomic`.
#[repr(C)]
#[derive(Default)]
struct AtomicReq {
    flags: u32,
    count_objs: u32,
    objs_ptr: u64,
    count_props_ptr: u64,
    props_ptr: u64,
    prop_values_ptr: u64,
    reserved: u64,
    user_data: u64,
}

nix::ioctl_write_ptr!(drm_set_client_cap, b'd', 0x0d, SetClientCap);
nix::ioctl_none!(drm_set_master, b'd', 0x1e);
nix::ioctl_readwrite!(drm_mode_getresources, b'd', 0xa0, CardRes);
nix::ioctl_readwrite!(drm_mode_getencoder, b'd', 0xa6, GetEncoder);
nix::ioctl_readwrite!(drm_mode_getconnector, b'd', 0xa7, GetConnector);
nix::ioctl_readwrite!(drm_mode_getproperty, b'd', 0xaa, GetProperty);
nix::ioctl_readwrite!(drm_mode_rmfb, b'd', 0xaf, u32);
nix::ioctl_readwrite!(drm_mode_getplaneresources, b'd', 0xb5, GetPlaneRes);
nix::ioctl_readwrite!(drm_mode_getplane, b'd', 0xb6, GetPlane);
nix::ioctl_readwrite!(drm_mode_addfb2, b'd', 0xb8, FbCmd2);
nix::ioctl_readwrite!(drm_mode_obj_getproperties, b'd', 0xb9, ObjGetProperties);
nix::ioctl_readwrite!(drm_mode_atomic, b'd', 0xbc, AtomicReq);
nix::ioctl_readwrite!(drm_mode_createpropblob, b'd', 0xbd, CreateBlob);

const CLIENT_CAP_UNIVERSAL_PLANES: u64 = 2;
const CLIENT_CAP_ATOMIC: u64 = 3;
const OBJECT_CRTC: u32 = 0xcccc_cccc;
const OBJECT_CONNECTOR: u32 = 0xc0c0_c0c0;
const OBJECT_PLANE: u32 = 0xeeee_eeee;
const MODE_TYPE_PREFERRED: u32 = 1 << 3;
const CONNECTED: u32 = 1;
const PLANE_TYPE_PRIMARY: u64 = 1;
/// `DRM_MODE_PAGE_FLIP_EVENT`.
const FLIP_EVENT: u32 = 0x01;
/// `DRM_MODE_ATOMIC_NONBLOCK`.
const NONBLOCK: u32 = 0x0200;
/// `DRM_MODE_ATOMIC_ALLOW_MODESET`.
const ALLOW_MODESET: u32 = 0x0400;
/// `DRM_EVENT_FLIP_COMPLETE`.
const EVENT_FLIP_COMPLETE: u32 = 0x02;
/// `DRM_FORMAT_XRGB8888` (`XR24`): B, G, R, X bytes in memory, what Android calls BGRA_8888.
pub const FORMAT_XRGB8888: u32 = u32::from_le_bytes(*b"XR24");

/// The pointer to `v`'s first element as the u64 the uapi structs carry.
fn ptr<T>(v: &mut [T]) -> u64 {
    v.as_mut_ptr() as usize as u64
}

/// The display pipeline the client drives.
pub struct Kms {
    card: File,
    /// The connector's preferred mode.
    pub mode: ModeInfo,
    connector: u32,
    crtc: u32,
    plane: u32,
    /// Property ids by object and name.
    props: BTreeMap<(u32, String), u32>,
    /// Largest framebuffer the device accepts (mode_config max_width, max_height).
    pub max: (u32, u32),
}

impl Kms {
    /// Opens `card`, becomes DRM master if nobody is, enables atomic, and finds the first
    /// connected connector with its preferred mode, a CRTC its encoder can drive, and that
    /// CRTC's primary plane.
    pub fn open(card: File) -> Result<Kms, String> {
        let fd = card.as_raw_fd();
        // The first opener of a node becomes master already; SET_MASTER covers a node someone
        // else opened first and has dropped master on (the allocator does).
        // SAFETY: SET_MASTER takes no argument.
        match unsafe { drm_set_master(fd) } {
            Ok(_) | Err(Errno::EINVAL) => {}
            Err(e) => return Err(format!("DRM_IOCTL_SET_MASTER: {e}")),
        }
        for cap in [CLIENT_CAP_UNIVERSAL_PLANES, CLIENT_CAP_ATOMIC] {
            let arg = SetClientCap {
                capability: cap,
                value: 1,
            };
            // SAFETY: `arg` outlives the call and has the uapi layout.
            unsafe { drm_set_client_cap(fd, &arg) }
                .map_err(|e| format!("DRM_IOCTL_SET_CLIENT_CAP {cap}: {e}"))?;
        }
        let mut res = CardRes::default();
        // SAFETY: all counts are zero, so the kernel writes no array, only the counts.
        unsafe { drm_mode_getresources(fd, &mut res) }.map_err(|e| format!("GETRESOURCES: {e}"))?;
        let mut crtcs = vec![0u32; res.count_crtcs as usize];
        let mut connectors = vec![0u32; res.count_connectors as usize];
        let mut encoders = vec![0u32; res.count_encoders as usize];
        let mut fbs = vec![0u32; res.count_fbs as usize];
        res.crtc_id_ptr = ptr(&mut crtcs);
        res.connector_id_ptr = ptr(&mut connectors);
        res.encoder_id_ptr = ptr(&mut encoders);
        res.fb_id_ptr = ptr(&mut fbs);
        // SAFETY: each pointer addresses a live array of the count the kernel reported, and the
        // kernel writes at most that many entries.
        unsafe { drm_mode_getresources(fd, &mut res) }.map_err(|e| format!("GETRESOURCES: {e}"))?;
        let max = (res.max_width, res.max_height);

        let (connector, mode, encoder) = connectors
            .iter()
            .find_map(|&id| connector_mode(fd, id).ok().flatten())
            .ok_or("no connected connector with a mode")?;
        let mut enc = GetEncoder {
            encoder_id: encoder,
            ..Default::default()
        };
        // SAFETY: `enc` outlives the call and has the uapi layout.
        unsafe { drm_mode_getencoder(fd, &mut enc) }.map_err(|e| format!("GETENCODER: {e}"))?;
        let index = (0..crtcs.len())
            .find(|&i| enc.possible_crtcs & (1 << i) != 0)
            .ok_or("the encoder can drive no CRTC")?;
        let crtc = crtcs[index];

        let mut kms = Kms {
            card,
            mode,
            connector,
            crtc,
            plane: 0,
            props: BTreeMap::new(),
            max,
        };
        kms.plane = kms.primary_plane(index)?;
        for (obj, kind) in [
            (connector, OBJECT_CONNECTOR),
            (crtc, OBJECT_CRTC),
            (kms.plane, OBJECT_PLANE),
        ] {
            for (id, name, _) in kms.properties(obj, kind)? {
                kms.props.insert((obj, name), id);
            }
        }
        Ok(kms)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.card.as_fd()
    }

    /// `(id, name, value)` of every property of object `obj`.
    fn properties(&self, obj: u32, kind: u32) -> Result<Vec<(u32, String, u64)>, String> {
        let fd = self.card.as_raw_fd();
        let mut arg = ObjGetProperties {
            obj_id: obj,
            obj_type: kind,
            ..Default::default()
        };
        // SAFETY: count zero: the kernel writes only the count.
        unsafe { drm_mode_obj_getproperties(fd, &mut arg) }
            .map_err(|e| format!("OBJ_GETPROPERTIES: {e}"))?;
        let mut ids = vec![0u32; arg.count_props as usize];
        let mut values = vec![0u64; arg.count_props as usize];
        arg.props_ptr = ptr(&mut ids);
        arg.prop_values_ptr = ptr(&mut values);
        // SAFETY: both arrays hold `count_props` entries, the most the kernel writes.
        unsafe { drm_mode_obj_getproperties(fd, &mut arg) }
            .map_err(|e| format!("OBJ_GETPROPERTIES: {e}"))?;
        let mut out = Vec::new();
        for (&id, &value) in ids.iter().zip(&values).take(arg.count_props as usize) {
            let mut p = GetProperty {
                prop_id: id,
                ..Default::default()
            };
            // SAFETY: counts zero: the kernel fills the fixed fields and the name only.
            unsafe { drm_mode_getproperty(fd, &mut p) }
                .map_err(|e| format!("GETPROPERTY {id}: {e}"))?;
            let len = p.name.iter().position(|&b| b == 0).unwrap_or(p.name.len());
            out.push((
                id,
                String::from_utf8_lossy(&p.name[..len]).into_owned(),
                value,
            ));
        }
        Ok(out)
    }

    /// The primary plane that can drive the CRTC at `index`.
    fn primary_plane(&self, index: usize) -> Result<u32, String> {
        let fd = self.card.as_raw_fd();
        let mut res = GetPlaneRes::default();
        // SAFETY: count zero: the kernel writes only the count.
        unsafe { drm_mode_getplaneresources(fd, &mut res) }
            .map_err(|e| format!("GETPLANERESOURCES: {e}"))?;
        let mut planes = vec![0u32; res.count_planes as usize];
        res.plane_id_ptr = ptr(&mut planes);
        // SAFETY: the array holds `count_planes` entries, the most the kernel writes.
        unsafe { drm_mode_getplaneresources(fd, &mut res) }
            .map_err(|e| format!("GETPLANERESOURCES: {e}"))?;
        for &id in &planes {
            let mut p = GetPlane {
                plane_id: id,
                ..Default::default()
            };
            // SAFETY: count_format_types zero: the kernel writes no format array.
            unsafe { drm_mode_getplane(fd, &mut p) }.map_err(|e| format!("GETPLANE: {e}"))?;
            if p.possible_crtcs & (1 << index) == 0 {
                continue;
            }
            let primary = self
                .properties(id, OBJECT_PLANE)?
                .iter()
                .any(|(_, name, value)| name == "type" && *value == PLANE_TYPE_PRIMARY);
            if primary {
                return Ok(id);
            }
        }
        Err("no primary plane for the CRTC".into())
    }

    fn prop(&self, obj: u32, name: &str) -> Result<u32, String> {
        self.props
            .get(&(obj, name.to_string()))
            .copied()
            .ok_or_else(|| format!("object {obj} has no property {name}"))
    }

    /// Imports the dma-buf `buf` (`DRM_IOCTL_PRIME_FD_TO_HANDLE`).
    pub fn import(&self, buf: BorrowedFd<'_>) -> Result<crate::sys::GemHandle<'_>, Errno> {
        crate::sys::drm_prime_fd_to_handle(self.fd(), buf)
    }

    /// A framebuffer of `handle`: the mode's size, XRGB8888, rows `pitch` bytes apart.
    pub fn add_fb(&self, handle: u32, pitch: u32) -> Result<u32, String> {
        let mut fb = FbCmd2 {
            width: u32::from(self.mode.hdisplay),
            height: u32::from(self.mode.vdisplay),
            pixel_format: FORMAT_XRGB8888,
            ..Default::default()
        };
        fb.handles[0] = handle;
        fb.pitches[0] = pitch;
        // SAFETY: `fb` outlives the call and has the uapi layout.
        unsafe { drm_mode_addfb2(self.card.as_raw_fd(), &mut fb) }
            .map_err(|e| format!("ADDFB2: {e}"))?;
        Ok(fb.fb_id)
    }

    /// Removes framebuffer `fb`.
    pub fn rm_fb(&self, fb: u32) {
        let mut id = fb;
        // SAFETY: `id` outlives the call; the kernel reads it.
        let _ = unsafe { drm_mode_rmfb(self.card.as_raw_fd(), &mut id) };
    }

    /// Commits `sets` (object, property name, value) with `flags`.
    fn commit(&self, sets: &[(u32, &str, u64)], flags: u32) -> Result<(), String> {
        let mut objs: Vec<u32> = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        let mut props: Vec<u32> = Vec::new();
        let mut values: Vec<u64> = Vec::new();
        // Grouped by object, as the kernel expects each object once.
        let mut by_obj: BTreeMap<u32, Vec<(u32, u64)>> = BTreeMap::new();
        for &(obj, name, value) in sets {
            by_obj
                .entry(obj)
                .or_default()
                .push((self.prop(obj, name)?, value));
        }
        for (obj, list) in by_obj {
            objs.push(obj);
            counts.push(list.len() as u32);
            for (p, v) in list {
                props.push(p);
                values.push(v);
            }
        }
        let mut req = AtomicReq {
            flags,
            count_objs: objs.len() as u32,
            objs_ptr: ptr(&mut objs),
            count_props_ptr: ptr(&mut counts),
            props_ptr: ptr(&mut props),
            prop_values_ptr: ptr(&mut values),
            ..Default::default()
        };
        // SAFETY: the four arrays live across the call with the lengths `count_objs` and the
        // sum of `counts` describe; the kernel only reads them.
        unsafe { drm_mode_atomic(self.card.as_raw_fd(), &mut req) }
            .map_err(|e| format!("ATOMIC (flags {flags:#x}): {e}"))?;
        Ok(())
    }

    fn plane_sets(&self, fb: u32) -> Vec<(u32, &'static str, u64)> {
        let (w, h) = (u64::from(self.mode.hdisplay), u64::from(self.mode.vdisplay));
        vec![
            (self.plane, "FB_ID", u64::from(fb)),
            (self.plane, "CRTC_ID", u64::from(self.crtc)),
            (self.plane, "SRC_X", 0),
            (self.plane, "SRC_Y", 0),
            (self.plane, "SRC_W", w << 16),
            (self.plane, "SRC_H", h << 16),
            (self.plane, "CRTC_X", 0),
            (self.plane, "CRTC_Y", 0),
            (self.plane, "CRTC_W", w),
            (self.plane, "CRTC_H", h),
        ]
    }

    /// A blocking atomic modeset showing `fb` on the whole screen.
    pub fn modeset(&self, fb: u32) -> Result<(), String> {
        let mut blob = CreateBlob {
            data: &self.mode as *const ModeInfo as usize as u64,
            length: std::mem::size_of::<ModeInfo>() as u32,
            ..Default::default()
        };
        // SAFETY: `data` points at `self.mode`, readable for `length` bytes during the call.
        unsafe { drm_mode_createpropblob(self.card.as_raw_fd(), &mut blob) }
            .map_err(|e| format!("CREATEPROPBLOB: {e}"))?;
        let mut sets = vec![
            (self.connector, "CRTC_ID", u64::from(self.crtc)),
            (self.crtc, "MODE_ID", u64::from(blob.blob_id)),
            (self.crtc, "ACTIVE", 1),
        ];
        sets.extend(self.plane_sets(fb));
        self.commit(&sets, ALLOW_MODESET)
    }

    /// A non-blocking page flip to `fb`; returns once the flip-complete event arrives.
    pub fn flip(&self, fb: u32, timeout: Duration) -> Result<(), String> {
        self.commit(
            &[(self.plane, "FB_ID", u64::from(fb))],
            NONBLOCK | FLIP_EVENT,
        )?;
        let mut fds = [PollFd::new(self.fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, ms) {
            Ok(0) => return Err(format!("no flip event within {} ms", timeout.as_millis())),
            Ok(_) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        let mut event = [0u8; 64];
        let n = nix::unistd::read(self.fd(), &mut event).map_err(|e| format!("read event: {e}"))?;
        let kind = u32::from_ne_bytes([event[0], event[1], event[2], event[3]]);
        if n < 8 || kind != EVENT_FLIP_COMPLETE {
            return Err(format!(
                "event of type {kind} ({n} bytes), not a flip completion"
            ));
        }
        Ok(())
    }
}

/// `(connector, preferred mode, encoder)` if connector `id` is connected and has a mode.
fn connector_mode(fd: i32, id: u32) -> Result<Option<(u32, ModeInfo, u32)>, String> {
    let mut c = GetConnector {
        connector_id: id,
        ..Default::default()
    };
    // SAFETY: all counts zero: the kernel writes the counts and fixed fields only.
    unsafe { drm_mode_getconnector(fd, &mut c) }.map_err(|e| format!("GETCONNECTOR: {e}"))?;
    if c.connection != CONNECTED || c.count_modes == 0 {
        return Ok(None);
    }
    let mut modes = vec![ModeInfo::default(); c.count_modes as usize];
    let mut encoders = vec![0u32; c.count_encoders as usize];
    let mut props = vec![0u32; c.count_props as usize];
    let mut values = vec![0u64; c.count_props as usize];
    c.modes_ptr = ptr(&mut modes);
    c.encoders_ptr = ptr(&mut encoders);
    c.props_ptr = ptr(&mut props);
    c.prop_values_ptr = ptr(&mut values);
    // SAFETY: every array holds the count the kernel reported, the most it writes (it writes
    // fewer and lowers the count if the connector changed in between).
    unsafe { drm_mode_getconnector(fd, &mut c) }.map_err(|e| format!("GETCONNECTOR: {e}"))?;
    modes.truncate(c.count_modes as usize);
    let mode = modes
        .iter()
        .find(|m| m.type_ & MODE_TYPE_PREFERRED != 0)
        .or(modes.first())
        .copied();
    let encoder = if c.encoder_id != 0 {
        Some(c.encoder_id)
    } else {
        encoders.first().copied()
    };
    Ok(mode.zip(encoder).map(|(m, e)| (id, m, e)))
}
