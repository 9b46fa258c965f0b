//! Host only: IAllocator as the root object of an RPC binder server on a Unix socket, and the
//! client side of the same connection (Android 13+ wire, fds over `SCM_RIGHTS`).

use binder::rpc::{FileDescriptorTransportMode, RpcServer, RpcSession};
use binder::{FromIBinder, SpIBinder, Strong};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::gate::{Gate, HANDSHAKE_TIMEOUT};
pub use crate::gate::{GateCounts, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_PROCESS};

use crate::debug::IAllocatorDebug;
use android_hardware_graphics_allocator::aidl::android::hardware::graphics::allocator::IAllocator::IAllocator;

/// Highest RPC wire version both ends offer: 2 is Android 16, 1 is Android 14/15.
pub const WIRE_VERSION: u32 = 2;

/// A running socket server. [`SocketServer::stop`] ends every session and unlinks the socket.
///
/// The service accepts on its socket itself and hands each connection that [`Gate`] admits to
/// rsbinder's `RpcServer::serve_connection` (see [`crate::gate`] for why rsbinder's own accept
/// loop is not used). That `RpcServer` still needs a listener of its own, which it never
/// accepts on: it is bound at a private path that is unlinked at once, so nothing can reach it.
pub struct SocketServer {
    server: Arc<RpcServer>,
    gate: Arc<Gate>,
    stop: Arc<AtomicBool>,
    accept_loop: Option<JoinHandle<()>>,
    path: PathBuf,
}

/// How often the accept loop looks at the stop flag while no client connects.
const ACCEPT_POLL: Duration = Duration::from_millis(100);

impl SocketServer {
    /// Binds `path` (replacing a stale socket, refusing a live one) and serves `root` on it.
    pub fn start(path: &Path, root: SpIBinder) -> Result<SocketServer, String> {
        let listener = bind(path)?;
        let engine_path = engine_path(path);
        let server = RpcServer::setup_unix_server(&engine_path)
            .map_err(|e| format!("cannot set up the RPC server: {e:?}"));
        // Unreachable from here on; the listener stays open inside `server`, never accepted.
        let _ = std::fs::remove_file(&engine_path);
        let server = match server {
            Ok(server) => server,
            Err(e) => {
                let _ = std::fs::remove_file(path);
                return Err(e);
            }
        };
        server.set_android13plus(WIRE_VERSION);
        server.set_supported_fd_modes(&[FileDescriptorTransportMode::Unix]);
        server.set_handshake_timeout(Some(HANDSHAKE_TIMEOUT));
        if let Err(e) = server.set_root(root) {
            let _ = std::fs::remove_file(path);
            return Err(format!("cannot set the root object: {e:?}"));
        }
        let gate = Gate::new();
        let stop = Arc::new(AtomicBool::new(false));
        let accept_loop = {
            let (server, gate, stop) = (Arc::clone(&server), Arc::clone(&gate), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("accept".into())
                .spawn(move || accept_loop(&listener, &server, &gate, &stop))
                .map_err(|e| {
                    let _ = std::fs::remove_file(path);
                    format!("cannot start the accept loop: {e}")
                })?
        };
        Ok(SocketServer {
            server,
            gate,
            stop,
            accept_loop: Some(accept_loop),
            path: path.to_path_buf(),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the accept path did so far: admitted, cut and refused connections, and live ones.
    pub fn gate_counts(&self) -> GateCounts {
        self.gate.counts()
    }

    /// Stops accepting, joins the accept loop, ends the sessions and removes the socket.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.stop_accepting();
        if let Some(handle) = self.accept_loop.take() {
            if handle.join().is_err() {
                log::error!("the accept loop panicked");
            }
            self.server.terminate();
        }
        if self.path.exists() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for SocketServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Where the never-used listener of the `RpcServer` is bound for an instant: beside `path`,
/// unique to this process and call.
fn engine_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut name = path.as_os_str().to_owned();
    name.push(format!(
        ".{}-{}.unused",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    PathBuf::from(name)
}

/// Binds a listening socket at `path`: a socket file nobody listens on any more is replaced,
/// a live one or any other file is refused.
fn bind(path: &Path) -> Result<UnixListener, String> {
    use std::os::unix::fs::FileTypeExt;
    let shown = path.display();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(format!(
                "cannot serve on {shown}: it exists and is not a socket"
            ));
        }
        match UnixStream::connect(path) {
            Ok(_) => {
                return Err(format!(
                    "cannot serve on {shown}: a server is running there"
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path)
                    .map_err(|e| format!("cannot remove the stale socket {shown}: {e}"))?;
            }
            Err(e) => return Err(format!("cannot serve on {shown}: {e}")),
        }
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("cannot serve on {shown}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot serve on {shown}: {e}"))?;
    Ok(listener)
}

/// Accepts until `stop`, handing every connection to the gate. Running out of fds (a client
/// that churns connections can drive the service to its limit) is waited out, not fatal.
fn accept_loop(
    listener: &UnixListener,
    server: &Arc<RpcServer>,
    gate: &Arc<Gate>,
    stop: &AtomicBool,
) {
    let poll_ms = i32::try_from(ACCEPT_POLL.as_millis()).unwrap_or(100);
    while !stop.load(Ordering::SeqCst) {
        let mut pollfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call; the listener outlives it.
        let ready = unsafe { libc::poll(&mut pollfd, 1, poll_ms) };
        if ready <= 0 {
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => gate.admit(stream, server),
            Err(e) => match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR | libc::ECONNABORTED | libc::EPROTO) => {}
                Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS) => {
                    log::warn!("accept: {e}; waiting for connections to end");
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    log::error!("accept: {e}; no more connections will be served");
                    return;
                }
            },
        }
    }
}

/// Where the host-only debug interface is served beside the IAllocator socket `path`:
/// `PATH.debug`. (rsbinder 0.12's RPC proxies do not fetch binder extensions, and named
/// services would replace the root object, so the debug interface gets its own socket.)
pub fn debug_socket_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".debug");
    PathBuf::from(name)
}

/// Why connecting to `path` failed, in words a user can act on: rsbinder says `NameNotFound`
/// for a missing path and `Errno(-111)` for a socket nobody listens on.
fn connect_error(path: &Path, error: binder::StatusCode) -> String {
    use std::os::unix::fs::FileTypeExt;
    let shown = path.display();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            format!("no service socket at {shown} (is allocator-service running?)")
        }
        Ok(meta) if !meta.file_type().is_socket() => format!("{shown} is not a socket"),
        _ => match error {
            binder::StatusCode::Errno(errno) if errno < 0 => format!(
                "cannot connect to {shown}: {}",
                std::io::Error::from_raw_os_error(-errno)
            ),
            other => format!("cannot connect to {shown}: {other:?}"),
        },
    }
}

/// A client connection to a socket server: keep it alive as long as its proxies are used.
pub struct Connection {
    /// The session (closing it ends every proxy).
    pub session: RpcSession,
    /// The root object.
    pub allocator: Strong<dyn IAllocator>,
    path: PathBuf,
}

impl Connection {
    /// Connects to the server on `path` and takes its root object as an `IAllocator`.
    pub fn open(path: &Path) -> Result<Connection, String> {
        let session = RpcSession::setup_unix_client_android13plus_fd(
            path,
            WIRE_VERSION,
            FileDescriptorTransportMode::Unix,
        )
        .map_err(|e| connect_error(path, e))?;
        let root = session
            .get_root()
            .map_err(|e| format!("no root object on {}: {e:?}", path.display()))?;
        let allocator = <dyn IAllocator as FromIBinder>::try_from(root)
            .map_err(|e| format!("the root object is not an IAllocator: {e:?}"))?;
        Ok(Connection {
            session,
            allocator,
            path: path.to_path_buf(),
        })
    }

    /// The host-only debug interface, served on [`debug_socket_path`]. The returned session
    /// must outlive the proxy.
    pub fn debug(&self) -> Result<(RpcSession, Strong<dyn IAllocatorDebug>), String> {
        let path = debug_socket_path(&self.path);
        let session = RpcSession::setup_unix_client_android13plus_fd(
            &path,
            WIRE_VERSION,
            FileDescriptorTransportMode::Unix,
        )
        .map_err(|e| connect_error(&path, e))?;
        let root = session
            .get_root()
            .map_err(|e| format!("no root object on {}: {e:?}", path.display()))?;
        let debug = <dyn IAllocatorDebug as FromIBinder>::try_from(root)
            .map_err(|e| format!("not an IAllocatorDebug: {e:?}"))?;
        Ok((session, debug))
    }
}
