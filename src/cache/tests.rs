//! Tests of the tracker rules, the policies over random traces, and the shared word across threads.

use super::policy::{replay, Counts, Event, Policy};
use super::state::*;
use super::Tracker;
use proptest::prelude::*;
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

fn dev(index: usize, access: DeviceAccess) -> Event {
    Event::Device { index, access }
}

fn all(domains: &CacheDomains, events: &[Event]) -> [Counts; 3] {
    Policy::ALL.map(|p| replay(p, domains, events).unwrap())
}

#[test]
fn word_round_trips_and_zero_is_fresh() {
    assert_eq!(BufferState::from_word(0), Ok(BufferState::INITIAL));
    let state = BufferState {
        lines: CpuLines::Stale,
        last_writer: Domain::Device(63),
        cpu_writers: 255,
        cpu_readers: 7,
        events: u32::MAX,
    };
    assert_eq!(BufferState::from_word(state.to_word()), Ok(state));
    assert_eq!(
        BufferState::from_word(3),
        Err(TrackerError::CorruptState(3))
    );
    assert_eq!(
        BufferState::from_word(66 << 8),
        Err(TrackerError::CorruptState(66 << 8))
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
        t.device_access(64, DeviceAccess::Read),
        Err(TrackerError::DeviceOutOfRange(64))
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

#[test]
fn handoff_chains_match_the_oracle() {
    use DeviceAccess::{Read, Write};
    let d = soc(true);
    // Camera-like writer, CPU analysis, GPU sampling.
    let chain = [
        dev(1, Write),
        Event::CpuBegin(CPU_READ),
        Event::CpuEnd(CPU_READ),
        dev(0, Read),
    ];
    let [naive, tracker, minimum] = all(&d, &chain.repeat(4));
    assert!(naive.correct() && tracker.correct() && minimum.correct());
    assert_eq!((tracker.total(), minimum.total()), (4, 4));
    assert_eq!(naive.total(), 16);
    // Software rendering to a non-coherent display.
    let chain = [
        Event::CpuBegin(CPU_WRITE),
        Event::CpuEnd(CPU_WRITE),
        dev(1, Read),
    ];
    let [naive, tracker, minimum] = all(&d, &chain.repeat(4));
    assert_eq!(
        (naive.total(), tracker.total(), minimum.total()),
        (16, 4, 4)
    );
    assert_eq!(tracker.device_cleans, 4);
}

/// A random buffer: cached or not, up to five devices of random coherency, maybe a front buffer.
fn domains() -> impl Strategy<Value = CacheDomains> {
    (
        any::<bool>(),
        prop::collection::vec(any::<bool>(), 1..=5),
        any::<bool>(),
    )
        .prop_map(|(cached, coherent, front)| {
            let mut d = CacheDomains::new(cached);
            for (i, &c) in coherent.iter().enumerate() {
                d = d.attach(i, c).unwrap();
            }
            if front {
                d = d.read_continuously(coherent.len() - 1).unwrap();
            }
            d
        })
}

/// Well-formed random events: up to two CPU accesses open at once (two processes), all closed at
/// the end; device accesses may fall inside CPU accesses.
fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec((0u8..4, 0usize..5, 0u8..3), 0..40).prop_map(|raw| {
        let mut open: Vec<CpuAccess> = Vec::new();
        let mut out = Vec::new();
        for (kind, device, mode) in raw {
            let access =
                [CpuAccess::Read, CpuAccess::Write, CpuAccess::ReadWrite][usize::from(mode)];
            let begin = match kind {
                0 => open.len() < 2,
                1 => open.is_empty(),
                _ => {
                    let access = if mode == 0 {
                        DeviceAccess::Write
                    } else {
                        DeviceAccess::Read
                    };
                    out.push(Event::Device {
                        index: device,
                        access,
                    });
                    continue;
                }
            };
            if begin {
                out.push(Event::CpuBegin(access));
                open.push(access);
            } else {
                let ended = open.remove(usize::from(mode) % open.len());
                out.push(Event::CpuEnd(ended));
            }
        }
        out.extend(open.into_iter().map(Event::CpuEnd));
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn tracker_is_correct_and_never_costs_more_than_naive(domains in domains(), events in events()) {
        let n = (0..5).filter(|&i| domains.attached(i)).count();
        let events: Vec<Event> = events
            .into_iter()
            .map(|e| match e {
                Event::Device { index, access } => Event::Device { index: index % n, access },
                other => other,
            })
            .collect();
        let [naive, tracker, minimum] = all(&domains, &events);
        prop_assert!(naive.correct(), "the naive policy is the model's sanity check: {naive:?}");
        prop_assert!(tracker.correct(), "tracker: {tracker:?}");
        prop_assert!(minimum.correct());
        prop_assert!(tracker.total() <= naive.total(), "tracker {tracker:?} naive {naive:?}");
        prop_assert!(tracker.cpu_syncs <= naive.cpu_syncs);
        prop_assert!(tracker.device_cleans <= naive.device_cleans);
        prop_assert!(tracker.device_invalidates <= naive.device_invalidates);
        prop_assert!(minimum.total() <= tracker.total());
    }
}

/// Sequential random events: CPU locks one at a time, no device access inside a lock.
fn sequential_events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec((any::<bool>(), 0usize..5, 0u8..3), 0..40).prop_map(|raw| {
        let mut out = Vec::new();
        for (cpu, device, mode) in raw {
            if cpu {
                let access =
                    [CpuAccess::Read, CpuAccess::Write, CpuAccess::ReadWrite][usize::from(mode)];
                out.extend([Event::CpuBegin(access), Event::CpuEnd(access)]);
            } else {
                let access = if mode == 0 {
                    DeviceAccess::Write
                } else {
                    DeviceAccess::Read
                };
                out.push(Event::Device {
                    index: device,
                    access,
                });
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Online, the tracker only pays more than the offline optimum where it must guess: a device
    /// access inside a CPU write lock (the CPU may already have written) or front-buffer scan-out
    /// (no handoff to clean at). Everywhere else it is optimal.
    #[test]
    fn tracker_is_optimal_on_sequential_handoffs(domains in domains(), events in sequential_events()) {
        let n = (0..5).filter(|&i| domains.attached(i)).count();
        let mut plain = CacheDomains::new(domains.cpu_cached());
        for i in 0..n {
            plain = plain.attach(i, domains.coherent(i)).unwrap();
        }
        let events: Vec<Event> = events
            .into_iter()
            .map(|e| match e {
                Event::Device { index, access } => Event::Device { index: index % n, access },
                other => other,
            })
            .collect();
        let [_, tracker, minimum] = all(&plain, &events);
        prop_assert!(tracker.correct());
        prop_assert_eq!(tracker.total(), minimum.total(), "{:?}", events);
    }
}
