//! `allocator-service`: the host main. Serves IAllocator as the root object of an RPC binder
//! server on a Unix socket until SIGTERM/SIGINT, or registers it on kernel binder.

use binder::{BinderFeatures, ProcessState};
use central_gralloc_service::adapter::AllocatorService;
use central_gralloc_service::aidl::BnAllocator;
use central_gralloc_service::gralloc::Gralloc;
use central_gralloc_service::host::{self, MemoryChoice};
use central_gralloc_service::SERVICE_NAME;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str =
    "usage: allocator-service (--socket PATH | --binder DEVICE) [--profile NAME|FILE]
                         [--backend dmaheap|udmabuf|memfd|auto] [--stand-in]
                         [--quota-bytes N]
  --socket PATH   serve IAllocator as the root object of an RPC binder server on PATH
                  (SIGTERM/SIGINT stop it and remove PATH)
  --binder DEVICE register android.hardware.graphics.allocator.IAllocator/default with the
                  service manager on kernel binder DEVICE (e.g. /dev/binderfs/binder)
  --profile       built-in profile name or profile file (default: host)
  --backend       memory backend (default auto: dma-heap if the profile's system heap exists,
                  else udmabuf, else memfd)
  --stand-in      with udmabuf or memfd: serve every heap role of the profile (contiguous,
                  uncached, protected) with that backend; handles say which backend made them
  --quota-bytes N bytes one client (uid) may be handed per one-second window (default: twice
                  the per-request limit); benchmarks raise it so a tight loop is not refused
  env CENTRAL_GRALLOC_LOG=error|warn|info|debug|off (default info)";

/// Binder threads, as the reference allocator services use.
const BINDER_THREADS: u32 = 4;

enum Endpoint {
    Socket(PathBuf),
    Binder(String),
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
    let mut choice = MemoryChoice::default();
    let mut quota_bytes = None;
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
            "--profile" => choice.profile = value()?,
            "--backend" => choice.backend = value()?,
            "--stand-in" => choice.stand_in = true,
            "--quota-bytes" => {
                let text = value()?;
                let bytes =
                    text.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!("--quota-bytes: `{text}` is not a positive integer")
                    })?;
                quota_bytes = Some(bytes);
            }
            _ => return Err(format!("unexpected argument `{arg}`\n{USAGE}")),
        }
    }
    let endpoint = match (socket, device) {
        (Some(path), None) => Endpoint::Socket(path),
        (None, Some(device)) => Endpoint::Binder(device),
        _ => {
            return Err(format!(
                "give exactly one of --socket and --binder\n{USAGE}"
            ))
        }
    };
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
        let gralloc = host::gralloc_with_quota(&options.choice, options.quota_bytes)?;
        match options.endpoint {
            Endpoint::Socket(path) => host::serve_until_signal(&path, gralloc),
            Endpoint::Binder(device) => serve_binder(&device, gralloc),
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
