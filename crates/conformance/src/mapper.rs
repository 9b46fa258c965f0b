//! The conformance cases that need a mapper: buffers from the allocator under test, imported,
//! locked and described through `mapper.<suffix>.so`, loaded with `dlopen` and called through the
//! IMapper stable-C ABI as libui does.
//!
//! Why the C ABI and not the mapper crate's Rust API: these cases check what a client gets, so
//! they load the library the allocator names (`getIMapperLibrarySuffix`) from where the platform
//! loads it, and call the entry points every client calls; the same cases then hold for any
//! `mapper.<suffix>.so`, not only this project's. Soong also has no Rust library of the mapper
//! to link (it ships a static library inside a `cc` shared one); this crate needs only `liblibc`.
//! The mapper's Rust side is tested in-process by its own crate and, over kernel binder, by the
//! VM tier's `bringup mapper-pattern`. The price here is the small ABI declaration below and
//! `unsafe` at each call.
//!
//! Where the library is looked for: the directory given to [`set_mapper_dir`], else
//! `$CENTRAL_GRALLOC_MAPPER_DIR`, else on Android the platform's `/vendor/lib64/hw` (`lib/hw` for
//! 32-bit). A statically linked runner (the VM tier's) cannot `dlopen` a glibc-linked library;
//! [`unavailable`] says so and `run_all` reports these cases as skipped there.

use super::{check, descriptor, wire, CaseResult, CPU_OFTEN};
use central_gralloc::format::PixelFormat;
use central_gralloc::usage::Usage;
use central_gralloc_memory::BufferInfo;
use central_gralloc_service::aidl::{AllocationResult, IAllocator, NativeHandle};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Environment variable naming the directory that holds `mapper.<suffix>.so`.
pub const MAPPER_DIR_ENV: &str = "CENTRAL_GRALLOC_MAPPER_DIR";

/// Where Android installs mapper libraries (the sphal search path's `hw` directory).
pub const ANDROID_MAPPER_DIR: &str = if cfg!(target_pointer_width = "64") {
    "/vendor/lib64/hw"
} else {
    "/vendor/lib/hw"
};

static MAPPER_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Makes the mapper cases load `mapper.<suffix>.so` from `dir`.
pub fn set_mapper_dir(dir: &Path) {
    let mut slot = MAPPER_DIR.lock().unwrap_or_else(|p| p.into_inner());
    *slot = Some(dir.to_path_buf());
}

fn mapper_dir() -> Result<PathBuf, String> {
    let set = MAPPER_DIR.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(dir) = set {
        return Ok(dir);
    }
    if let Some(dir) = std::env::var_os(MAPPER_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if cfg!(target_os = "android") {
        return Ok(PathBuf::from(ANDROID_MAPPER_DIR));
    }
    Err(format!(
        "no mapper directory: set {MAPPER_DIR_ENV} to the directory holding mapper.<suffix>.so"
    ))
}

/// Why this process cannot run the mapper cases at all, if it cannot: a statically linked
/// binary has no dynamic loader to `dlopen` the library with.
pub fn unavailable() -> Option<&'static str> {
    if cfg!(target_feature = "crt-static") {
        Some("this binary is statically linked and cannot dlopen mapper.<suffix>.so")
    } else {
        None
    }
}

// ----------------------------------------------------------------------------------------------
// The ABI (IMapper.h, stable-C v5): only what the cases call is typed; the other entries are
// pointers that keep the table's layout.
// ----------------------------------------------------------------------------------------------

type BufferHandleT = *const c_void;

#[repr(C)]
#[derive(Clone, Copy)]
struct ARect {
    left: i32,
    top: i32,
    right: i32,
    bottom: i32,
}

#[repr(C)]
struct AIMapperV5 {
    import_buffer: unsafe extern "C" fn(*const c_int, *mut BufferHandleT) -> i32,
    free_buffer: unsafe extern "C" fn(BufferHandleT) -> i32,
    get_transport_size: *const c_void,
    lock: unsafe extern "C" fn(BufferHandleT, u64, ARect, c_int, *mut *mut c_void) -> i32,
    unlock: unsafe extern "C" fn(BufferHandleT, *mut c_int) -> i32,
    flush_locked_buffer: *const c_void,
    reread_locked_buffer: *const c_void,
    get_metadata: *const c_void,
    get_standard_metadata: unsafe extern "C" fn(BufferHandleT, i64, *mut c_void, usize) -> i32,
    set_metadata: *const c_void,
    set_standard_metadata: *const c_void,
    list_supported_metadata_types: *const c_void,
    dump_buffer: *const c_void,
    dump_all_buffers: *const c_void,
    get_reserved_region: *const c_void,
}

#[repr(C, align(16))]
struct AIMapper {
    version: u32,
    v5: AIMapperV5,
}

const _: () = assert!(std::mem::size_of::<AIMapperV5>() == 15 * std::mem::size_of::<usize>());
const _: () = assert!(std::mem::offset_of!(AIMapper, v5) == 8 || cfg!(target_pointer_width = "32"));

type LoadFn = unsafe extern "C" fn(*mut *const AIMapper) -> i32;

const NONE: i32 = 0;
const NATIVE_HANDLE_VERSION: c_int = 12;

fn error_name(e: i32) -> &'static str {
    match e {
        0 => "NONE",
        1 => "BAD_DESCRIPTOR",
        2 => "BAD_BUFFER",
        3 => "BAD_VALUE",
        5 => "NO_RESOURCES",
        7 => "UNSUPPORTED",
        _ => "not an AIMapper_Error",
    }
}

/// A loaded mapper. The library is never unloaded (as in libui, which loads it once a process).
pub struct Mapper {
    table: &'static AIMapperV5,
}

/// Loaded libraries by path: `dlopen` once per process, like the platform.
static LOADED: OnceLock<Mutex<Vec<(PathBuf, usize)>>> = OnceLock::new();

impl Mapper {
    /// Loads `mapper.<suffix>.so` for the suffix `allocator` names.
    pub fn for_allocator(allocator: &dyn IAllocator) -> Result<Mapper, String> {
        if let Some(why) = unavailable() {
            return Err(why.into());
        }
        let suffix = allocator
            .getIMapperLibrarySuffix()
            .map_err(|e| format!("getIMapperLibrarySuffix: {e:?}"))?;
        let path = mapper_dir()?.join(format!("mapper.{suffix}.so"));
        let loaded = LOADED.get_or_init(|| Mutex::new(Vec::new()));
        let mut loaded = loaded.lock().unwrap_or_else(|p| p.into_inner());
        let table = match loaded.iter().find(|(p, _)| *p == path) {
            Some(&(_, table)) => table,
            None => {
                let table = load(&path)? as usize;
                loaded.push((path, table));
                table
            }
        };
        // SAFETY: `table` came from `load`, which returned the `AIMapper` the library's loader
        // gave out; the library is never closed, so the table lives for the process.
        let mapper = unsafe { &*(table as *const AIMapper) };
        check(mapper.version >= 5, || {
            format!("AIMapper::version {}", mapper.version)
        })?;
        Ok(Mapper { table: &mapper.v5 })
    }

    /// Imports a handle that borrows `handle`'s fds, as libui imports what `allocate2` returned.
    pub fn import(&self, handle: &NativeHandle) -> Result<Imported<'_>, String> {
        let fds: Vec<RawFd> = handle.fds.iter().map(|f| f.as_ref().as_raw_fd()).collect();
        self.import_raw(&fds, &handle.ints)
    }

    /// Imports a handle of duplicates of `handle`'s fds and closes them after the import, as a
    /// second process holding its own copy of the handle would.
    pub fn import_copy(&self, handle: &NativeHandle) -> Result<Imported<'_>, String> {
        let copies: Vec<OwnedFd> = handle
            .fds
            .iter()
            .map(|f| f.as_ref().try_clone())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("dup: {e}"))?;
        let fds: Vec<RawFd> = copies.iter().map(AsRawFd::as_raw_fd).collect();
        self.import_raw(&fds, &handle.ints)
        // `copies` close here: the import must hold its own.
    }

    fn import_raw(&self, fds: &[RawFd], ints: &[i32]) -> Result<Imported<'_>, String> {
        let count = |n: usize| c_int::try_from(n).map_err(|_| "handle too large".to_string());
        let mut words = vec![NATIVE_HANDLE_VERSION, count(fds.len())?, count(ints.len())?];
        words.extend_from_slice(fds);
        words.extend_from_slice(ints);
        let mut out: BufferHandleT = std::ptr::null();
        // SAFETY: `words` is a complete native_handle_t (header, fds, ints) alive for the call,
        // and `out` is a valid out-pointer; the mapper keeps nothing of `words` (it dups the fds).
        let err = unsafe { (self.table.import_buffer)(words.as_ptr(), &mut out) };
        check(err == NONE && !out.is_null(), || {
            format!("importBuffer: {} ({err})", error_name(err))
        })?;
        Ok(Imported {
            mapper: self,
            handle: out,
        })
    }
}

/// `dlopen`s `path` and calls its `AIMapper_loadIMapper`.
fn load(path: &Path) -> Result<*const AIMapper, String> {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{} holds a NUL", path.display()))?;
    // SAFETY: dlopen with a NUL-terminated path; the library's initialisers are the mapper's,
    // which is what every client of it runs too.
    let library = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_LOCAL | libc::RTLD_NOW) };
    if library.is_null() {
        return Err(format!("dlopen({}): {}", path.display(), dl_error()));
    }
    // SAFETY: dlsym on the handle dlopen just returned, with a NUL-terminated name.
    let symbol = unsafe { libc::dlsym(library, c"AIMapper_loadIMapper".as_ptr()) };
    if symbol.is_null() {
        return Err(format!(
            "AIMapper_loadIMapper missing from {}",
            path.display()
        ));
    }
    // SAFETY: the stable-C ABI defines AIMapper_loadIMapper with exactly this signature.
    let load_fn: LoadFn = unsafe { std::mem::transmute::<*mut c_void, LoadFn>(symbol) };
    let mut out: *const AIMapper = std::ptr::null();
    // SAFETY: a valid out-pointer.
    let err = unsafe { load_fn(&mut out) };
    check(err == NONE && !out.is_null(), || {
        format!("AIMapper_loadIMapper: {} ({err})", error_name(err))
    })?;
    Ok(out)
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl* call on
    // this thread; it is copied at once.
    let message = unsafe { libc::dlerror() };
    if message.is_null() {
        return "unknown error".into();
    }
    // SAFETY: non-null, NUL-terminated (above).
    unsafe { CStr::from_ptr(message as *const c_char) }
        .to_string_lossy()
        .into_owned()
}

/// An imported buffer, freed on drop.
pub struct Imported<'m> {
    mapper: &'m Mapper,
    handle: BufferHandleT,
}

impl Drop for Imported<'_> {
    fn drop(&mut self) {
        // SAFETY: `handle` came from this mapper's importBuffer and is freed only here.
        unsafe { (self.mapper.table.free_buffer)(self.handle) };
    }
}

impl Imported<'_> {
    /// Locks the whole `width` × `height` buffer for `usage`; `len` is how many bytes from the
    /// returned address the caller will touch, at most `buffer_size` (the memory fd's size).
    pub fn lock(
        &self,
        usage: i64,
        width: i32,
        height: i32,
        len: usize,
        buffer_size: u64,
    ) -> Result<Locked<'_>, String> {
        check(len as u64 <= buffer_size, || {
            format!("{len} bytes asked of a {buffer_size}-byte buffer")
        })?;
        let region = ARect {
            left: 0,
            top: 0,
            right: width,
            bottom: height,
        };
        let mut data: *mut c_void = std::ptr::null_mut();
        // SAFETY: an imported handle, a region by value, no fence, a valid out-pointer.
        let err =
            unsafe { (self.mapper.table.lock)(self.handle, usage as u64, region, -1, &mut data) };
        check(err == NONE && !data.is_null(), || {
            format!("lock: {} ({err})", error_name(err))
        })?;
        Ok(Locked {
            buffer: self,
            data: data.cast(),
            len,
        })
    }

    /// The encoded value of standard metadata type `type_`: asked for its size first (NULL, 0),
    /// then read into a buffer of exactly that size.
    pub fn standard_metadata(&self, type_: i64) -> Result<Vec<u8>, String> {
        let get = self.mapper.table.get_standard_metadata;
        // SAFETY: NULL with size 0 is the size query the ABI defines.
        let size = unsafe { get(self.handle, type_, std::ptr::null_mut(), 0) };
        let name = smt::name(type_);
        let len = usize::try_from(size)
            .map_err(|_| format!("get {name}: {} ({size})", error_name(-size)))?;
        let mut value = vec![0u8; len];
        // SAFETY: `value` is writable for `len` bytes.
        let again = unsafe { get(self.handle, type_, value.as_mut_ptr().cast(), len) };
        check(again == size, || {
            format!("get {name}: {again} bytes on the second call, {size} on the first")
        })?;
        Ok(value)
    }
}

/// A CPU lock, unlocked on drop.
pub struct Locked<'b> {
    buffer: &'b Imported<'b>,
    data: *mut u8,
    len: usize,
}

impl Locked<'_> {
    /// The first `len` bytes of the buffer.
    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: lock returned the start of the whole buffer, mapped until unlock (this guard's
        // drop); `len` is at most the buffer's size (checked in `lock`), and the guard is the
        // only way to the pointer, borrowed mutably here.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
    }

    /// Unlocks, reporting the error a drop would swallow.
    pub fn unlock(self) -> CaseResult {
        let result = self.do_unlock();
        std::mem::forget(self);
        result
    }

    fn do_unlock(&self) -> CaseResult {
        let mut fence: c_int = -1;
        // SAFETY: a locked imported handle and a valid out-pointer.
        let err = unsafe { (self.buffer.mapper.table.unlock)(self.buffer.handle, &mut fence) };
        if fence >= 0 {
            // SAFETY: the release fence is ours to close.
            drop(unsafe { OwnedFd::from_raw_fd(fence) });
        }
        check(err == NONE, || {
            format!("unlock: {} ({err})", error_name(err))
        })
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.do_unlock();
    }
}

// ----------------------------------------------------------------------------------------------
// Reading the standard metadata encoding.
// ----------------------------------------------------------------------------------------------

const STANDARD_NAME: &[u8] = b"android.hardware.graphics.common.StandardMetadataType";

/// `StandardMetadataType` values the cases read.
mod smt {
    pub const BUFFER_ID: i64 = 1;
    pub const NAME: i64 = 2;
    pub const WIDTH: i64 = 3;
    pub const HEIGHT: i64 = 4;
    pub const LAYER_COUNT: i64 = 5;
    pub const PIXEL_FORMAT_REQUESTED: i64 = 6;
    pub const PIXEL_FORMAT_FOURCC: i64 = 7;
    pub const USAGE: i64 = 9;
    pub const ALLOCATION_SIZE: i64 = 10;
    pub const PLANE_LAYOUTS: i64 = 15;
    pub const STRIDE: i64 = 23;

    /// The type's name, for messages.
    pub fn name(type_: i64) -> String {
        match type_ {
            BUFFER_ID => "BUFFER_ID".into(),
            NAME => "NAME".into(),
            WIDTH => "WIDTH".into(),
            HEIGHT => "HEIGHT".into(),
            LAYER_COUNT => "LAYER_COUNT".into(),
            PIXEL_FORMAT_REQUESTED => "PIXEL_FORMAT_REQUESTED".into(),
            PIXEL_FORMAT_FOURCC => "PIXEL_FORMAT_FOURCC".into(),
            USAGE => "USAGE".into(),
            ALLOCATION_SIZE => "ALLOCATION_SIZE".into(),
            PLANE_LAYOUTS => "PLANE_LAYOUTS".into(),
            STRIDE => "STRIDE".into(),
            other => format!("type {other}"),
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    type_: i64,
}

impl<'a> Reader<'a> {
    /// Checks the header (standard name, then the type) and positions after it.
    fn new(bytes: &'a [u8], type_: i64) -> Result<Reader<'a>, String> {
        let mut r = Reader { bytes, type_ };
        let name = r.string()?;
        check(name == STANDARD_NAME, || {
            format!(
                "{}: header name is not StandardMetadataType",
                smt::name(type_)
            )
        })?;
        let value = r.i64()?;
        check(value == type_, || {
            format!("{}: header says type {value}", smt::name(type_))
        })?;
        Ok(r)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err(format!("{}: value too short", smt::name(self.type_)));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn i64(&mut self) -> Result<i64, String> {
        let b = self.take(8)?;
        Ok(i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }

    fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
    }

    fn string(&mut self) -> Result<&'a [u8], String> {
        let len = self.i64()?;
        let len =
            usize::try_from(len).map_err(|_| format!("{}: length {len}", smt::name(self.type_)))?;
        self.take(len)
    }

    /// Every byte read.
    fn end(self) -> CaseResult {
        check(self.bytes.is_empty(), || {
            format!(
                "{}: {} bytes after the value",
                smt::name(self.type_),
                self.bytes.len()
            )
        })
    }
}

fn read_i64(buffer: &Imported<'_>, type_: i64) -> Result<i64, String> {
    let value = buffer.standard_metadata(type_)?;
    let mut r = Reader::new(&value, type_)?;
    let v = r.i64()?;
    r.end()?;
    Ok(v)
}

fn read_i32(buffer: &Imported<'_>, type_: i64) -> Result<i32, String> {
    let value = buffer.standard_metadata(type_)?;
    let mut r = Reader::new(&value, type_)?;
    let v = r.i32()?;
    r.end()?;
    Ok(v)
}

/// One plane of PLANE_LAYOUTS: offset, stride and total size in bytes, width and height in
/// samples.
#[derive(Debug, PartialEq, Eq)]
struct Plane {
    offset: i64,
    stride: i64,
    size: i64,
    width: i64,
    height: i64,
}

fn read_planes(buffer: &Imported<'_>) -> Result<Vec<Plane>, String> {
    let value = buffer.standard_metadata(smt::PLANE_LAYOUTS)?;
    let mut r = Reader::new(&value, smt::PLANE_LAYOUTS)?;
    let count = r.i64()?;
    check((0..=4).contains(&count), || format!("{count} planes"))?;
    let mut planes = Vec::new();
    for _ in 0..count {
        let components = r.i64()?;
        check((0..=8).contains(&components), || {
            format!("{components} components")
        })?;
        for _ in 0..components {
            r.string()?; // the component type's name
            r.i64()?; // its value
            r.i64()?; // offsetInBits
            r.i64()?; // sizeInBits
        }
        let offset = r.i64()?;
        let _sample_increment = r.i64()?;
        let stride = r.i64()?;
        let width = r.i64()?;
        let height = r.i64()?;
        let size = r.i64()?;
        let _horizontal_subsampling = r.i64()?;
        let _vertical_subsampling = r.i64()?;
        planes.push(Plane {
            offset,
            stride,
            size,
            width,
            height,
        });
    }
    r.end()?;
    Ok(planes)
}

// ----------------------------------------------------------------------------------------------
// The cases.
// ----------------------------------------------------------------------------------------------

fn allocate(
    a: &dyn IAllocator,
    width: i32,
    height: i32,
    format: PixelFormat,
    usage: i64,
    count: i32,
) -> Result<AllocationResult, String> {
    let d = descriptor(width, height, format, usage);
    let result = a
        .allocate2(&d, count)
        .map_err(|e| format!("allocate2 {width}x{height} format {}: {e:?}", format.0))?;
    check(result.buffers.len() == count as usize, || {
        format!("{} buffers, asked for {count}", result.buffers.len())
    })?;
    Ok(result)
}

fn info(handle: &NativeHandle) -> Result<BufferInfo, String> {
    BufferInfo::from_ints(&handle.ints).map_err(|e| format!("cannot decode the handle: {e}"))
}

fn pattern(i: usize, seed: u8) -> u8 {
    (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8
}

/// Writes every row through one import, reads them back through a second import of a copy of
/// the handle, then the other way round.
pub(super) fn mapper_write_read_back_through_second_import(a: &dyn IAllocator) -> CaseResult {
    let mapper = Mapper::for_allocator(a)?;
    let (width, height) = (64, 48);
    let result = allocate(a, width, height, PixelFormat::RGBA_8888, CPU_OFTEN, 1)?;
    let handle = result.buffers.first().ok_or("no buffer")?;
    let info = info(handle)?;
    let row = width as usize * 4;
    let pitch = result.stride as usize * 4;
    let len = pitch * (height as usize - 1) + row;
    let first = mapper.import(handle)?;
    let second = mapper.import_copy(handle)?;
    for (seed, writer, reader) in [(0x11, &first, &second), (0x77, &second, &first)] {
        let mut w = writer.lock(wire(Usage::CPU_WRITE_OFTEN), width, height, len, info.size)?;
        for y in 0..height as usize {
            for (x, byte) in w.bytes()[y * pitch..y * pitch + row].iter_mut().enumerate() {
                *byte = pattern(y * row + x, seed);
            }
        }
        w.unlock()?;
        let mut r = reader.lock(wire(Usage::CPU_READ_OFTEN), width, height, len, info.size)?;
        let bytes = r.bytes();
        for y in 0..height as usize {
            for x in 0..row {
                let (got, want) = (bytes[y * pitch + x], pattern(y * row + x, seed));
                check(got == want, || {
                    format!("row {y} byte {x}: read {got:#04x} through the other import, wrote {want:#04x}")
                })?;
            }
        }
        r.unlock()?;
    }
    Ok(())
}

/// What the mapper reports of each buffer agrees with the request and with the handle the
/// allocator made: size, format, usage, stride, name, id, allocation size and every plane.
pub(super) fn mapper_metadata_agrees_with_allocation(a: &dyn IAllocator) -> CaseResult {
    let mapper = Mapper::for_allocator(a)?;
    let cases = [
        (64, 64, PixelFormat::RGBA_8888, CPU_OFTEN, 2),
        (
            96,
            40,
            PixelFormat::YV12,
            CPU_OFTEN | wire(Usage::GPU_TEXTURE),
            1,
        ),
        (
            50,
            30,
            PixelFormat::YCBCR_420_888,
            wire(Usage::CPU_READ_OFTEN) | wire(Usage::CPU_WRITE_RARELY),
            1,
        ),
        (5000, 1, PixelFormat::BLOB, CPU_OFTEN, 1),
    ];
    let mut ids = Vec::new();
    for (width, height, format, usage, count) in cases {
        let result = allocate(a, width, height, format, usage, count)?;
        for handle in &result.buffers {
            let what = format!("{width}x{height} format {}", format.0);
            let info = info(handle)?;
            let buffer = mapper.import(handle)?;
            let expect = |type_: i64, got: i64, want: i64| {
                check(got == want, || {
                    format!(
                        "{what}: {} is {got}, the allocation says {want}",
                        smt::name(type_)
                    )
                })
            };
            expect(smt::WIDTH, read_i64(&buffer, smt::WIDTH)?, width.into())?;
            expect(smt::HEIGHT, read_i64(&buffer, smt::HEIGHT)?, height.into())?;
            expect(smt::LAYER_COUNT, read_i64(&buffer, smt::LAYER_COUNT)?, 1)?;
            let requested = read_i32(&buffer, smt::PIXEL_FORMAT_REQUESTED)?;
            expect(
                smt::PIXEL_FORMAT_REQUESTED,
                requested.into(),
                format.0.into(),
            )?;
            expect(smt::USAGE, read_i64(&buffer, smt::USAGE)?, usage)?;
            let stride = read_i32(&buffer, smt::STRIDE)?;
            expect(smt::STRIDE, stride.into(), result.stride.into())?;
            let id = read_i64(&buffer, smt::BUFFER_ID)? as u64;
            check(id == info.id, || {
                format!("{what}: BUFFER_ID {id}, the handle says {}", info.id)
            })?;
            ids.push(id);
            let size = read_i64(&buffer, smt::ALLOCATION_SIZE)? as u64;
            check(size == info.size, || {
                format!(
                    "{what}: ALLOCATION_SIZE {size}, the handle says {}",
                    info.size
                )
            })?;
            if info.fourcc != 0 {
                let fourcc = read_i32(&buffer, smt::PIXEL_FORMAT_FOURCC)? as u32;
                check(fourcc == info.fourcc, || {
                    format!(
                        "{what}: PIXEL_FORMAT_FOURCC {fourcc:#010x}, the handle says {:#010x}",
                        info.fourcc
                    )
                })?;
            }
            let name = buffer.standard_metadata(smt::NAME)?;
            let mut r = Reader::new(&name, smt::NAME)?;
            let text = r.string()?;
            r.end()?;
            check(text == b"conformance", || {
                format!("{what}: NAME {:?}", String::from_utf8_lossy(text))
            })?;
            let planes = read_planes(&buffer)?;
            let expected: Vec<Plane> = info
                .planes()
                .iter()
                .map(|p| Plane {
                    offset: p.offset as i64,
                    stride: p.stride as i64,
                    size: p.size as i64,
                    width: p.width as i64,
                    height: p.height as i64,
                })
                .collect();
            check(planes == expected, || {
                format!("{what}: PLANE_LAYOUTS {planes:?}, the handle says {expected:?}")
            })?;
        }
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    check(unique.len() == ids.len(), || {
        format!("BUFFER_IDs repeat: {ids:?}")
    })
}
