//! `allocator-service`: the host main. Serves IAllocator as the root object of an RPC binder
//! server on a Unix socket until SIGTERM/SIGINT, or registers it on kernel binder.

use binder::{BinderFeatures, Interface, ProcessState, Strong};
use central_gralloc::profile::{HeapRole, Profile};
use central_gralloc_memory::heap::Heap;
use central_gralloc_memory::{Allocator, Backend, BackendConfig, Limits, MemfdHeap, Udmabuf};
use central_gralloc_service::adapter::AllocatorService;
use central_gralloc_service::aidl::{BnAllocator, IAllocator};
use central_gralloc_service::debug::{BnAllocatorDebug, DebugService, IAllocatorDebug};
use central_gralloc_service::gralloc::Gralloc;
use central_gralloc_service::quota::Quota;
use central_gralloc_service::rpc::SocketServer;
use central_gralloc_service::SERVICE_NAME;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str =
    "usage: allocator-service (--socket PATH | --binder DEVICE) [--profile NAME|FILE]
                         [--backend dmaheap|udmabuf|memfd|auto] [--stand-in]
  --socket PATH   serve IAllocator as the root object of an RPC binder server on PATH
  --binder DEVICE register android.hardware.graphics.allocator.IAllocator/default on kernel binder
  --profile       built-in profile name or profile file (default: host)
  --backend       memory backend (default: auto: dma-heap if the profile's system heap exists,
                  else udmabuf, else memfd)
  --stand-in      with udmabuf or memfd: serve every heap role of the profile (contiguous,
                  uncached, protected) with that backend, labelled as a host stand-in
  env CENTRAL_GRALLOC_LOG=error|warn|info|debug (default info)";

/// Binder threads, as the reference allocator services use.
const BINDER_THREADS: u32 = 4;

struct Options {
    socket: Option<PathBuf>,
    binder: Option<String>,
    profile: String,
    backend: String,
    stand_in: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        socket: None,
        binder: None,
        profile: "host".into(),
        backend: "auto".into(),
        stand_in: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--socket" => options.socket = Some(PathBuf::from(value()?)),
            "--binder" => options.binder = Some(value()?),
            "--profile" => options.profile = value()?,
            "--backend" => options.backend = value()?,
            "--stand-in" => options.stand_in = true,
            _ => return Err(format!("unexpected argument `{arg}`")),
        }
    }
    if options.socket.is_some() == options.binder.is_some() {
        return Err("give exactly one of --socket and --binder".into());
    }
    Ok(options)
}

/// Writes log records to stderr.
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

fn init_logging() {
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
    std::panic::set_hook(Box::new(|info| log::error!("panic: {info}")));
}

/// The memory allocator for the chosen backend.
fn allocator(profile: Profile, backend: &str, stand_in: bool) -> Result<Allocator, String> {
    let system_heap = profile
        .heap(HeapRole::System)
        .map_or("system".to_string(), |h| h.name.clone());
    let config = match backend {
        "auto" => BackendConfig::detect(&system_heap),
        "dmaheap" | "dma-heap" => BackendConfig::new(Backend::DmaHeap),
        "udmabuf" => BackendConfig::new(Backend::Udmabuf),
        "memfd" => BackendConfig::new(Backend::Memfd),
        other => return Err(format!("unknown backend `{other}`")),
    };
    let limits = Limits::for_this_machine();
    if !stand_in || config.backend == Backend::DmaHeap {
        return Allocator::new(profile, &config, limits).map_err(|e| e.to_string());
    }
    // Every role of the profile served by the host backend: honest placements (the allocator
    // tells the solver a stand-in is neither contiguous nor address-limited), real fds.
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
    Ok(Allocator::with_heaps(profile, heaps, limits))
}

fn build(options: &Options) -> Result<Arc<Gralloc>, String> {
    let profile = Profile::resolve(&options.profile).map_err(|e| e.to_string())?;
    let memory = allocator(profile, &options.backend, options.stand_in)?;
    for line in memory.describe() {
        log::info!("heap {line}");
    }
    for missing in memory.unavailable() {
        log::warn!("heap role {} unavailable: {}", missing.role, missing.reason);
    }
    let quota = Quota::for_request_limit(memory.limits().max_batch_bytes);
    Ok(Arc::new(Gralloc::new(memory, quota)))
}

fn serve_socket(path: PathBuf, gralloc: Arc<Gralloc>) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    // Registered before serving, so a signal that arrives early is not lost.
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| format!("cannot register signal handlers: {e}"))?;
    let service: Strong<dyn IAllocator> =
        BnAllocator::new_binder(AllocatorService::new(Arc::clone(&gralloc)));
    let debug: Strong<dyn IAllocatorDebug> =
        BnAllocatorDebug::new_binder(DebugService::new(gralloc));
    service
        .as_binder()
        .set_extension(&debug.as_binder())
        .map_err(|e| format!("cannot attach the debug extension: {e:?}"))?;
    let server = SocketServer::start(&path, service.as_binder())?;
    log::info!("serving IAllocator on {}", path.display());
    let signal = signals.forever().next();
    log::info!("signal {signal:?}: stopping");
    server.stop();
    log::info!("stopped; {} removed", path.display());
    Ok(())
}

fn serve_binder(device: &str, gralloc: Arc<Gralloc>) -> Result<(), String> {
    binder::rsbinder::ProcessState::init(device, BINDER_THREADS)
        .map_err(|e| format!("cannot open {device}: {e}"))?;
    ProcessState::start_thread_pool();
    let service = BnAllocator::new_binder_with_features(
        AllocatorService::new(gralloc),
        BinderFeatures::default(),
    );
    binder::add_service(SERVICE_NAME, service.as_binder())
        .map_err(|e| format!("add_service({SERVICE_NAME}): {e:?}"))?;
    log::info!("registered {SERVICE_NAME} on {device}");
    ProcessState::join_thread_pool();
    Err("the binder thread pool ended".into())
}

fn main() -> ExitCode {
    init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = parse(&args).and_then(|options| {
        let gralloc = build(&options)?;
        match (options.socket, options.binder) {
            (Some(path), _) => serve_socket(path, gralloc),
            (None, Some(device)) => serve_binder(&device, gralloc),
            (None, None) => Err(USAGE.into()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            eprintln!("allocator-service: {e}");
            ExitCode::FAILURE
        }
    }
}
