//! A watchdog on every binder call: a call that runs longer than a threshold is logged, while it
//! still runs and again when it ends, with what it was doing (the method, the caller, the
//! request, the step it is in), as AOSP's services log a slow call instead of hanging silently.
//!
//! Each binder method opens a [`Watch`] for its duration ([`Watchdog::watch`]); the policy code
//! names its steps with [`step`], which reaches the watch of the calling thread (a binder call
//! runs on one thread). A thread of the watchdog's own looks at the calls in flight twice per
//! threshold; a call that crossed the threshold between two looks is still caught when it
//! ends. The last [`SLOW_KEPT`] slow calls are kept for the dump.

use crate::gralloc::Caller;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Threshold of the services' watchdog: far above any allocation's time (the largest
/// dma-heap allocations take hundreds of milliseconds), far below what makes a client give up.
pub const DEFAULT_THRESHOLD: Duration = Duration::from_secs(2);
/// Slow calls kept for the dump.
pub const SLOW_KEPT: usize = 8;

/// One call in flight.
struct InFlight {
    method: &'static str,
    caller: Caller,
    what: String,
    step: &'static str,
    started: Instant,
    /// Logged as still running.
    reported: bool,
}

/// A slow call, for the dump.
#[derive(Clone, Debug)]
pub struct SlowCall {
    /// The binder method.
    pub method: &'static str,
    /// Who called.
    pub caller: Caller,
    /// The request.
    pub what: String,
    /// The last step it named.
    pub step: &'static str,
    /// How long it ran (so far, if `finished` is false).
    pub took: Duration,
    /// Whether it had ended when recorded.
    pub finished: bool,
}

#[derive(Default)]
struct State {
    calls: HashMap<u64, InFlight>,
    slow: VecDeque<SlowCall>,
    watched: u64,
}

struct Inner {
    threshold: Duration,
    next_id: AtomicU64,
    state: Mutex<State>,
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock means a panic between two whole map operations.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The watchdog of one service.
pub struct Watchdog {
    inner: Arc<Inner>,
}

/// The watch of a call: its watchdog and id.
type Current = Option<(Weak<Inner>, u64)>;

thread_local! {
    /// The watch of the binder call this thread is running, for [`step`].
    static CURRENT: RefCell<Current> = const { RefCell::new(None) };
}

/// Names the step the calling thread's binder call is in (shown if the call turns out slow).
/// Nothing happens on a thread with no watched call.
pub fn step(name: &'static str) {
    let current = CURRENT.with(|c| c.borrow().clone());
    if let Some((inner, id)) = current {
        if let Some(inner) = inner.upgrade() {
            if let Some(call) = inner.lock().calls.get_mut(&id) {
                call.step = name;
            }
        }
    }
}

impl Watchdog {
    /// A watchdog reporting calls longer than `threshold`, with its thread.
    pub fn new(threshold: Duration) -> Watchdog {
        let inner = Arc::new(Inner {
            threshold,
            next_id: AtomicU64::new(1),
            state: Mutex::new(State::default()),
        });
        let weak = Arc::downgrade(&inner);
        let period = (threshold / 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        // Without its thread the watchdog still reports slow calls when they end.
        if let Err(e) = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || look_until_dropped(&weak, period))
        {
            log::warn!("watchdog: no thread ({e}); slow calls are logged when they end");
        }
        Watchdog { inner }
    }

    /// The threshold.
    pub fn threshold(&self) -> Duration {
        self.inner.threshold
    }

    /// Watches the binder call `method` from `caller` about `what` until the returned guard
    /// drops.
    pub fn watch(&self, method: &'static str, caller: Caller, what: String) -> Watch {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut state = self.inner.lock();
            state.watched += 1;
            state.calls.insert(
                id,
                InFlight {
                    method,
                    caller,
                    what,
                    step: "started",
                    started: Instant::now(),
                    reported: false,
                },
            );
        }
        let previous = CURRENT.with(|c| c.replace(Some((Arc::downgrade(&self.inner), id))));
        Watch {
            inner: Arc::clone(&self.inner),
            id,
            previous,
            _not_send: std::marker::PhantomData,
        }
    }

    /// The slow calls kept, oldest first.
    pub fn slow_calls(&self) -> Vec<SlowCall> {
        self.inner.lock().slow.iter().cloned().collect()
    }

    /// The dump's section: calls watched, the threshold, the calls in flight now and the last
    /// slow ones.
    pub fn dump(&self, w: &mut dyn Write) -> io::Result<()> {
        let state = self.inner.lock();
        writeln!(
            w,
            "\n== binder call watchdog: threshold {} ms, {} calls watched, {} in flight",
            self.inner.threshold.as_millis(),
            state.watched,
            state.calls.len()
        )?;
        for call in state.calls.values() {
            writeln!(
                w,
                "in flight {} ms: {}",
                call.started.elapsed().as_millis(),
                line(call.method, call.caller, &call.what, call.step)
            )?;
        }
        writeln!(w, "last {} slow calls (oldest first):", state.slow.len())?;
        for slow in &state.slow {
            writeln!(
                w,
                "{} {} ms: {}",
                if slow.finished { "took" } else { "running" },
                slow.took.as_millis(),
                line(slow.method, slow.caller, &slow.what, slow.step)
            )?;
        }
        Ok(())
    }
}

impl Default for Watchdog {
    fn default() -> Watchdog {
        Watchdog::new(DEFAULT_THRESHOLD)
    }
}

/// A call in one line (the request text holds no client text: only numbers and names this
/// service chose).
fn line(method: &str, caller: Caller, what: &str, step: &str) -> String {
    format!(
        "{method} from pid {} uid {}: {what} (step: {step})",
        caller.pid, caller.uid
    )
}

fn keep(state: &mut State, slow: SlowCall) {
    if state.slow.len() == SLOW_KEPT {
        state.slow.pop_front();
    }
    state.slow.push_back(slow);
}

/// The watchdog thread: every `period`, logs the calls that crossed the threshold, once each.
fn look_until_dropped(inner: &Weak<Inner>, period: Duration) {
    loop {
        std::thread::sleep(period);
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let mut state = inner.lock();
        let mut late = Vec::new();
        for call in state.calls.values_mut() {
            let took = call.started.elapsed();
            if !call.reported && took >= inner.threshold {
                call.reported = true;
                log::warn!(
                    "binder call still running after {} ms (threshold {} ms): {}",
                    took.as_millis(),
                    inner.threshold.as_millis(),
                    line(call.method, call.caller, &call.what, call.step)
                );
                late.push(SlowCall {
                    method: call.method,
                    caller: call.caller,
                    what: call.what.clone(),
                    step: call.step,
                    took,
                    finished: false,
                });
            }
        }
        for slow in late {
            keep(&mut state, slow);
        }
    }
}

/// One watched call; ends when dropped (on the thread that opened it: it is not `Send`).
pub struct Watch {
    inner: Arc<Inner>,
    id: u64,
    previous: Current,
    /// The thread-local step pointer belongs to the opening thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
        let mut state = self.inner.lock();
        let Some(call) = state.calls.remove(&self.id) else {
            return;
        };
        let took = call.started.elapsed();
        if took < self.inner.threshold {
            return;
        }
        log::warn!(
            "binder call took {} ms (threshold {} ms): {}",
            took.as_millis(),
            self.inner.threshold.as_millis(),
            line(call.method, call.caller, &call.what, call.step)
        );
        keep(
            &mut state,
            SlowCall {
                method: call.method,
                caller: call.caller,
                what: call.what,
                step: call.step,
                took,
                finished: true,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLER: Caller = Caller { pid: 7, uid: 1000 };

    #[test]
    fn a_slow_call_is_reported_while_it_runs_and_when_it_ends() {
        let dog = Watchdog::new(Duration::from_millis(40));
        {
            let _watch = dog.watch("allocate2", CALLER, "64x64x1 RGBA_8888 count 1".into());
            step("allocating");
            // The watchdog's thread reports it while it runs (it looks every 20 ms).
            let waiting = Instant::now();
            while dog.slow_calls().is_empty() {
                assert!(
                    waiting.elapsed() < Duration::from_secs(10),
                    "never reported"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            let running = dog.slow_calls();
            assert_eq!(running.len(), 1, "{running:?}");
            assert!(!running[0].finished);
            assert_eq!(running[0].step, "allocating");
        }
        let slow = dog.slow_calls();
        assert_eq!(slow.len(), 2, "{slow:?}");
        let ended = &slow[1];
        assert!(ended.finished && ended.took >= Duration::from_millis(40));
        assert_eq!((ended.method, ended.caller), ("allocate2", CALLER));
        let mut text = Vec::new();
        dog.dump(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("1 calls watched, 0 in flight"), "{text}");
        assert!(
            text.contains(
                "allocate2 from pid 7 uid 1000: 64x64x1 RGBA_8888 count 1 (step: allocating)"
            ),
            "{text}"
        );
    }

    #[test]
    fn fast_calls_are_counted_not_reported() {
        let dog = Watchdog::new(Duration::from_secs(5));
        for _ in 0..100 {
            let _watch = dog.watch("isSupported", CALLER, String::new());
            step("planning");
        }
        assert!(dog.slow_calls().is_empty());
        let mut text = Vec::new();
        dog.dump(&mut text).unwrap();
        assert!(String::from_utf8(text)
            .unwrap()
            .contains("100 calls watched, 0 in flight"));
    }

    #[test]
    fn a_call_over_the_threshold_between_two_looks_is_caught_when_it_ends() {
        // Threshold zero: every call is over it, and ends long before the thread looks.
        let dog = Watchdog::new(Duration::ZERO);
        drop(dog.watch("getIMapperLibrarySuffix", CALLER, String::new()));
        let slow = dog.slow_calls();
        assert_eq!(slow.len(), 1);
        assert!(slow[0].finished);
    }

    #[test]
    fn steps_reach_only_the_calling_threads_watch_and_nested_watches_restore() {
        let dog = Watchdog::new(Duration::ZERO);
        {
            let _outer = dog.watch("outer", CALLER, String::new());
            {
                let _inner = dog.watch("inner", CALLER, String::new());
                step("inner step");
            }
            step("outer step");
            std::thread::scope(|s| {
                s.spawn(|| step("from another thread"));
            });
        }
        let slow = dog.slow_calls();
        let steps: Vec<(&str, &str)> = slow.iter().map(|s| (s.method, s.step)).collect();
        assert_eq!(steps, [("inner", "inner step"), ("outer", "outer step")]);
        // No watch on this thread any more: a step is a no-op.
        step("after");
        assert_eq!(dog.slow_calls().len(), 2);
    }

    #[test]
    fn keeps_the_last_slow_calls() {
        let dog = Watchdog::new(Duration::ZERO);
        for n in 0..SLOW_KEPT + 3 {
            drop(dog.watch("allocate2", CALLER, format!("#{n}")));
        }
        let slow = dog.slow_calls();
        assert_eq!(slow.len(), SLOW_KEPT);
        assert_eq!(slow[0].what, "#3");
    }
}
