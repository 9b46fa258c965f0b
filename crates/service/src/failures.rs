//! A small ring of the most recent failed requests, with their reasons, for `dumpsys`.

use central_gralloc::error::ErrorCode;
use central_gralloc::text::prefix_within;
use std::collections::VecDeque;
use std::fmt;
use std::time::SystemTime;

/// Failures kept; older ones are dropped (the counters still count them).
pub const RING_LEN: usize = 16;

/// Longest reason kept or logged, in bytes. A reason can quote the client (an unknown option's
/// name is whatever string the client sent, up to the transport's frame size), and the ring
/// lives as long as the service.
pub const REASON_MAX: usize = 256;

/// `text` cut to at most [`REASON_MAX`] bytes (on a character boundary), marked when cut.
pub fn bounded(mut text: String) -> String {
    if text.len() > REASON_MAX {
        let kept = prefix_within(&text, REASON_MAX).len();
        text.truncate(kept);
        text.push_str("... (cut)");
    }
    text
}

/// One failed request.
#[derive(Clone, Debug)]
pub struct Failure {
    /// When it failed.
    pub at: SystemTime,
    /// Caller process.
    pub pid: i32,
    /// Caller user.
    pub uid: u32,
    /// The method (`allocate2`, `allocate`).
    pub method: &'static str,
    /// The request in one line (size, format, usage, count).
    pub request: String,
    /// The outcome sent on the wire.
    pub code: ErrorCode,
    /// Why, as the log says it.
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        write!(
            f,
            "t={secs} pid={} uid={} {} {}: {} ({})",
            self.pid, self.uid, self.method, self.request, self.code, self.reason
        )
    }
}

/// The last [`RING_LEN`] failures, oldest first.
#[derive(Debug, Default)]
pub struct FailureRing {
    entries: VecDeque<Failure>,
}

impl FailureRing {
    /// Records `failure`, dropping the oldest when full.
    pub fn push(&mut self, failure: Failure) {
        if self.entries.len() == RING_LEN {
            self.entries.pop_front();
        }
        self.entries.push_back(failure);
    }

    /// Oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Failure> {
        self.entries.iter()
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(n: usize) -> Failure {
        Failure {
            at: SystemTime::UNIX_EPOCH,
            pid: 1,
            uid: 2,
            method: "allocate2",
            request: format!("#{n}"),
            code: ErrorCode::NoResources,
            reason: "test".into(),
        }
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        assert_eq!(bounded("short".into()), "short");
        let cut = bounded("é".repeat(REASON_MAX));
        assert!(cut.len() <= REASON_MAX + "... (cut)".len());
        assert!(cut.ends_with("... (cut)"));
    }

    #[test]
    fn keeps_the_newest_entries_in_order() {
        let mut ring = FailureRing::default();
        for n in 0..RING_LEN + 3 {
            ring.push(failure(n));
        }
        assert_eq!(ring.len(), RING_LEN);
        let first = ring.iter().next().map(|f| f.request.clone());
        assert_eq!(first.as_deref(), Some("#3"));
        let last = ring.iter().last().map(|f| f.request.clone());
        assert_eq!(last, Some(format!("#{}", RING_LEN + 2)));
    }
}
