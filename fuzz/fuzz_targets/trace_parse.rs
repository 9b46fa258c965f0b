//! Fuzz target: the coherency trace parser (`Trace::parse`, what `gralloc replay` reads), and the
//! replay of whatever parses through every policy.

#![no_main]

use central_gralloc_coherency::report::replay_trace;
use central_gralloc_coherency::trace::Trace;
use libfuzzer_sys::fuzz_target;

/// Longest input replayed: the replay searches for the fewest syncs, whose cost grows with the
/// events; parsing alone takes any length.
const REPLAY_MAX: usize = 2048;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(trace) = Trace::parse(&text) {
        if data.len() <= REPLAY_MAX {
            let _ = replay_trace(&trace);
        }
    }
});
