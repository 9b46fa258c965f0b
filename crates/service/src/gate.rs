//! Host only: the accept path of the socket server, which bounds connections per client process
//! and in total, and cuts idle ones to make room, so that no process can keep others out.
//!
//! rsbinder 0.12's own accept loop (`RpcServer::run`) has one bound, `set_max_connections`, and
//! at that bound it stops accepting: every further client waits in the kernel's listen backlog
//! until a connection ends. A connection that sends the RPC connection header and then nothing
//! never ends (the idle timeout is off by default, and turning it on would also cut every
//! ordinary client that keeps its proxy between calls), so 64 such connections locked every
//! client out for good, and a couple of hundred that send nothing at all kept them waiting for
//! the handshake deadline of each in turn.
//!
//! So the service accepts itself and hands each connection to rsbinder's
//! [`RpcServer::serve_connection`], which serves it exactly as its own loop would (handshake
//! deadline, session, one worker thread). Before that, [`Gate::admit`] applies:
//!
//! - at most [`MAX_CONNECTIONS_PER_PROCESS`] connections per client process (`SO_PEERCRED`
//!   pid). On a host every client usually runs as the same user, so the process, not the uid,
//!   is the unit; quotas stay per uid. A process at its bound gets its own most idle connection
//!   cut for the new one, or the new one refused;
//! - at most [`MAX_CONNECTIONS`] in all (each is a thread). At that bound a process holding
//!   more connections than the newcomer's gives up the one that has waited longest for its
//!   client, the heaviest process first, so one quiet connection of an ordinary client is the
//!   last to go; failing that any idle connection is cut; failing that the new one is refused
//!   at once (closed: its client sees the connection end instead of waiting);
//! - a connection waits for its client from the accept or the service's last send to it, and
//!   is idle once it has waited [`IDLE_GRACE`]: a call being handled is never cut, and a
//!   client that dribbles a request byte by byte waits as long as one that sends nothing.
//!
//! An ordinary client that holds a connection between calls is never cut while there is room;
//! under an attack it may be, and its next call fails with `DeadObject` (reconnect).

use rsbinder::rpc::transport::{PeerIdentity, RpcTransport, UnixTransport};
use rsbinder::rpc::{RpcResult, RpcServer};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Connections served at once, all clients together (one thread each).
pub const MAX_CONNECTIONS: usize = 128;
/// Connections one client process may hold.
pub const MAX_CONNECTIONS_PER_PROCESS: usize = 32;
/// How long a connection may wait for its client, with nothing sent to it, before it counts
/// as idle and may be cut to make room.
pub const IDLE_GRACE: Duration = Duration::from_secs(1);
/// How long a new connection has to complete the RPC handshake (rsbinder's default is 10 s).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// One live connection, as the gate sees it.
struct Slot {
    id: u64,
    pid: i32,
    /// The connection's socket; valid while the slot is in the gate's table (see
    /// [`Tracked`]'s `Drop`).
    fd: RawFd,
    /// Receive calls in progress (the worker waits for its client).
    receiving: AtomicUsize,
    /// Milliseconds since the gate's epoch of the accept or of the last send to the client.
    last_sent_ms: AtomicU64,
    /// Cut by the gate; it leaves as soon as its worker notices.
    cut: AtomicBool,
}

impl Slot {
    /// How long the connection has waited for its client at `now_ms` (since the accept or the
    /// service's last send), if it is waiting and not already cut.
    fn waited(&self, now_ms: u64) -> Option<Duration> {
        if self.cut.load(Ordering::Relaxed) || self.receiving.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let since = self.last_sent_ms.load(Ordering::Relaxed);
        Some(Duration::from_millis(now_ms.saturating_sub(since)))
    }
}

/// Counts of what the gate did, since the server started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GateCounts {
    /// Connections handed to rsbinder.
    pub admitted: u64,
    /// Idle connections cut to make room.
    pub cut: u64,
    /// Connections refused (closed at once).
    pub refused: u64,
    /// Connections now live.
    pub live: usize,
}

/// The admission table of one socket server.
pub struct Gate {
    epoch: Instant,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    admitted: AtomicU64,
    cut: AtomicU64,
    refused: AtomicU64,
    warnings: RateLimited,
}

/// What to do with a new connection.
enum Verdict {
    Admit,
    /// Admit after cutting this idle connection.
    AdmitCutting(Arc<Slot>, Duration),
    Refuse(&'static str),
}

impl Gate {
    /// An empty gate.
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate {
            epoch: Instant::now(),
            slots: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            admitted: AtomicU64::new(0),
            cut: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            warnings: RateLimited::new(Duration::from_secs(1)),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// What the gate did so far.
    pub fn counts(&self) -> GateCounts {
        GateCounts {
            admitted: self.admitted.load(Ordering::Relaxed),
            cut: self.cut.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            live: self.lock().len(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        // A poisoned lock means a panic between two map operations, each of which is whole.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serves `stream` on `server` if the bounds allow, cutting an idle connection if that
    /// makes room; else closes it.
    pub fn admit(self: &Arc<Self>, stream: UnixStream, server: &Arc<RpcServer>) {
        if let Err(e) = stream.set_nonblocking(false) {
            self.warnings
                .warn(|| format!("dropping a connection: cannot make it blocking: {e}"));
            return;
        }
        let fd = stream.as_raw_fd();
        let transport = match UnixTransport::from_stream(stream) {
            Ok(t) => t,
            Err(e) => {
                self.warnings
                    .warn(|| format!("dropping a connection: cannot wrap it: {e:?}"));
                return;
            }
        };
        let pid = match transport.peer_identity() {
            PeerIdentity::Local { pid, .. } => pid,
            _ => -1,
        };
        let now_ms = self.now_ms();
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            pid,
            fd,
            receiving: AtomicUsize::new(0),
            last_sent_ms: AtomicU64::new(now_ms),
            cut: AtomicBool::new(false),
        });
        {
            let mut slots = self.lock();
            match verdict(&slots, pid, now_ms) {
                Verdict::Refuse(why) => {
                    drop(slots);
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    self.warnings
                        .warn(|| format!("refused a connection from pid {pid}: {why}"));
                    return;
                }
                Verdict::AdmitCutting(victim, idle) => {
                    victim.cut.store(true, Ordering::Relaxed);
                    // SAFETY: shutdown(2) on the victim's socket, which is still open: a slot
                    // leaves the table (under this lock, held here) before its transport, and
                    // with it the fd, is dropped. It only ends the connection; rsbinder's
                    // worker then reads end of stream and closes the fd itself.
                    unsafe { libc::shutdown(victim.fd, libc::SHUT_RDWR) };
                    self.cut.fetch_add(1, Ordering::Relaxed);
                    let victim_pid = victim.pid;
                    self.warnings.warn(|| {
                        format!(
                            "cut an idle connection of pid {victim_pid} (idle {} ms) to admit pid {pid}",
                            idle.as_millis()
                        )
                    });
                }
                Verdict::Admit => {}
            }
            slots.insert(slot.id, Arc::clone(&slot));
        }
        self.admitted.fetch_add(1, Ordering::Relaxed);
        server.serve_connection(Box::new(Tracked {
            inner: transport,
            slot,
            gate: Arc::clone(self),
        }));
    }
}

/// The admission decision for a connection from `pid` at `now_ms`, given the live `slots`.
fn verdict(slots: &HashMap<u64, Arc<Slot>>, pid: i32, now_ms: u64) -> Verdict {
    let mut per_pid: HashMap<i32, usize> = HashMap::new();
    for slot in slots.values().filter(|s| !s.cut.load(Ordering::Relaxed)) {
        *per_pid.entry(slot.pid).or_default() += 1;
    }
    let total: usize = per_pid.values().sum();
    let held = |p: i32| per_pid.get(&p).copied().unwrap_or(0);
    let own = held(pid);
    // Connections waiting for their client, with how long since the service last sent them
    // anything; a connection handling a call is never among them.
    let waiting = || {
        slots.values().filter_map(|s| {
            let waited = s.waited(now_ms)?;
            Some((s, waited))
        })
    };
    let pick = |candidates: &mut dyn Iterator<Item = (&Arc<Slot>, Duration)>| {
        // The heaviest process first, then the longest wait.
        candidates
            .max_by_key(|(s, waited)| (held(s.pid), *waited))
            .map(|(s, waited)| Verdict::AdmitCutting(Arc::clone(s), waited))
    };
    if own >= MAX_CONNECTIONS_PER_PROCESS {
        let mut idle = waiting().filter(|(s, waited)| s.pid == pid && *waited >= IDLE_GRACE);
        return pick(&mut idle).unwrap_or(Verdict::Refuse(
            "the process holds its limit of busy connections",
        ));
    }
    if total >= MAX_CONNECTIONS {
        // A process holding more connections than the newcomer's would yields one, however
        // briefly it has waited; else anyone's idle connection goes.
        let mut heavier = waiting().filter(|(s, _)| held(s.pid) > own + 1);
        if let Some(verdict) = pick(&mut heavier) {
            return verdict;
        }
        let mut idle = waiting().filter(|(_, waited)| *waited >= IDLE_GRACE);
        return pick(&mut idle).unwrap_or(Verdict::Refuse(
            "the service holds its limit of busy connections",
        ));
    }
    Verdict::Admit
}

/// rsbinder's Unix transport, with the gate told when the worker waits for its client, when it
/// sends, and when the connection ends.
struct Tracked {
    inner: UnixTransport,
    slot: Arc<Slot>,
    gate: Arc<Gate>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Before `inner` (and its fd) is dropped: see the SAFETY argument in `Gate::admit`.
        self.gate.lock().remove(&self.slot.id);
    }
}

impl Tracked {
    fn receiving<T>(&self, receive: impl FnOnce() -> T) -> T {
        self.slot.receiving.fetch_add(1, Ordering::Relaxed);
        let result = receive();
        self.slot.receiving.fetch_sub(1, Ordering::Relaxed);
        result
    }

    fn sending<T>(&self, send: impl FnOnce() -> T) -> T {
        let result = send();
        self.slot
            .last_sent_ms
            .store(self.gate.now_ms(), Ordering::Relaxed);
        result
    }
}

// Every method forwards to the Unix transport, the defaulted ones too (it overrides them).
impl RpcTransport for Tracked {
    fn send_frame(&self, buf: &[u8]) -> RpcResult<()> {
        self.sending(|| self.inner.send_frame(buf))
    }
    fn recv_frame(&self) -> RpcResult<Vec<u8>> {
        self.receiving(|| self.inner.recv_frame())
    }
    fn peer_identity(&self) -> PeerIdentity {
        self.inner.peer_identity()
    }
    fn describe(&self) -> &str {
        self.inner.describe()
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> RpcResult<()> {
        self.inner.set_read_timeout(timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> RpcResult<()> {
        self.inner.set_write_timeout(timeout)
    }
    fn set_liveness(&self, timeout: Option<Duration>) -> RpcResult<()> {
        self.inner.set_liveness(timeout)
    }
    fn peer_closed(&self) -> Option<bool> {
        self.inner.peer_closed()
    }
    fn shutdown_handle(&self) -> Option<Box<dyn FnOnce() + Send>> {
        self.inner.shutdown_handle()
    }
    fn shutdown(&self) -> RpcResult<()> {
        self.inner.shutdown()
    }
    fn supports_fd_passing(&self) -> bool {
        self.inner.supports_fd_passing()
    }
    fn send_frame_with_fds(&self, buf: &[u8], fds: &[BorrowedFd<'_>]) -> RpcResult<()> {
        self.sending(|| self.inner.send_frame_with_fds(buf, fds))
    }
    fn recv_frame_with_fds(&self) -> RpcResult<(Vec<u8>, Vec<OwnedFd>)> {
        self.receiving(|| self.inner.recv_frame_with_fds())
    }
    fn send_raw(&self, buf: &[u8]) -> RpcResult<()> {
        self.sending(|| self.inner.send_raw(buf))
    }
    fn recv_raw(&self, buf: &mut [u8]) -> RpcResult<usize> {
        self.receiving(|| self.inner.recv_raw(buf))
    }
    fn send_raw_with_fds(&self, buf: &[u8], fds: &[BorrowedFd<'_>]) -> RpcResult<()> {
        self.sending(|| self.inner.send_raw_with_fds(buf, fds))
    }
    fn recv_raw_with_fds(&self, buf: &mut [u8]) -> RpcResult<(usize, Vec<OwnedFd>)> {
        self.receiving(|| self.inner.recv_raw_with_fds(buf))
    }
    fn send_raw_draining(
        &self,
        buf: &[u8],
        fds: &[BorrowedFd<'_>],
        drain: &mut dyn FnMut() -> RpcResult<()>,
    ) -> RpcResult<()> {
        self.sending(|| self.inner.send_raw_draining(buf, fds, drain))
    }
}

/// A warning logged at most once per period, with the number held back since the last one:
/// a client that opens connections in a loop must not flood the log.
struct RateLimited {
    period: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl RateLimited {
    fn new(period: Duration) -> RateLimited {
        RateLimited {
            period,
            state: Mutex::new((None, 0)),
        }
    }

    fn warn(&self, line: impl FnOnce() -> String) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match state.0 {
            Some(last) if now.duration_since(last) < self.period => state.1 += 1,
            _ => {
                let held = std::mem::take(&mut state.1);
                state.0 = Some(now);
                drop(state);
                if held > 0 {
                    log::warn!("{} ({held} more connection warnings held back)", line());
                } else {
                    log::warn!("{}", line());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of `(pid, waiting since ms or None when handling a call)` slots.
    fn table(slots: &[(i32, Option<u64>)]) -> HashMap<u64, Arc<Slot>> {
        slots
            .iter()
            .enumerate()
            .map(|(n, &(pid, since))| {
                let id = n as u64;
                let slot = Slot {
                    id,
                    pid,
                    fd: -1,
                    receiving: AtomicUsize::new(usize::from(since.is_some())),
                    last_sent_ms: AtomicU64::new(since.unwrap_or(0)),
                    cut: AtomicBool::new(false),
                };
                (id, Arc::new(slot))
            })
            .collect()
    }

    fn victim(verdict: Verdict) -> Option<i32> {
        match verdict {
            Verdict::Admit => None,
            Verdict::AdmitCutting(slot, _) => Some(slot.pid),
            Verdict::Refuse(why) => panic!("refused: {why}"),
        }
    }

    #[test]
    fn a_process_at_its_bound_gives_up_its_own_idle_connection_or_is_refused() {
        let now = 10_000;
        let busy = table(&vec![(7, None); MAX_CONNECTIONS_PER_PROCESS]);
        assert!(matches!(verdict(&busy, 7, now), Verdict::Refuse(_)));
        // Another process is still admitted.
        assert_eq!(victim(verdict(&busy, 8, now)), None);
        let mut slots = vec![(7, None); MAX_CONNECTIONS_PER_PROCESS - 1];
        slots.push((7, Some(now - 2_000)));
        assert_eq!(victim(verdict(&table(&slots), 7, now)), Some(7));
        // Waiting, but not yet idle: refused.
        let last = slots.len() - 1;
        slots[last] = (7, Some(now - 10));
        assert!(matches!(
            verdict(&table(&slots), 7, now),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn at_the_total_bound_the_heaviest_process_yields_first() {
        let now = 10_000;
        // Process 1 holds one long-idle connection; processes 2.. hold the rest, just connected.
        let mut slots = vec![(1, Some(0))];
        let mut pid = 2;
        while slots.len() < MAX_CONNECTIONS {
            for _ in 0..MAX_CONNECTIONS_PER_PROCESS - 1 {
                if slots.len() < MAX_CONNECTIONS {
                    slots.push((pid, Some(now - 5)));
                }
            }
            pid += 1;
        }
        let cut = victim(verdict(&table(&slots), 1, now));
        assert!(matches!(cut, Some(p) if p != 1), "cut {cut:?}");
        // Everyone busy: the newcomer is refused, nobody is cut.
        let busy: Vec<(i32, Option<u64>)> = slots.iter().map(|&(p, _)| (p, None)).collect();
        assert!(matches!(verdict(&table(&busy), 1, now), Verdict::Refuse(_)));
        // Below the bound nobody is cut.
        assert_eq!(victim(verdict(&table(&slots[1..]), 1, now)), None);
    }
}
