//! `gralloc demo`: starts the service in a child process, allocates a realistic set of buffers
//! through it for the `soc` and `cuttlefish` profiles (and the probed profile of this machine
//! when its kernel has a display or camera), prints what it got, and ends with the
//! cache-maintenance replay table of the shipped traces.

use crate::client::{allocation_error_name, decode};
use central_gralloc::descriptor::{Descriptor, DescriptorInfo};
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::{HeapRole, Profile};
use central_gralloc::solver::solve;
use central_gralloc::usage::Usage;
use central_gralloc_memory::BufferKind;
use central_gralloc_service::adapter::buffer_descriptor;
use central_gralloc_service::aidl::AllocationResult;
use central_gralloc_service::child::ServiceChild;
use central_gralloc_service::host::{self, MemoryChoice};
use central_gralloc_service::rpc::Connection;
use std::path::PathBuf;

/// The hidden subcommand the demo runs in its child: the service on a socket.
pub const SERVE_COMMAND: &str = "__serve";

/// One request of the demo.
struct Request {
    what: &'static str,
    width: i32,
    height: i32,
    format: PixelFormat,
    usage: &'static str,
    count: i32,
}

const REQUESTS: [Request; 6] = [
    Request {
        what: "display framebuffer",
        width: 1920,
        height: 1080,
        format: PixelFormat::RGBA_8888,
        usage: "COMPOSER_OVERLAY|COMPOSER_CLIENT_TARGET|GPU_RENDER_TARGET",
        count: 3,
    },
    Request {
        what: "camera preview",
        width: 1280,
        height: 720,
        format: PixelFormat::YCBCR_420_888,
        usage: "CAMERA_OUTPUT|GPU_TEXTURE|COMPOSER_OVERLAY",
        count: 4,
    },
    Request {
        what: "video decode output",
        width: 1920,
        height: 1080,
        format: PixelFormat::YCBCR_420_888,
        usage: "VIDEO_DECODER|GPU_TEXTURE|COMPOSER_OVERLAY",
        count: 4,
    },
    Request {
        what: "protected video",
        width: 1920,
        height: 1080,
        format: PixelFormat::YCBCR_420_888,
        usage: "VIDEO_DECODER|PROTECTED|COMPOSER_OVERLAY",
        count: 2,
    },
    Request {
        what: "cursor",
        width: 64,
        height: 64,
        format: PixelFormat::RGBA_8888,
        usage: "COMPOSER_CURSOR|CPU_WRITE_OFTEN",
        count: 1,
    },
    Request {
        what: "BLOB (GPU data, 16 KiB)",
        width: 16 << 10,
        height: 1,
        format: PixelFormat::BLOB,
        usage: "CPU_WRITE_OFTEN|GPU_DATA_BUFFER",
        count: 1,
    },
];

/// What the probed profile adds: the buffers a camera-only or display-only machine makes.
const PROBED_REQUESTS: [Request; 2] = [
    Request {
        what: "camera frame to the CPU",
        width: 1280,
        height: 720,
        format: PixelFormat::YCBCR_420_888,
        usage: "CAMERA_OUTPUT|CPU_READ_OFTEN",
        count: 2,
    },
    Request {
        what: "overlay drawn by the CPU",
        width: 640,
        height: 480,
        format: PixelFormat::BGRA_8888,
        usage: "COMPOSER_OVERLAY|CPU_WRITE_OFTEN",
        count: 1,
    },
];

/// `gralloc __serve --socket PATH [--profile P] [--backend B] [--stand-in]` (the demo's child).
pub fn serve(rest: &[String]) -> u8 {
    host::init_logging();
    let mut args = crate::args::Args::new(rest);
    let parsed = (|| {
        let socket = PathBuf::from(args.required("--socket")?);
        let choice = MemoryChoice {
            profile: args.value("--profile")?.unwrap_or_else(|| "host".into()),
            backend: args.value("--backend")?.unwrap_or_else(|| "auto".into()),
            stand_in: args.switch("--stand-in"),
            pool_bytes: None,
        };
        Ok::<_, String>((socket, choice))
    })();
    let result = parsed
        .and_then(|x| args.finish().map(|()| x))
        .and_then(|(socket, choice)| host::serve_until_signal(&socket, host::gralloc(&choice)?));
    match result {
        Ok(()) => 0,
        Err(e) => {
            log::error!("{e}");
            1
        }
    }
}

/// Starts this program's [`SERVE_COMMAND`] as the demo's service for `profile`: every heap role
/// served by what this host has, stand-ins saying so in their handles.
fn start_service(profile: &str) -> Result<ServiceChild, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    ServiceChild::start(
        exe,
        &[
            SERVE_COMMAND,
            "--profile",
            profile,
            "--backend",
            "auto",
            "--stand-in",
        ],
        &format!("demo-{profile}"),
    )
}

fn info(request: &Request) -> Result<DescriptorInfo, String> {
    Ok(DescriptorInfo {
        name: request.what.as_bytes().to_vec(),
        width: request.width,
        height: request.height,
        layer_count: 1,
        format: request.format.0,
        usage: Usage::parse(request.usage)?.bits() as i64,
        reserved_size: 0,
        additional_options: Vec::new(),
    })
}

/// Footnotes a profile's table needs: a row served by a host stand-in, a row shown from the
/// solver alone.
#[derive(Default)]
struct Footnotes {
    stand_in: bool,
    solver_only: bool,
}

fn demo_profile(name: &str) -> Result<(), String> {
    let declared = central_gralloc_probe::resolve_profile(name)?;
    let child = start_service(name)?;
    let connection = child.connect()?;
    if name == central_gralloc_probe::PROFILE_NAME {
        let devices: Vec<&str> = declared.devices().iter().map(|d| d.name.as_str()).collect();
        println!(
            "\n== profile probe, read from this machine's kernel by `gralloc probe` (devices: {}): \
             allocations through allocator-service over RPC binder",
            devices.join(", ")
        );
    } else {
        println!("\n== profile {name}: allocations through allocator-service over RPC binder");
    }
    println!(
        "{:<24} {:>9} {:>5} {:<16} {:>6} {:>10}  {:<28} {:<8} devices",
        "buffer", "size", "count", "format", "stride", "bytes", "heap (what made it)", "cache"
    );
    let mut notes = Footnotes::default();
    let extra: &[Request] = if name == central_gralloc_probe::PROFILE_NAME {
        &PROBED_REQUESTS
    } else {
        &[]
    };
    for request in REQUESTS.iter().chain(extra) {
        show_request(&connection, &declared, request, &mut notes)?;
    }
    print_footnotes(name, &notes);
    crate::lockround::print(&connection)?;
    print_counters(&connection);
    drop(connection);
    drop(child);
    Ok(())
}

/// Allocates `request` through the service and prints its row: what the service made, or, for
/// an `AllocationError`, what the solver would place on the real platform.
fn show_request(
    connection: &Connection,
    declared: &Profile,
    request: &Request,
    notes: &mut Footnotes,
) -> Result<(), String> {
    let info = info(request)?;
    let solved = Descriptor::from_info(&info)
        .map_err(|e| e.to_string())
        .and_then(|d| solve(&d, declared).map_err(|e| e.to_string()));
    let devices = solved.as_ref().map_or(String::new(), |p| {
        p.device_names(declared).collect::<Vec<_>>().join(",")
    });
    let size = format!("{}x{}", request.width, request.height);
    let lead = format!("{:<24} {size:>9} {:>5}", request.what, request.count);
    match connection
        .allocator
        .allocate2(&buffer_descriptor(&info), request.count)
    {
        Ok(result) => {
            let row = allocated_row(declared, &result, notes)
                .map_err(|e| format!("{}: {e}", request.what))?;
            println!("{lead} {row} {devices}");
        }
        Err(status) => {
            let name = allocation_error_name(&status)
                .ok_or_else(|| format!("{}: the call failed: {status:?}", request.what))?;
            match solved {
                Ok(p) => {
                    notes.solver_only = true;
                    let heap = format!("{} ({})", p.heap, heap_name(declared, p.heap));
                    println!(
                        "{lead} {:<16} {:>6} {:>10}  {heap:<28} {:<8} {devices}  \
                         [solver only: {name} on this host]",
                        p.format.to_string(),
                        p.layout.stride,
                        p.size(),
                        p.cache.name()
                    );
                }
                Err(e) => println!("{lead} {name} (on the real platform too: {e})"),
            }
        }
    }
    Ok(())
}

/// The columns of a row the service allocated, from the first buffer's handle.
fn allocated_row(
    declared: &Profile,
    result: &AllocationResult,
    notes: &mut Footnotes,
) -> Result<String, String> {
    let decoded = decode(result)?;
    let first = decoded.first().ok_or("no buffers")?;
    let i = &first.info;
    let heap = match i.kind {
        BufferKind::DmaHeap | BufferKind::Drm => {
            format!("{} ({})", i.heap, heap_name(declared, i.heap))
        }
        kind => {
            notes.stand_in = true;
            format!("{} ({kind} stand-in*)", i.heap)
        }
    };
    Ok(format!(
        "{:<16} {:>6} {:>10}  {heap:<28} {:<8}",
        i.format.to_string(),
        result.stride,
        i.size,
        i.cache.name()
    ))
}

/// The kernel heap the profile names for `role` (a profile need not have every role).
fn heap_name(declared: &Profile, role: HeapRole) -> &str {
    declared
        .heap(role)
        .map_or("none in the profile", |h| h.name.as_str())
}

fn print_footnotes(name: &str, notes: &Footnotes) {
    if notes.solver_only {
        println!(
            "[solver only]: the placement a real {name} device gets; not allocated here, because \
             this host has no heap with that role's properties (contiguous, 32-bit) and a \
             stand-in does not pretend to have them."
        );
    }
    if notes.stand_in {
        println!(
            "* host stand-in: this host has no /dev/dma_heap, so a memfd (or udmabuf) serves the \
             role; it is ordinary pageable memory, neither contiguous nor address-limited, and \
             placements that need those properties are refused, not faked."
        );
    }
}

/// The service's counters, from its dump.
fn print_counters(connection: &Connection) {
    let dump = connection
        .debug()
        .and_then(|(_session, d)| d.dumpText(&[]).map_err(|e| format!("{e:?}")));
    match dump {
        Ok(text) => {
            let counters: Vec<&str> = text
                .lines()
                .skip_while(|l| !l.starts_with("== counters"))
                .take(6)
                .collect();
            println!("{}", counters.join("\n"));
        }
        Err(e) => println!("(no counters: the dump failed: {e})"),
    }
}

/// `gralloc demo`.
pub fn run(rest: &[String]) -> u8 {
    if let Err(e) = crate::args::Args::new(rest).finish() {
        eprintln!("gralloc demo: {e}");
        return 2;
    }
    let mut profiles = vec!["soc", "cuttlefish"];
    // A machine with displays or cameras the kernel describes gets its own profile too.
    let probed = central_gralloc_probe::probe();
    let found: Vec<&str> = probed
        .sections
        .iter()
        .filter(|s| s.kind == "device" && s.name != "cpu")
        .map(|s| s.name.as_str())
        .collect();
    if found.is_empty() {
        println!(
            "(`gralloc probe` finds no display or camera on this machine: built-in profiles only)"
        );
    } else {
        println!(
            "This machine's kernel has {}: the demo ends with the profile `gralloc probe` reads \
             from it (`probe`).",
            found.join(", ")
        );
        profiles.push("probe");
    }
    for profile in profiles {
        if let Err(e) = demo_profile(profile) {
            eprintln!("gralloc demo: profile {profile}: {e}");
            return 1;
        }
    }
    println!();
    print!("{}", central_gralloc_coherency::shipped_table());
    0
}
