//! Replaying a trace under every policy, the traces we ship, and the tables that compare them.

use crate::policy::{replay, Counts, Policy};
use crate::trace::{Trace, TraceError};
use std::fmt::Write as _;

/// The traces in `traces/`, compiled in so the demo needs no files: `(name, text)`.
pub const SHIPPED: [(&str, &str); 10] = [
    (
        "software-display",
        include_str!("../traces/software-display.trace"),
    ),
    (
        "gpu-composition",
        include_str!("../traces/gpu-composition.trace"),
    ),
    (
        "camera-preview",
        include_str!("../traces/camera-preview.trace"),
    ),
    (
        "camera-analysis",
        include_str!("../traces/camera-analysis.trace"),
    ),
    (
        "camera-recording",
        include_str!("../traces/camera-recording.trace"),
    ),
    (
        "video-playback",
        include_str!("../traces/video-playback.trace"),
    ),
    ("screenshot", include_str!("../traces/screenshot.trace")),
    ("cpu-relock", include_str!("../traces/cpu-relock.trace")),
    ("front-buffer", include_str!("../traces/front-buffer.trace")),
    (
        "cuttlefish-software-display",
        include_str!("../traces/cuttlefish-software-display.trace"),
    ),
];

/// A trace's counts under each policy, summed over its buffers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    /// Indexed by [`Policy::index`].
    pub counts: [Counts; Policy::ALL.len()],
}

impl Replay {
    /// The counts of `policy`.
    pub fn get(&self, policy: Policy) -> Counts {
        self.counts[policy.index()]
    }
}

/// Replays every buffer of `trace` under every policy.
pub fn replay_trace(trace: &Trace) -> Result<Replay, TraceError> {
    let mut result = Replay::default();
    for (index, buffer) in trace.buffers.iter().enumerate() {
        let events = trace.events_of(index);
        for policy in Policy::ALL {
            // The parser already checked every event the tracker could refuse; say where, if not.
            result.counts[policy.index()] += replay(policy, &buffer.domains, &buffer.lock, &events)
                .map_err(|e| TraceError {
                    line: buffer.line,
                    message: format!("buffer `{}`: {e}", buffer.name),
                })?;
        }
    }
    Ok(result)
}

/// One trace's full table: every count of every policy.
pub fn table(name: &str, trace: &Trace, replay: &Replay) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trace {name}: profile {}, {} buffer{}, {} events",
        trace.profile.name,
        trace.buffers.len(),
        if trace.buffers.len() == 1 { "" } else { "s" },
        trace.events.len()
    );
    let _ = writeln!(
        out,
        "{:<8} {:>9} {:>13} {:>18} {:>6} {:>11} {:>11}",
        "policy",
        "cpu syncs",
        "device cleans",
        "device invalidates",
        "total",
        "stale reads",
        "lost writes"
    );
    for policy in Policy::ALL {
        let c = replay.get(policy);
        let _ = writeln!(
            out,
            "{:<8} {:>9} {:>13} {:>18} {:>6} {:>11} {:>11}",
            policy.name(),
            c.cpu_syncs,
            c.device_cleans,
            c.device_invalidates,
            c.total(),
            c.stale_reads,
            c.lost_writes
        );
    }
    out
}

/// One row per shipped trace: each policy's total cache operations, the CPU-path syncs of the
/// naive policy and of the mapper (the part a mapper decides), and the faults of the mapper and
/// the tracker. This is what `gralloc demo` prints at its end.
pub fn shipped_table() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cache maintenance per shipped trace (operations; faults = stale reads + lost writes)"
    );
    let _ = writeln!(
        out,
        "mapper: what a device gets today (CPU locks only); tracker: what a kernel reporting device accesses would allow"
    );
    let _ = writeln!(
        out,
        "{:<28} {:>6} {:>7} {:>8} {:>8} {:>11} {:>12} {:>14} {:>15}",
        "trace",
        "naive",
        "mapper",
        "tracker",
        "minimum",
        "naive cpu",
        "mapper cpu",
        "mapper faults",
        "tracker faults"
    );
    for (name, text) in SHIPPED {
        let row = Trace::parse(text).and_then(|trace| replay_trace(&trace));
        match row {
            Ok(r) => {
                let (mapper, tracker) = (r.get(Policy::Mapper), r.get(Policy::Tracker));
                let _ = writeln!(
                    out,
                    "{:<28} {:>6} {:>7} {:>8} {:>8} {:>11} {:>12} {:>14} {:>15}",
                    name,
                    r.get(Policy::Naive).total(),
                    mapper.total(),
                    tracker.total(),
                    r.get(Policy::Minimum).total(),
                    r.get(Policy::Naive).cpu_syncs,
                    mapper.cpu_syncs,
                    mapper.stale_reads + mapper.lost_writes,
                    tracker.stale_reads + tracker.lost_writes
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{name:<28} error: {e}");
            }
        }
    }
    out
}
