//! The policies over hand-written handoff chains and random event sequences: the tracker is always
//! correct, never dearer than the naive policy, and as cheap as the oracle wherever it need not guess.

use crate::policy::{mapper, replay, Counts, DeviceSide, Event, Policy};
use central_gralloc::cache::{CacheDomains, CpuAccess, DeviceAccess, LockDomains};
use proptest::prelude::*;

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

/// The mapper's view of a buffer whose usage names exactly the devices `events` use, each with
/// the access it has there (plus `extra_writers`, devices whose usage may write but do not).
fn lock_domains(domains: &CacheDomains, events: &[Event], extra_writers: u64) -> LockDomains {
    let mut lock = LockDomains {
        cpu_cached: domains.cpu_cached(),
        ..LockDomains::default()
    };
    for i in 0..CacheDomains::MAX_DEVICES {
        if domains.attached(i) && domains.coherent(i) {
            lock.coherent |= 1 << i;
        }
    }
    for e in events {
        if let Event::Device { index, access } = *e {
            match access {
                DeviceAccess::Read => lock.readers |= 1 << index,
                DeviceAccess::Write => lock.writers |= 1 << index,
            }
        }
    }
    lock.writers |= extra_writers;
    lock
}

/// `events` with device indices folded onto the `n` attached devices.
fn onto_devices(events: Vec<Event>, n: usize) -> Vec<Event> {
    events
        .into_iter()
        .map(|e| match e {
            Event::Device { index, access } => Event::Device {
                index: index % n,
                access,
            },
            other => other,
        })
        .collect()
}

/// Every policy's counts over `events`, in [`Policy::ALL`] order.
fn all(domains: &CacheDomains, events: &[Event]) -> [Counts; 4] {
    let lock = lock_domains(domains, events, 0);
    Policy::ALL.map(|p| replay(p, domains, &lock, events).unwrap())
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
    let [naive, mapper, tracker, minimum] = all(&d, &chain.repeat(4));
    assert!(naive.correct() && mapper.correct() && tracker.correct() && minimum.correct());
    assert_eq!((tracker.total(), minimum.total()), (4, 4));
    assert_eq!(naive.total(), 16);
    // Blind to the camera, the mapper invalidates at each lock and leaves the read unlock alone.
    assert_eq!((naive.cpu_syncs, mapper.cpu_syncs), (8, 4));
    // Software rendering to a non-coherent display.
    let chain = [
        Event::CpuBegin(CPU_WRITE),
        Event::CpuEnd(CPU_WRITE),
        dev(1, Read),
    ];
    let [naive, mapper, tracker, minimum] = all(&d, &chain.repeat(4));
    assert_eq!(
        (naive.total(), tracker.total(), minimum.total()),
        (16, 4, 4)
    );
    // The mapper cleans at each write unlock; the display's driver still does its own maintenance.
    assert_eq!((naive.cpu_syncs, mapper.cpu_syncs), (8, 4));
    assert!(mapper.correct());
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
        let events = onto_devices(events, n);
        let [naive, mapper, tracker, minimum] = all(&domains, &events);
        prop_assert!(naive.correct(), "the naive policy is the model's sanity check: {naive:?}");
        prop_assert!(mapper.correct(), "mapper: {mapper:?}");
        prop_assert!(mapper.cpu_syncs <= naive.cpu_syncs, "mapper {mapper:?} naive {naive:?}");
        prop_assert!(mapper.total() <= naive.total());
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
        let events = onto_devices(events, n);
        let [_, _, tracker, minimum] = all(&plain, &events);
        prop_assert!(tracker.correct());
        prop_assert_eq!(tracker.total(), minimum.total(), "{:?}", events);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// With drivers that do no maintenance for the CPU's sake (persistent device mappings), the
    /// mapper's CPU-side syncs alone keep every CPU/device handoff correct, whatever devices did
    /// unseen between a lock and the next, and whichever of the devices whose usage may write
    /// actually wrote.
    #[test]
    fn mapper_rule_alone_covers_cpu_handoffs(
        domains in domains(),
        events in sequential_events(),
        extra_writers in 0u64..32,
    ) {
        let n = (0..5).filter(|&i| domains.attached(i)).count();
        let events = onto_devices(events, n);
        let lock = lock_domains(&domains, &events, extra_writers & ((1 << n) - 1));
        let counts = mapper(&domains, &lock, &events, DeviceSide::Persistent);
        prop_assert!(counts.correct(), "{counts:?} {events:?}");
    }
}
