//! Fuzz target: the buffer handle decoder, which every mapper runs on a handle another process
//! sent: `BufferInfo::from_ints` on hostile ints (and its round trip), then `BufferHandle::decode`
//! with hostile fds, over a real buffer's fds and others that are not buffers.
//!
//! Input: one selector byte, then the ints (little-endian `i32`s). Selector bits 0-5 pick up to
//! three fds (two bits each: none, the real buffer's memory, its metadata region, a plain memfd;
//! bit 6 swaps in `/dev/null` for the third). With bit 7 set, the ints are the real buffer's
//! with the input's ints written over them pairwise as (index, value), so the fuzzer starts from
//! a handle that decodes.

#![no_main]

use central_gralloc::descriptor::Descriptor;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::{HeapRole, Profile};
use central_gralloc::usage::Usage;
use central_gralloc_memory::{
    Allocator, Buffer, BufferHandle, BufferInfo, Heap, Limits, MemfdHeap, NativeHandle,
};
use libfuzzer_sys::fuzz_target;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;

/// Fds the handles are made of.
struct Pool {
    buffer: Buffer,
    memfd: OwnedFd,
    null: File,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let profile = Profile::builtin("host").expect("the built-in host profile");
        let heaps: Vec<(HeapRole, Box<dyn Heap>)> = vec![(HeapRole::System, Box::new(MemfdHeap))];
        let memory = Allocator::with_heaps(profile, heaps, Limits::for_ram(None));
        let usage = Usage(0x33);
        let descriptor = Descriptor::simple("fuzz", 64, 64, PixelFormat(1), usage)
            .expect("a 64x64 RGBA_8888 descriptor");
        let buffer = memory
            .allocate(&descriptor, 1)
            .expect("one memfd buffer")
            .buffers
            .pop()
            .expect("one buffer");
        let memfd = central_gralloc_memory::sys::sealed_memfd("fuzz-plain", 8192, false, false)
            .expect("a plain memfd");
        let null = File::open("/dev/null").expect("/dev/null");
        Pool {
            buffer,
            memfd,
            null,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let words: Vec<i32> = rest
        .chunks(4)
        .map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            i32::from_le_bytes(b)
        })
        .collect();
    let pool = pool();
    let ints = if selector & 0x80 != 0 {
        let mut ints = pool.buffer.info().to_ints();
        for pair in words.chunks_exact(2) {
            let len = ints.len();
            if let Some(slot) = ints.get_mut(pair[0] as u32 as usize % len) {
                *slot = pair[1];
            }
        }
        ints
    } else {
        words
    };
    if let Ok(info) = BufferInfo::from_ints(&ints) {
        let again = BufferInfo::from_ints(&info.to_ints())
            .unwrap_or_else(|e| panic!("re-encoded ints do not decode: {e}\n{info:?}"));
        assert_eq!(again, info, "the ints round trip changed the description");
    }
    let mut fds = Vec::new();
    for slot in 0..3 {
        let pick = (selector >> (2 * slot)) & 3;
        let fd = match (pick, slot, selector & 0x40 != 0) {
            (0, ..) => continue,
            (_, 2, true) => pool.null.as_fd(),
            (1, ..) => pool.buffer.fd(),
            (2, ..) => pool.buffer.metadata_fd(),
            _ => pool.memfd.as_fd(),
        };
        fds.push(fd.try_clone_to_owned().expect("dup a pool fd"));
    }
    if let Ok(handle) = BufferHandle::decode(NativeHandle { fds, ints }) {
        // What decodes, encodes back into a handle that decodes to the same description.
        let encoded = handle.encode().expect("encode a decoded handle");
        let again = BufferHandle::decode(encoded).expect("decode a re-encoded handle");
        assert_eq!(again.info, handle.info);
    }
});
