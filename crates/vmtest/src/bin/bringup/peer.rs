//! The second process of a two-process check: a fresh exec of this binary in another mode, with
//! one end of a socket pair as its fd 3 (a fresh exec inherits only what is put in place).

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};

/// Starts `bringup MODE 3` with `theirs` as its fd 3 (closed here once the child has it), its
/// stdout piped when `capture` is set.
pub fn spawn_with_fd3(mode: &str, theirs: OwnedFd, capture: bool) -> Result<Child, String> {
    let mut peer = Command::new("/proc/self/exe");
    peer.args([mode, "3"]);
    let raw = theirs.as_raw_fd();
    // SAFETY: dup2 and fcntl are async-signal-safe; this runs between fork and exec, in the child
    // only.
    unsafe {
        use std::os::unix::process::CommandExt;
        peer.pre_exec(move || {
            // dup2 onto another number clears close-on-exec; onto itself it does not.
            let placed = if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(raw, 3)
            };
            if placed < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    if capture {
        peer.stdout(Stdio::piped());
    }
    let child = peer.spawn().map_err(|e| format!("spawn `{mode}`: {e}"))?;
    drop(theirs);
    Ok(child)
}
