//! Fuzz target: the mapper's standard-metadata decoders (`Value::decode`, what `setMetadata`
//! parses from a client's bytes) and `standard::set` into a real region, then `get` back.
//!
//! Input: one byte picks the type (`StandardType::ALL`, or an unknown value), the rest is the
//! encoded value. Whatever decodes re-encodes to bytes that decode to the same encoding; whatever
//! `set` accepts, `get` reads back as bytes that decode.

#![no_main]

use central_gralloc::descriptor::Descriptor;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::{HeapRole, Profile};
use central_gralloc::usage::Usage;
use central_gralloc_mapper::codec::{StandardType, Value};
use central_gralloc_mapper::standard;
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
        let descriptor = Descriptor::simple("fuzz", 64, 64, PixelFormat(1), Usage(0x33))
            .expect("a 64x64 RGBA_8888 descriptor");
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
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let raw_type = i64::from(pick % 32);
    if let Some(t) = StandardType::from_value(raw_type) {
        if let Ok(value) = Value::decode(t, bytes) {
            let encoded = value.to_bytes();
            match Value::decode(t, &encoded) {
                Ok(again) => assert_eq!(again.to_bytes(), encoded, "{t:?} encoding is not stable"),
                Err(e) => panic!("{t:?} re-encoded does not decode: {e}\n{value:?}"),
            }
        }
    }
    let region = region();
    let info = region.buffer.info();
    if standard::set(info, &region.map, raw_type, bytes).is_ok() {
        let mut out = Vec::new();
        standard::get(info, &region.map, raw_type, &mut out)
            .unwrap_or_else(|e| panic!("type {raw_type} set but not gettable: {e}"));
        let t = StandardType::from_value(raw_type).expect("set accepted a known type");
        if !out.is_empty() {
            assert!(
                Value::decode(t, &out).is_ok(),
                "{t:?} reads back undecodable"
            );
        }
    }
});
