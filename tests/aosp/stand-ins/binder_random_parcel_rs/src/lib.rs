//! Stand-in for AOSP's `binder_random_parcel_rs` (frameworks/native/libs/binder/rust/tests/
//! parcel_fuzzer/random_parcel): the signature the service fuzzer calls, so tests/aosp/check
//! compiles it. The platform's version builds random parcels from the data and transacts them.

/// Sends `binder` transactions built from `fuzzer_data`.
pub fn fuzz_service(binder: &mut binder::SpIBinder, fuzzer_data: &[u8]) {
    let _ = (binder, fuzzer_data);
}
