//! Host only: a service process that a parent starts on a Unix socket and talks to over RPC
//! binder. The demo, the tests and the benchmark all start their service this one way.
//!
//! Readiness is a condition, not a delay: [`ServiceChild::start`] returns once the socket accepts
//! a connection, and fails as soon as the process exits or a deadline passes. Stopping is SIGTERM
//! (the service's own clean shutdown, which removes its sockets), then a wait for the exit.

use crate::rpc::{debug_socket_path, Connection};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a starting service may take to accept its first connection. Generous: a debug build
/// on a loaded two-core machine starts in well under a second.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a service may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two checks of a condition that has no event to wait on.
const POLL: Duration = Duration::from_millis(10);

/// A socket path in the temporary directory, unique to this process and call; `tag` says who
/// made it.
pub fn unique_socket(tag: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "central-gralloc-{tag}-{}-{}.sock",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A running service child; stopped with SIGTERM and reaped on drop.
pub struct ServiceChild {
    /// `None` once stopped.
    child: Option<Child>,
    socket: PathBuf,
}

impl ServiceChild {
    /// Runs `program args... --socket PATH` (PATH from [`unique_socket`]`(tag)`) with logging
    /// cut to errors and stdout discarded, and waits until the socket accepts a connection.
    /// Fails with the reason if the program cannot start, exits first, or is not ready within
    /// the start timeout (then it is killed).
    pub fn start(
        program: impl AsRef<OsStr>,
        args: &[&str],
        tag: &str,
    ) -> Result<ServiceChild, String> {
        let program = program.as_ref();
        let socket = unique_socket(tag);
        let child = Command::new(program)
            .args(args)
            .arg("--socket")
            .arg(&socket)
            .env("CENTRAL_GRALLOC_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", Path::new(program).display()))?;
        let mut service = ServiceChild {
            child: Some(child),
            socket,
        };
        service.wait_until_ready()?;
        Ok(service)
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let refused = match Connection::open(&self.socket) {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if let Some(status) = self.exit_status()? {
                self.child = None;
                return Err(format!("the service exited before it served: {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the service did not accept within {}s: {refused}",
                    START_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The exit status if the process has ended, `None` while it runs.
    fn exit_status(&mut self) -> Result<Option<ExitStatus>, String> {
        match self.child.as_mut() {
            Some(child) => child.try_wait().map_err(|e| format!("waitpid: {e}")),
            None => Err("the service was already stopped".into()),
        }
    }

    /// The socket it serves on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A new client connection.
    pub fn connect(&self) -> Result<Connection, String> {
        Connection::open(&self.socket)
    }

    /// The process id, until the service is stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.exit_status(), Ok(None))
    }

    /// Sends SIGTERM and waits for the exit; a service that does not exit within the stop
    /// timeout is killed. `Ok` only for a clean exit (status 0).
    pub fn terminate(&mut self) -> Result<(), String> {
        let mut child = self.child.take().ok_or("the service was already stopped")?;
        let pid = libc::pid_t::try_from(child.id()).map_err(|e| format!("pid: {e}"))?;
        // SAFETY: kill(2) on our own child, which has not been reaped (we hold its `Child` and
        // only `wait` below reaps it), so the pid cannot name another process.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            return Err(format!("SIGTERM: {}", std::io::Error::last_os_error()));
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("exit after SIGTERM: {status}")),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "still running {}s after SIGTERM; killed",
                        STOP_TIMEOUT.as_secs()
                    ));
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("waitpid: {e}"));
                }
            }
        }
    }
}

impl Drop for ServiceChild {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.terminate();
        }
        // A service that was killed or crashed leaves its sockets behind.
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(debug_socket_path(&self.socket));
    }
}
