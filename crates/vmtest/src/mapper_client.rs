//! A client of `mapper.central`'s `AIMapper` table for the VM's tests: import a raw handle, lock,
//! unlock, free. It calls the same entry points `dlopen` would reach (the binaries are static,
//! so the library is linked in rather than loaded).

use std::ffi::c_void;
use std::os::fd::RawFd;
use std::ptr;

use central_gralloc_mapper::ffi::{AIMapper, AIMapperV5, ARect, BufferHandleT, NativeHandleT};
use central_gralloc_mapper::AIMapper_loadIMapper;

/// The mapper's v5 entry points.
pub struct Mapper {
    v5: &'static AIMapperV5,
}

/// One imported buffer; freed on drop.
pub struct Imported<'a> {
    mapper: &'a Mapper,
    handle: BufferHandleT,
}

/// The whole buffer, as `ARect` all zero means.
const WHOLE: ARect = ARect {
    left: 0,
    top: 0,
    right: 0,
    bottom: 0,
};

impl Mapper {
    /// Loads the mapper through its exported entry point.
    pub fn load() -> Result<Mapper, String> {
        let mut table: *const AIMapper = ptr::null();
        // SAFETY: a valid out-pointer; the table is a static of the library.
        let err = unsafe { AIMapper_loadIMapper(&mut table) };
        if err != 0 || table.is_null() {
            return Err(format!("AIMapper_loadIMapper: error {err}"));
        }
        // SAFETY: non-null pointer to the library's static table, valid for the process.
        let v5 = unsafe { &(*table).v5 };
        Ok(Mapper { v5 })
    }

    /// Imports a raw handle made of `fds` (borrowed: the mapper dups them) and `ints`.
    pub fn import(&self, fds: &[RawFd], ints: &[i32]) -> Result<Imported<'_>, String> {
        let mut words = vec![12, fds.len() as i32, ints.len() as i32];
        words.extend(fds);
        words.extend(ints);
        let mut handle: BufferHandleT = ptr::null();
        // SAFETY: `words` is a complete native_handle_t for the duration of the call.
        let err =
            unsafe { (self.v5.import_buffer)(words.as_ptr().cast::<NativeHandleT>(), &mut handle) };
        if err != 0 {
            return Err(format!("importBuffer: error {err}"));
        }
        Ok(Imported {
            mapper: self,
            handle,
        })
    }
}

impl Imported<'_> {
    /// Locks the whole buffer for `cpu_usage`; the address of its first byte.
    pub fn lock(&self, cpu_usage: u64) -> Result<*mut u8, String> {
        let mut data: *mut c_void = ptr::null_mut();
        // SAFETY: an imported handle, a valid out-pointer, no fence.
        let err = unsafe { (self.mapper.v5.lock)(self.handle, cpu_usage, WHOLE, -1, &mut data) };
        if err != 0 {
            return Err(format!("lock: error {err}"));
        }
        Ok(data.cast())
    }

    /// Ends the most recent lock.
    pub fn unlock(&self) -> Result<(), String> {
        let mut fence = -1;
        // SAFETY: an imported handle and a valid out-pointer.
        let err = unsafe { (self.mapper.v5.unlock)(self.handle, &mut fence) };
        if err != 0 {
            return Err(format!("unlock: error {err}"));
        }
        Ok(())
    }
}

impl Drop for Imported<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle was imported by this mapper and is freed exactly once, here.
        unsafe { (self.mapper.v5.free_buffer)(self.handle) };
    }
}
