//! Pre-made buffers: per (heap, size) class, fds allocated ahead of demand and never mapped or
//! handed out, so a request for a size clients keep asking for skips the kernel's allocation
//! (and, on an upstream kernel, the zeroing of every page).
//!
//! Which sizes to keep is learned, never configured: a class is kept once its size was asked for
//! at least [`PoolConfig::repeats`] times within [`PoolConfig::window`], as many buffers as the
//! most it was asked for within one [`PoolConfig::burst`] (a SurfaceFlinger swapchain is three
//! requests of one buffer in quick succession), bounded, and emptied after [`PoolConfig::idle`] without demand, or
//! at once under memory pressure. Metadata regions are buffers of their heap too and pool alike.
//! The bytes held never exceed [`PoolConfig::cap_bytes`], and count against no client.
//!
//! A pooled buffer comes straight from its heap and nobody has mapped it, so a client reads what
//! the heap gives every new buffer (zeros), never another client's data.

use crate::error::MemError;
use crate::heap::Heap;
use crate::map::Mapping;
use crate::metadata;
use std::collections::{BTreeMap, VecDeque};
use std::os::fd::OwnedFd;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How much to pool and when to let go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most bytes held ready at once; 0 disables pooling.
    pub cap_bytes: u64,
    /// Demand older than this is forgotten.
    pub window: Duration,
    /// Requests of one size within the window before that size is pooled.
    pub repeats: usize,
    /// Requests this close together count as one burst, whose buffers the class keeps ready.
    pub burst: Duration,
    /// A class without demand for this long is emptied.
    pub idle: Duration,
    /// Most buffers one class keeps.
    pub max_per_class: usize,
}

impl PoolConfig {
    /// No pooling.
    pub const DISABLED: PoolConfig = PoolConfig {
        cap_bytes: 0,
        window: Duration::from_secs(10),
        repeats: 2,
        burst: Duration::from_millis(250),
        idle: Duration::from_secs(30),
        max_per_class: 8,
    };

    /// `min(RAM / 32, 256 MiB)`: room for a few bursts of full-screen buffers, small next to what
    /// the device's clients hold.
    pub fn for_ram(ram: Option<u64>) -> PoolConfig {
        PoolConfig {
            cap_bytes: ram.map_or(64 << 20, |ram| (ram / 32).min(256 << 20)),
            ..PoolConfig::DISABLED
        }
    }
}

/// A class: buffers of one size from one heap (the heap's index in the allocator's list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolKey {
    /// The heap's index in the allocator's list.
    pub heap: usize,
    /// Bytes per buffer.
    pub size: u64,
    /// Row pitch the heap shapes each buffer to ([`Heap::shapes_to_pitch`]); 0 for heaps that
    /// take a size alone, so their classes go by size.
    pub pitch: u64,
    /// Metadata regions: the refill also maps each one's header page, so the handout writes the
    /// header without a system call.
    pub header: bool,
}

/// A pre-made buffer.
#[derive(Debug)]
pub struct Pooled {
    /// The buffer, straight from its heap.
    pub fd: OwnedFd,
    /// Its header page mapped read-write (metadata classes only), never written yet.
    pub header: Option<Mapping>,
    /// The dma-buf name it was made with: the name of the class's latest request, which is
    /// usually the next one's too (a client asks again for what it asked for), so the handout
    /// renames it only when it differs.
    pub name: String,
}

/// What one class did since the service started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// Buffers handed out from the pool.
    pub hits: u64,
    /// Buffers asked for that the pool did not have.
    pub misses: u64,
    /// Buffers allocated ahead of demand.
    pub refills: u64,
    /// Buffers released unused (idle, pressure).
    pub trims: u64,
    /// Refills that failed.
    pub failures: u64,
}

#[derive(Debug, Default)]
struct Class {
    ready: Vec<Pooled>,
    /// Refills being allocated now (counted in the pool's held bytes already).
    in_flight: usize,
    target: usize,
    /// The latest request's name, given to refills.
    name: String,
    /// Recent requests, oldest first.
    demand: VecDeque<Demand>,
    last_demand: Option<Instant>,
    stats: ClassStats,
}

/// One request, and how many buffers its burst had asked for when it came.
#[derive(Clone, Copy, Debug)]
struct Demand {
    at: Instant,
    count: usize,
    burst: usize,
}

#[derive(Debug, Default)]
struct State {
    classes: BTreeMap<PoolKey, Class>,
    held: u64,
}

/// The pool. Takes are quick and never allocate; refills run on the caller of
/// [`Pool::refill`] (a background thread of the service).
#[derive(Debug)]
pub struct Pool {
    config: PoolConfig,
    state: Mutex<State>,
    wake: Condvar,
}

/// Requests of one class remembered for learning, whatever their age: bounds a take's work.
const MAX_DEMAND: usize = 64;

/// Why the pool let buffers go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimReason {
    /// No demand for the class's size within the idle period.
    Idle,
    /// The kernel reported memory pressure.
    Pressure,
}

/// One refill that failed (for the caller to log; the class's target shrank to what it holds).
#[derive(Debug)]
pub struct RefillFailure {
    /// The class.
    pub key: PoolKey,
    /// Why.
    pub error: MemError,
}

impl Pool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Pool {
        Pool {
            config,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> PoolConfig {
        self.config
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent between statements that can panic (none do):
        // a poisoned lock still guards a sound pool.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request for `count` buffers of `key`: records the demand and hands out as many ready
    /// buffers as the class has (possibly none). The caller allocates the rest, then calls
    /// [`Pool::kick`].
    pub fn take(&self, key: PoolKey, name: &str, count: usize, now: Instant) -> Vec<Pooled> {
        if self.config.cap_bytes == 0 {
            return Vec::new();
        }
        let mut guard = self.state();
        let state = &mut *guard;
        let (window, burst) = (self.config.window, self.config.burst);
        let by_cap = usize::try_from(self.config.cap_bytes / key.size.max(1)).unwrap_or(usize::MAX);
        let class = state.classes.entry(key).or_default();
        // The class's requests within the window, each with the size of the burst it ended:
        // one pass over at most MAX_DEMAND entries per take.
        while class
            .demand
            .front()
            .is_some_and(|d| now.saturating_duration_since(d.at) > window)
            || class.demand.len() >= MAX_DEMAND
        {
            class.demand.pop_front();
        }
        let in_burst: usize = class
            .demand
            .iter()
            .rev()
            .take_while(|d| now.saturating_duration_since(d.at) <= burst)
            .map(|d| d.count)
            .sum();
        class.demand.push_back(Demand {
            at: now,
            count,
            burst: in_burst + count,
        });
        let largest = class.demand.iter().map(|d| d.burst).max().unwrap_or(0);
        class.last_demand = Some(now);
        if class.name != name {
            name.clone_into(&mut class.name);
        }
        if class.demand.len() >= self.config.repeats {
            class.target = largest.min(self.config.max_per_class).min(by_cap);
        }
        let n = count.min(class.ready.len());
        let taken: Vec<Pooled> = class.ready.drain(class.ready.len() - n..).collect();
        class.stats.hits += n as u64;
        class.stats.misses += (count - n) as u64;
        state.held -= key.size * n as u64;
        taken
    }

    /// Tells the refill thread that takes may have left work. Called once a request is done,
    /// not at the take: on a busy or single CPU the woken refill would otherwise compete with
    /// the request it is refilling for.
    pub fn kick(&self) {
        if self.config.cap_bytes > 0 {
            self.wake.notify_all();
        }
    }

    /// Refills every class below its target from `heap_of(key.heap)`, within the byte cap, then
    /// returns the failures (each failed class stops at what it holds until demand raises it).
    /// Allocation happens outside the pool's lock, so takes never wait for the kernel.
    pub fn refill<'h>(
        &self,
        heap_of: impl Fn(usize) -> Option<&'h dyn Heap>,
    ) -> Vec<RefillFailure> {
        let mut failures = Vec::new();
        while let Some((key, name)) = self.next_refill() {
            let Some(heap) = heap_of(key.heap) else {
                self.refill_failed(key);
                continue;
            };
            let made = heap
                .allocate_with_pitch(key.size, key.pitch, &name)
                .and_then(|fd| {
                    let header = if key.header {
                        Some(metadata::map_header(std::os::fd::AsFd::as_fd(&fd))?)
                    } else {
                        None
                    };
                    Ok(Pooled { fd, header, name })
                });
            match made {
                Ok(pooled) => self.put(key, pooled),
                Err(error) => {
                    self.refill_failed(key);
                    failures.push(RefillFailure { key, error });
                }
            }
        }
        failures
    }

    /// The next class to grow by one buffer, counting it as held and in flight already so
    /// concurrent refills cannot overshoot the cap or the target.
    fn next_refill(&self) -> Option<(PoolKey, String)> {
        let mut guard = self.state();
        let state = &mut *guard;
        let room = self.config.cap_bytes.saturating_sub(state.held);
        let (key, class) = state
            .classes
            .iter_mut()
            .find(|(k, c)| c.ready.len() + c.in_flight < c.target && k.size <= room)?;
        let key = *key;
        class.in_flight += 1;
        let name = class.name.clone();
        state.held += key.size;
        Some((key, name))
    }

    fn put(&self, key: PoolKey, pooled: Pooled) {
        let mut guard = self.state();
        let state = &mut *guard;
        let class = state.classes.entry(key).or_default();
        class.in_flight = class.in_flight.saturating_sub(1);
        if class.ready.len() < class.target {
            class.ready.push(pooled);
            class.stats.refills += 1;
        } else {
            // Trimmed while it was being allocated: let it go.
            state.held -= key.size;
        }
    }

    fn refill_failed(&self, key: PoolKey) {
        let mut state = self.state();
        state.held -= key.size;
        if let Some(class) = state.classes.get_mut(&key) {
            class.in_flight = class.in_flight.saturating_sub(1);
            class.stats.failures += 1;
            // Stop at what it holds: the next demand for this size sets the target again.
            class.target = class.ready.len() + class.in_flight;
        }
    }

    /// Empties idle classes, or every class when `pressure` says the kernel is short of memory;
    /// returns the buffers released.
    pub fn trim(&self, now: Instant, pressure: bool) -> Vec<(PoolKey, usize, TrimReason)> {
        let mut guard = self.state();
        let state = &mut *guard;
        let idle = self.config.idle;
        let mut released = Vec::new();
        let mut freed = 0u64;
        for (key, class) in state.classes.iter_mut() {
            let idle_now = class
                .last_demand
                .map_or(true, |at| now.saturating_duration_since(at) >= idle);
            let reason = if pressure {
                TrimReason::Pressure
            } else if idle_now {
                TrimReason::Idle
            } else {
                continue;
            };
            class.target = 0;
            let n = class.ready.len();
            if n > 0 {
                class.ready.clear();
                class.stats.trims += n as u64;
                freed += key.size * n as u64;
                released.push((*key, n, reason));
            }
        }
        state.held -= freed;
        released
    }

    /// Blocks until a take may have made work for [`Pool::refill`], or `timeout` passes.
    pub fn wait(&self, timeout: Duration) {
        let state = self.state();
        let _ = self.wake.wait_timeout(state, timeout);
    }

    /// Bytes held ready.
    pub fn held_bytes(&self) -> u64 {
        self.state().held
    }

    /// Per class: its key, buffers ready, target and statistics.
    pub fn classes(&self) -> Vec<(PoolKey, usize, usize, ClassStats)> {
        self.state()
            .classes
            .iter()
            .map(|(k, c)| (*k, c.ready.len(), c.target, c.stats))
            .collect()
    }
}

/// Whether `/proc/pressure/memory` (PSI) says tasks stalled on memory more than 10 % of the last
/// ten seconds. Kernels without PSI report no pressure.
pub fn memory_pressure() -> bool {
    std::fs::read_to_string("/proc/pressure/memory")
        .ok()
        .and_then(|text| some_avg10(&text))
        .is_some_and(|avg10| avg10 > 10.0)
}

/// `avg10` of the `some` line of a PSI file.
fn some_avg10(text: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with("some "))?
        .split_whitespace()
        .find_map(|field| field.strip_prefix("avg10="))?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::MemfdHeap;

    fn config() -> PoolConfig {
        PoolConfig {
            cap_bytes: 64 << 10,
            ..PoolConfig::DISABLED
        }
    }

    const KEY: PoolKey = PoolKey {
        heap: 0,
        size: 8192,
        pitch: 0,
        header: false,
    };

    fn refill(pool: &Pool, heap: &MemfdHeap) -> Vec<RefillFailure> {
        pool.refill(|i| (i == 0).then_some(heap as &dyn Heap))
    }

    #[test]
    fn a_size_asked_for_twice_is_pooled_as_deep_as_the_largest_burst() {
        let (pool, heap, t) = (Pool::new(config()), MemfdHeap, Instant::now());
        assert!(pool.take(KEY, "t", 3, t).is_empty());
        assert!(refill(&pool, &heap).is_empty());
        assert_eq!(pool.held_bytes(), 0, "one request is not a pattern");
        // A second request a second later: two bursts, the larger of three.
        let later = t + Duration::from_secs(1);
        assert!(pool.take(KEY, "t", 2, later).is_empty());
        assert!(refill(&pool, &heap).is_empty());
        assert_eq!(
            pool.held_bytes(),
            3 * 8192,
            "the largest burst in the window"
        );
        assert_eq!(
            pool.take(KEY, "t", 3, later + Duration::from_secs(1)).len(),
            3
        );
        assert_eq!(pool.held_bytes(), 0);
        let [(_, ready, target, stats)] = pool.classes()[..] else {
            panic!("one class");
        };
        assert_eq!((ready, target), (0, 3));
        assert_eq!((stats.hits, stats.misses, stats.refills), (3, 5, 3));
    }

    #[test]
    fn single_requests_in_quick_succession_make_one_burst() {
        let (pool, heap, t) = (Pool::new(config()), MemfdHeap, Instant::now());
        // A swapchain: three requests of one, twice, a second apart.
        for second in 0..2 {
            for ms in [0, 5, 10] {
                pool.take(KEY, "t", 1, t + Duration::from_millis(1000 * second + ms));
            }
        }
        refill(&pool, &heap);
        assert_eq!(
            pool.held_bytes(),
            3 * 8192,
            "three ready for the next swapchain"
        );
    }

    #[test]
    fn the_cap_bounds_what_is_held_and_idle_classes_empty() {
        let big = PoolKey {
            heap: 0,
            size: 40 << 10,
            pitch: 0,
            header: false,
        };
        let (pool, heap, t) = (Pool::new(config()), MemfdHeap, Instant::now());
        pool.take(big, "t", 4, t);
        pool.take(big, "t", 4, t);
        refill(&pool, &heap);
        assert_eq!(
            pool.held_bytes(),
            40 << 10,
            "only one 40 KiB buffer fits 64 KiB"
        );
        assert!(pool.trim(t + Duration::from_secs(1), false).is_empty());
        let released = pool.trim(t + config().idle, false);
        assert_eq!(released, vec![(big, 1, TrimReason::Idle)]);
        assert_eq!(pool.held_bytes(), 0);
        refill(&pool, &heap);
        assert_eq!(pool.held_bytes(), 0, "an idle class is not refilled");
    }

    #[test]
    fn pressure_empties_everything_and_a_disabled_pool_holds_nothing() {
        let (pool, heap, t) = (Pool::new(config()), MemfdHeap, Instant::now());
        pool.take(KEY, "t", 2, t);
        pool.take(KEY, "t", 2, t + Duration::from_secs(1));
        refill(&pool, &heap);
        assert_eq!(pool.held_bytes(), 2 * 8192);
        assert_eq!(pool.trim(t, true), vec![(KEY, 2, TrimReason::Pressure)]);
        assert_eq!(pool.held_bytes(), 0);
        let off = Pool::new(PoolConfig::DISABLED);
        off.take(KEY, "t", 2, t);
        off.take(KEY, "t", 2, t);
        refill(&off, &heap);
        assert_eq!(off.held_bytes(), 0);
    }

    #[test]
    fn a_failing_heap_shrinks_the_class_instead_of_failing_requests() {
        let (pool, t) = (Pool::new(config()), Instant::now());
        pool.take(KEY, "t", 2, t);
        pool.take(KEY, "t", 2, t);
        // Heap index 0 is gone: every refill fails, once per class, and nothing is held.
        let failures = pool.refill(|_| None);
        assert_eq!(
            failures.len(),
            0,
            "a missing heap is not an allocation error"
        );
        assert_eq!(pool.held_bytes(), 0);
        let [(_, ready, target, stats)] = pool.classes()[..] else {
            panic!("one class");
        };
        assert_eq!((ready, target, stats.failures), (0, 0, 1));
        assert!(
            pool.take(KEY, "t", 2, t).is_empty(),
            "requests fall through to the heap"
        );
    }

    #[test]
    fn psi_lines_parse() {
        let text = "some avg10=12.50 avg60=3.00 avg300=0.50 total=100\nfull avg10=1.00 avg60=0.00 avg300=0.00 total=7\n";
        assert_eq!(some_avg10(text), Some(12.5));
        assert_eq!(some_avg10("garbage"), None);
    }
}
