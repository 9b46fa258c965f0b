//! Host only: building the service from command-line choices and serving it on a socket until
//! SIGTERM/SIGINT. Used by `allocator-service` and by `gralloc demo`'s child process.

use crate::adapter::AllocatorService;
use crate::aidl::{BnAllocator, IAllocator};
use crate::debug::{BnAllocatorDebug, DebugService, IAllocatorDebug};
use crate::gralloc::Gralloc;
use crate::quota::Quota;
use crate::rpc::{debug_socket_path, SocketServer};
use binder::{Interface, Strong};
use central_gralloc::profile::{HeapRole, Profile};
use central_gralloc_memory::pool::PoolConfig;
use central_gralloc_memory::{Allocator, Backend, BackendConfig, Heap, Limits, MemfdHeap, Udmabuf};
use std::path::Path;
use std::sync::Arc;

/// How to make the memory: `--profile`, `--backend`, `--stand-in`.
#[derive(Clone, Debug)]
pub struct MemoryChoice {
    /// A built-in profile name or a profile file.
    pub profile: String,
    /// `dmaheap`, `udmabuf`, `memfd` or `auto`.
    pub backend: String,
    /// With udmabuf or memfd: serve every heap role of the profile with that backend.
    pub stand_in: bool,
    /// Bytes of pre-made buffers to keep ([`central_gralloc_memory::pool`]); `None` or 0 keeps
    /// none.
    pub pool_bytes: Option<u64>,
}

impl Default for MemoryChoice {
    fn default() -> MemoryChoice {
        MemoryChoice {
            profile: "host".into(),
            backend: "auto".into(),
            stand_in: false,
            pool_bytes: None,
        }
    }
}

/// The memory allocator for `choice`.
///
/// Without `stand_in`, the memory layer's policy applies: udmabuf and memfd stand in for the
/// system heap only, and placements needing another role are `UNSUPPORTED`. With it, every
/// role the profile names is served by the host backend. That is still honest: the memory
/// layer tells the solver that a stand-in is neither contiguous nor address-limited, so a
/// buffer for a 32-bit device stays `UNSUPPORTED`, and every handle says `memfd`/`udmabuf`.
pub fn allocator(choice: &MemoryChoice) -> Result<Allocator, String> {
    let profile = Profile::resolve(&choice.profile).map_err(|e| e.to_string())?;
    let system_heap = profile
        .heap(HeapRole::System)
        .map_or("system".to_string(), |h| h.name.clone());
    let config = match choice.backend.as_str() {
        "auto" => BackendConfig::detect(&system_heap),
        "dmaheap" | "dma-heap" => BackendConfig::new(Backend::DmaHeap),
        "udmabuf" => BackendConfig::new(Backend::Udmabuf),
        "memfd" => BackendConfig::new(Backend::Memfd),
        other => return Err(format!("unknown backend `{other}`")),
    };
    let limits = Limits::for_this_machine();
    let pool = PoolConfig {
        cap_bytes: choice.pool_bytes.unwrap_or(0),
        ..PoolConfig::DISABLED
    };
    if !choice.stand_in || config.backend == Backend::DmaHeap {
        return Allocator::new(profile, &config, limits)
            .map(|a| a.with_pool(pool))
            .map_err(|e| e.to_string());
    }
    let mut heaps: Vec<(HeapRole, Box<dyn Heap>)> = Vec::new();
    for spec in profile.heaps() {
        let heap: Box<dyn Heap> = match config.backend {
            Backend::Udmabuf => {
                Box::new(Udmabuf::open(&config.udmabuf).map_err(|e| e.to_string())?)
            }
            _ => Box::new(MemfdHeap),
        };
        heaps.push((spec.role, heap));
    }
    Ok(Allocator::with_heaps(profile, heaps, limits).with_pool(pool))
}

/// The service for `choice` with the default per-client quota, its heaps logged.
pub fn gralloc(choice: &MemoryChoice) -> Result<Arc<Gralloc>, String> {
    gralloc_with_quota(choice, None)
}

/// The service for `choice`, its heaps logged. `quota_bytes` replaces the default per-client
/// cap ([`Quota::for_request_limit`]) for its one-second window; benchmarks raise it so a tight
/// allocation loop is not refused with `NO_RESOURCES`.
pub fn gralloc_with_quota(
    choice: &MemoryChoice,
    quota_bytes: Option<u64>,
) -> Result<Arc<Gralloc>, String> {
    let memory = allocator(choice)?;
    for line in memory.describe() {
        log::info!("heap {line}");
    }
    for missing in memory.unavailable() {
        log::warn!("heap role {} unavailable: {}", missing.role, missing.reason);
    }
    let mut quota = Quota::for_request_limit(memory.limits().max_batch_bytes);
    if let Some(cap_bytes) = quota_bytes {
        quota.cap_bytes = cap_bytes;
    }
    log::info!(
        "quota: {} bytes per client per {} ms",
        quota.cap_bytes,
        quota.window.as_millis()
    );
    let gralloc = Arc::new(Gralloc::new(memory, quota));
    Gralloc::start_pool(&gralloc);
    Ok(gralloc)
}

/// The IAllocator binder for `gralloc`.
pub fn allocator_binder(gralloc: Arc<Gralloc>) -> Strong<dyn IAllocator> {
    BnAllocator::new_binder(AllocatorService::new(gralloc))
}

/// Serves `gralloc` on the socket `path` (and its debug interface on `PATH.debug`) until
/// SIGTERM or SIGINT, then stops cleanly and removes both sockets.
pub fn serve_until_signal(path: &Path, gralloc: Arc<Gralloc>) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    // Registered before serving, so a signal that arrives early is not lost.
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| format!("cannot register signal handlers: {e}"))?;
    let debug: Strong<dyn IAllocatorDebug> =
        BnAllocatorDebug::new_binder(DebugService::new(Arc::clone(&gralloc)));
    let debug_server = SocketServer::start(&debug_socket_path(path), debug.as_binder())?;
    let service = allocator_binder(gralloc);
    let server = SocketServer::start(path, service.as_binder())?;
    log::info!("serving IAllocator on {}", path.display());
    let signal = signals.forever().next();
    log::info!("signal {signal:?}: stopping");
    server.stop();
    debug_server.stop();
    log::info!("stopped; {} removed", path.display());
    Ok(())
}

/// Writes log records to stderr, prefixed with the program and pid.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "allocator-service[{}] {} {}",
                std::process::id(),
                record.level(),
                record.args()
            );
        }
    }
    fn flush(&self) {}
}

/// Logs to stderr at the level of `CENTRAL_GRALLOC_LOG` (`error`, `warn`, `info` (default),
/// `debug`, `off`), and logs panics.
pub fn init_logging() {
    let level = match std::env::var("CENTRAL_GRALLOC_LOG").as_deref() {
        Ok("error") => log::LevelFilter::Error,
        Ok("warn") => log::LevelFilter::Warn,
        Ok("debug") => log::LevelFilter::Debug,
        Ok("off") => log::LevelFilter::Off,
        _ => log::LevelFilter::Info,
    };
    static LOGGER: StderrLogger = StderrLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        log::error!("panic: {info}");
        default_hook(info);
    }));
}
