use super::*;
use crate::error::MemError;
use central_gralloc::error::ErrorCode;
use central_gralloc::format::PixelFormat;
use central_gralloc::solver::{CachePolicy, CacheReason};
use central_gralloc::usage::Usage;
use std::path::PathBuf;

fn memfd(profile: &str) -> Allocator {
    let profile = Profile::builtin(profile).unwrap();
    Allocator::new(
        profile,
        &BackendConfig::new(Backend::Memfd),
        Limits::default(),
    )
    .unwrap()
}

fn desc(w: u32, h: u32, format: PixelFormat, usage: Usage) -> Descriptor {
    Descriptor::simple("test-buffer", w, h, format, usage).unwrap()
}

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cg-alloc-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn memfd_backend_allocates_a_batch_with_unique_ids() {
    let a = memfd("host");
    let usage = Usage::GPU_TEXTURE | Usage::CPU_WRITE_OFTEN | Usage::CPU_READ_OFTEN;
    let alloc = a
        .allocate(&desc(1920, 1080, PixelFormat::RGBA_8888, usage), 3)
        .unwrap();
    assert_eq!(alloc.buffers.len(), 3);
    assert!(alloc.stride() >= 1920);
    let ids: std::collections::HashSet<u64> = alloc.buffers.iter().map(Buffer::id).collect();
    assert_eq!(ids.len(), 3);
    for b in &alloc.buffers {
        assert_eq!(b.kind(), BufferKind::Memfd);
        assert_eq!(b.info().size, alloc.placement.size());
        assert_eq!(metadata::read_header(b.metadata_fd()).unwrap().id, b.id());
    }
    assert_eq!(alloc.bytes(), 3 * (alloc.placement.size() + 4096));
    let b = &alloc.buffers[0];
    assert_eq!(
        b.begin_cpu_access(CpuAccess::Write).unwrap(),
        SyncOutcome::NotDmaBuf
    );
    let map = b.map(CpuAccess::ReadWrite).unwrap();
    map.write(0, &[1, 2, 3, 4]).unwrap();
    assert_eq!(
        b.end_cpu_access(CpuAccess::Write).unwrap(),
        SyncOutcome::NotDmaBuf
    );
    // Another buffer's memory is separate.
    let mut out = [9u8; 4];
    alloc.buffers[1]
        .map(CpuAccess::Read)
        .unwrap()
        .read(0, &mut out)
        .unwrap();
    assert_eq!(out, [0; 4]);
}

#[test]
fn stand_ins_serve_only_the_system_role() {
    let a = memfd("soc");
    let roles: Vec<HeapRole> = a.unavailable().iter().map(|u| u.role).collect();
    assert_eq!(
        roles,
        vec![
            HeapRole::SystemUncached,
            HeapRole::Contiguous,
            HeapRole::Protected
        ]
    );

    // The display scans out of contiguous memory: a memfd cannot stand in.
    let e = a
        .allocate(
            &desc(64, 64, PixelFormat::RGBA_8888, Usage::COMPOSER_OVERLAY),
            1,
        )
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unsupported);
    assert!(
        matches!(
            e,
            MemError::HeapUnavailable {
                role: HeapRole::Contiguous,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("system heap only"), "{e}");
    assert!(
        e.to_string().contains("display"),
        "the device that needs it: {e}"
    );

    // Protected content needs the protected heap.
    let e = a
        .solve(&desc(
            64,
            64,
            PixelFormat::RGBA_8888,
            Usage::PROTECTED | Usage::GPU_TEXTURE,
        ))
        .unwrap_err();
    assert!(
        matches!(
            e,
            MemError::HeapUnavailable {
                role: HeapRole::Protected,
                ..
            }
        ),
        "{e}"
    );

    // The camera addresses 32 bits; stand-in memory may lie anywhere.
    let e = a
        .solve(&desc(
            64,
            64,
            PixelFormat::YCRCB_420_SP,
            Usage::CAMERA_OUTPUT,
        ))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unsupported, "{e}");

    // Uncached was only an optimisation: without the heap the solver keeps cached system memory.
    let p = a
        .solve(&desc(
            64,
            64,
            PixelFormat::YCRCB_420_SP,
            Usage::VIDEO_DECODER | Usage::GPU_TEXTURE,
        ))
        .unwrap();
    assert_eq!(
        (p.heap, p.cache, p.reasons.cache),
        (
            HeapRole::System,
            CachePolicy::Cached,
            CacheReason::NoUncachedHeap
        )
    );
    assert!(a.is_supported(&desc(
        64,
        64,
        PixelFormat::YCRCB_420_SP,
        Usage::VIDEO_DECODER | Usage::GPU_TEXTURE
    )));
}

#[test]
fn missing_heap_directory_makes_everything_unsupported_with_the_reason() {
    let profile = Profile::builtin("host").unwrap();
    let config = BackendConfig::dma_heap_in("/nonexistent/dma_heap");
    let a = Allocator::new(profile, &config, Limits::default()).unwrap();
    let e = a
        .allocate(&desc(64, 64, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE), 1)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unsupported);
    assert!(e.to_string().contains("no heap `system`"), "{e}");
    assert!(!a.is_supported(&desc(64, 64, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE)));
    assert!(a.describe()[0].contains("unavailable"));
}

#[test]
fn a_node_that_is_not_a_dma_heap_fails_cleanly_at_allocation() {
    let dir = scratch_dir("null");
    std::os::unix::fs::symlink("/dev/null", dir.join("system")).unwrap();
    let profile = Profile::builtin("host").unwrap();
    let a = Allocator::new(
        profile,
        &BackendConfig::dma_heap_in(&dir),
        Limits::default(),
    )
    .unwrap();
    assert!(a.unavailable().is_empty());
    let e = a
        .allocate(&desc(64, 64, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE), 2)
        .unwrap_err();
    assert_eq!(e.errno(), Some(nix::errno::Errno::ENOTTY), "{e}");
    assert_eq!(e.code(), ErrorCode::Unsupported);
    assert!(
        e.to_string().contains("DMA_HEAP_IOCTL_ALLOC on system"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_heap_that_disappears_before_it_is_opened_is_unavailable() {
    let dir = scratch_dir("gone");
    std::fs::write(dir.join("system"), b"").unwrap();
    let present = list_heaps(&dir).unwrap();
    assert_eq!(present, vec!["system".to_string()]);
    std::fs::remove_dir_all(&dir).unwrap();
    let e = DmaHeap::open(&dir, "system").unwrap_err();
    assert_eq!(e.errno(), Some(nix::errno::Errno::ENOENT), "{e}");
    let a = Allocator::new(
        Profile::builtin("host").unwrap(),
        &BackendConfig::dma_heap_in(&dir),
        Limits::default(),
    )
    .unwrap();
    assert_eq!(a.unavailable().len(), 1);
}

#[test]
fn limits_refuse_before_allocating() {
    let profile = Profile::builtin("host").unwrap();
    let limits = Limits {
        max_batch_bytes: 12 << 20,
        max_count: 8,
    };
    let a = Allocator::new(profile, &BackendConfig::new(Backend::Memfd), limits).unwrap();
    let d = desc(1920, 1080, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE);
    assert!(a.allocate(&d, 1).is_ok());
    let e = a.allocate(&d, 2).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NoResources, "{e}");
    assert_eq!(
        a.allocate(&d, 9).unwrap_err().code(),
        ErrorCode::NoResources
    );
    assert_eq!(
        a.allocate(&d, 0).unwrap_err().code(),
        ErrorCode::BadDescriptor
    );
    // A huge buffer is refused by the limit, not attempted.
    let big = desc(16384, 16384, PixelFormat::RGBA_FP16, Usage::GPU_TEXTURE);
    assert_eq!(
        a.allocate(&big, 1).unwrap_err().code(),
        ErrorCode::NoResources
    );
    // One buffer over the per-request limit can never be allocated: isSupported says so, from
    // the same plan allocate uses.
    assert!(!a.is_supported(&big));
}

#[test]
fn reserved_bytes_and_dataspace_reach_the_metadata_region() {
    use central_gralloc::descriptor::{DescriptorInfo, OPTION_DATASPACE};
    let a = memfd("host");
    let d = Descriptor::from_info(&DescriptorInfo {
        name: b"reserved".to_vec(),
        width: 32,
        height: 32,
        layer_count: 2,
        format: PixelFormat::RGBA_8888.0,
        usage: Usage::GPU_TEXTURE.bits() as i64,
        reserved_size: 5000,
        additional_options: vec![(OPTION_DATASPACE.into(), 143_261_696)],
    })
    .unwrap();
    let alloc = a.allocate(&d, 1).unwrap();
    let b = &alloc.buffers[0];
    assert_eq!(b.info().metadata_size, 4096 + 8192);
    assert_eq!(b.info().layer_count, 2);
    let map = b.map_metadata().unwrap();
    let mut ds = [0u8; 4];
    map.read(metadata::OFFSET_DATASPACE, &mut ds).unwrap();
    assert_eq!(i32::from_le_bytes(ds), 143_261_696);
    let mut reserved = vec![1u8; 5000];
    map.read(metadata::HEADER_SIZE, &mut reserved).unwrap();
    assert!(reserved.iter().all(|&x| x == 0));
}

#[test]
fn one_plan_decides_is_supported_and_allocate() {
    // 1080p RGBA is 8,294,400 bytes plus a page of metadata; a per-request limit below that is a
    // memory-layer bound neither isSupported nor allocate may ignore.
    let profile = Profile::builtin("host").unwrap();
    let tight = Limits {
        max_batch_bytes: 8_000_000,
        max_count: 8,
    };
    let a = Allocator::new(profile, &BackendConfig::new(Backend::Memfd), tight).unwrap();
    let big = desc(1920, 1080, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE);
    let small = desc(640, 480, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE);
    let refusal = a.plan(&big).unwrap_err();
    assert!(matches!(
        refusal,
        MemError::TooLarge {
            what: "request",
            ..
        }
    ));
    assert!(!a.is_supported(&big));
    assert_eq!(
        a.allocate(&big, 1).unwrap_err().to_string(),
        refusal.to_string()
    );
    let plan = a.plan(&small).unwrap();
    assert!(a.is_supported(&small));
    assert_eq!(plan.buffer_bytes(), 640 * 480 * 4 + 4096);
    assert_eq!(plan.stride(), 640);
    let made = a.allocate_planned(&plan, 2).unwrap();
    assert_eq!(made.bytes(), 2 * plan.buffer_bytes());
    // The batch is checked against the same limit when it is allocated.
    assert!(matches!(
        a.allocate_planned(&plan, 7),
        Err(MemError::TooLarge {
            what: "request",
            ..
        })
    ));
}

#[test]
fn pooled_buffers_are_fresh_and_zeroed_with_their_own_header() {
    use crate::map::{CpuAccess, Mapping};
    use crate::pool::PoolConfig;
    let profile = Profile::builtin("host").unwrap();
    let a = Allocator::new(
        profile,
        &BackendConfig::new(Backend::Memfd),
        Limits::default(),
    )
    .unwrap()
    .with_pool(PoolConfig {
        cap_bytes: 16 << 20,
        ..PoolConfig::DISABLED
    });
    let d = desc(256, 256, PixelFormat::RGBA_8888, Usage::CPU_WRITE_OFTEN);
    // Two bursts of two teach the pool the size; the refill makes two buffers and two regions.
    for burst in 0..2 {
        if burst > 0 {
            std::thread::sleep(PoolConfig::DISABLED.burst * 2);
        }
        let first = a.allocate(&d, 2).unwrap();
        for b in &first.buffers {
            // A client scribbles over its buffers before freeing them.
            let m = Mapping::new(b.fd(), b.info().size, CpuAccess::Write).unwrap();
            m.write(0, &[0xab; 4096]).unwrap();
        }
    }
    assert!(a.refill_pool().is_empty());
    assert_eq!(a.pool().held_bytes(), 2 * (256 * 256 * 4 + 4096));
    let pooled = a.allocate(&d, 2).unwrap();
    assert_eq!(a.pool().held_bytes(), 0, "both came from the pool");
    let hits: u64 = a.pool().classes().iter().map(|c| c.3.hits).sum();
    assert_eq!(hits, 4, "two buffers and their two metadata regions");
    for b in &pooled.buffers {
        let m = Mapping::new(b.fd(), b.info().size, CpuAccess::Read).unwrap();
        let mut bytes = vec![0xffu8; b.info().size as usize];
        m.read(0, &mut bytes).unwrap();
        assert!(
            bytes.iter().all(|&v| v == 0),
            "a pooled buffer reads as zero"
        );
        let header = metadata::read_header(b.metadata_fd()).unwrap();
        assert_eq!(header.id, b.id(), "the region's header is this buffer's");
    }
    let ids: std::collections::HashSet<u64> = pooled.buffers.iter().map(Buffer::id).collect();
    assert_eq!(ids.len(), 2);
    assert!(a.describe().iter().any(|l| l.contains("hits 2")));
    let released = a.trim_pool(true);
    assert!(released.is_empty(), "nothing was left to release");
}
