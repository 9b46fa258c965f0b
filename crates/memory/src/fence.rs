//! Waiting on a sync_file fence (the acquire fence a client hands to lock).

use crate::error::io_errno;
use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Why a fence wait failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FenceError {
    /// The fence did not signal in time.
    Timeout,
    /// The fd is not open.
    BadFd,
    /// `poll` failed with this errno.
    Poll(i32),
}

impl std::fmt::Display for FenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FenceError::Timeout => f.write_str("the acquire fence did not signal in time"),
            FenceError::BadFd => f.write_str("the acquire fence is not an open fd"),
            FenceError::Poll(e) => write!(f, "poll on the acquire fence failed (errno {e})"),
        }
    }
}

impl std::error::Error for FenceError {}

/// Blocks until `fence` signals (a sync_file is readable once signalled, with or without error)
/// or `timeout` passes. Interrupted waits resume with the time left.
pub fn wait(fence: BorrowedFd<'_>, timeout: Duration) -> Result<(), FenceError> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let millis = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        let mut pfd = libc::pollfd {
            fd: fence.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd on this stack frame, and the count says one.
        let n = unsafe { libc::poll(&mut pfd, 1, millis) };
        if n < 0 {
            let errno = io_errno(&std::io::Error::last_os_error());
            if errno == Errno::EINTR {
                continue;
            }
            return Err(FenceError::Poll(errno as i32));
        }
        if n == 0 {
            return Err(FenceError::Timeout);
        }
        if pfd.revents & libc::POLLNVAL != 0 {
            return Err(FenceError::BadFd);
        }
        return Ok(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_readable_fd_counts_as_signalled_and_a_silent_one_times_out() {
        let (r, w) = nix::unistd::pipe().unwrap();
        assert_eq!(
            wait(r.as_fd(), Duration::from_millis(20)),
            Err(FenceError::Timeout)
        );
        nix::unistd::write(&w, b"x").unwrap();
        assert_eq!(wait(r.as_fd(), Duration::from_secs(5)), Ok(()));
    }
}
