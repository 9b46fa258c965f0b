//! The cache-domain tracker runs on the state word of a real buffer's metadata region, and two
//! processes that map the region see one state.

use central_gralloc::cache::{domains, CpuAccess as TrackerCpu, DeviceAccess, SyncFlags, Tracker};
use central_gralloc::descriptor::Descriptor;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::Profile;
use central_gralloc::usage::Usage;
use central_gralloc_memory::metadata::OFFSET_CACHE_STATE;
use central_gralloc_memory::{Allocator, Backend, BackendConfig, Limits};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

#[test]
fn decoder_write_in_one_process_makes_the_other_invalidate() {
    let soc = Profile::builtin("soc").unwrap();
    let usage = Usage::VIDEO_DECODER | Usage::CPU_READ_OFTEN;
    let descriptor =
        Descriptor::simple("decode", 320, 240, PixelFormat::YCBCR_420_888, usage).unwrap();
    let allocator = Allocator::new(
        soc.clone(),
        &BackendConfig::new(Backend::Memfd),
        Limits::default(),
    )
    .unwrap();
    let allocation = allocator.allocate(&descriptor, 1).unwrap();
    let buffer = &allocation.buffers[0];
    let placement = &allocation.placement;
    let domains = domains(&soc, placement, usage).unwrap();
    let codec = soc.device_index("codec").unwrap();
    let mapping = buffer.map_metadata().unwrap();
    let word = mapping.atomic_u64(OFFSET_CACHE_STATE).unwrap();
    assert_eq!(
        word.load(std::sync::atomic::Ordering::Acquire),
        0,
        "a fresh buffer"
    );

    // SAFETY: the child only maps, updates an atomic and _exits; it touches no lock another
    // test thread could hold (no allocation before _exit).
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            // The decoder's process: its own mapping of the same metadata fd.
            let ok = buffer.map_metadata().ok().and_then(|m| {
                let word = m.atomic_u64(OFFSET_CACHE_STATE).ok()?;
                let sync = Tracker::new(domains, word)
                    .device_access(codec, DeviceAccess::Write)
                    .ok()?;
                Some(sync)
            });
            // SAFETY: _exit ends the child without running the parent's destructors.
            unsafe { libc::_exit(if ok.is_some() { 0 } else { 1 }) }
        }
        ForkResult::Parent { child } => {
            assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
        }
    }
    // The reader's process: the codec (non-coherent) wrote, so the CPU must invalidate first...
    let tracker = Tracker::new(domains, word);
    assert_eq!(
        tracker.cpu_begin(TrackerCpu::Read).unwrap(),
        Some(SyncFlags::READ)
    );
    tracker.cpu_end(TrackerCpu::Read).unwrap();
    // ...and once only: the next read finds its cache valid.
    assert_eq!(tracker.cpu_begin(TrackerCpu::Read).unwrap(), None);
    tracker.cpu_end(TrackerCpu::Read).unwrap();
}

#[test]
fn state_word_must_be_aligned_and_inside() {
    let host = Profile::builtin("host").unwrap();
    let allocator =
        Allocator::new(host, &BackendConfig::new(Backend::Memfd), Limits::default()).unwrap();
    let d = Descriptor::simple("w", 8, 8, PixelFormat::RGBA_8888, Usage::CPU_READ_OFTEN).unwrap();
    let allocation = allocator.allocate(&d, 1).unwrap();
    let mapping = allocation.buffers[0].map_metadata().unwrap();
    assert!(mapping.atomic_u64(OFFSET_CACHE_STATE + 4).is_err());
    assert!(mapping.atomic_u64(mapping.len() - 4).is_err());
    assert!(mapping.atomic_u64(usize::MAX - 3).is_err());
}
