//! Test support: the real `allocator-service` binary as a child process (memfd backend, a
//! temporary socket), and the service's open fds, which must return to a baseline after each
//! client is gone.

// Each test file uses a different part.
#![allow(dead_code)]

use central_gralloc_service::child::ServiceChild;
use std::time::{Duration, Instant};

/// How long the service may take to close what a departed client held: sessions end on the
/// service's own threads, after the client has gone.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `allocator-service --backend memfd EXTRA...`; `tag` names its socket.
pub fn start(tag: &str, extra: &[&str]) -> ServiceChild {
    let mut args = vec!["--backend", "memfd"];
    args.extend_from_slice(extra);
    ServiceChild::start(env!("CARGO_BIN_EXE_allocator-service"), &args, tag)
        .unwrap_or_else(|e| panic!("allocator-service: {e}"))
}

/// Open fds of the service process.
pub fn fd_count(service: &ServiceChild) -> usize {
    let pid = service.pid().expect("the service is running");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"))
        .count()
}

/// Polls `condition` (every millisecond: some conditions last only a few) until it holds or
/// `timeout` passes; returns whether it held.
pub fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until the service holds at most `baseline` fds; panics with the count if it still
/// holds more after the settle timeout.
pub fn assert_fds_back(service: &ServiceChild, baseline: usize) {
    let mut now = 0;
    let settled = wait_for(SETTLE_TIMEOUT, || {
        now = fd_count(service);
        now <= baseline
    });
    assert!(settled, "service fds {now} > baseline {baseline}");
}

/// The service's open fds with no client: one connection is opened and used (so the service
/// holds its fds), then closed, and the count is read once the service has let go of them.
pub fn idle_fds(service: &ServiceChild) -> usize {
    let connection = service.connect().expect("connect");
    connection
        .allocator
        .getInterfaceVersion()
        .expect("getInterfaceVersion");
    let connected = fd_count(service);
    drop(connection);
    let closed = wait_for(SETTLE_TIMEOUT, || fd_count(service) < connected);
    assert!(closed, "the service still holds a closed connection's fds");
    fd_count(service)
}
