//! `gralloc alloc`, `gralloc supported`, `gralloc dump`: a binder client of a running service.

use crate::args::Args;
use binder::Status;
use central_gralloc::error::ErrorCode;
use central_gralloc_memory::sys::fd_kind;
use central_gralloc_memory::BufferInfo;
use central_gralloc_service::adapter::buffer_descriptor;
use central_gralloc_service::aidl::{AllocationResult, NativeHandle};
use central_gralloc_service::rpc::Connection;
use central_gralloc_service::status::allocation_error;
use serde_json::{json, Value};
use std::os::fd::AsFd;
use std::path::PathBuf;

fn connect(args: &mut Args) -> Result<Connection, String> {
    let socket = PathBuf::from(args.required("--socket")?);
    Connection::open(&socket)
}

/// The name of the `AllocationError` the service answered with, or `None` when `status` is
/// not one (a transaction that failed in the transport, a status of another kind).
pub fn allocation_error_name(status: &Status) -> Option<&'static str> {
    allocation_error(status).map(ErrorCode::name)
}

/// One buffer of a result, decoded: the handle's fields plus the real sizes of its fds.
pub struct Decoded {
    /// The handle's fields.
    pub info: BufferInfo,
    /// Bytes behind the memory fd.
    pub fd_size: u64,
    /// Bytes behind the metadata fd.
    pub metadata_fd_size: u64,
}

/// Decodes every buffer of `result`.
pub fn decode(result: &AllocationResult) -> Result<Vec<Decoded>, String> {
    result.buffers.iter().map(decode_one).collect()
}

fn decode_one(handle: &NativeHandle) -> Result<Decoded, String> {
    let info = BufferInfo::from_ints(&handle.ints).map_err(|e| format!("bad handle: {e}"))?;
    Ok(Decoded {
        info,
        fd_size: fd_size(handle, 0)?,
        metadata_fd_size: fd_size(handle, 1)?,
    })
}

/// Bytes behind fd `index` of `handle`, as the memory layer sees it: the fd must be a buffer (a
/// sealed memfd or a dma-buf), not just anything the service sent.
fn fd_size(handle: &NativeHandle, index: usize) -> Result<u64, String> {
    let fd = handle
        .fds
        .get(index)
        .ok_or_else(|| format!("the handle has no fd {index}"))?;
    fd_kind(fd.as_ref().as_fd())
        .map(|kind| kind.size())
        .map_err(|e| format!("fd {index}: {e}"))
}

fn buffer_json(d: &Decoded) -> Value {
    let i = &d.info;
    let planes: Vec<Value> = i
        .planes()
        .iter()
        .map(|p| {
            json!({"offset": p.offset, "stride": p.stride, "size": p.size,
                   "width": p.width, "height": p.height, "fourcc": p.fourcc})
        })
        .collect();
    json!({
        "id": i.id,
        "width": i.width,
        "height": i.height,
        "layers": i.layer_count,
        "format": i.format.to_string(),
        "requested_format": i.requested_format.to_string(),
        "fourcc": i.fourcc,
        "usage": i.usage.bits(),
        "stride": i.stride,
        "size": i.size,
        "layer_stride": i.layer_stride,
        "heap": i.heap.name(),
        "cache": i.cache.name(),
        "kind": i.kind.name(),
        "reserved_size": i.reserved_size,
        "metadata_size": i.metadata_size,
        "fd_size": d.fd_size,
        "metadata_fd_size": d.metadata_fd_size,
        "planes": planes,
    })
}

fn print_text(stride: i32, buffers: &[Decoded]) {
    println!("stride {stride} pixels, {} buffer(s)", buffers.len());
    for (n, d) in buffers.iter().enumerate() {
        let i = &d.info;
        println!(
            "buffer {n}: id {:#x}, {}x{}x{} {} (requested {}), usage {}",
            i.id, i.width, i.height, i.layer_count, i.format, i.requested_format, i.usage
        );
        println!(
            "  heap {} ({}), cache {}, size {} bytes, fd size {} bytes, metadata fd {} bytes",
            i.heap,
            i.kind,
            i.cache.name(),
            i.size,
            d.fd_size,
            d.metadata_fd_size
        );
        for (p, plane) in i.planes().iter().enumerate() {
            println!(
                "  plane {p}: offset {:>9}  stride {:>6}  size {:>9}  ({}x{})",
                plane.offset, plane.stride, plane.size, plane.width, plane.height
            );
        }
    }
}

/// `gralloc alloc --socket PATH <solve flags> [--count N] [--json]`.
pub fn alloc(rest: &[String]) -> u8 {
    let mut args = Args::new(rest);
    let json = args.switch("--json");
    let parsed = (|| {
        let count = match args.value("--count")? {
            Some(v) => v
                .parse::<i32>()
                .map_err(|_| format!("--count wants an integer, found `{v}`"))?,
            None => 1,
        };
        let connection = connect(&mut args)?;
        let info = args.descriptor()?;
        Ok::<_, String>((connection, info, count))
    })();
    let (connection, info, count) = match parsed.and_then(|x| args.finish().map(|()| x)) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("gralloc alloc: {e}");
            return 2;
        }
    };
    let result = connection
        .allocator
        .allocate2(&buffer_descriptor(&info), count);
    let result = match result {
        Ok(r) => r,
        Err(status) => {
            match (allocation_error_name(&status), json) {
                (Some(name), true) => println!("{}", json!({ "error": name })),
                (Some(name), false) => eprintln!("gralloc alloc: {name} ({status:?})"),
                (None, true) => println!(
                    "{}",
                    json!({ "error": "TRANSPORT", "reason": format!("{status:?}") })
                ),
                (None, false) => eprintln!("gralloc alloc: the call failed: {status:?}"),
            }
            return 1;
        }
    };
    let buffers = match decode(&result) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("gralloc alloc: {e}");
            return 1;
        }
    };
    if json {
        let list: Vec<Value> = buffers.iter().map(buffer_json).collect();
        println!("{}", json!({"stride": result.stride, "buffers": list}));
    } else {
        print_text(result.stride, &buffers);
    }
    0
}

/// `gralloc supported --socket PATH <solve flags>`: prints `true` or `false`.
pub fn supported(rest: &[String]) -> u8 {
    let mut args = Args::new(rest);
    let parsed = connect(&mut args).and_then(|c| Ok((c, args.descriptor()?)));
    let (connection, info) = match parsed.and_then(|x| args.finish().map(|()| x)) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("gralloc supported: {e}");
            return 2;
        }
    };
    match connection.allocator.isSupported(&buffer_descriptor(&info)) {
        Ok(yes) => {
            println!("{yes}");
            0
        }
        Err(status) => {
            eprintln!("gralloc supported: isSupported failed: {status:?}");
            1
        }
    }
}

/// `gralloc dump --socket PATH`: the service's dump, through its host debug extension.
pub fn dump(rest: &[String]) -> u8 {
    let mut args = Args::new(rest);
    let connection = match connect(&mut args).and_then(|c| args.finish().map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gralloc dump: {e}");
            return 2;
        }
    };
    match connection.debug().and_then(|(_session, d)| {
        d.dumpText(&[])
            .map_err(|e| format!("dumpText failed: {e:?}"))
    }) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("gralloc dump: {e}");
            1
        }
    }
}
