//! Test support: the real `allocator-service` binary as a child process on a temporary socket.

// Each test file uses a different part.
#![allow(dead_code)]

use central_gralloc_service::rpc::Connection;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A running `allocator-service`; SIGTERM and reaped on drop.
pub struct ServiceProcess {
    child: Option<Child>,
    path: PathBuf,
}

/// A socket path unique to this process and call.
pub fn socket_path(tag: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "cg-svc-{tag}-{}-{}.sock",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

impl ServiceProcess {
    /// Starts the service with the memfd backend and `extra` arguments; waits until it accepts.
    pub fn start(tag: &str, extra: &[&str]) -> ServiceProcess {
        let path = socket_path(tag);
        let child = Command::new(env!("CARGO_BIN_EXE_allocator-service"))
            .arg("--socket")
            .arg(&path)
            .args(["--backend", "memfd"])
            .args(extra)
            .env("CENTRAL_GRALLOC_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn allocator-service");
        let service = ServiceProcess {
            child: Some(child),
            path,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Connection::open(&service.path).is_err() {
            assert!(Instant::now() < deadline, "the service never accepted");
            std::thread::sleep(Duration::from_millis(20));
        }
        service
    }

    /// The socket.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new client connection.
    pub fn connect(&self) -> Connection {
        Connection::open(&self.path).expect("connect to the service")
    }

    /// The service's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Open fds of the service process.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Waits until the fd count is at most `baseline` (sessions end asynchronously).
    pub fn settle_fds(&self, baseline: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.fd_count();
            if now <= baseline || Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet, so it cannot
        // name another process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.terminate();
    }
}
