//! `Gralloc`: the allocator service's policy, in plain functions over the project's own types.
//!
//! Everything a binder method does lives here: validate the count, solve, charge the caller's
//! quota, ask the memory layer for the buffers, count what happened, remember recent failures,
//! write the dump. The binder adapter only converts types.

use crate::error::ServiceError;
use crate::failures::{bounded, Failure, FailureRing};
use crate::quota::{Quota, QuotaTable};
use crate::recent::RecentBuffers;
use central_gralloc::descriptor::{Descriptor, DescriptorInfo};
use central_gralloc::error::ErrorCode;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::Profile;
use central_gralloc::usage::Usage;
use central_gralloc_memory::{Allocator, MemError, NativeHandle, Plan};
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

/// Who is asking: the binder caller's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Process id.
    pub pid: i32,
    /// User id (quotas are per user id: pids are recycled, an app's processes share a uid).
    pub uid: u32,
}

/// The result of `allocate2`: one stride (pixels) for every buffer.
#[derive(Debug)]
pub struct Allocated {
    /// Stride in pixels, the same for all buffers.
    pub stride: i32,
    /// `count` buffers, each as its handle goes on the wire (memory fd, then metadata fd).
    pub buffers: Vec<NativeHandle>,
}

/// Service-wide counters since start.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    buffers: AtomicU64,
    bytes: AtomicU64,
    /// Failed requests by outcome, in the order of [`ErrorCode::ALL`].
    failed: [AtomicU64; 3],
    supported_queries: AtomicU64,
}

impl Counters {
    /// The count of failures sent as `code`.
    fn failed(&self, code: ErrorCode) -> &AtomicU64 {
        let [bad_descriptor, no_resources, unsupported] = &self.failed;
        match code {
            ErrorCode::BadDescriptor => bad_descriptor,
            ErrorCode::NoResources => no_resources,
            ErrorCode::Unsupported => unsupported,
        }
    }
}

/// The allocator service: a memory allocator (with its profile), quotas, counters and recent
/// failures.
pub struct Gralloc {
    memory: Allocator,
    quotas: QuotaTable,
    counters: Counters,
    failures: Mutex<FailureRing>,
    recent: Mutex<RecentBuffers>,
    started: SystemTime,
}

impl Gralloc {
    /// A service allocating from `memory`, with per-client `quota`.
    pub fn new(memory: Allocator, quota: Quota) -> Gralloc {
        Gralloc {
            memory,
            quotas: QuotaTable::new(quota),
            counters: Counters::default(),
            failures: Mutex::new(FailureRing::default()),
            recent: Mutex::new(RecentBuffers::default()),
            started: SystemTime::now(),
        }
    }

    /// Starts the thread that keeps the memory layer's pool filled and trims it when idle or
    /// under memory pressure (nothing when pooling is off). The thread holds only a weak
    /// reference: it ends when the service is dropped.
    pub fn start_pool(gralloc: &Arc<Gralloc>) {
        if gralloc.memory.pool().config().cap_bytes == 0 {
            return;
        }
        let weak = Arc::downgrade(gralloc);
        let spawned = std::thread::Builder::new()
            .name("gralloc-pool".into())
            .spawn(move || pool_loop(&weak));
        if let Err(e) = spawned {
            log::warn!("no buffer pool: cannot start its thread: {e}");
        }
    }

    /// The platform profile.
    pub fn profile(&self) -> &Profile {
        self.memory.profile()
    }

    /// The memory layer.
    pub fn memory(&self) -> &Allocator {
        &self.memory
    }

    /// `allocate2`: `count` buffers for `info`, all with one stride, or nothing at all.
    pub fn allocate(
        &self,
        info: &DescriptorInfo,
        count: i32,
        caller: Caller,
    ) -> Result<Allocated, ServiceError> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let result = self.try_allocate(info, count, caller);
        match &result {
            Ok(allocated) => {
                self.counters
                    .buffers
                    .fetch_add(allocated.buffers.len() as u64, Ordering::Relaxed);
            }
            Err(e) => self.record_failure("allocate2", &request_line(info, count), caller, e),
        }
        result
    }

    fn try_allocate(
        &self,
        info: &DescriptorInfo,
        count: i32,
        caller: Caller,
    ) -> Result<Allocated, ServiceError> {
        // Non-positive counts are malformed; large ones are the memory layer's limit to judge.
        let count = u32::try_from(count)
            .ok()
            .filter(|&n| n > 0)
            .ok_or(ServiceError::InvalidCount(count))?;
        let plan = self.plan(info)?;
        // The request limits first (a huge count is refused before any quota is touched), then
        // the caller's quota, then the memory. Both count the metadata regions: their reserved
        // bytes (up to 16 MiB a buffer) are the client's to choose, like the pixels.
        let bytes = self.memory.limits().check(count, plan.buffer_bytes())?;
        let charge = self.quotas.charge(caller.uid, bytes)?;
        let mut allocation = self.memory.allocate_planned(&plan, count)?;
        self.quotas.hold(charge);
        {
            // A poisoned lock only means another thread panicked mid-push; the ring is sound.
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            for buffer in &mut allocation.buffers {
                recent.push(buffer, &plan.descriptor().name);
            }
        }
        self.counters
            .bytes
            .fetch_add(allocation.bytes(), Ordering::Relaxed);
        let buffers = allocation
            .buffers
            .into_iter()
            .map(|buffer| buffer.into_handle())
            .collect();
        Ok(Allocated {
            stride: plan.stride(),
            buffers,
        })
    }

    /// The memory layer's plan for `info` (every bound of the memory layer) and the one bound the
    /// service adds, the per-client cap: everything `allocate` checks except resources in use.
    /// `isSupported` answers from this alone, so it cannot drift from `allocate2`.
    fn plan(&self, info: &DescriptorInfo) -> Result<Plan, ServiceError> {
        let descriptor = Descriptor::from_info(info)?;
        let plan = self.memory.plan(&descriptor).map_err(|e| match e {
            // A bound that does not change while the service runs: no request can ever pass.
            e @ (MemError::TooLarge { .. } | MemError::TooManyBuffers { .. }) => {
                ServiceError::NeverFits(e)
            }
            e => ServiceError::from(e),
        })?;
        let cap = self.quotas.quota().cap_bytes;
        if plan.buffer_bytes() > cap {
            return Err(ServiceError::NeverFits(MemError::OverQuota {
                used: 0,
                requested: plan.buffer_bytes(),
                cap,
            }));
        }
        Ok(plan)
    }

    /// `isSupported`: the same checks as `allocate` without allocating; false for anything
    /// invalid, never an error.
    pub fn is_supported(&self, info: &DescriptorInfo) -> bool {
        self.counters
            .supported_queries
            .fetch_add(1, Ordering::Relaxed);
        self.plan(info).is_ok()
    }

    /// `allocate` (V1): always refused, and remembered like any failure.
    pub fn allocate_v1(&self, caller: Caller) -> ServiceError {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let error = ServiceError::Deprecated;
        self.record_failure("allocate", "IMapper 4 descriptor", caller, &error);
        error
    }

    fn record_failure(
        &self,
        method: &'static str,
        request: &str,
        caller: Caller,
        e: &ServiceError,
    ) {
        let code = e.code();
        self.counters.failed(code).fetch_add(1, Ordering::Relaxed);
        let failure = Failure {
            at: SystemTime::now(),
            pid: caller.pid,
            uid: caller.uid,
            method,
            request: request.to_string(),
            code,
            reason: bounded(e.to_string()),
        };
        // A poisoned lock only means another thread panicked mid-push; the ring is still sound.
        let mut ring = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        ring.push(failure);
    }

    /// What `dumpsys` prints: profile, heaps, counters, limits, quotas, recent failures.
    pub fn dump(&self, w: &mut dyn Write, _args: &[String]) -> io::Result<()> {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let uptime = self.started.elapsed().map_or(0, |d| d.as_secs());
        writeln!(
            w,
            "central-gralloc allocator (IAllocator V2), up {uptime} s"
        )?;
        writeln!(w, "\n== profile {}", self.profile().name)?;
        write!(w, "{}", self.profile())?;
        writeln!(w, "\n== heaps (role: what serves it)")?;
        for line in self.memory.describe() {
            writeln!(w, "{line}")?;
        }
        writeln!(w, "\n== counters")?;
        writeln!(w, "requests          {}", load(&c.requests))?;
        writeln!(w, "buffers allocated {}", load(&c.buffers))?;
        writeln!(w, "bytes allocated   {}", load(&c.bytes))?;
        writeln!(w, "isSupported calls {}", load(&c.supported_queries))?;
        let failed: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|&code| format!("{code} {}", load(c.failed(code))))
            .collect();
        writeln!(w, "failed            {}", failed.join(", "))?;
        writeln!(
            w,
            "(live buffers are not counted: clients free by closing fds, which the service cannot see)"
        )?;
        writeln!(w, "\n== limits")?;
        let limits = self.memory.limits();
        writeln!(
            w,
            "per request       {} buffers, {} bytes",
            limits.max_count, limits.max_batch_bytes
        )?;
        self.quotas.describe(w)?;
        let ring = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        writeln!(w, "\n== last {} failures (oldest first)", ring.len())?;
        for failure in ring.iter() {
            writeln!(w, "{failure}")?;
        }
        drop(ring);
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.dump(w)
    }
}

/// The pool thread: wait for demand (or a second), trim, refill; log each class's first refill
/// failure only, so a heap that is out of memory does not flood the log.
fn pool_loop(gralloc: &Weak<Gralloc>) {
    let mut logged = std::collections::BTreeSet::new();
    loop {
        let Some(g) = gralloc.upgrade() else { return };
        let memory = &g.memory;
        for (key, n, reason) in memory.trim_pool(central_gralloc_memory::pool::memory_pressure()) {
            log::info!(
                "pool: released {n} buffers of {} bytes ({reason:?})",
                key.size
            );
        }
        for failure in memory.refill_pool() {
            if logged.insert(failure.key) {
                log::warn!(
                    "pool: cannot pre-make {} byte buffers, keeping fewer: {}",
                    failure.key.size,
                    failure.error
                );
            }
        }
        // Wait without keeping the service alive.
        let pool_wait = std::time::Duration::from_secs(1);
        drop(g);
        match gralloc.upgrade() {
            Some(g) => g.memory.pool().wait(pool_wait),
            None => return,
        }
    }
}

/// The request in one line, for the failure ring.
fn request_line(info: &DescriptorInfo, count: i32) -> String {
    let format = PixelFormat(info.format);
    format!(
        "{}x{}x{} {format} usage {} count {count}",
        info.width,
        info.height,
        info.layer_count,
        Usage(info.usage as u64)
    )
}
