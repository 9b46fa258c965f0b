//! The service's pool of pre-made buffers, through the real service: a size asked for in repeated
//! bursts is made ahead of demand by the pool thread, and the next burst is served from it.

mod common;

use central_gralloc::format::PixelFormat;
use central_gralloc_conformance::descriptor;
use central_gralloc_memory::pool::PoolConfig;
use central_gralloc_service::aidl::BufferUsage;
use central_gralloc_service::child::ServiceChild;
use std::time::{Duration, Instant};

fn dump(service: &ServiceChild) -> String {
    let connection = service.connect().expect("connect to the service");
    let (_session, debug) = connection.debug().expect("debug interface");
    debug.dumpText(&[]).expect("dumpText")
}

#[test]
fn repeated_bursts_are_served_from_the_pool() {
    let service = common::start("pool", &["--pool-bytes", "67108864"]);
    let connection = service.connect().expect("connect to the service");
    let d = descriptor(
        640,
        480,
        PixelFormat::RGBA_8888,
        BufferUsage::GPU_TEXTURE.0 | BufferUsage::COMPOSER_OVERLAY.0,
    );
    for burst in 0..2 {
        if burst > 0 {
            // A client's frames come apart in time: two bursts, not one of six.
            std::thread::sleep(PoolConfig::DISABLED.burst * 2);
        }
        let buffers = connection.allocator.allocate2(&d, 3).expect("allocate2");
        assert_eq!(buffers.buffers.len(), 3);
    }
    // The pool thread fills the class in the background: wait until it holds the burst.
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = "1228800 bytes: 3 ready of 3";
    while !dump(&service).contains(ready) {
        assert!(
            Instant::now() < deadline,
            "the pool never filled:\n{}",
            dump(&service)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pooled = connection.allocator.allocate2(&d, 3).expect("allocate2");
    assert_eq!(pooled.buffers.len(), 3);
    let text = dump(&service);
    let class = text
        .lines()
        .find(|l| l.contains("pool class") && l.contains("1228800 bytes"))
        .unwrap_or_else(|| panic!("no pool class line:\n{text}"));
    assert!(class.contains("hits 3"), "{class}");
}
