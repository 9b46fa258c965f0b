//! Per-client bound on what the service allocates: bytes handed to one user id within a
//! sliding time window, over the memory layer's `Ledger`.
//!
//! Why a window and not "bytes the client still holds": the service cannot see a client close
//! its fds (and keeping a reference to find out would keep the memory alive), so a charge
//! cannot be returned on free. A charge is returned when its window ends instead. This bounds
//! how fast one client can make the service allocate (a runaway loop meets `NO_RESOURCES`
//! after `cap_bytes` per window) without ever refusing a steady, well-behaved producer for
//! good. The per-request limits (count, bytes) are the memory layer's.

use central_gralloc_memory::limits::{Charge, Ledger};
use central_gralloc_memory::MemError;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The per-client bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Most bytes one user id may be handed within one window.
    pub cap_bytes: u64,
    /// How long a charge counts.
    pub window: Duration,
}

impl Quota {
    /// Twice the per-request byte limit per second: a client may make its largest request
    /// back to back, not a hundred of them.
    pub fn for_request_limit(max_batch_bytes: u64) -> Quota {
        Quota {
            cap_bytes: max_batch_bytes.saturating_mul(2),
            window: Duration::from_secs(1),
        }
    }
}

/// One client's ledger and the charges it still counts, oldest first.
#[derive(Debug)]
struct Client {
    ledger: Arc<Ledger>,
    held: VecDeque<(Instant, Charge)>,
}

impl Client {
    /// Returns the charges whose window has ended.
    fn expire(&mut self, now: Instant, window: Duration) {
        while self
            .held
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= window)
        {
            self.held.pop_front();
        }
    }
}

/// Every client's ledger.
#[derive(Debug)]
pub struct QuotaTable {
    quota: Quota,
    clients: Mutex<HashMap<u32, Client>>,
}

impl QuotaTable {
    /// An empty table applying `quota` to each user id.
    pub fn new(quota: Quota) -> QuotaTable {
        QuotaTable {
            quota,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The bound.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Charges `bytes` to `uid`, or `NO_RESOURCES` if its window is full. Dropping the charge
    /// (an allocation that failed) refunds it; [`QuotaTable::hold`] keeps it for the window.
    pub fn charge(&self, uid: u32, bytes: u64) -> Result<(u32, Charge), MemError> {
        let now = Instant::now();
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.quota.window;
        // A client is forgotten only when nothing of it is outstanding: neither held charges
        // nor charges of requests still allocating (those are in the ledger, not in `held`).
        // Forgetting a client with a request in flight would give its next request a fresh,
        // empty ledger, and concurrent requests would each get the whole cap.
        clients.retain(|_, client| {
            client.expire(now, window);
            client.ledger.used() > 0
        });
        let client = clients.entry(uid).or_insert_with(|| Client {
            ledger: Ledger::new(self.quota.cap_bytes),
            held: VecDeque::new(),
        });
        client.ledger.try_charge(bytes).map(|charge| (uid, charge))
    }

    /// Keeps a charge of a successful allocation for the window.
    pub fn hold(&self, (uid, charge): (u32, Charge)) {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get_mut(&uid) {
            client.held.push_back((Instant::now(), charge));
        }
    }

    /// The dump lines: the bound and each client's bytes in the current window.
    pub fn describe(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(
            w,
            "per client        {} bytes per {} ms window (by uid)",
            self.quota.cap_bytes,
            self.quota.window.as_millis()
        )?;
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let mut uids: Vec<_> = clients.iter().collect();
        uids.sort_by_key(|(uid, _)| **uid);
        for (uid, client) in uids {
            writeln!(
                w,
                "  uid {uid:<10} {} bytes in window",
                client.ledger.used()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use central_gralloc::error::ErrorCode;

    #[test]
    fn a_client_is_bounded_per_window_and_refunded_on_failure() {
        let table = QuotaTable::new(Quota {
            cap_bytes: 100,
            window: Duration::from_secs(3600),
        });
        let a = table.charge(7, 60).unwrap();
        table.hold(a);
        let refused = table.charge(7, 41).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::NoResources);
        // Another client has its own ledger.
        table.hold(table.charge(8, 100).unwrap());
        // A charge dropped without hold (the allocation failed) is refunded.
        drop(table.charge(7, 40).unwrap());
        table.hold(table.charge(7, 40).unwrap());
    }

    #[test]
    fn requests_in_flight_count_against_the_cap() {
        // Two concurrent requests of one client: the first is charged and still allocating
        // (not held yet) when the second asks. The second must see the first's bytes.
        let table = QuotaTable::new(Quota {
            cap_bytes: 100,
            window: Duration::from_secs(3600),
        });
        let in_flight = table.charge(7, 60).unwrap();
        let second = table.charge(7, 60);
        assert_eq!(
            second.map(|_| ()).unwrap_err().code(),
            ErrorCode::NoResources,
            "a second request in flight got a fresh ledger"
        );
        // Once held, the first still counts.
        table.hold(in_flight);
        assert!(table.charge(7, 60).is_err());
        assert!(table.charge(7, 40).is_ok());
    }

    #[test]
    fn charges_expire_with_their_window() {
        let table = QuotaTable::new(Quota {
            cap_bytes: 100,
            window: Duration::ZERO,
        });
        table.hold(table.charge(1, 100).unwrap());
        table.hold(table.charge(1, 100).unwrap());
        let mut text = Vec::new();
        table.describe(&mut text).unwrap();
        assert!(String::from_utf8_lossy(&text).contains("per client"));
    }
}
