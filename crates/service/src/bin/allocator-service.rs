//! `allocator-service`: the host main. Without an endpoint it is the Android service as init
//! starts it from the `.rc` (kernel binder, profile file, dma-heaps); it also serves IAllocator
//! as the root object of an RPC binder server on a Unix socket, or on a chosen binder device.

use binder::{BinderFeatures, ProcessState};
use central_gralloc_memory::pool::PoolConfig;
use central_gralloc_service::adapter::AllocatorService;
use central_gralloc_service::aidl::BnAllocator;
use central_gralloc_service::gralloc::Gralloc;
use central_gralloc_service::host::{self, MemoryChoice};
use central_gralloc_service::SERVICE_NAME;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str =
    "usage: allocator-service [--socket PATH | --binder DEVICE] [--profile NAME|FILE]
                         [--backend dmaheap|udmabuf|memfd|auto] [--stand-in]
                         [--quota-bytes N] [--pool-bytes N]
  (no endpoint)   the Android service, started as init starts it from the .rc (no arguments):
                  registers android.hardware.graphics.allocator.IAllocator/default with the
                  service manager on /dev/binder; profile from $CENTRAL_GRALLOC_PROFILE (the
                  host's stand-in for ro.vendor.gralloc.central.profile) if set and not empty,
                  else the file /vendor/etc/gralloc/central/profile.conf; backend dmaheap;
                  main thread at SCHED_FIFO priority 2 with SCHED_RESET_ON_FORK, so the other
                  binder threads run at normal priority (needs CAP_SYS_NICE; a warning without
                  it); 4 binder threads. --profile and --backend override these defaults
  --socket PATH   serve IAllocator as the root object of an RPC binder server on PATH
                  (SIGTERM/SIGINT stop it and remove PATH)
  --binder DEVICE register android.hardware.graphics.allocator.IAllocator/default with the
                  service manager on kernel binder DEVICE (e.g. /dev/binderfs/binder)
  --profile       built-in profile name or profile file (default with an endpoint: host)
  --backend       memory backend (default with an endpoint: auto, i.e. dma-heap if the
                  profile's system heap exists, else udmabuf, else memfd)
  --stand-in      with udmabuf or memfd: serve every heap role of the profile (contiguous,
                  uncached, protected) with that backend; handles say which backend made them
  --quota-bytes N bytes one client (uid) may be handed per one-second window (default: twice
                  the per-request limit); benchmarks raise it so a tight loop is not refused
  --pool-bytes N  keep up to N bytes of buffers made ahead of demand, for sizes clients ask for
                  repeatedly (default: none with an endpoint; min(RAM/32, 256 MiB) without one,
                  as on Android); 0 keeps none
  env CENTRAL_GRALLOC_LOG=error|warn|info|debug|off (default info)";

/// Binder threads, as the reference allocator services use.
const BINDER_THREADS: u32 = 4;

/// The kernel binder device the Android main uses (AOSP's `ProcessState` opens it implicitly).
const ANDROID_BINDER_DEVICE: &str = "/dev/binder";
/// Stands in for the system property `ro.vendor.gralloc.central.profile` that
/// `android_main.rs` reads: a built-in profile name or a profile file.
const PROFILE_ENV: &str = "CENTRAL_GRALLOC_PROFILE";
/// The profile file a device installs when the property is unset (as in `android_main.rs`).
const ANDROID_PROFILE_FILE: &str = "/vendor/etc/gralloc/central/profile.conf";
enum Endpoint {
    Socket(PathBuf),
    Binder(String),
    /// No endpoint given: the Android main's behaviour on [`ANDROID_BINDER_DEVICE`].
    Android,
}

/// The memory choice of the Android main: the property's profile, else the device's file, on
/// the dma-heaps (no stand-ins: a device without its heaps must not pretend to have them).
fn android_choice() -> MemoryChoice {
    let profile = std::env::var(PROFILE_ENV)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| ANDROID_PROFILE_FILE.to_string());
    MemoryChoice {
        profile,
        backend: "dmaheap".into(),
        stand_in: false,
        // As the Android main: a pool of a small fraction of RAM.
        pool_bytes: Some(PoolConfig::for_ram(central_gralloc_memory::sys::total_ram()).cap_bytes),
    }
}

/// What the command line asks for.
struct Options {
    endpoint: Endpoint,
    choice: MemoryChoice,
    quota_bytes: Option<u64>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut socket = None;
    let mut device = None;
    let mut profile = None;
    let mut backend = None;
    let mut stand_in = false;
    let mut quota_bytes = None;
    let mut pool_bytes = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--socket" => socket = Some(PathBuf::from(value()?)),
            "--binder" => device = Some(value()?),
            "--profile" => profile = Some(value()?),
            "--backend" => backend = Some(value()?),
            "--stand-in" => stand_in = true,
            "--quota-bytes" => {
                let text = value()?;
                let bytes =
                    text.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!("--quota-bytes: `{text}` is not a positive integer")
                    })?;
                quota_bytes = Some(bytes);
            }
            "--pool-bytes" => {
                let text = value()?;
                let bytes = text
                    .parse::<u64>()
                    .map_err(|_| format!("--pool-bytes: `{text}` is not a number of bytes"))?;
                pool_bytes = Some(bytes);
            }
            _ => return Err(format!("unexpected argument `{arg}`\n{USAGE}")),
        }
    }
    let (endpoint, mut choice) = match (socket, device) {
        (Some(path), None) => (Endpoint::Socket(path), MemoryChoice::default()),
        (None, Some(device)) => (Endpoint::Binder(device), MemoryChoice::default()),
        (None, None) => (Endpoint::Android, android_choice()),
        (Some(_), Some(_)) => {
            return Err(format!(
                "give at most one of --socket and --binder\n{USAGE}"
            ))
        }
    };
    if let Some(profile) = profile {
        choice.profile = profile;
    }
    if let Some(backend) = backend {
        choice.backend = backend;
    }
    choice.stand_in = stand_in;
    if pool_bytes.is_some() {
        choice.pool_bytes = pool_bytes;
    }
    Ok(Options {
        endpoint,
        choice,
        quota_bytes,
    })
}

fn serve_binder(device: &str, gralloc: Arc<Gralloc>) -> Result<(), String> {
    binder::rsbinder::ProcessState::init(device, BINDER_THREADS)
        .map_err(|e| format!("cannot open {device}: {e}"))?;
    ProcessState::start_thread_pool();
    let service = BnAllocator::new_binder_with_features(
        AllocatorService::new(gralloc),
        BinderFeatures::default(),
    );
    binder::add_service(SERVICE_NAME, binder::Interface::as_binder(&service))
        .map_err(|e| format!("add_service({SERVICE_NAME}): {e:?}"))?;
    log::info!("registered {SERVICE_NAME} on {device}");
    ProcessState::join_thread_pool();
    Err("the binder thread pool ended".into())
}

fn main() -> ExitCode {
    host::init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = parse(&args).and_then(|options| {
        log::info!(
            "profile `{}`, backend {}",
            options.choice.profile,
            options.choice.backend
        );
        let gralloc = host::gralloc_with_quota(&options.choice, options.quota_bytes)?;
        match options.endpoint {
            Endpoint::Socket(path) => host::serve_until_signal(&path, gralloc),
            Endpoint::Binder(device) => serve_binder(&device, gralloc),
            Endpoint::Android => {
                if let Err(e) = central_gralloc_service::realtime::set_fifo_priority() {
                    // As in android_main.rs: not fatal, only ordinary scheduling latency.
                    log::warn!(
                        "cannot set SCHED_FIFO priority {}: {e}",
                        central_gralloc_service::realtime::FIFO_PRIORITY
                    );
                }
                serve_binder(ANDROID_BINDER_DEVICE, gralloc)
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
