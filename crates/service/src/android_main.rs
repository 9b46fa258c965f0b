//! The Android `main` (built by Soong only; Cargo never discovers this file): logger, a panic
//! hook that logs, the platform profile from a system property, the dma-heap backend, a
//! bounded binder thread pool, `add_service`, join.

use android_hardware_graphics_allocator::aidl::android::hardware::graphics::allocator::IAllocator::BnAllocator;
use anyhow::{anyhow, Context, Result};
use binder::{BinderFeatures, ProcessState};
use central_gralloc::profile::Profile;
use central_gralloc_memory::pool::PoolConfig;
use central_gralloc_memory::{Allocator, Backend, BackendConfig, Limits};
use central_gralloc_service::adapter::AllocatorService;
use central_gralloc_service::gralloc::Gralloc;
use central_gralloc_service::quota::Quota;
use central_gralloc_service::SERVICE_NAME;
use log::{error, info, warn, LevelFilter};
use std::sync::Arc;

/// A built-in profile name (`soc`, `cuttlefish`, `host`) or a profile file path.
const PROFILE_PROPERTY: &str = "ro.vendor.gralloc.central.profile";
/// The profile file a device installs (`prebuilt_etc` in Android.bp) when the property is unset.
const DEFAULT_PROFILE: &str = "/vendor/etc/gralloc/central/profile.conf";
/// Binder threads, as the reference allocator services use.
const BINDER_THREADS: u32 = 4;
fn main() {
    android_logger::init_once(
        android_logger::Config::default()
            .with_tag("central-gralloc")
            .with_max_level(LevelFilter::Info),
    );
    std::panic::set_hook(Box::new(|panic| error!("panic: {panic}")));
    if let Err(e) = run() {
        error!("{e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let name = rustutils::system_properties::read(PROFILE_PROPERTY)
        .with_context(|| format!("cannot read {PROFILE_PROPERTY}"))?
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
    let profile = Profile::resolve(&name).map_err(|e| anyhow!("profile `{name}`: {e}"))?;
    info!("profile {} (from `{name}`)", profile.name);

    let memory = Allocator::new(
        profile,
        &BackendConfig::new(Backend::DmaHeap),
        Limits::for_this_machine(),
    )
    .context("cannot set up the dma-heaps")?
    // Buffers made ahead of demand for the sizes clients keep asking for (memory::pool).
    .with_pool(PoolConfig::for_ram(central_gralloc_memory::sys::total_ram()));
    for line in memory.describe() {
        info!("heap {line}");
    }
    for missing in memory.unavailable() {
        warn!("heap role {} unavailable: {}", missing.role, missing.reason);
    }
    let quota = Quota::for_request_limit(memory.limits().max_batch_bytes);
    let gralloc = Arc::new(Gralloc::new(memory, quota));
    Gralloc::start_pool(&gralloc);

    // Before the pool starts: this thread becomes SCHED_FIFO with SCHED_RESET_ON_FORK, so the
    // pool threads start at ordinary priority and only this one, which joins the pool below,
    // serves calls in real time (crate::realtime says why).
    if let Err(e) = central_gralloc_service::realtime::set_fifo_priority() {
        // Not fatal: the allocator still works, only with ordinary scheduling latency.
        warn!(
            "cannot set SCHED_FIFO priority {}: {e}",
            central_gralloc_service::realtime::FIFO_PRIORITY
        );
    }
    ProcessState::set_thread_pool_max_thread_count(BINDER_THREADS);
    ProcessState::start_thread_pool();
    let service =
        BnAllocator::new_binder(AllocatorService::new(gralloc), BinderFeatures::default());
    binder::add_service(SERVICE_NAME, service.as_binder())
        .map_err(|e| anyhow!("add_service({SERVICE_NAME}): {e:?}"))?;
    info!("registered {SERVICE_NAME}");
    ProcessState::join_thread_pool();
    Err(anyhow!("the binder thread pool ended"))
}
