//! Host only: IAllocator as the root object of an RPC binder server on a Unix socket, and the
//! client side of the same connection (Android 13+ wire, fds over `SCM_RIGHTS`).

use binder::rpc::{FileDescriptorTransportMode, RpcServer, RpcSession};
use binder::{FromIBinder, SpIBinder, Strong};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::debug::IAllocatorDebug;
use android_hardware_graphics_allocator::aidl::android::hardware::graphics::allocator::IAllocator::IAllocator;

/// Highest RPC wire version both ends offer: 2 is Android 16, 1 is Android 14/15.
pub const WIRE_VERSION: u32 = 2;

/// Connections served at once; more clients wait in the listen backlog until one ends.
pub const MAX_CONNECTIONS: usize = 64;

/// A running socket server. [`SocketServer::stop`] ends every session and unlinks the socket.
pub struct SocketServer {
    server: Arc<RpcServer>,
    accept_loop: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl SocketServer {
    /// Binds `path` (replacing a stale socket, refusing a live one) and serves `root` on it.
    pub fn start(path: &Path, root: SpIBinder) -> Result<SocketServer, String> {
        let server = RpcServer::setup_unix_server(path)
            .map_err(|e| format!("cannot serve on {}: {e:?}", path.display()))?;
        server.set_android13plus(WIRE_VERSION);
        server.set_supported_fd_modes(&[FileDescriptorTransportMode::Unix]);
        server.set_max_connections(MAX_CONNECTIONS);
        server
            .set_root(root)
            .map_err(|e| format!("cannot set the root object: {e:?}"))?;
        let accept_loop = Some(server.run_background());
        Ok(SocketServer {
            server,
            accept_loop,
            path: path.to_path_buf(),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, joins the accept loop, ends the sessions and removes the socket.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.server.stop_accepting();
        if let Some(handle) = self.accept_loop.take() {
            if handle.join().is_err() {
                log::error!("the accept loop panicked");
            }
            self.server.terminate();
        }
        // rsbinder unlinks when the server is dropped; make sure even if another Arc lingers.
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
