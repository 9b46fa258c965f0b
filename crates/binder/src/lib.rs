//! Host-build facade: rsbinder under the names AOSP's `binder` crate (libbinder_rs) uses.
//!
//! The service adapter is written against libbinder_rs. On Android it links the platform's
//! `libbinder_rs`; on a host it links this crate, which re-exports [rsbinder] (pinned) under
//! the same paths, so `use binder::{Interface, Status, Strong}` and
//! `fn allocate2(..) -> binder::Result<..>` compile unchanged in both worlds.
//!
//! Only what rsbinder really has is re-exported; nothing is emulated. Known differences,
//! which code shared by both builds must stay clear of (the two `main`s absorb the rest):
//!
//! - **Enum variant spelling.** rsbinder's [`ExceptionCode`] and [`StatusCode`] use
//!   CamelCase (`ExceptionCode::ServiceSpecific`, `StatusCode::BadValue`); AOSP's use
//!   SCREAMING_CASE (`SERVICE_SPECIFIC`, `BAD_VALUE`). Shared code should not name variants;
//!   read a service-specific code with [`Status::service_specific_error`] (same in both).
//! - **Status messages.** `Status::new_service_specific_error(code, None)` compiles in both.
//!   With a message the types differ (`Option<&CStr>` in AOSP, `Option<String>` here), and
//!   AOSP's `new_service_specific_error_str` / `new_exception` / `new_exception_str` do not
//!   exist in rsbinder. Pass `None` and log the detail instead.
//! - **`Interface::dump`.** AOSP: `fn dump(&self, &mut dyn Write, &[&CStr]) ->
//!   Result<(), StatusCode>`; rsbinder: `fn dump(&self, &mut dyn Write, &[String]) ->
//!   rsbinder::Result<()>` (which is also `Result<(), StatusCode>`). The argument type
//!   differs, so the `dump` override needs one line per world (a `cfg`); keep its body in a
//!   plain function both call.
//! - **Constructing a native binder.** AOSP: `BnFoo::new_binder(inner,
//!   BinderFeatures::default())`; rsbinder: `BnFoo::new_binder(inner)` or
//!   `BnFoo::new_binder_with_features(inner, features)`. Construct binders in the `main`s.
//! - **Process setup.** [`ProcessState`] here opens the kernel driver on first use (rsbinder
//!   needs an explicit init; AOSP's `ProcessState` opens `/dev/binder` implicitly).
//! - **RPC (binder over a Unix socket)** exists only on the host side: see [`rpc`].

#![warn(missing_docs)]

use std::path::Path;

pub use rsbinder::{
    BinderFeatures, ExceptionCode, FromIBinder, IBinder, Interface, ParcelFileDescriptor, Status,
    StatusCode, Strong,
};

/// AOSP's name for a strong reference to any binder object.
pub use rsbinder::SIBinder as SpIBinder;

/// The underlying crate, for host-only code (the host `main`, tests) that needs more than the
/// libbinder_rs surface. Shared code must not use it.
pub use rsbinder;

/// RPC binder (binder over a socket): host-only, no libbinder_rs counterpart.
///
/// A server publishes one root object with
/// [`RpcServer::setup_unix_server`](rsbinder::rpc::RpcServer::setup_unix_server),
/// `set_android13plus`, `set_supported_fd_modes(&[FileDescriptorTransportMode::Unix])`,
/// `set_root` and `run_background`; a client connects with
/// [`RpcSession::setup_unix_client_android13plus_fd`](rsbinder::rpc::RpcSession::setup_unix_client_android13plus_fd)
/// and `get_root`.
pub mod rpc {
    pub use rsbinder::rpc::{FileDescriptorTransportMode, RpcServer, RpcSession};
}

/// The result of a binder method: the value, or the [`Status`] the peer sees.
///
/// Same as AOSP's `binder::Result` (and rsbinder's `BinderResult`).
pub type Result<T> = std::result::Result<T, Status>;

/// Registers `binder` with the service manager under `identifier` (kernel binder only).
///
/// Opens the kernel driver first if needed; `NoInit` if it cannot. Errors are reduced to a
/// [`StatusCode`], as AOSP's `binder::add_service` returns them.
pub fn add_service(identifier: &str, binder: SpIBinder) -> std::result::Result<(), StatusCode> {
    driver_open()?;
    rsbinder::hub::add_service(identifier, binder).map_err(StatusCode::from)
}

/// Blocks until the service `name` is registered, then returns it as interface `T`.
///
/// Opens the kernel driver first if needed; `NoInit` if it cannot.
pub fn wait_for_interface<T: FromIBinder + ?Sized>(
    name: &str,
) -> std::result::Result<Strong<T>, StatusCode> {
    driver_open()?;
    rsbinder::hub::wait_for_interface(name)
}

/// Returns the service `name` as interface `T` if it is registered now.
///
/// Opens the kernel driver first if needed; `NoInit` if it cannot.
pub fn check_interface<T: FromIBinder + ?Sized>(
    name: &str,
) -> std::result::Result<Strong<T>, StatusCode> {
    driver_open()?;
    rsbinder::hub::check_interface(name)
}

/// Opens the kernel driver with the default thread ceiling unless it is open, as AOSP's
/// `ProcessState::self()` does lazily; `NoInit` when it cannot be opened. (rsbinder's
/// service-manager calls panic without an open driver.)
fn driver_open() -> std::result::Result<(), StatusCode> {
    if rsbinder::ProcessState::is_initialized() || open_driver(rsbinder::DEFAULT_MAX_BINDER_THREADS)
    {
        Ok(())
    } else {
        Err(StatusCode::NoInit)
    }
}

/// Process-wide kernel binder state, with AOSP's static methods.
///
/// rsbinder opens the driver explicitly; the first call here that needs it opens
/// `/dev/binderfs/binder`, or `/dev/binder` where binderfs is not mounted.
#[derive(Debug)]
pub struct ProcessState;

impl ProcessState {
    /// Sets the binder thread pool ceiling. Opens the driver with that ceiling if it is not
    /// open yet; once open, the ceiling is fixed and a different value is only logged.
    pub fn set_thread_pool_max_thread_count(num_threads: u32) {
        if rsbinder::ProcessState::is_initialized() {
            log::warn!("binder: driver already open; thread pool ceiling {num_threads} ignored");
            return;
        }
        open_driver(num_threads);
    }

    /// Starts the binder thread pool (opening the driver with the default ceiling if needed).
    pub fn start_thread_pool() {
        if !rsbinder::ProcessState::is_initialized()
            && !open_driver(rsbinder::DEFAULT_MAX_BINDER_THREADS)
        {
            return;
        }
        rsbinder::ProcessState::start_thread_pool();
    }

    /// Joins the calling thread to the binder thread pool; returns only if the looper ends.
    pub fn join_thread_pool() {
        if !rsbinder::ProcessState::is_initialized() {
            log::error!("binder: join_thread_pool without an open driver");
            return;
        }
        if let Err(e) = rsbinder::ProcessState::join_thread_pool() {
            log::error!("binder: thread pool loop ended: {e:?}");
        }
    }
}

/// Opens the kernel binder driver; false (and an error log) when it cannot be opened.
fn open_driver(max_threads: u32) -> bool {
    let path = if Path::new(rsbinder::DEFAULT_BINDER_PATH).exists() {
        rsbinder::DEFAULT_BINDER_PATH
    } else {
        rsbinder::LEGACY_BINDER_PATH
    };
    match rsbinder::ProcessState::init(path, max_threads) {
        Ok(_) => true,
        Err(e) => {
            log::error!("binder: cannot open {path}: {e}");
            false
        }
    }
}

/// Identity of the caller of the transaction being handled, with AOSP's static methods.
///
/// Answers for kernel binder and for an RPC dispatch over a Unix socket (peer credentials).
#[derive(Debug)]
pub struct ThreadState;

impl ThreadState {
    /// Process id of the caller.
    pub fn get_calling_pid() -> i32 {
        rsbinder::get_calling_pid()
    }

    /// User id of the caller.
    pub fn get_calling_uid() -> u32 {
        rsbinder::get_calling_uid()
    }
}
