//! IAllocator conformance cases, run against any `IAllocator` proxy: the service over an RPC
//! socket (`cargo test`), or over kernel binder from a second process (the VM tier, through the
//! `conformance` binary; a device, through Soong's `central_gralloc_conformance_test`). Each case
//! prints `PASS name` or `FAIL name: reason`. Test code: no library a device ships links it.
//!
//! A refusal passes only as a service-specific status whose value is one of the three
//! `AllocationError` values (never a transaction error or a generic exception; `BAD_DESCRIPTOR`
//! is 0, so "not OK" alone would accept a dead connection). Where the error rules
//! (docs/architecture.md §3) name one value, e.g. `layerCount = 0` is `BAD_DESCRIPTOR`, the case
//! checks that value too.
//!
//! `fds_are_shared_memory` needs a second process: it re-runs the current executable as a peer
//! (see [`peer_from_env`]), so every program that runs the cases must call that first: the
//! `conformance` binary does in `main`, the test suite has the ignored `#[test]` [`PEER_TEST`].
//!
//! The `mapper_*` cases import, lock and read buffers through `mapper.<suffix>.so`, loaded with
//! `dlopen` from the directory [`mapper::set_mapper_dir`] or `$CENTRAL_GRALLOC_MAPPER_DIR` names
//! (on Android, `/vendor/lib64/hw`); see [`mapper`].
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

use binder::Strong;
use central_gralloc::error::ErrorCode;
use central_gralloc::format::PixelFormat;
use central_gralloc::usage::Usage;
use central_gralloc_memory::metadata::HEADER_SIZE;
use central_gralloc_memory::BufferInfo;
use central_gralloc_service::aidl::{
    AllocationResult, BufferDescriptorInfo, IAllocator, NativeHandle,
};
use central_gralloc_service::status;
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::AsFd;

pub mod mapper;
mod peer;
pub use peer::{peer_from_env, PEER_ENV, PEER_TEST};
use peer::{share_with_peer, PeerTask};

/// A case: `Ok` or the reason it failed.
pub type CaseResult = Result<(), String>;

/// One named case.
pub struct Case {
    /// Its name, as printed.
    pub name: &'static str,
    /// The check.
    pub run: fn(&dyn IAllocator) -> CaseResult,
    /// Whether it loads `mapper.<suffix>.so` (see [`mapper`]).
    pub needs_mapper: bool,
}

/// Every case, in the order they run.
pub const CASES: &[Case] = &[
    Case {
        name: "mapper_suffix_is_central",
        run: mapper_suffix_is_central,
        needs_mapper: false,
    },
    Case {
        name: "interface_version_is_2",
        run: interface_version_is_2,
        needs_mapper: false,
    },
    Case {
        name: "allocate_64x64_rgba_cpu_often",
        run: allocate_64x64_rgba_cpu_often,
        needs_mapper: false,
    },
    Case {
        name: "unknown_usage_bit_is_unsupported",
        run: unknown_usage_bit_is_unsupported,
        needs_mapper: false,
    },
    Case {
        name: "unknown_option_is_unsupported",
        run: unknown_option_is_unsupported,
        needs_mapper: false,
    },
    Case {
        name: "layer_count_zero_fails",
        run: layer_count_zero_fails,
        needs_mapper: false,
    },
    Case {
        name: "bad_counts_fail",
        run: bad_counts_fail,
        needs_mapper: false,
    },
    Case {
        name: "allocate_v1_is_unsupported",
        run: allocate_v1_is_unsupported,
        needs_mapper: false,
    },
    Case {
        name: "count_buffers_share_one_stride",
        run: count_buffers_share_one_stride,
        needs_mapper: false,
    },
    Case {
        name: "handle_stride_equals_result_stride",
        run: handle_stride_equals_result_stride,
        needs_mapper: false,
    },
    Case {
        name: "fds_are_shared_memory",
        run: fds_are_shared_memory,
        needs_mapper: false,
    },
    Case {
        name: "mapper_write_read_back_through_second_import",
        run: mapper::mapper_write_read_back_through_second_import,
        needs_mapper: true,
    },
    Case {
        name: "mapper_metadata_agrees_with_allocation",
        run: mapper::mapper_metadata_agrees_with_allocation,
        needs_mapper: true,
    },
    // Last: the sweep allocates hundreds of megabytes in a second, which may use up the caller's
    // quota window (it tolerates NO_RESOURCES itself; cases after it would not).
    Case {
        name: "is_supported_agrees_with_allocate2",
        run: is_supported_agrees_with_allocate2,
        needs_mapper: false,
    },
];

/// Runs every case against `allocator`, printing one line per case to `out`; returns the
/// names of the cases that failed. Where this process cannot load a mapper at all
/// ([`mapper::unavailable`]), the cases that need one print `SKIP name: why` instead.
pub fn run_all(allocator: &Strong<dyn IAllocator>, out: &mut dyn Write) -> Vec<&'static str> {
    let mut failed = Vec::new();
    for case in CASES {
        if let (true, Some(why)) = (case.needs_mapper, mapper::unavailable()) {
            let _ = writeln!(out, "SKIP {}: {why}", case.name);
            continue;
        }
        let line = match run_case(allocator, case) {
            Ok(()) => format!("PASS {}", case.name),
            Err(reason) => {
                failed.push(case.name);
                format!("FAIL {}: {reason}", case.name)
            }
        };
        let _ = writeln!(out, "{line}");
    }
    failed
}

/// Runs one case.
pub fn run_case(allocator: &Strong<dyn IAllocator>, case: &Case) -> CaseResult {
    (case.run)(&**allocator)
}

/// Runs the case called `name`.
pub fn run_named(allocator: &Strong<dyn IAllocator>, name: &str) -> CaseResult {
    let case = CASES
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("no case called {name}"))?;
    run_case(allocator, case)
}

/// A descriptor for `width`×`height` of `format` with `usage`.
pub fn descriptor(
    width: i32,
    height: i32,
    format: PixelFormat,
    usage: i64,
) -> BufferDescriptorInfo {
    // Built from the default and then filled: the graphics.common types of the fields are not
    // named, so the Soong build needs no graphics.common version (central_gralloc_service::aidl
    // says why).
    let mut d = BufferDescriptorInfo::default();
    let tag = b"conformance";
    d.name[..tag.len()].copy_from_slice(tag);
    d.width = width;
    d.height = height;
    d.layerCount = 1;
    d.format.0 = format.0;
    d.usage.0 = usage;
    d
}

/// `usage` as the wire's `BufferUsage` value.
const fn wire(usage: Usage) -> i64 {
    usage.0 as i64
}

const CPU_OFTEN: i64 = wire(Usage::CPU_READ_OFTEN) | wire(Usage::CPU_WRITE_OFTEN);

fn rgba(width: i32, height: i32, usage: i64) -> BufferDescriptorInfo {
    descriptor(width, height, PixelFormat::RGBA_8888, usage)
}

/// The `AllocationError` of a failed call, or why the failure is not one (it succeeded, or
/// failed with a status that is not a service-specific `AllocationError`).
pub fn allocation_error<T>(result: binder::Result<T>) -> Result<ErrorCode, String> {
    match result {
        Ok(_) => Err("succeeded, expected an AllocationError".into()),
        Err(status) => status::allocation_error(&status).ok_or_else(|| {
            format!("failed with a status that is not an AllocationError: {status:?}")
        }),
    }
}

/// Fails unless `result` is the service-specific `expected`.
pub fn expect_error<T>(result: binder::Result<T>, expected: ErrorCode, what: &str) -> CaseResult {
    let code = allocation_error(result).map_err(|e| format!("{what}: {e}"))?;
    check(code == expected, || {
        format!("{what}: {code}, expected {expected}")
    })
}

fn check(ok: bool, what: impl FnOnce() -> String) -> CaseResult {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// Size of a received fd (`lseek(SEEK_END)`: works for memfds and dma-bufs alike).
pub fn fd_size(handle: &NativeHandle, index: usize) -> Result<u64, String> {
    let pfd = handle
        .fds
        .get(index)
        .ok_or_else(|| format!("the handle has no fd {index}"))?;
    let owned = pfd.as_ref().try_clone().map_err(|e| format!("dup: {e}"))?;
    let mut file = std::fs::File::from(owned);
    file.seek(SeekFrom::End(0))
        .map_err(|e| format!("lseek: {e}"))
}

/// The STRIDE the handle carries, decoded by the memory layer.
pub fn handle_stride(handle: &NativeHandle) -> Result<i32, String> {
    let info = BufferInfo::from_ints(&handle.ints)
        .map_err(|e| format!("cannot decode the handle: {e}"))?;
    i32::try_from(info.stride).map_err(|_| format!("handle STRIDE {} overflows", info.stride))
}

fn mapper_suffix_is_central(a: &dyn IAllocator) -> CaseResult {
    let suffix = a.getIMapperLibrarySuffix().map_err(|e| format!("{e:?}"))?;
    check(suffix == "central", || format!("suffix `{suffix}`"))
}

fn interface_version_is_2(a: &dyn IAllocator) -> CaseResult {
    let version = a.getInterfaceVersion().map_err(|e| format!("{e:?}"))?;
    check(version == 2, || format!("version {version}"))
}

fn allocate_64x64_rgba_cpu_often(a: &dyn IAllocator) -> CaseResult {
    let d = rgba(64, 64, CPU_OFTEN);
    check(a.isSupported(&d).unwrap_or(false), || {
        "isSupported is false".into()
    })?;
    let result = a
        .allocate2(&d, 1)
        .map_err(|e| format!("allocate2: {e:?}"))?;
    check(result.stride >= 64, || {
        format!("stride {} < 64", result.stride)
    })?;
    check(result.buffers.len() == 1, || {
        format!("{} buffers", result.buffers.len())
    })?;
    let size = fd_size(&result.buffers[0], 0)?;
    check(size >= 64 * 64 * 4, || {
        format!("buffer fd holds {size} bytes")
    })
}

fn unknown_usage_bit_is_unsupported(a: &dyn IAllocator) -> CaseResult {
    let d = rgba(64, 64, CPU_OFTEN | (1 << 33));
    check(!a.isSupported(&d).unwrap_or(true), || {
        "isSupported is not false".into()
    })?;
    expect_error(a.allocate2(&d, 1), ErrorCode::Unsupported, "allocate2")
}

fn unknown_option_is_unsupported(a: &dyn IAllocator) -> CaseResult {
    let mut d = rgba(64, 64, CPU_OFTEN);
    d.additionalOptions.push(Default::default());
    if let Some(option) = d.additionalOptions.last_mut() {
        option.name = "android.hardware.graphics.common.NotARealOption".into();
        option.value = 1;
    }
    check(!a.isSupported(&d).unwrap_or(true), || {
        "isSupported is not false".into()
    })?;
    expect_error(a.allocate2(&d, 1), ErrorCode::Unsupported, "allocate2")
}

fn layer_count_zero_fails(a: &dyn IAllocator) -> CaseResult {
    let mut d = rgba(64, 64, CPU_OFTEN);
    d.layerCount = 0;
    check(!a.isSupported(&d).unwrap_or(true), || {
        "isSupported is not false".into()
    })?;
    expect_error(a.allocate2(&d, 1), ErrorCode::BadDescriptor, "allocate2")
}

fn bad_counts_fail(a: &dyn IAllocator) -> CaseResult {
    let d = rgba(16, 16, CPU_OFTEN);
    expect_error(a.allocate2(&d, 0), ErrorCode::BadDescriptor, "count 0")?;
    expect_error(a.allocate2(&d, -1), ErrorCode::BadDescriptor, "count -1")?;
    expect_error(
        a.allocate2(&d, i32::MIN),
        ErrorCode::BadDescriptor,
        "count MIN",
    )?;
    expect_error(
        a.allocate2(&d, i32::MAX),
        ErrorCode::NoResources,
        "count MAX",
    )?;
    // Still serving, and correctly.
    let result = a
        .allocate2(&d, 1)
        .map_err(|e| format!("count 1 after: {e:?}"))?;
    check(result.buffers.len() == 1, || {
        "count 1 gave no buffer".into()
    })
}

fn allocate_v1_is_unsupported(a: &dyn IAllocator) -> CaseResult {
    // `allocate` is the deprecated V1 entry point under test. (No lint `reason =`: Android
    // 15's rustc 1.78 predates it.)
    #[allow(deprecated)]
    let result = a.allocate(&[0u8; 16], 1);
    expect_error(result, ErrorCode::Unsupported, "allocate")
}

/// The sweep of `is_supported_agrees_with_allocate2`.
const SWEEP_FORMATS: [PixelFormat; 9] = [
    PixelFormat::RGBA_8888,
    PixelFormat::RGB_565,
    PixelFormat::RGBA_FP16,
    PixelFormat::YCBCR_420_888,
    PixelFormat::YV12,
    PixelFormat::YCRCB_420_SP,
    PixelFormat::RAW16,
    PixelFormat::BLOB,
    PixelFormat::IMPLEMENTATION_DEFINED,
];
const SWEEP_USAGES: [i64; 7] = [
    CPU_OFTEN,
    wire(Usage::GPU_TEXTURE) | wire(Usage::GPU_RENDER_TARGET),
    wire(Usage::COMPOSER_OVERLAY) | wire(Usage::GPU_RENDER_TARGET),
    wire(Usage::CAMERA_OUTPUT) | wire(Usage::GPU_TEXTURE),
    wire(Usage::VIDEO_DECODER) | wire(Usage::GPU_TEXTURE),
    wire(Usage::PROTECTED) | wire(Usage::COMPOSER_OVERLAY),
    wire(Usage::CPU_READ_RARELY) | (1 << 47),
];
const SWEEP_SIZES: [(i32, i32); 4] = [(1, 1), (63, 17), (640, 480), (1920, 1080)];

fn is_supported_agrees_with_allocate2(a: &dyn IAllocator) -> CaseResult {
    let mut supported = 0;
    for format in SWEEP_FORMATS {
        for usage in SWEEP_USAGES {
            for (width, mut height) in SWEEP_SIZES {
                if format == PixelFormat::BLOB {
                    height = 1;
                }
                let d = descriptor(width, height, format, usage);
                let what = || format!("{width}x{height} format {} usage {usage:#x}", format.0);
                let yes = a
                    .isSupported(&d)
                    .map_err(|e| format!("isSupported threw for {}: {e:?}", what()))?;
                let result = a.allocate2(&d, 1);
                if yes {
                    supported += 1;
                    match result {
                        Ok(r) if r.buffers.len() == 1 => {}
                        Ok(r) => return Err(format!("{}: {} buffers", what(), r.buffers.len())),
                        // Resource exhaustion is the one failure isSupported allows.
                        Err(s) if status::allocation_error(&s) == Some(ErrorCode::NoResources) => {}
                        Err(s) => return Err(format!("{}: supported but {s:?}", what())),
                    }
                } else {
                    allocation_error(result)
                        .map_err(|e| format!("{}: unsupported but {e}", what()))?;
                }
            }
        }
    }
    check(supported > 0, || {
        "nothing in the sweep was supported".into()
    })
}

fn allocate_count(a: &dyn IAllocator, count: i32) -> Result<AllocationResult, String> {
    let d = rgba(
        100,
        50,
        wire(Usage::GPU_TEXTURE) | wire(Usage::CPU_WRITE_RARELY),
    );
    a.allocate2(&d, count)
        .map_err(|e| format!("allocate2 count {count}: {e:?}"))
}

fn count_buffers_share_one_stride(a: &dyn IAllocator) -> CaseResult {
    let result = allocate_count(a, 3)?;
    check(result.buffers.len() == 3, || {
        format!("{} buffers", result.buffers.len())
    })?;
    check(result.stride >= 100, || format!("stride {}", result.stride))?;
    for (i, handle) in result.buffers.iter().enumerate() {
        let stride = handle_stride(handle)?;
        check(stride == result.stride, || {
            format!(
                "buffer {i} has stride {stride}, the result {}",
                result.stride
            )
        })?;
    }
    Ok(())
}

fn handle_stride_equals_result_stride(a: &dyn IAllocator) -> CaseResult {
    for (w, h, format) in [
        (64, 64, PixelFormat::RGBA_8888),
        (33, 17, PixelFormat::RGB_565),
        (641, 480, PixelFormat::YV12),
    ] {
        let d = descriptor(w, h, format, CPU_OFTEN | wire(Usage::GPU_TEXTURE));
        let result = a
            .allocate2(&d, 1)
            .map_err(|e| format!("allocate2 {w}x{h}: {e:?}"))?;
        let handle = result.buffers.first().ok_or("no buffer")?;
        let stride = handle_stride(handle)?;
        check(stride == result.stride, || {
            format!(
                "{w}x{h} format {}: handle STRIDE {stride}, AllocationResult.stride {}",
                format.0, result.stride
            )
        })?;
    }
    Ok(())
}

/// The buffer's memory and its metadata region are each shared with another process: what one
/// process writes through its own mapping, the other reads through its own.
fn fds_are_shared_memory(a: &dyn IAllocator) -> CaseResult {
    let mut d = rgba(64, 64, CPU_OFTEN);
    // Client bytes in the metadata region, which every holder of the buffer may write.
    d.reservedSize = 4096;
    let result = a
        .allocate2(&d, 1)
        .map_err(|e| format!("allocate2: {e:?}"))?;
    let handle = result.buffers.first().ok_or("no buffer")?;
    let info = BufferInfo::from_ints(&handle.ints)
        .map_err(|e| format!("cannot decode the handle: {e}"))?;
    let memory = handle.fds.first().ok_or("no memory fd")?;
    let metadata = handle.fds.get(1).ok_or("no metadata fd")?;
    let pixels = usize::try_from(info.size).map_err(|e| format!("size: {e}"))?;
    check(pixels >= 64 * 64 * 4, || {
        format!("the handle says {pixels} bytes")
    })?;
    share_with_peer(
        "memory",
        memory.as_ref().as_fd(),
        PeerTask {
            len: info.size,
            check_at: 0,
            write_at: pixels / 2,
            bytes: 4096,
        },
    )?;
    check(info.reserved_size == 4096, || {
        format!("the handle says reserved size {}", info.reserved_size)
    })?;
    share_with_peer(
        "metadata region",
        metadata.as_ref().as_fd(),
        PeerTask {
            len: info.metadata_size,
            check_at: HEADER_SIZE,
            write_at: HEADER_SIZE + 2048,
            bytes: 2048,
        },
    )
}
