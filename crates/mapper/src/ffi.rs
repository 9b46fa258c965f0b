//! The IMapper stable-C v5 ABI: the exported symbols, the `AIMapper` table and its 15 entry points.
//!
//! This is the only module with unsafe code. Each entry point turns the caller's raw pointers into
//! checked Rust values, calls the safe layers below, and turns the result back into an
//! `AIMapper_Error`. No panic crosses the boundary: every entry point runs under `catch_unwind` and
//! answers a panic with an error code.

use crate::buffer::{ImportedBuffer, Region, SyncMode};
use crate::error::{MapperError, BAD_VALUE, NO_RESOURCES, UNSUPPORTED};
use crate::registry::{Registry, NATIVE_HANDLE_VERSION};
use crate::{standard, vendor};
use central_gralloc_memory::handle::{BufferHandle, HANDLE_FDS, HANDLE_INTS};
use central_gralloc_memory::metadata::HEADER_SIZE;
use central_gralloc_memory::NativeHandle;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::os::fd::{FromRawFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

/// `AIMAPPER_VERSION_5`.
pub const AIMAPPER_VERSION_5: u32 = 5;
/// `NATIVE_HANDLE_MAX_FDS` / `NATIVE_HANDLE_MAX_INTS` (libcutils).
const NATIVE_HANDLE_MAX: c_int = 1024;
/// The name of every standard metadata type.
pub const STANDARD_METADATA_TYPE: &CStr = c"android.hardware.graphics.common.StandardMetadataType";

/// `native_handle_t`: the header; `numFds` fds then `numInts` ints follow it.
#[repr(C)]
#[derive(Debug)]
pub struct NativeHandleT {
    /// `sizeof(native_handle_t)`.
    pub version: c_int,
    /// Fds after the header.
    pub num_fds: c_int,
    /// Ints after the fds.
    pub num_ints: c_int,
}

/// `ARect`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ARect {
    /// Left.
    pub left: i32,
    /// Top.
    pub top: i32,
    /// Right (exclusive).
    pub right: i32,
    /// Bottom (exclusive).
    pub bottom: i32,
}

/// `AIMapper_MetadataType`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct AIMapperMetadataType {
    /// The type's namespace, a NUL-terminated string.
    pub name: *const c_char,
    /// The type within the namespace.
    pub value: i64,
}

/// `AIMapper_MetadataTypeDescription`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct AIMapperMetadataTypeDescription {
    /// The type.
    pub metadata_type: AIMapperMetadataType,
    /// Human-readable description (required for non-standard types).
    pub description: *const c_char,
    /// Whether `getMetadata` answers it.
    pub is_gettable: bool,
    /// Whether `setMetadata` accepts it.
    pub is_settable: bool,
    /// Zero.
    pub reserved: [u8; 32],
}

/// `buffer_handle_t`.
pub type BufferHandleT = *const NativeHandleT;
/// `AIMapper_DumpBufferCallback`.
pub type DumpBufferCallback =
    unsafe extern "C" fn(*mut c_void, AIMapperMetadataType, *const c_void, usize);
/// `AIMapper_BeginDumpBufferCallback`.
pub type BeginDumpBufferCallback = unsafe extern "C" fn(*mut c_void);

/// `AIMapperV5`: the 15 entry points in header order.
#[repr(C)]
#[allow(missing_docs)]
pub struct AIMapperV5 {
    pub import_buffer: unsafe extern "C" fn(*const NativeHandleT, *mut BufferHandleT) -> i32,
    pub free_buffer: unsafe extern "C" fn(BufferHandleT) -> i32,
    pub get_transport_size: unsafe extern "C" fn(BufferHandleT, *mut u32, *mut u32) -> i32,
    pub lock: unsafe extern "C" fn(BufferHandleT, u64, ARect, c_int, *mut *mut c_void) -> i32,
    pub unlock: unsafe extern "C" fn(BufferHandleT, *mut c_int) -> i32,
    pub flush_locked_buffer: unsafe extern "C" fn(BufferHandleT) -> i32,
    pub reread_locked_buffer: unsafe extern "C" fn(BufferHandleT) -> i32,
    pub get_metadata:
        unsafe extern "C" fn(BufferHandleT, AIMapperMetadataType, *mut c_void, usize) -> i32,
    pub get_standard_metadata: unsafe extern "C" fn(BufferHandleT, i64, *mut c_void, usize) -> i32,
    pub set_metadata:
        unsafe extern "C" fn(BufferHandleT, AIMapperMetadataType, *const c_void, usize) -> i32,
    pub set_standard_metadata:
        unsafe extern "C" fn(BufferHandleT, i64, *const c_void, usize) -> i32,
    pub list_supported_metadata_types:
        unsafe extern "C" fn(*mut *const AIMapperMetadataTypeDescription, *mut usize) -> i32,
    pub dump_buffer: unsafe extern "C" fn(BufferHandleT, DumpBufferCallback, *mut c_void) -> i32,
    pub dump_all_buffers:
        unsafe extern "C" fn(BeginDumpBufferCallback, DumpBufferCallback, *mut c_void) -> i32,
    pub get_reserved_region: unsafe extern "C" fn(BufferHandleT, *mut *mut c_void, *mut u64) -> i32,
}

/// `AIMapper`: the version, then the v5 table (aligned like `max_align_t`).
#[repr(C, align(16))]
pub struct AIMapper {
    /// `AIMAPPER_VERSION_5`.
    pub version: u32,
    /// The entry points.
    pub v5: AIMapperV5,
}

// The layout the platform's ABI dump records for these types (hardware/interfaces
// graphics/mapper/stable-c/abi-dumps), checked at compile time.
const _: () = assert!(std::mem::size_of::<AIMapper>() == 128);
const _: () = assert!(std::mem::align_of::<AIMapper>() == 16);
const _: () = assert!(std::mem::offset_of!(AIMapper, v5) == 8);
const _: () = assert!(std::mem::size_of::<AIMapperV5>() == 120);
const _: () = assert!(std::mem::offset_of!(AIMapperV5, get_reserved_region) == 112);
const _: () = assert!(std::mem::size_of::<AIMapperMetadataType>() == 16);
const _: () = assert!(std::mem::size_of::<AIMapperMetadataTypeDescription>() == 64);
const _: () = assert!(std::mem::offset_of!(AIMapperMetadataTypeDescription, description) == 16);
const _: () = assert!(std::mem::offset_of!(AIMapperMetadataTypeDescription, is_gettable) == 24);
const _: () = assert!(std::mem::offset_of!(AIMapperMetadataTypeDescription, is_settable) == 25);
const _: () = assert!(std::mem::offset_of!(AIMapperMetadataTypeDescription, reserved) == 26);
const _: () = assert!(std::mem::size_of::<ARect>() == 16);
const _: () = assert!(std::mem::size_of::<NativeHandleT>() == NATIVE_HANDLE_VERSION as usize);

/// The one table every `AIMapper_loadIMapper` call returns.
static MAPPER: AIMapper = AIMapper {
    version: AIMAPPER_VERSION_5,
    v5: AIMapperV5 {
        import_buffer,
        free_buffer,
        get_transport_size,
        lock,
        unlock,
        flush_locked_buffer,
        reread_locked_buffer,
        get_metadata,
        get_standard_metadata,
        set_metadata,
        set_standard_metadata,
        list_supported_metadata_types,
        dump_buffer,
        dump_all_buffers,
        get_reserved_region,
    },
};

/// The version VTS reads (`dlsym` + `int32_t*`).
#[no_mangle]
pub static ANDROID_HAL_MAPPER_VERSION: u32 = AIMAPPER_VERSION_5;

/// The version the stable-C README names.
#[no_mangle]
pub static ANDROID_HAL_STABLEC_VERSION: u32 = AIMAPPER_VERSION_5;

/// Hands out the mapper: the same table on every call.
///
/// # Safety
/// `out` must be null or valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn AIMapper_loadIMapper(out: *mut *const AIMapper) -> i32 {
    if out.is_null() {
        return UNSUPPORTED;
    }
    // SAFETY: `out` is non-null and, per the ABI, points to writable storage for one pointer.
    unsafe { out.write(&MAPPER) };
    0
}

/// The sync mode, read once per process.
fn mode() -> SyncMode {
    static MODE: OnceLock<SyncMode> = OnceLock::new();
    *MODE.get_or_init(SyncMode::from_env)
}

/// Runs `f`, turning a panic into `on_panic`.
fn guarded<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// An `AIMapper_Error` from a result.
fn code(result: Result<(), MapperError>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => e.code(),
    }
}

fn registered(buffer: BufferHandleT) -> Result<std::sync::Arc<ImportedBuffer>, MapperError> {
    Registry::global().get(buffer as usize)
}

/// A new close-on-exec fd for the caller's `fd`, which stays the caller's.
fn dup_borrowed(fd: c_int) -> Result<OwnedFd, MapperError> {
    if fd < 0 {
        return Err(MapperError::bad_buffer("negative fd in the handle"));
    }
    // SAFETY: F_DUPFD_CLOEXEC reads no memory; on a closed or foreign number it fails with EBADF.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(MapperError::bad_buffer("an fd of the handle is not open"));
    }
    // SAFETY: `new` is a descriptor this call just created; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Takes ownership of an acquire fence (-1 = none). A number that is not an open fd is refused
/// without closing anything.
fn take_fence(fd: c_int) -> Result<Option<OwnedFd>, MapperError> {
    if fd < 0 {
        return Ok(None);
    }
    // SAFETY: F_GETFD reads no memory.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(MapperError::bad_value(
            "the acquire fence is not an open fd",
        ));
    }
    // SAFETY: the ABI passes the fence's ownership to the callee, and it is open (checked above).
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Reads a raw `native_handle_t`'s fds and ints, bounded as libcutils bounds them.
///
/// # Safety
/// `handle` must be null or point to a readable `native_handle_t` whose `numFds + numInts` words
/// follow it, as the ABI requires of a raw handle.
unsafe fn raw_words<'a>(
    handle: *const NativeHandleT,
) -> Result<(&'a [c_int], &'a [c_int]), MapperError> {
    if handle.is_null() {
        return Err(MapperError::bad_buffer("null handle"));
    }
    // SAFETY: non-null, and the caller promises a readable header.
    let header = unsafe { &*handle };
    if header.version != NATIVE_HANDLE_VERSION
        || !(0..=NATIVE_HANDLE_MAX).contains(&header.num_fds)
        || !(0..=NATIVE_HANDLE_MAX).contains(&header.num_ints)
    {
        return Err(MapperError::bad_buffer("not a native_handle_t"));
    }
    let (fds, ints) = (header.num_fds as usize, header.num_ints as usize);
    // SAFETY: the data words start right after the 12-byte header (native_handle_t's flexible
    // array), and the caller promises numFds + numInts of them, bounded above to 2048.
    let data = unsafe { std::slice::from_raw_parts(handle.cast::<c_int>().add(3), fds + ints) };
    Ok(data.split_at(fds))
}

fn import(fds: &[c_int], ints: &[c_int]) -> Result<*const i32, MapperError> {
    // Checked before any dup: a hostile handle with a thousand fds costs nothing.
    if fds.len() != HANDLE_FDS || ints.len() != HANDLE_INTS {
        return Err(MapperError::bad_buffer(format_args!(
            "{} fds and {} ints, a central-gralloc handle has {HANDLE_FDS} and {HANDLE_INTS}",
            fds.len(),
            ints.len()
        )));
    }
    let mut owned = Vec::with_capacity(fds.len());
    for &fd in fds {
        owned.push(dup_borrowed(fd)?);
    }
    let handle = BufferHandle::decode(NativeHandle {
        fds: owned,
        ints: ints.to_vec(),
    })
    .map_err(MapperError::bad_buffer)?;
    Registry::global().insert(ImportedBuffer::new(handle, mode())?)
}

unsafe extern "C" fn import_buffer(handle: *const NativeHandleT, out: *mut BufferHandleT) -> i32 {
    guarded(NO_RESOURCES, || {
        if out.is_null() {
            return BAD_VALUE;
        }
        // SAFETY: a raw handle from the caller, as the ABI describes it.
        let words = unsafe { raw_words(handle) };
        match words.and_then(|(fds, ints)| import(fds, ints)) {
            Ok(imported) => {
                // SAFETY: `out` is non-null and points to storage for one handle.
                unsafe { out.write(imported.cast()) };
                0
            }
            Err(e) => e.code(),
        }
    })
}

unsafe extern "C" fn free_buffer(buffer: BufferHandleT) -> i32 {
    guarded(NO_RESOURCES, || {
        code(Registry::global().remove(buffer as usize))
    })
}

unsafe extern "C" fn get_transport_size(
    buffer: BufferHandleT,
    num_fds: *mut u32,
    num_ints: *mut u32,
) -> i32 {
    guarded(NO_RESOURCES, || {
        if let Err(e) = registered(buffer) {
            return e.code();
        }
        if num_fds.is_null() || num_ints.is_null() {
            return BAD_VALUE;
        }
        // SAFETY: both non-null and, per the ABI, writable for one u32. No process-local data is
        // appended to the handles this mapper hands out, so the whole handle travels.
        unsafe {
            num_fds.write(HANDLE_FDS as u32);
            num_ints.write(HANDLE_INTS as u32);
        }
        0
    })
}

unsafe extern "C" fn lock(
    buffer: BufferHandleT,
    cpu_usage: u64,
    rect: ARect,
    acquire_fence: c_int,
    out: *mut *mut c_void,
) -> i32 {
    guarded(NO_RESOURCES, || {
        // The fence is ours from here on, and closes on every path below.
        let fence = match take_fence(acquire_fence) {
            Ok(fence) => fence,
            Err(e) => return e.code(),
        };
        let result = registered(buffer).and_then(|b| {
            if out.is_null() {
                return Err(MapperError::bad_value("null data pointer"));
            }
            let access = b.access_for(cpu_usage)?;
            b.region_for(Region {
                left: rect.left,
                top: rect.top,
                right: rect.right,
                bottom: rect.bottom,
            })?;
            b.lock(access, fence)
        });
        match result {
            Ok(data) => {
                // SAFETY: non-null (checked above) and writable for one pointer per the ABI.
                unsafe { out.write(data.cast()) };
                0
            }
            Err(e) => e.code(),
        }
    })
}

unsafe extern "C" fn unlock(buffer: BufferHandleT, release_fence: *mut c_int) -> i32 {
    guarded(NO_RESOURCES, || {
        if !release_fence.is_null() {
            // SAFETY: non-null and writable for one int per the ABI. The CPU work is done when
            // unlock returns, so there is never a fence to wait for.
            unsafe { release_fence.write(-1) };
        }
        code(registered(buffer).and_then(|b| b.unlock()))
    })
}

unsafe extern "C" fn flush_locked_buffer(buffer: BufferHandleT) -> i32 {
    guarded(NO_RESOURCES, || {
        code(registered(buffer).and_then(|b| b.flush()))
    })
}

unsafe extern "C" fn reread_locked_buffer(buffer: BufferHandleT) -> i32 {
    guarded(NO_RESOURCES, || {
        code(registered(buffer).and_then(|b| b.reread()))
    })
}

/// Whether a metadata type's name is the standard one (a vendor name otherwise).
///
/// # Safety
/// `name` must be null or a NUL-terminated string.
unsafe fn name_of<'a>(name: *const c_char) -> Option<&'a CStr> {
    if name.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per the ABI.
    Some(unsafe { CStr::from_ptr(name) })
}

/// Encodes type `value` of namespace `name` for `buffer` (the size-query convention: the full
/// size is returned whatever `size` is, and bytes are copied only when they fit).
fn get_encoded(
    buffer: BufferHandleT,
    name: Option<&CStr>,
    value: i64,
    dest: *mut c_void,
    size: usize,
) -> i32 {
    let b = match registered(buffer) {
        Ok(b) => b,
        Err(e) => return -e.code(),
    };
    let mut bytes = Vec::new();
    let result = match name {
        Some(n) if n == STANDARD_METADATA_TYPE => {
            standard::get(b.info(), b.region(), value, &mut bytes).map_err(|e| e.code())
        }
        Some(n) if n == vendor::NAME => vendor::get(&b, value, &mut bytes),
        _ => Err(UNSUPPORTED),
    };
    if let Err(code) = result {
        return -code;
    }
    let Ok(len) = i32::try_from(bytes.len()) else {
        return -NO_RESOURCES;
    };
    if !dest.is_null() && size >= bytes.len() {
        // SAFETY: `dest` is non-null and the caller says it holds `size` bytes, which is at least
        // `bytes.len()`; our vector cannot overlap the caller's buffer.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dest.cast::<u8>(), bytes.len()) };
    }
    len
}

unsafe extern "C" fn get_metadata(
    buffer: BufferHandleT,
    metadata_type: AIMapperMetadataType,
    dest: *mut c_void,
    size: usize,
) -> i32 {
    guarded(-NO_RESOURCES, || {
        // SAFETY: the type's name is a NUL-terminated string per the ABI.
        let name = unsafe { name_of(metadata_type.name) };
        get_encoded(buffer, name, metadata_type.value, dest, size)
    })
}

unsafe extern "C" fn get_standard_metadata(
    buffer: BufferHandleT,
    standard_type: i64,
    dest: *mut c_void,
    size: usize,
) -> i32 {
    guarded(-NO_RESOURCES, || {
        get_encoded(
            buffer,
            Some(STANDARD_METADATA_TYPE),
            standard_type,
            dest,
            size,
        )
    })
}

/// The caller's value bytes; a null pointer is an empty value (size 0 clears an optional type).
///
/// # Safety
/// `data` must be null or readable for `size` bytes.
unsafe fn value_bytes<'a>(data: *const c_void, size: usize) -> Result<&'a [u8], MapperError> {
    if size == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(MapperError::bad_value("null metadata with a non-zero size"));
    }
    if size > isize::MAX as usize {
        return Err(MapperError::bad_value("metadata size out of range"));
    }
    // SAFETY: non-null, readable for `size` bytes per the ABI, and `size` fits an allocation.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) })
}

fn set_encoded(buffer: BufferHandleT, name: Option<&CStr>, value: i64, bytes: &[u8]) -> i32 {
    let b = match registered(buffer) {
        Ok(b) => b,
        Err(e) => return e.code(),
    };
    match name {
        Some(n) if n == STANDARD_METADATA_TYPE => {
            match standard::set(b.info(), b.region(), value, bytes) {
                Ok(()) => 0,
                Err(e) => e.code(),
            }
        }
        Some(n) if n == vendor::NAME => vendor::set(value),
        _ => UNSUPPORTED,
    }
}

unsafe extern "C" fn set_metadata(
    buffer: BufferHandleT,
    metadata_type: AIMapperMetadataType,
    data: *const c_void,
    size: usize,
) -> i32 {
    guarded(NO_RESOURCES, || {
        // SAFETY: the ABI's promises for both pointers.
        let (name, bytes) = unsafe { (name_of(metadata_type.name), value_bytes(data, size)) };
        match bytes {
            Ok(bytes) => set_encoded(buffer, name, metadata_type.value, bytes),
            Err(e) => e.code(),
        }
    })
}

unsafe extern "C" fn set_standard_metadata(
    buffer: BufferHandleT,
    standard_type: i64,
    data: *const c_void,
    size: usize,
) -> i32 {
    guarded(NO_RESOURCES, || {
        // SAFETY: the ABI's promise for `data`.
        match unsafe { value_bytes(data, size) } {
            Ok(bytes) => set_encoded(buffer, Some(STANDARD_METADATA_TYPE), standard_type, bytes),
            Err(e) => e.code(),
        }
    })
}

/// The static description list: standard types, then the vendor ones.
struct Descriptions(Vec<AIMapperMetadataTypeDescription>);

// SAFETY: the list is built once and never changed; its pointers are to `'static` C strings.
unsafe impl Sync for Descriptions {}
// SAFETY: as above; nothing in it is tied to a thread.
unsafe impl Send for Descriptions {}

fn descriptions() -> &'static [AIMapperMetadataTypeDescription] {
    static LIST: OnceLock<Descriptions> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        let standard = standard::SUPPORTED
            .iter()
            .map(|t| AIMapperMetadataTypeDescription {
                metadata_type: AIMapperMetadataType {
                    name: STANDARD_METADATA_TYPE.as_ptr(),
                    value: t.value,
                },
                description: std::ptr::null(),
                is_gettable: t.gettable,
                is_settable: t.settable,
                reserved: [0; 32],
            });
        let vendor = vendor::TYPES
            .iter()
            .map(|t| AIMapperMetadataTypeDescription {
                metadata_type: AIMapperMetadataType {
                    name: vendor::NAME.as_ptr(),
                    value: t.value,
                },
                description: t.description.as_ptr(),
                is_gettable: true,
                is_settable: false,
                reserved: [0; 32],
            });
        Descriptions(standard.chain(vendor).collect())
    });
    &list.0
}

unsafe extern "C" fn list_supported_metadata_types(
    out_list: *mut *const AIMapperMetadataTypeDescription,
    out_count: *mut usize,
) -> i32 {
    guarded(UNSUPPORTED, || {
        if out_list.is_null() || out_count.is_null() {
            return UNSUPPORTED;
        }
        let list = descriptions();
        // SAFETY: both non-null and writable per the ABI; the list lives as long as the process.
        unsafe {
            out_list.write(list.as_ptr());
            out_count.write(list.len());
        }
        0
    })
}

/// Calls `callback` once per gettable type of `b` with its encoding.
///
/// # Safety
/// `callback` must be a function of the dump callback's signature.
unsafe fn dump_one(b: &ImportedBuffer, callback: DumpBufferCallback, context: *mut c_void) {
    for (value, bytes) in standard::dump(b.info(), b.region()) {
        let ty = AIMapperMetadataType {
            name: STANDARD_METADATA_TYPE.as_ptr(),
            value,
        };
        // SAFETY: the caller's callback, with its own context and a value valid for the call.
        unsafe { callback(context, ty, bytes.as_ptr().cast(), bytes.len()) };
    }
    for (value, bytes) in vendor::dump(b) {
        let ty = AIMapperMetadataType {
            name: vendor::NAME.as_ptr(),
            value,
        };
        // SAFETY: as above.
        unsafe { callback(context, ty, bytes.as_ptr().cast(), bytes.len()) };
    }
}

unsafe extern "C" fn dump_buffer(
    buffer: BufferHandleT,
    callback: DumpBufferCallback,
    context: *mut c_void,
) -> i32 {
    guarded(NO_RESOURCES, || match registered(buffer) {
        Ok(b) => {
            // SAFETY: the ABI's callback.
            unsafe { dump_one(&b, callback, context) };
            0
        }
        Err(e) => e.code(),
    })
}

unsafe extern "C" fn dump_all_buffers(
    begin: BeginDumpBufferCallback,
    callback: DumpBufferCallback,
    context: *mut c_void,
) -> i32 {
    guarded(NO_RESOURCES, || {
        for b in Registry::global().all() {
            // SAFETY: the ABI's callbacks, with the caller's context.
            unsafe {
                begin(context);
                dump_one(&b, callback, context);
            }
        }
        0
    })
}

unsafe extern "C" fn get_reserved_region(
    buffer: BufferHandleT,
    out_region: *mut *mut c_void,
    out_size: *mut u64,
) -> i32 {
    guarded(NO_RESOURCES, || {
        let b = match registered(buffer) {
            Ok(b) => b,
            Err(e) => return e.code(),
        };
        if out_region.is_null() || out_size.is_null() {
            return BAD_VALUE;
        }
        let reserved = b.info().reserved_size;
        let region = if reserved == 0 {
            std::ptr::null_mut()
        } else {
            // The decoder checked that the region holds the header and the reserved bytes, and the
            // mapping covers the whole region.
            b.region().as_ptr().wrapping_add(HEADER_SIZE).cast()
        };
        // SAFETY: both non-null and writable per the ABI; the region stays mapped until free.
        unsafe {
            out_region.write(region);
            out_size.write(reserved);
        }
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BAD_BUFFER;

    #[test]
    fn load_returns_one_table_with_every_entry() {
        let mut a: *const AIMapper = std::ptr::null();
        let mut b: *const AIMapper = std::ptr::null();
        // SAFETY: valid out-pointers.
        unsafe {
            assert_eq!(AIMapper_loadIMapper(&mut a), 0);
            assert_eq!(AIMapper_loadIMapper(&mut b), 0);
            assert_eq!(AIMapper_loadIMapper(std::ptr::null_mut()), UNSUPPORTED);
        }
        assert!(std::ptr::eq(a, b) && std::ptr::eq(a, &MAPPER));
        assert_eq!(MAPPER.version, 5);
        assert_eq!(ANDROID_HAL_MAPPER_VERSION, MAPPER.version);
    }

    #[test]
    fn unknown_handles_are_bad_buffers() {
        let fake = [NATIVE_HANDLE_VERSION, 0, 0];
        let h: BufferHandleT = fake.as_ptr().cast();
        let mut fence = 0;
        // SAFETY: `h` points to a valid empty native handle that was never imported.
        unsafe {
            assert_eq!(free_buffer(h), BAD_BUFFER);
            assert_eq!(unlock(h, &mut fence), BAD_BUFFER);
            assert_eq!(fence, -1);
            assert_eq!(
                get_standard_metadata(h, 1, std::ptr::null_mut(), 0),
                -BAD_BUFFER
            );
            let mut out = std::ptr::null();
            assert_eq!(import_buffer(h, &mut out), BAD_BUFFER);
            assert_eq!(import_buffer(std::ptr::null(), &mut out), BAD_BUFFER);
        }
    }
}
