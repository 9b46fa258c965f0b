//! Android fuzz target (Soong's `rust_fuzz` only; on a host `fuzz_targets/service_request.rs`
//! drives the same service through an rsbinder session): the IAllocator service fed parcels by
//! AOSP's `binder_random_parcel_rs::fuzz_service`, as the platform fuzzes its binder services.
//! The service allocates from memfds, with a quota no input can exhaust.

#![no_main]

use binder::BinderFeatures;
use binder_random_parcel_rs::fuzz_service;
use central_gralloc::profile::{HeapRole, Profile};
use central_gralloc_memory::{Allocator, Heap, Limits, MemfdHeap};
use central_gralloc_service::adapter::AllocatorService;
use central_gralloc_service::aidl::BnAllocator;
use central_gralloc_service::gralloc::Gralloc;
use central_gralloc_service::quota::Quota;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

fn gralloc() -> Arc<Gralloc> {
    static GRALLOC: OnceLock<Arc<Gralloc>> = OnceLock::new();
    Arc::clone(GRALLOC.get_or_init(|| {
        let profile = Profile::builtin("host").expect("the built-in host profile");
        let heaps: Vec<(HeapRole, Box<dyn Heap>)> = vec![(HeapRole::System, Box::new(MemfdHeap))];
        let memory = Allocator::with_heaps(profile, heaps, Limits::for_ram(None));
        let mut quota = Quota::for_request_limit(memory.limits().max_batch_bytes);
        quota.cap_bytes = u64::MAX / 4;
        Arc::new(Gralloc::new(memory, quota))
    }))
}

fuzz_target!(|data: &[u8]| {
    let service =
        BnAllocator::new_binder(AllocatorService::new(gralloc()), BinderFeatures::default());
    fuzz_service(&mut service.as_binder(), data);
});
