//! `dumpsys` of the allocator shows, for its recent buffers, the cache syncs every client's mapper
//! decided, skipped and issued: counters the mapper keeps in the buffer's shared metadata region.

mod common;

use central_gralloc::cache::CpuAccess;
use central_gralloc::format::PixelFormat;
use central_gralloc_conformance::descriptor;
use central_gralloc_mapper::buffer::{ImportedBuffer, SyncMode};
use central_gralloc_memory::{BufferHandle, NativeHandle};
use central_gralloc_service::aidl::BufferUsage;
use std::os::fd::AsFd;

#[test]
fn dump_shows_each_recent_buffers_mapper_syncs() {
    let service = common::start("dump-syncs", &[]);
    let connection = service.connect().expect("connect to the service");
    let usage = BufferUsage::CPU_READ_OFTEN.0 | BufferUsage::CPU_WRITE_OFTEN.0;
    let result = connection
        .allocator
        .allocate2(&descriptor(64, 64, PixelFormat::RGBA_8888, usage), 1)
        .expect("allocate2");
    let wire = &result.buffers[0];
    let handle = BufferHandle::decode(NativeHandle {
        fds: wire
            .fds
            .iter()
            .map(|p| p.as_ref().as_fd().try_clone_to_owned().unwrap())
            .collect(),
        ints: wire.ints.clone(),
    })
    .expect("decode");
    let id = handle.info.id;
    // This client's mapper locks three times. On the host profile every device snoops, so the
    // rule needs no sync at all: six skipped, none decided, none issued.
    let imported = ImportedBuffer::new(handle, SyncMode::Tracked).expect("import");
    for _ in 0..3 {
        imported.lock(CpuAccess::ReadWrite, None).expect("lock");
        imported.unlock().expect("unlock");
    }
    let (_session, debug) = connection.debug().expect("debug interface");
    let text = debug.dumpText(&[]).expect("dumpText");
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{id:#018x}")))
        .unwrap_or_else(|| panic!("no line for buffer {id:#x} in:\n{text}"));
    assert!(line.ends_with("syncs 0 / 6 / 0"), "{line}");
}
