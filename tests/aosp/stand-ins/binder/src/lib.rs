//! Stand-in for AOSP's `libbinder_rs` (crate `binder`), compiled but never run.
//!
//! It declares the public items central-gralloc's Soong-built code names, with the signatures of
//! frameworks/native `libs/binder/rust` on android15-release (and, with the `android16` feature,
//! android16-release), so `tests/aosp/check` can type-check that code without an AOSP tree. Every
//! body only fails: nothing here talks to a driver.

use std::ffi::CStr;
use std::fmt;
use std::io::Write;
use std::ops::Deref;
use std::os::fd::OwnedFd;

/// What the native status codes are (`status_t` values in libbinder). A bindgen enum there:
/// SCREAMING_CASE variants and `#[non_exhaustive]`.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(i32)]
pub enum StatusCode {
    /// Success.
    OK = 0,
    /// Unspecified failure.
    UNKNOWN_ERROR = i32::MIN,
    /// `-ENOMEM`.
    NO_MEMORY = -12,
    /// `-ENOSYS`.
    INVALID_OPERATION = -38,
    /// `-EINVAL`.
    BAD_VALUE = -22,
    /// Wrong parcel type.
    BAD_TYPE = i32::MIN + 1,
    /// `-ENOENT`.
    NAME_NOT_FOUND = -2,
    /// `-EPERM`.
    PERMISSION_DENIED = -1,
    /// `-ENODEV`.
    NO_INIT = -19,
    /// `-EEXIST`.
    ALREADY_EXISTS = -17,
    /// `-EPIPE`.
    DEAD_OBJECT = -32,
    /// Transaction could not be sent.
    FAILED_TRANSACTION = i32::MIN + 2,
    /// `-EOVERFLOW`.
    BAD_INDEX = -75,
    /// `-ENODATA`.
    NOT_ENOUGH_DATA = -61,
    /// `-EWOULDBLOCK`.
    WOULD_BLOCK = -11,
    /// `-ETIMEDOUT`.
    TIMED_OUT = -110,
    /// Unknown transaction code.
    UNKNOWN_TRANSACTION = -74,
    /// Fds not allowed in this parcel.
    FDS_NOT_ALLOWED = i32::MIN + 7,
    /// Unexpected null.
    UNEXPECTED_NULL = i32::MIN + 8,
}

/// The exception a [`Status`] carries (`binder_exception_t`), a bindgen enum as well.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(i32)]
pub enum ExceptionCode {
    /// No exception.
    NONE = 0,
    /// `SecurityException`.
    SECURITY = -1,
    /// `BadParcelableException`.
    BAD_PARCELABLE = -2,
    /// `IllegalArgumentException`.
    ILLEGAL_ARGUMENT = -3,
    /// `NullPointerException`.
    NULL_POINTER = -4,
    /// `IllegalStateException`.
    ILLEGAL_STATE = -5,
    /// `NetworkOnMainThreadException`.
    NETWORK_MAIN_THREAD = -6,
    /// `UnsupportedOperationException`.
    UNSUPPORTED_OPERATION = -7,
    /// A service-specific error code.
    SERVICE_SPECIFIC = -8,
    /// A parcelable exception.
    PARCELABLE = -9,
    /// The transaction failed.
    TRANSACTION_FAILED = -129,
}

/// A binder call's outcome as the peer sees it.
pub struct Status(());

impl Status {
    /// A service-specific error `err`, with an optional message.
    pub fn new_service_specific_error(_err: i32, _message: Option<&CStr>) -> Status {
        Status(())
    }
    /// A service-specific error with a message given as text.
    pub fn new_service_specific_error_str<T: AsRef<str>>(_err: i32, _message: Option<T>) -> Status {
        Status(())
    }
    /// An exception with an optional message.
    pub fn new_exception(_exception: ExceptionCode, _message: Option<&CStr>) -> Status {
        Status(())
    }
    /// An exception with a message given as text.
    pub fn new_exception_str<T: AsRef<str>>(
        _exception: ExceptionCode,
        _message: Option<T>,
    ) -> Status {
        Status(())
    }
    /// Whether it is OK.
    pub fn is_ok(&self) -> bool {
        false
    }
    /// The exception.
    pub fn exception_code(&self) -> ExceptionCode {
        ExceptionCode::TRANSACTION_FAILED
    }
    /// The transaction error (for `TRANSACTION_FAILED`).
    pub fn transaction_error(&self) -> StatusCode {
        StatusCode::UNKNOWN_ERROR
    }
    /// The service-specific code (for `SERVICE_SPECIFIC`).
    pub fn service_specific_error(&self) -> i32 {
        0
    }
    /// The message.
    pub fn get_description(&self) -> String {
        String::new()
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Status")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Status")
    }
}

impl std::error::Error for Status {}

impl From<StatusCode> for Status {
    fn from(_status: StatusCode) -> Status {
        Status(())
    }
}

impl From<ExceptionCode> for Status {
    fn from(_exception: ExceptionCode) -> Status {
        Status(())
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for StatusCode {}

/// The result of a binder method.
pub type Result<T> = std::result::Result<T, Status>;

/// A strong reference to a binder object.
#[derive(Clone)]
pub struct SpIBinder(());

/// What every binder interface (local or remote) is.
pub trait Interface: Send + Sync {
    /// The binder object behind it.
    fn as_binder(&self) -> SpIBinder {
        SpIBinder(())
    }
    /// What `dumpsys` prints. (android14-release took `&File`; 15 and 16 take a writer.)
    fn dump(
        &self,
        _writer: &mut dyn Write,
        _args: &[&CStr],
    ) -> std::result::Result<(), StatusCode> {
        Ok(())
    }
}

/// Interfaces a remote binder can be turned into.
pub trait FromIBinder: Interface {
    /// The interface behind `ibinder`.
    fn try_from(ibinder: SpIBinder) -> std::result::Result<Strong<Self>, StatusCode>;
}

/// A strong reference to an interface.
pub struct Strong<I: FromIBinder + ?Sized>(Box<I>);

impl<I: FromIBinder + ?Sized> Strong<I> {
    /// Wraps an interface object.
    pub fn new(binder: Box<I>) -> Self {
        Strong(binder)
    }
}

impl<I: FromIBinder + ?Sized> Deref for Strong<I> {
    type Target = I;
    fn deref(&self) -> &I {
        &self.0
    }
}

impl<I: FromIBinder + ?Sized> fmt::Debug for Strong<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Strong")
    }
}

/// Options of a new local binder.
#[derive(Clone, Copy, Debug, Default)]
pub struct BinderFeatures {
    /// Whether calls carry the caller's SELinux context.
    pub set_requesting_sid: bool,
    /// Forces `..Default::default()` on constructors outside the crate.
    pub _non_exhaustive: (),
}

/// A file descriptor in a parcel.
#[derive(Debug)]
pub struct ParcelFileDescriptor(OwnedFd);

impl ParcelFileDescriptor {
    /// Wraps an fd.
    pub fn new<F: Into<OwnedFd>>(fd: F) -> Self {
        ParcelFileDescriptor(fd.into())
    }
}

impl AsRef<OwnedFd> for ParcelFileDescriptor {
    fn as_ref(&self) -> &OwnedFd {
        &self.0
    }
}

impl From<ParcelFileDescriptor> for OwnedFd {
    fn from(fd: ParcelFileDescriptor) -> OwnedFd {
        fd.0
    }
}

/// The process-wide binder state.
pub struct ProcessState;

impl ProcessState {
    /// Starts the binder thread pool.
    pub fn start_thread_pool() {}
    /// Caps the threads the pool may start.
    pub fn set_thread_pool_max_thread_count(_num_threads: u32) {}
    /// Makes the calling thread a binder thread until the pool ends.
    pub fn join_thread_pool() {}
}

/// The calling thread's binder state.
pub struct ThreadState;

impl ThreadState {
    /// The caller's uid.
    pub fn get_calling_uid() -> libc::uid_t {
        0
    }
    /// The caller's pid.
    pub fn get_calling_pid() -> libc::pid_t {
        0
    }
}

/// Registers `binder` with servicemanager as `identifier`.
pub fn add_service(_identifier: &str, _binder: SpIBinder) -> std::result::Result<(), StatusCode> {
    Err(StatusCode::UNKNOWN_ERROR)
}

/// Waits for the service `name` and returns its interface.
pub fn wait_for_interface<T: FromIBinder + ?Sized>(
    _name: &str,
) -> std::result::Result<Strong<T>, StatusCode> {
    Err(StatusCode::NAME_NOT_FOUND)
}

/// Returns the service `name` if it is registered, without waiting.
pub fn check_interface<T: FromIBinder + ?Sized>(
    _name: &str,
) -> std::result::Result<Strong<T>, StatusCode> {
    Err(StatusCode::NAME_NOT_FOUND)
}

/// Android 16 added a Rust `PersistableBundle` to the crate; the allocator does not use it, but a
/// name added to the crate's root could collide with a glob import, so the variant carries it.
#[cfg(feature = "android16")]
pub mod persistable_bundle {
    /// A `PersistableBundle` (android16-release).
    #[derive(Debug, Default)]
    pub struct PersistableBundle(());
}
#[cfg(feature = "android16")]
pub use persistable_bundle::PersistableBundle;
