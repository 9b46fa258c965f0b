//! Tests of the tracker rules on one buffer's state word.

use super::state::*;
use super::Tracker;
use std::sync::atomic::AtomicU64;

const CPU_WRITE: CpuAccess = CpuAccess::Write;
const CPU_READ: CpuAccess = CpuAccess::Read;

/// Devices 0 (coherent, a GPU) and 1 (non-coherent, a display or camera).
fn soc(cached: bool) -> CacheDomains {
    CacheDomains::new(cached)
        .attach(0, true)
        .and_then(|d| d.attach(1, false))
        .unwrap()
}

#[test]
fn word_round_trips_and_zero_is_fresh() {
    assert_eq!(BufferState::from_word(0), Ok(BufferState::INITIAL));
    let state = BufferState {
        lines: CpuLines::Stale,
        last_writer: Domain::Device(CacheDomains::MAX_DEVICES as u8 - 1),
        cpu_writers: 255,
        cpu_readers: 7,
        events: u32::MAX,
    };
    assert_eq!(BufferState::from_word(state.to_word()), Ok(state));
    assert_eq!(
        BufferState::from_word(3),
        Err(TrackerError::CorruptState(3))
    );
    // A last writer past the profile's device limit.
    let beyond = ((CacheDomains::MAX_DEVICES as u64) + 2) << 8;
    assert_eq!(
        BufferState::from_word(beyond),
        Err(TrackerError::CorruptState(beyond))
    );
}

#[test]
fn cpu_write_then_non_coherent_read_cleans_once_at_the_handoff() {
    let word = AtomicU64::new(0);
    let t = Tracker::new(soc(true), &word);
    assert_eq!(t.cpu_begin(CPU_WRITE), Ok(None));
    assert_eq!(t.cpu_end(CPU_WRITE), Ok(None));
    // Relocking before any device touches it needs nothing.
    assert_eq!(t.cpu_begin(CPU_READ), Ok(None));
    assert_eq!(t.cpu_end(CPU_READ), Ok(None));
    let sync = t.device_access(1, DeviceAccess::Read).unwrap();
    assert!(sync.clean_before && !sync.invalidate_after);
    assert_eq!(sync.v4l2_skip_flags(), V4L2_BUF_FLAG_NO_CACHE_INVALIDATE);
    assert_eq!(t.device_access(1, DeviceAccess::Read), Ok(DeviceSync::NONE));
    assert_eq!(
        DeviceSync::NONE.v4l2_skip_flags(),
        V4L2_BUF_FLAG_NO_CACHE_CLEAN | V4L2_BUF_FLAG_NO_CACHE_INVALIDATE
    );
}

#[test]
fn non_coherent_write_then_cpu_read_invalidates_at_the_lock() {
    let word = AtomicU64::new(0);
    let t = Tracker::new(soc(true), &word);
    assert_eq!(
        t.device_access(1, DeviceAccess::Write),
        Ok(DeviceSync::NONE)
    );
    assert_eq!(t.state().unwrap().last_writer, Domain::Device(1));
    assert_eq!(
        t.cpu_begin(CPU_READ),
        Ok(Some(SyncFlags::START | SyncFlags::READ))
    );
    assert_eq!(t.cpu_end(CPU_READ), Ok(None));
    assert_eq!(t.cpu_begin(CPU_READ), Ok(None));
    assert_eq!(t.cpu_end(CPU_READ), Ok(None));
    // A write-only lock still needs the invalidate (partial lines), and START|WRITE would not do it.
    t.device_access(1, DeviceAccess::Write).unwrap();
    assert_eq!(t.cpu_begin(CPU_WRITE), Ok(Some(SyncFlags(1 | 2))));
}

#[test]
fn dirty_lines_are_cleaned_before_a_non_coherent_write() {
    let word = AtomicU64::new(0);
    let t = Tracker::new(soc(true), &word);
    t.cpu_begin(CPU_WRITE).unwrap();
    t.cpu_end(CPU_WRITE).unwrap();
    let sync = t.device_access(1, DeviceAccess::Write).unwrap();
    assert!(sync.clean_before && !sync.invalidate_after);
    assert_eq!(t.state().unwrap().lines, CpuLines::Stale);
}

#[test]
fn coherent_devices_and_uncached_mappings_need_nothing() {
    let word = AtomicU64::new(0);
    let t = Tracker::new(soc(true), &word);
    for _ in 0..3 {
        assert_eq!(t.cpu_begin(CpuAccess::ReadWrite), Ok(None));
        assert_eq!(t.cpu_end(CpuAccess::ReadWrite), Ok(None));
        assert_eq!(t.device_access(0, DeviceAccess::Read), Ok(DeviceSync::NONE));
        assert_eq!(
            t.device_access(0, DeviceAccess::Write),
            Ok(DeviceSync::NONE)
        );
    }
    let word = AtomicU64::new(0);
    let t = Tracker::new(soc(false), &word);
    for access in [DeviceAccess::Write, DeviceAccess::Read] {
        assert_eq!(t.cpu_begin(CpuAccess::ReadWrite), Ok(None));
        assert_eq!(t.cpu_end(CpuAccess::ReadWrite), Ok(None));
        assert_eq!(t.device_access(1, access), Ok(DeviceSync::NONE));
    }
}

#[test]
fn snooping_reader_after_non_coherent_writer_drops_stale_lines() {
    let word = AtomicU64::new(0);
    let t = Tracker::new(soc(true), &word);
    t.device_access(1, DeviceAccess::Write).unwrap();
    let sync = t.device_access(0, DeviceAccess::Read).unwrap();
    assert!(sync.invalidate_before && !sync.clean_before);
    assert_eq!(t.cpu_begin(CPU_READ), Ok(None));
}

#[test]
fn front_buffer_scanout_cleans_at_unlock() {
    let domains = soc(true).read_continuously(1).unwrap();
    let word = AtomicU64::new(0);
    let t = Tracker::new(domains, &word);
    assert_eq!(t.cpu_begin(CPU_WRITE), Ok(None));
    assert_eq!(
        t.cpu_end(CPU_WRITE),
        Ok(Some(SyncFlags::END | SyncFlags::WRITE))
    );
    assert_eq!(t.device_access(1, DeviceAccess::Read), Ok(DeviceSync::NONE));
    assert_eq!(
        soc(true).read_continuously(2),
        Err(TrackerError::NotAttached(2))
    );
}

#[test]
fn refused_events_leave_the_word_alone() {
    let word = AtomicU64::new(0);
    let t = Tracker::new(soc(true), &word);
    assert_eq!(t.cpu_end(CPU_READ), Err(TrackerError::NotLocked(CPU_READ)));
    assert_eq!(
        t.device_access(2, DeviceAccess::Read),
        Err(TrackerError::NotAttached(2))
    );
    assert_eq!(
        t.device_access(CacheDomains::MAX_DEVICES, DeviceAccess::Read),
        Err(TrackerError::DeviceOutOfRange(CacheDomains::MAX_DEVICES))
    );
    assert_eq!(word.into_inner(), 0);
    let word = AtomicU64::new(u64::MAX);
    assert!(matches!(
        Tracker::new(soc(true), &word).cpu_begin(CPU_READ),
        Err(TrackerError::CorruptState(_))
    ));
}

#[test]
fn sync_flags_print_and_mean_what_the_kernel_does() {
    assert_eq!(
        (SyncFlags::START | SyncFlags::READ).to_string(),
        "START|READ"
    );
    assert_eq!((SyncFlags::END | SyncFlags::RW).bits(), 7);
    assert!((SyncFlags::START | SyncFlags::RW).invalidates());
    assert!(!(SyncFlags::START | SyncFlags::WRITE).invalidates());
    assert!((SyncFlags::END | SyncFlags::READ).cleans());
}
