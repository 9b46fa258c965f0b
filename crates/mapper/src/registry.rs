//! The process's table of imported buffers, keyed by the address of the `native_handle_t` each
//! import hands out. Thread-safe: imports, locks and frees run concurrently on many threads.

use crate::buffer::ImportedBuffer;
use crate::error::MapperError;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};

/// `sizeof(native_handle_t)`: the `version` field of every native handle.
pub const NATIVE_HANDLE_VERSION: i32 = 12;

/// One import: the buffer and the `native_handle_t` words handed to the client (`version`,
/// `numFds`, `numInts`, the fds, the ints). The fds in it belong to the buffer.
struct Entry {
    words: Box<[i32]>,
    buffer: Arc<ImportedBuffer>,
}

/// Imported buffers.
pub struct Registry {
    entries: Mutex<BTreeMap<usize, Entry>>,
}

static GLOBAL: Registry = Registry {
    entries: Mutex::new(BTreeMap::new()),
};

impl Registry {
    /// The process's registry: every loaded instance of the mapper shares it, so a handle
    /// imported through one `AIMapper` is valid through any other.
    pub fn global() -> &'static Registry {
        &GLOBAL
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<usize, Entry>> {
        // Every update below is a single insert or remove: a panic elsewhere cannot leave the
        // map half-changed, so a poisoned lock is still a consistent map.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `buffer` and returns the address of its new `native_handle_t`.
    pub fn insert(&self, buffer: ImportedBuffer) -> Result<*const i32, MapperError> {
        let ints = buffer.info().to_ints();
        let num_ints =
            i32::try_from(ints.len()).map_err(|_| MapperError::no_resources("handle too long"))?;
        let mut words = Vec::with_capacity(5 + ints.len());
        words.extend([
            NATIVE_HANDLE_VERSION,
            2,
            num_ints,
            buffer.memory_fd().as_raw_fd(),
            buffer.metadata_fd().as_raw_fd(),
        ]);
        words.extend(ints);
        let words = words.into_boxed_slice();
        let ptr = words.as_ptr();
        self.entries().insert(
            ptr as usize,
            Entry {
                words,
                buffer: Arc::new(buffer),
            },
        );
        Ok(ptr)
    }

    /// The buffer imported as `handle`.
    pub fn get(&self, handle: usize) -> Result<Arc<ImportedBuffer>, MapperError> {
        self.entries()
            .get(&handle)
            .map(|e| Arc::clone(&e.buffer))
            .ok_or(MapperError::unknown_buffer())
    }

    /// Forgets `handle`; its fds close and its mappings go once no call is using it.
    pub fn remove(&self, handle: usize) -> Result<(), MapperError> {
        let entry = self
            .entries()
            .remove(&handle)
            .ok_or(MapperError::unknown_buffer())?;
        debug_assert_eq!(entry.words.first(), Some(&NATIVE_HANDLE_VERSION));
        drop(entry);
        Ok(())
    }

    /// Every imported buffer, in import-address order.
    pub fn all(&self) -> Vec<Arc<ImportedBuffer>> {
        self.entries()
            .values()
            .map(|e| Arc::clone(&e.buffer))
            .collect()
    }
}
