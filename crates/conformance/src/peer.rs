//! The second process of `fds_are_shared_memory`: a peer that maps an inherited fd itself, checks
//! the parent's bytes and writes its own.

use central_gralloc_memory::map::{begin_cpu_access, end_cpu_access};
use central_gralloc_memory::{CpuAccess, Mapping, MemError};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::{Command, Stdio};

/// Set in the peer's environment to what it must do ([`PeerTask`]); its absence means "not a
/// peer".
pub const PEER_ENV: &str = "CENTRAL_GRALLOC_CONFORMANCE_PEER";

/// The ignored `#[test]` through which a libtest binary (the Cargo and Soong test suites) runs
/// as the peer; the peer is started with `PEER_TEST --exact --ignored`, which the `conformance`
/// binary never parses because it checks [`PEER_ENV`] first.
pub const PEER_TEST: &str = "conformance_peer";

/// One region of one buffer, as the peer is asked to check it: map `len` bytes of its stdin
/// read-write, check that `bytes` bytes at `check_at` hold [`pattern`]`(PARENT_SEED)`, then
/// write [`pattern`]`(PEER_SEED)` at `write_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PeerTask {
    pub(super) len: u64,
    pub(super) check_at: usize,
    pub(super) write_at: usize,
    pub(super) bytes: usize,
}

const PARENT_SEED: u8 = 0x5a;
const PEER_SEED: u8 = 0xc3;

impl PeerTask {
    fn to_env(self) -> String {
        format!(
            "{} {} {} {}",
            self.len, self.check_at, self.write_at, self.bytes
        )
    }

    fn from_env(text: &str) -> Result<PeerTask, String> {
        let fields: Vec<u64> = text
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{PEER_ENV}=`{text}`: {e}"))?;
        let offset = |v: u64| usize::try_from(v).map_err(|e| format!("{PEER_ENV}: {e}"));
        match fields.as_slice() {
            &[len, check_at, write_at, bytes] => Ok(PeerTask {
                len,
                check_at: offset(check_at)?,
                write_at: offset(write_at)?,
                bytes: offset(bytes)?,
            }),
            _ => Err(format!("{PEER_ENV}=`{text}`: expected four numbers")),
        }
    }
}

/// `bytes` bytes that differ from their neighbours and from the other seed's.
fn pattern(seed: u8, bytes: usize) -> Vec<u8> {
    (0..bytes)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed) ^ ((i >> 8) as u8))
        .collect()
}

/// Runs `f` inside a CPU access of `fd`: `DMA_BUF_IOCTL_SYNC` start and end for a dma-buf,
/// nothing for a memfd.
fn with_cpu_access<T>(
    fd: BorrowedFd<'_>,
    access: CpuAccess,
    f: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    let dma_buf = match begin_cpu_access(fd, access) {
        Ok(()) => true,
        Err(MemError::NotDmaBuf) => false,
        Err(e) => return Err(format!("begin CPU access: {e}")),
    };
    let result = f();
    if dma_buf {
        end_cpu_access(fd, access).map_err(|e| format!("end CPU access: {e}"))?;
    }
    result
}

/// If this process was started as the peer of `fds_are_shared_memory` (it has [`PEER_ENV`]),
/// does the peer's half on the fd it inherited as stdin and returns the outcome; otherwise
/// `None`. The caller exits with the outcome.
pub fn peer_from_env() -> Option<Result<(), String>> {
    let task = std::env::var(PEER_ENV).ok()?;
    Some(PeerTask::from_env(&task).and_then(|task| peer(std::io::stdin().as_fd(), task)))
}

/// The peer's half: a mapping of its own, the parent's bytes seen, its own bytes written.
fn peer(fd: BorrowedFd<'_>, task: PeerTask) -> Result<(), String> {
    let mapping = Mapping::new(fd, task.len, CpuAccess::ReadWrite)
        .map_err(|e| format!("peer: map the inherited fd: {e}"))?;
    with_cpu_access(fd, CpuAccess::ReadWrite, || {
        let mut seen = vec![0u8; task.bytes];
        mapping
            .read(task.check_at, &mut seen)
            .map_err(|e| format!("peer: read: {e}"))?;
        if seen != pattern(PARENT_SEED, task.bytes) {
            return Err(format!(
                "peer: the parent's {} bytes at {} are not visible in the peer's mapping",
                task.bytes, task.check_at
            ));
        }
        mapping
            .write(task.write_at, &pattern(PEER_SEED, task.bytes))
            .map_err(|e| format!("peer: write: {e}"))
    })
}

/// Shares one region with a peer process: the parent maps it and writes, the peer (a new
/// process that inherits only `fd`, as its stdin) maps it itself, checks the parent's bytes and
/// writes its own, and the parent reads those through the mapping it held all along.
pub(super) fn share_with_peer(
    what: &str,
    fd: BorrowedFd<'_>,
    task: PeerTask,
) -> Result<(), String> {
    let mapping = Mapping::new(fd, task.len, CpuAccess::ReadWrite)
        .map_err(|e| format!("{what}: map: {e}"))?;
    with_cpu_access(fd, CpuAccess::Write, || {
        mapping
            .write(task.check_at, &pattern(PARENT_SEED, task.bytes))
            .map_err(|e| format!("{what}: write: {e}"))
    })?;
    let inherited: OwnedFd = fd
        .try_clone_to_owned()
        .map_err(|e| format!("{what}: dup: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let output = Command::new(&exe)
        .args([PEER_TEST, "--exact", "--ignored", "--test-threads=1", "-q"])
        .env(PEER_ENV, task.to_env())
        .stdin(Stdio::from(inherited))
        .output()
        .map_err(|e| format!("{what}: cannot start the peer {}: {e}", exe.display()))?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        // The peer's own reasons start with `peer:`; anything else (it could not start, the
        // test harness refused its arguments) shows as the output's last lines.
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let reasons: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.contains("peer: "))
            .collect();
        let shown = if reasons.is_empty() {
            &lines[lines.len().saturating_sub(6)..]
        } else {
            &reasons[..]
        };
        return Err(format!(
            "{what}: the peer process {} failed ({}): {}",
            exe.display(),
            output.status,
            shown.join(" | ")
        ));
    }
    let mut back = vec![0u8; task.bytes];
    with_cpu_access(fd, CpuAccess::Read, || {
        mapping
            .read(task.write_at, &mut back)
            .map_err(|e| format!("{what}: read: {e}"))
    })?;
    if back != pattern(PEER_SEED, task.bytes) {
        return Err(format!(
            "{what}: the peer process's writes at {} are not visible in this process's mapping",
            task.write_at
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_task_round_trips_through_its_env_text() {
        let task = PeerTask {
            len: 16384,
            check_at: 0,
            write_at: 8192,
            bytes: 4096,
        };
        assert_eq!(PeerTask::from_env(&task.to_env()), Ok(task));
        assert!(PeerTask::from_env("1 2 3").is_err());
        assert!(PeerTask::from_env("1 2 3 x").is_err());
    }

    #[test]
    fn patterns_differ_by_seed_and_position() {
        let parent = pattern(PARENT_SEED, 4096);
        let peer = pattern(PEER_SEED, 4096);
        assert_ne!(parent, peer);
        assert_ne!(parent[..256], parent[256..512]);
    }
}
