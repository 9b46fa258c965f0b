//! Fuzz target: the readers of the shared metadata region, which every process that imported a
//! buffer can write: the memory layer's header, sync-counter and cache-domain readers, and the
//! mapper's standard-metadata reads and `dumpBuffer`, over a region holding the input bytes.
//! Whatever the mapper reads from the region, a client must be able to decode.

#![no_main]

use central_gralloc::descriptor::Descriptor;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::{HeapRole, Profile};
use central_gralloc::usage::Usage;
use central_gralloc_mapper::codec::{StandardType, Value};
use central_gralloc_mapper::standard;
use central_gralloc_memory::metadata::{self, HEADER_SIZE};
use central_gralloc_memory::{Allocator, Buffer, CpuAccess, Heap, Limits, Mapping, MemfdHeap};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// A real buffer and a writable mapping of its metadata region.
struct Region {
    buffer: Buffer,
    map: Mapping,
}

fn region() -> &'static Region {
    static REGION: OnceLock<Region> = OnceLock::new();
    REGION.get_or_init(|| {
        let profile = Profile::builtin("host").expect("the built-in host profile");
        let heaps: Vec<(HeapRole, Box<dyn Heap>)> = vec![(HeapRole::System, Box::new(MemfdHeap))];
        let memory = Allocator::with_heaps(profile, heaps, Limits::for_ram(None));
        let descriptor = Descriptor::simple("fuzz", 64, 48, PixelFormat(0x32315659), Usage(0x33))
            .expect("a 64x48 YV12 descriptor");
        let buffer = memory
            .allocate(&descriptor, 1)
            .expect("one memfd buffer")
            .buffers
            .pop()
            .expect("one buffer");
        let map = Mapping::new(
            buffer.metadata_fd(),
            buffer.info().metadata_size,
            CpuAccess::Write,
        )
        .expect("map the metadata region");
        Region { buffer, map }
    })
}

fuzz_target!(|data: &[u8]| {
    let region = region();
    let mut page = vec![0u8; HEADER_SIZE];
    let n = data.len().min(HEADER_SIZE);
    page[..n].copy_from_slice(&data[..n]);
    region.map.write(0, &page).expect("write the region");
    let _ = metadata::read_header(region.buffer.metadata_fd());
    let _ = metadata::read_sync_counters(&region.map);
    let _ = metadata::read_domains(&region.map);
    let info = region.buffer.info();
    for t in StandardType::ALL {
        if let Ok(value) = standard::read(info, &region.map, t) {
            let bytes = value.to_bytes();
            if let Err(e) = Value::decode(t, &bytes) {
                panic!("{t:?} read from the region does not decode: {e}\n{value:?}");
            }
        }
    }
    for (t, bytes) in standard::dump(info, &region.map) {
        let t = StandardType::from_value(t).expect("dump names a standard type");
        assert!(
            Value::decode(t, &bytes).is_ok(),
            "dump holds an undecodable {t:?}"
        );
    }
});
