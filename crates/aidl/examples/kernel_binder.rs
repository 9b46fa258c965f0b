//! Kernel binder probe: serves a tiny `IAllocator` through the service manager, or calls one.
//!
//! The kernel-binder counterpart of `tests/rpc_end_to_end.rs`, for a machine with a binder
//! driver and `rsb_hub` (from `cargo install rsbinder-tools --version =0.12.0`) running on it:
//!
//! ```text
//! rsb_hub --insecure-allow-all &          # opens /dev/binderfs/binder
//! kernel_binder serve &                   # registers IAllocator/default, joins the pool
//! kernel_binder call                      # prints "ok ..." lines; exit 0 when all pass
//! ```
//!
//! Both ends open `/dev/binderfs/binder`, or `/dev/binder` where binderfs is not mounted;
//! `rsb_hub` only opens `/dev/binderfs/<device>`, so all three must agree on one device.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use binder::{Interface, ParcelFileDescriptor, ProcessState, Status, Strong};
use central_gralloc_aidl::aidl::android::hardware::common::NativeHandle::NativeHandle;
use central_gralloc_aidl::aidl::android::hardware::graphics::allocator::{
    AllocationError::AllocationError,
    AllocationResult::AllocationResult,
    BufferDescriptorInfo::BufferDescriptorInfo,
    IAllocator::{BnAllocator, IAllocator},
};
use central_gralloc_aidl::aidl::android::hardware::graphics::common::PixelFormat::PixelFormat;

/// The instance name Android's framework looks up.
const SERVICE_NAME: &str = "android.hardware.graphics.allocator.IAllocator/default";
/// Binder threads for the server, as the reference allocator services use.
const SERVER_THREADS: u32 = 4;

/// Memfd-backed buffers whose bytes name their size; `allocate` is unsupported.
struct ProbeAllocator;

impl Interface for ProbeAllocator {
    fn dump(&self, writer: &mut dyn Write, args: &[String]) -> binder::rsbinder::Result<()> {
        writeln!(writer, "probe allocator, dump args {args:?}")?;
        Ok(())
    }
}

impl IAllocator for ProbeAllocator {
    fn allocate(&self, _descriptor: &[u8], _count: i32) -> binder::Result<AllocationResult> {
        Err(Status::new_service_specific_error(
            AllocationError::UNSUPPORTED.0,
            None,
        ))
    }

    fn allocate2(
        &self,
        descriptor: &BufferDescriptorInfo,
        count: i32,
    ) -> binder::Result<AllocationResult> {
        let no_resources =
            |_| Status::new_service_specific_error(AllocationError::NO_RESOURCES.0, None);
        let buffers = (0..count.max(0))
            .map(|index| {
                let fd = rustix::fs::memfd_create("probe", rustix::fs::MemfdFlags::CLOEXEC)
                    .map_err(|e| no_resources(std::io::Error::from(e)))?;
                let mut file = File::from(fd);
                let text = format!("{}x{} #{index}", descriptor.width, descriptor.height);
                file.write_all(text.as_bytes()).map_err(no_resources)?;
                Ok(NativeHandle {
                    fds: vec![ParcelFileDescriptor::new(OwnedFd::from(file))],
                    ints: vec![index],
                })
            })
            .collect::<binder::Result<Vec<_>>>()?;
        Ok(AllocationResult {
            stride: descriptor.width,
            buffers,
        })
    }

    fn isSupported(&self, descriptor: &BufferDescriptorInfo) -> binder::Result<bool> {
        Ok(descriptor.layerCount > 0)
    }

    fn getIMapperLibrarySuffix(&self) -> binder::Result<String> {
        Ok("central".into())
    }
}

fn serve() -> Result<(), String> {
    // AOSP order: size the pool, start it, register, then the main thread joins it.
    ProcessState::set_thread_pool_max_thread_count(SERVER_THREADS);
    ProcessState::start_thread_pool();
    let service: Strong<dyn IAllocator> = BnAllocator::new_binder(ProbeAllocator);
    binder::add_service(SERVICE_NAME, service.as_binder())
        .map_err(|e| format!("add_service({SERVICE_NAME}): {e:?}"))?;
    println!("registered {SERVICE_NAME}");
    ProcessState::join_thread_pool();
    Err("the binder thread pool ended".into())
}

fn call() -> Result<(), String> {
    // A client needs no pool threads of its own.
    ProcessState::set_thread_pool_max_thread_count(0);
    let allocator: Strong<dyn IAllocator> = binder::wait_for_interface(SERVICE_NAME)
        .map_err(|e| format!("wait_for_interface: {e:?}"))?;
    let check = |what: &str, ok: bool| {
        println!("{} {what}", if ok { "ok" } else { "FAIL" });
        ok
    };
    let mut all = true;
    all &= check(
        "suffix",
        allocator.getIMapperLibrarySuffix().ok().as_deref() == Some("central"),
    );
    all &= check("version", allocator.getInterfaceVersion().ok() == Some(2));
    all &= check(
        "hash",
        allocator.getInterfaceHash().ok().as_deref() == Some(central_gralloc_aidl::ALLOCATOR_HASH),
    );
    let descriptor = BufferDescriptorInfo {
        width: 7,
        height: 5,
        layerCount: 1,
        format: PixelFormat::RGBA_8888,
        ..Default::default()
    };
    let text = allocator.allocate2(&descriptor, 1).ok().and_then(|r| {
        let pfd = r.buffers.first()?.fds.first()?;
        let mut file = File::from(pfd.as_ref().try_clone().ok()?);
        file.seek(SeekFrom::Start(0)).ok()?;
        let mut text = String::new();
        file.read_to_string(&mut text).ok()?;
        Some(text)
    });
    all &= check("allocate2 fd bytes", text.as_deref() == Some("7x5 #0"));
    #[allow(
        deprecated,
        reason = "allocate is the deprecated V1 entry point under test"
    )]
    let code = allocator
        .allocate(&[], 1)
        .err()
        .map(|s| s.service_specific_error());
    all &= check("allocate is UNSUPPORTED", code == Some(2));
    all &= check(
        "dump",
        dump(&allocator).is_some_and(|t| t.contains("probe")),
    );
    if all {
        Ok(())
    } else {
        Err("some checks failed".into())
    }
}

/// What the service writes for a kernel `DUMP_TRANSACTION` (what `dumpsys` sends).
fn dump(allocator: &Strong<dyn IAllocator>) -> Option<String> {
    let binder = allocator.as_binder();
    let proxy = binder
        .as_any()
        .downcast_ref::<binder::rsbinder::ProxyHandle>()?;
    let (read_end, write_end) = rustix::pipe::pipe().ok()?;
    proxy.dump(write_end, &["--probe".to_owned()]).ok()?;
    let mut text = String::new();
    File::from(read_end).read_to_string(&mut text).ok()?;
    Some(text)
}

fn main() -> ExitCode {
    let result = match std::env::args().nth(1).as_deref() {
        Some("serve") => serve(),
        Some("call") => call(),
        _ => Err("usage: kernel_binder serve|call".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kernel_binder: {e}");
            ExitCode::FAILURE
        }
    }
}
