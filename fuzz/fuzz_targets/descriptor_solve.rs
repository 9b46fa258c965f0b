//! Fuzz target: a descriptor's wire fields -> `Descriptor::from_info` -> the solver on each
//! built-in profile -> the layout, with the invariants every placement holds (the same ones the
//! solver's property tests state) and the memory layer's plan of the same descriptor.

#![no_main]

use central_gralloc::descriptor::{
    Descriptor, DescriptorInfo, OPTION_COMPRESSION, OPTION_DATASPACE,
};
use central_gralloc::layout::PAGE_SIZE;
use central_gralloc::profile::{HeapRole, Profile, BUILTIN};
use central_gralloc::solver::{check_device, is_supported, solve};
use central_gralloc_memory::{Allocator, Limits, MemfdHeap};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Reads fields off the input, zero once it runs out.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
}

/// The memory layer over each built-in profile, on memfds (planning allocates nothing).
fn allocators() -> &'static Vec<Allocator> {
    static ALLOCATORS: OnceLock<Vec<Allocator>> = OnceLock::new();
    ALLOCATORS.get_or_init(|| {
        BUILTIN
            .iter()
            .filter_map(|(name, _)| Profile::builtin(name))
            .map(|profile| {
                let heaps = profile
                    .heaps()
                    .iter()
                    .map(|h| {
                        (
                            h.role,
                            Box::new(MemfdHeap) as Box<dyn central_gralloc_memory::Heap>,
                        )
                    })
                    .collect::<Vec<(HeapRole, _)>>();
                Allocator::with_heaps(profile, heaps, Limits::for_ram(None))
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fields(data);
    let width = f.i32();
    let height = f.i32();
    let layer_count = f.i32();
    let format = f.i32();
    let usage = f.i64();
    let reserved_size = f.i64();
    let options = f.u8() % 4;
    let mut additional_options = Vec::new();
    for _ in 0..options {
        let name = match f.u8() % 3 {
            0 => OPTION_DATASPACE.to_string(),
            1 => OPTION_COMPRESSION.to_string(),
            _ => "vendor.unknown".to_string(),
        };
        additional_options.push((name, f.i64()));
    }
    let info = DescriptorInfo {
        name: f.0.to_vec(),
        width,
        height,
        layer_count,
        format,
        usage,
        reserved_size,
        additional_options,
    };
    let Ok(descriptor) = Descriptor::from_info(&info) else {
        return;
    };
    for memory in allocators() {
        let profile = memory.profile();
        let first = solve(&descriptor, profile);
        assert_eq!(
            first,
            solve(&descriptor, profile),
            "the solver is not deterministic"
        );
        assert_eq!(first.is_ok(), is_supported(&descriptor, profile));
        if let Ok(p) = &first {
            let l = &p.layout;
            assert_eq!(l.size % PAGE_SIZE, 0, "size not page-aligned: {l:?}");
            assert!(
                l.layer_stride
                    .checked_mul(u64::from(l.layer_count))
                    .is_some_and(|s| s <= l.size),
                "layers overflow the size: {l:?}"
            );
            for plane in l.planes() {
                assert!(plane.offset + plane.size <= l.layer_stride, "{l:?}");
                assert_eq!(plane.stride * plane.height, plane.size, "{l:?}");
            }
            for i in p.devices().iter() {
                if let Err(e) = check_device(&profile.devices()[i], p.access(i), p, &descriptor) {
                    panic!("device {i} does not fit its own placement: {e:?}\n{p:?}");
                }
            }
        }
        // The memory layer plans from the same solve; it may only refuse more (its limits).
        if let Ok(plan) = memory.plan(&descriptor) {
            assert!(first.is_ok(), "planned what the solver refused");
            assert!(plan.buffer_bytes() >= plan.placement().layout.size);
        }
    }
});
