//! End-to-end proof of the host binder plumbing: a real RPC binder server on a Unix socket
//! serves an `IAllocator` root object (Android 13+ wire, fds over `SCM_RIGHTS`), and a real
//! client in the same process calls it through the generated proxy.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use binder::rpc::{FileDescriptorTransportMode, RpcServer, RpcSession};
use binder::{FromIBinder, Interface, ParcelFileDescriptor, Status, Strong};
use central_gralloc_aidl::aidl::android::hardware::common::NativeHandle::NativeHandle;
use central_gralloc_aidl::aidl::android::hardware::graphics::allocator::{
    AllocationError::AllocationError,
    AllocationResult::AllocationResult,
    BufferDescriptorInfo::BufferDescriptorInfo,
    IAllocator::{BnAllocator, IAllocator},
};
use central_gralloc_aidl::aidl::android::hardware::graphics::common::{
    BufferUsage::BufferUsage, PixelFormat::PixelFormat,
};

/// Highest RPC wire version offered by both ends: 2 is Android 16, 1 is Android 14/15.
const WIRE_VERSION: u32 = 2;

/// A tiny allocator: memfd-backed buffers whose first bytes say who made them.
struct TestAllocator;

impl Interface for TestAllocator {
    fn dump(&self, writer: &mut dyn Write, _args: &[String]) -> binder::rsbinder::Result<()> {
        writer.write_all(b"test allocator\n")?;
        Ok(())
    }
}

impl IAllocator for TestAllocator {
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
        if count < 1 || descriptor.layerCount == 0 {
            return Err(Status::new_service_specific_error(
                AllocationError::BAD_DESCRIPTOR.0,
                None,
            ));
        }
        let bad = |_| Status::new_service_specific_error(AllocationError::NO_RESOURCES.0, None);
        let buffers = (0..count)
            .map(|index| {
                let mut file = memfd("test-buffer").map_err(bad)?;
                let text = format!(
                    "buffer {index} of {count}: {}x{} format {}",
                    descriptor.width, descriptor.height, descriptor.format.0
                );
                file.write_all(text.as_bytes()).map_err(bad)?;
                Ok(NativeHandle {
                    fds: vec![ParcelFileDescriptor::new(OwnedFd::from(file))],
                    ints: vec![index, text.len() as i32],
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

fn memfd(name: &str) -> std::io::Result<File> {
    let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC)?;
    Ok(File::from(fd))
}

/// A socket path unique to this process and call, in the temp directory.
fn socket_path(tag: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "central-gralloc-{tag}-{}-{}.sock",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A running server; stopping it ends every session and unlinks the socket.
struct Serving {
    server: Arc<RpcServer>,
    accept_loop: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl Serving {
    fn start(tag: &str) -> Serving {
        Serving::start_at(socket_path(tag))
    }

    fn start_at(path: PathBuf) -> Serving {
        let server = RpcServer::setup_unix_server(&path).expect("bind the socket");
        server.set_android13plus(WIRE_VERSION);
        server.set_supported_fd_modes(&[FileDescriptorTransportMode::Unix]);
        let root: Strong<dyn IAllocator> = BnAllocator::new_binder(TestAllocator);
        server
            .set_root(root.as_binder())
            .expect("set the root object");
        let accept_loop = Some(server.run_background());
        Serving {
            server,
            accept_loop,
            path,
        }
    }

    fn connect(&self) -> (RpcSession, Strong<dyn IAllocator>) {
        let session = RpcSession::setup_unix_client_android13plus_fd(
            &self.path,
            WIRE_VERSION,
            FileDescriptorTransportMode::Unix,
        )
        .expect("connect");
        // The Android 13+ handshake ran, fds are on, and the root is a proxy, not the local object.
        assert_eq!(session.wire_protocol_version(), Some(WIRE_VERSION));
        assert_eq!(
            session.fd_transport_mode(),
            FileDescriptorTransportMode::Unix
        );
        let root = session.get_root().expect("root object");
        assert!(root.is_remote());
        let allocator = <dyn IAllocator as FromIBinder>::try_from(root).expect("an IAllocator");
        (session, allocator)
    }

    fn stop(mut self) {
        // Documented order: stop the accept loop, join it, then end the sessions.
        self.server.stop_accepting();
        if let Some(handle) = self.accept_loop.take() {
            handle.join().expect("accept loop");
        }
        self.server.terminate();
    }
}

fn descriptor(width: i32, height: i32) -> BufferDescriptorInfo {
    let mut name = [0u8; 128];
    name[..4].copy_from_slice(b"test");
    BufferDescriptorInfo {
        name,
        width,
        height,
        layerCount: 1,
        format: PixelFormat::RGBA_8888,
        usage: BufferUsage(BufferUsage::CPU_READ_OFTEN.0 | BufferUsage::GPU_TEXTURE.0),
        reservedSize: 0,
        additionalOptions: Vec::new(),
    }
}

fn read_all(pfd: &ParcelFileDescriptor) -> String {
    let mut file = File::from(pfd.as_ref().try_clone().expect("dup"));
    file.seek(SeekFrom::Start(0)).expect("seek");
    let mut text = String::new();
    file.read_to_string(&mut text).expect("read");
    text
}

#[test]
fn metadata_calls_answer_over_rpc() {
    let serving = Serving::start("meta");
    let (_session, allocator) = serving.connect();

    assert_eq!(allocator.getIMapperLibrarySuffix().unwrap(), "central");
    assert_eq!(allocator.getInterfaceVersion().unwrap(), 2);
    assert_eq!(
        allocator.getInterfaceHash().unwrap(),
        "9499fec09c544e9de5be3c87125721600f8ade66"
    );
    assert!(allocator.isSupported(&descriptor(64, 64)).unwrap());
    let mut no_layers = descriptor(64, 64);
    no_layers.layerCount = 0;
    assert!(!allocator.isSupported(&no_layers).unwrap());

    serving.stop();
}

#[test]
fn allocate2_passes_real_fds_to_the_client() {
    let serving = Serving::start("fds");
    let (_session, allocator) = serving.connect();

    let result = allocator.allocate2(&descriptor(33, 17), 2).unwrap();
    assert_eq!(result.stride, 33);
    assert_eq!(result.buffers.len(), 2);
    for (index, handle) in result.buffers.iter().enumerate() {
        assert_eq!(handle.fds.len(), 1);
        let text = read_all(&handle.fds[0]);
        assert_eq!(
            text,
            format!("buffer {index} of 2: 33x17 format 1"),
            "bytes written by the server"
        );
        assert_eq!(handle.ints, vec![index as i32, text.len() as i32]);
        // A received fd is this process's own descriptor: writable and close-on-exec.
        let flags = rustix::io::fcntl_getfd(handle.fds[0].as_ref()).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    }

    serving.stop();
}

#[test]
fn allocation_errors_arrive_as_service_specific_codes() {
    let serving = Serving::start("errors");
    let (_session, allocator) = serving.connect();

    #[allow(
        deprecated,
        reason = "allocate is the deprecated V1 entry point under test"
    )]
    let status = allocator.allocate(&[1, 2, 3], 1).unwrap_err();
    assert_eq!(
        status.exception_code(),
        binder::ExceptionCode::ServiceSpecific
    );
    assert_eq!(
        status.service_specific_error(),
        AllocationError::UNSUPPORTED.0
    );
    assert_eq!(status.service_specific_error(), 2);

    let status = allocator.allocate2(&descriptor(8, 8), 0).unwrap_err();
    assert_eq!(
        status.service_specific_error(),
        AllocationError::BAD_DESCRIPTOR.0
    );

    serving.stop();
}

#[test]
fn stopping_the_server_ends_client_sessions() {
    let serving = Serving::start("stop");
    let (_session, allocator) = serving.connect();
    assert_eq!(allocator.getIMapperLibrarySuffix().unwrap(), "central");
    let path = serving.path.clone();

    let started = Instant::now();
    serving.stop();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "terminate is prompt"
    );
    assert!(!path.exists(), "the socket file is removed");
    assert!(allocator.getIMapperLibrarySuffix().is_err());
}

/// Set in a child test process: serve on this socket path until SIGTERM.
const CHILD_SOCKET_ENV: &str = "CENTRAL_GRALLOC_TEST_CHILD_SOCKET";

/// Serves on `path` until SIGTERM or SIGINT arrives, then shuts down cleanly.
///
/// The pattern for a host service `main`: register the signals before serving (so none is
/// lost), block on them on the main thread, then stop accepting, join the accept loop and
/// terminate the sessions. Returns the signal that ended it.
fn serve_until_signal(path: PathBuf, raise_self: bool) -> i32 {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).expect("signals");
    let serving = Serving::start_at(path);
    if raise_self {
        signal_hook::low_level::raise(SIGTERM).expect("raise");
    }
    let signal = signals.forever().next().expect("a signal");
    serving.stop();
    signal
}

/// Alone: serves, raises SIGTERM at itself and stops. As the child of
/// `serves_another_process_and_stops_on_sigterm`: serves until the parent sends SIGTERM.
#[test]
fn sigterm_stops_the_server() {
    let (path, raise_self) = match std::env::var_os(CHILD_SOCKET_ENV) {
        Some(path) => (PathBuf::from(path), false),
        None => (socket_path("sigterm"), true),
    };
    let signal = serve_until_signal(path.clone(), raise_self);
    assert_eq!(signal, signal_hook::consts::SIGTERM);
    assert!(!path.exists(), "the socket file is removed");
    println!("server stopped on signal {signal}");
}

#[test]
fn serves_another_process_and_stops_on_sigterm() {
    use std::process::{Command, Stdio};

    let path = socket_path("child");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["sigterm_stops_the_server", "--exact", "--nocapture"])
        .env(CHILD_SOCKET_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the server process");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(Instant::now() < deadline, "the child never bound {path:?}");
        std::thread::sleep(Duration::from_millis(10));
    }

    let session = RpcSession::setup_unix_client_android13plus_fd(
        &path,
        WIRE_VERSION,
        FileDescriptorTransportMode::Unix,
    )
    .expect("connect");
    let allocator =
        <dyn IAllocator as FromIBinder>::try_from(session.get_root().expect("root")).unwrap();
    let result = allocator.allocate2(&descriptor(5, 3), 1).unwrap();
    assert_eq!(
        read_all(&result.buffers[0].fds[0]),
        "buffer 0 of 1: 5x3 format 1"
    );
    assert_eq!(allocator.getInterfaceVersion().unwrap(), 2);

    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the child ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().expect("child output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed: {stdout}");
    assert!(stdout.contains("server stopped on signal 15"), "{stdout}");
    assert!(
        allocator.getIMapperLibrarySuffix().is_err(),
        "session ended"
    );
}
