//! Cache-maintenance policies replayed through the simulator: naive, the mapper's lock-path rule,
//! the device-aware tracker, and the oracle.

use crate::sim::{BufferModel, Faults, Step};
use central_gralloc::cache::{
    CacheDomains, CpuAccess, DeviceAccess, LockDomains, SyncFlags, Tracker, TrackerError,
};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

/// One event on one buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The CPU locks the buffer (reads happen here).
    CpuBegin(CpuAccess),
    /// The CPU unlocks an access begun with this mode (writes happen here).
    CpuEnd(CpuAccess),
    /// A device (profile index) accesses the buffer.
    Device {
        /// Profile index of the device.
        index: usize,
        /// Read or write.
        access: DeviceAccess,
    },
}

/// A way to decide cache maintenance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// What minigbm and Arm gralloc do: `DMA_BUF_IOCTL_SYNC` START on every lock and END on every
    /// unlock, and the driver's full clean before and invalidate after every non-coherent device
    /// access. Blind to the placement: these are the operations requested, some of which a kernel
    /// turns into no-ops for an uncached heap.
    Naive,
    /// What a device gets today from `mapper.central`: the lock-path rule
    /// ([`LockDomains`]) decides the syncs at CPU lock and unlock without ever seeing a device
    /// access, and the drivers do what they do today around each non-coherent device access (the
    /// naive policy's clean before and invalidate after). Device events still change memory and
    /// caches; the rule is only blind to them.
    Mapper,
    /// The device-aware cache-domain tracker ([`central_gralloc::cache::Tracker`]).
    Tracker,
    /// An offline oracle that sees the whole trace: the fewest cleans and invalidates, placed
    /// anywhere between events, that keep every read correct and lose no write.
    Minimum,
}

impl Policy {
    /// Every policy, in report order.
    pub const ALL: [Policy; 4] = [
        Policy::Naive,
        Policy::Mapper,
        Policy::Tracker,
        Policy::Minimum,
    ];

    /// Its position in [`Policy::ALL`].
    pub const fn index(self) -> usize {
        match self {
            Policy::Naive => 0,
            Policy::Mapper => 1,
            Policy::Tracker => 2,
            Policy::Minimum => 3,
        }
    }

    /// `naive`, `tracker`, `minimum`.
    pub const fn name(self) -> &'static str {
        match self {
            Policy::Naive => "naive",
            Policy::Mapper => "mapper",
            Policy::Tracker => "tracker",
            Policy::Minimum => "minimum",
        }
    }
}

/// What a policy did over a replay, and what went wrong.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counts {
    /// `DMA_BUF_IOCTL_SYNC` calls at CPU lock and unlock.
    pub cpu_syncs: u32,
    /// Cleans at device handoffs.
    pub device_cleans: u32,
    /// Invalidates at device handoffs.
    pub device_invalidates: u32,
    /// Reads that returned old data.
    pub stale_reads: u32,
    /// Writes destroyed or discarded.
    pub lost_writes: u32,
}

impl Counts {
    /// Every maintenance operation.
    pub const fn total(&self) -> u32 {
        self.cpu_syncs + self.device_cleans + self.device_invalidates
    }
    /// Whether every read was correct and no write was lost.
    pub const fn correct(&self) -> bool {
        self.stale_reads == 0 && self.lost_writes == 0
    }
    fn key(&self) -> (u32, u32, u32, u32) {
        (
            self.stale_reads + self.lost_writes,
            self.total(),
            self.cpu_syncs,
            self.device_cleans,
        )
    }
    fn fault(&mut self, faults: Faults) {
        self.stale_reads += faults.stale_reads;
        self.lost_writes += faults.lost_writes;
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, rhs: Counts) {
        self.cpu_syncs += rhs.cpu_syncs;
        self.device_cleans += rhs.device_cleans;
        self.device_invalidates += rhs.device_invalidates;
        self.stale_reads += rhs.stale_reads;
        self.lost_writes += rhs.lost_writes;
    }
}

/// Why a replay has no counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// The tracker refuses an event (a device not attached, an unlock without a lock).
    Refused(TrackerError),
    /// The search for the optimum found no correct schedule. Cleaning and invalidating before
    /// every event is always one, so this means the simulator and that argument disagree.
    NoCorrectSchedule,
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Refused(e) => write!(f, "{e}"),
            ReplayError::NoCorrectSchedule => {
                f.write_str("the optimum search found no correct schedule (a simulator bug)")
            }
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<TrackerError> for ReplayError {
    fn from(e: TrackerError) -> ReplayError {
        ReplayError::Refused(e)
    }
}

/// Replays one buffer's events under `policy`. `domains` is the buffer as the tracker sees it,
/// `lock` as the mapper's rule sees it (both from the same placement). Fails on an event the
/// tracker refuses (a device not attached, an unlock without a lock), the same for every policy.
pub fn replay(
    policy: Policy,
    domains: &CacheDomains,
    lock: &LockDomains,
    events: &[Event],
) -> Result<Counts, ReplayError> {
    match policy {
        Policy::Naive => Ok(naive(domains, events)),
        Policy::Mapper => {
            tracker(domains, events)?;
            Ok(mapper(domains, lock, events, DeviceSide::Naive))
        }
        Policy::Tracker => Ok(tracker(domains, events)?),
        Policy::Minimum => {
            // Check well-formedness the same way the tracker does, so all three agree on errors.
            tracker(domains, events)?;
            minimum(domains, events).ok_or(ReplayError::NoCorrectSchedule)
        }
    }
}

/// The steps of one event itself (not its maintenance) in the simulator.
fn access(domains: &CacheDomains, event: Event) -> Option<Step> {
    match event {
        Event::CpuBegin(a) => a.reads().then_some(Step::CpuRead),
        Event::CpuEnd(a) => a.writes().then_some(Step::CpuWrite),
        Event::Device {
            index,
            access: DeviceAccess::Read,
        } => Some(Step::DeviceRead {
            coherent: domains.coherent(index),
        }),
        Event::Device {
            index,
            access: DeviceAccess::Write,
        } => Some(Step::DeviceWrite {
            coherent: domains.coherent(index),
        }),
    }
}

/// Runs `before`, the event, then `after` on the model, counting faults.
fn simulate(
    model: &mut BufferModel,
    counts: &mut Counts,
    before: &[Step],
    event: Option<Step>,
    after: &[Step],
) {
    for &step in before.iter().chain(event.iter()).chain(after) {
        counts.fault(model.apply(step));
    }
}

fn sync_step(flags: SyncFlags) -> Option<Step> {
    if flags.cleans() {
        Some(Step::Clean)
    } else if flags.invalidates() {
        Some(Step::Invalidate)
    } else {
        None
    }
}

fn naive(domains: &CacheDomains, events: &[Event]) -> Counts {
    let mut model = BufferModel::new(domains.cpu_cached());
    let mut counts = Counts::default();
    for &event in events {
        let step = access(domains, event);
        match event {
            Event::CpuBegin(a) => {
                counts.cpu_syncs += 1;
                let sync = sync_step(SyncFlags::START | a.direction());
                simulate(&mut model, &mut counts, sync.as_slice(), step, &[]);
            }
            Event::CpuEnd(a) => {
                counts.cpu_syncs += 1;
                let sync = sync_step(SyncFlags::END | a.direction());
                simulate(&mut model, &mut counts, &[], step, sync.as_slice());
            }
            Event::Device { index, .. } if !domains.coherent(index) => {
                counts.device_cleans += 1;
                counts.device_invalidates += 1;
                simulate(
                    &mut model,
                    &mut counts,
                    &[Step::Clean],
                    step,
                    &[Step::Invalidate],
                );
            }
            Event::Device { .. } => simulate(&mut model, &mut counts, &[], step, &[]),
        }
    }
    counts
}

/// What the device side does around device accesses while the mapper's rule runs the CPU side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSide {
    /// Drivers as today: a clean before and an invalidate after every non-coherent access.
    Naive,
    /// Drivers that keep their mappings (a GPU or a display importing once): no maintenance for
    /// the CPU's sake at all, only the one invalidate no CPU-side rule can give, before a
    /// snooping device reads what a non-coherent device wrote. Under this model the CPU-side
    /// syncs alone must keep every CPU/device handoff correct.
    Persistent,
}

/// The mapper's lock-path rule on the CPU side, `device_side` on the device side. CPU locks held
/// are counted as one process would count them.
pub fn mapper(
    domains: &CacheDomains,
    lock: &LockDomains,
    events: &[Event],
    device_side: DeviceSide,
) -> Counts {
    let mut model = BufferModel::new(domains.cpu_cached());
    let mut counts = Counts::default();
    let mut held = 0u32;
    let mut written_behind_snoops = false;
    for &event in events {
        let step = access(domains, event);
        match event {
            Event::CpuBegin(a) => {
                let sync = lock.lock(a, held > 0);
                held += 1;
                counts.cpu_syncs += u32::from(sync.is_some());
                let before = sync.and_then(sync_step);
                if before == Some(Step::Invalidate) {
                    written_behind_snoops = false;
                }
                simulate(&mut model, &mut counts, before.as_slice(), step, &[]);
            }
            Event::CpuEnd(a) => {
                held = held.saturating_sub(1);
                let sync = lock.unlock(a);
                counts.cpu_syncs += u32::from(sync.is_some());
                let after = sync.and_then(sync_step);
                simulate(&mut model, &mut counts, &[], step, after.as_slice());
            }
            Event::Device { index, access } => {
                let coherent = domains.coherent(index);
                match device_side {
                    DeviceSide::Naive if !coherent => {
                        counts.device_cleans += 1;
                        counts.device_invalidates += 1;
                        simulate(
                            &mut model,
                            &mut counts,
                            &[Step::Clean],
                            step,
                            &[Step::Invalidate],
                        );
                    }
                    DeviceSide::Naive => simulate(&mut model, &mut counts, &[], step, &[]),
                    DeviceSide::Persistent => {
                        let snoop_after_write =
                            coherent && access == DeviceAccess::Read && written_behind_snoops;
                        if snoop_after_write && domains.cpu_cached() {
                            counts.device_invalidates += 1;
                        }
                        let before = if snoop_after_write && domains.cpu_cached() {
                            &[Step::Invalidate][..]
                        } else {
                            &[]
                        };
                        simulate(&mut model, &mut counts, before, step, &[]);
                        if access == DeviceAccess::Write {
                            written_behind_snoops = !coherent;
                        }
                    }
                }
            }
        }
    }
    counts
}

fn tracker(domains: &CacheDomains, events: &[Event]) -> Result<Counts, TrackerError> {
    let word = AtomicU64::new(0);
    let tracker = Tracker::new(*domains, &word);
    let mut model = BufferModel::new(domains.cpu_cached());
    let mut counts = Counts::default();
    for &event in events {
        let step = access(domains, event);
        match event {
            Event::CpuBegin(a) => {
                let sync = tracker.cpu_begin(a)?;
                counts.cpu_syncs += u32::from(sync.is_some());
                simulate(
                    &mut model,
                    &mut counts,
                    sync.and_then(sync_step).as_slice(),
                    step,
                    &[],
                );
            }
            Event::CpuEnd(a) => {
                let sync = tracker.cpu_end(a)?;
                counts.cpu_syncs += u32::from(sync.is_some());
                simulate(
                    &mut model,
                    &mut counts,
                    &[],
                    step,
                    sync.and_then(sync_step).as_slice(),
                );
            }
            Event::Device { index, access } => {
                let sync = tracker.device_access(index, access)?;
                counts.device_cleans += u32::from(sync.clean_before);
                counts.device_invalidates +=
                    u32::from(sync.invalidate_before) + u32::from(sync.invalidate_after);
                let mut before = Vec::with_capacity(2);
                if sync.clean_before {
                    before.push(Step::Clean);
                }
                if sync.invalidate_before {
                    before.push(Step::Invalidate);
                }
                let after = if sync.invalidate_after {
                    &[Step::Invalidate][..]
                } else {
                    &[]
                };
                simulate(&mut model, &mut counts, &before, step, after);
            }
        }
    }
    Ok(counts)
}

/// Exhaustive search over where to clean and invalidate. Between two events the only choices that
/// differ are nothing, clean, invalidate, or clean then invalidate (invalidate then clean is just
/// invalidate); states are merged once renumbered, so the frontier stays a handful of states.
fn minimum(domains: &CacheDomains, events: &[Event]) -> Option<Counts> {
    const CHOICES: [&[Step]; 4] = [
        &[],
        &[Step::Clean],
        &[Step::Invalidate],
        &[Step::Clean, Step::Invalidate],
    ];
    let start = BufferModel::new(domains.cpu_cached()).canonical();
    let mut frontier: HashMap<BufferModel, Counts> = HashMap::from([(start, Counts::default())]);
    let mut previous: Option<Event> = None;
    for &event in events {
        // Operations are named after the handoff they belong to: before a lock they are the lock's
        // syncs, before a device access (or right after one, inside a lock) they are the device's.
        let at_device = match event {
            Event::Device { .. } => true,
            Event::CpuBegin(_) => false,
            Event::CpuEnd(_) => matches!(previous, Some(Event::Device { .. })),
        };
        let step = access(domains, event);
        let mut next: HashMap<BufferModel, Counts> = HashMap::new();
        for (state, cost) in &frontier {
            for ops in CHOICES {
                let mut model = *state;
                let mut counts = *cost;
                simulate(&mut model, &mut counts, ops, step, &[]);
                if !counts.correct() {
                    continue;
                }
                for &op in ops {
                    match (at_device, op) {
                        (false, _) => counts.cpu_syncs += 1,
                        (true, Step::Clean) => counts.device_cleans += 1,
                        (true, _) => counts.device_invalidates += 1,
                    }
                }
                let slot = next.entry(model.canonical()).or_insert(counts);
                if counts.key() < slot.key() {
                    *slot = counts;
                }
            }
        }
        frontier = next;
        previous = Some(event);
    }
    // Cleaning and invalidating before every event is always correct, so the frontier is never
    // empty; if it were, the caller reports that instead of a made-up count.
    frontier.into_values().min_by_key(Counts::key)
}
