//! The in-VM test protocol: run test cases, print `PASS <name>` or `FAIL <name>: <reason>`.
//!
//! `tests/vm/run` counts those lines on the serial console. Facts worth seeing in the log (an
//! errno the kernel chose, a size it rounded to) are printed as `INFO <name>: <text>`, which the
//! runner shows but does not count. A panicking test is a failure, never a crash of the run.

use std::cell::RefCell;
use std::fmt::Display;
use std::fs::File;
use std::io::{Read, Write};
use std::panic::{self, AssertUnwindSafe};

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult};

/// What a test returns: `Err` carries the one-line reason printed after `FAIL <name>:`.
pub type TestResult = Result<(), String>;

/// One test case. `name` is `<group>.<what_it_checks>`, unique across all groups.
pub struct TestCase {
    /// Printed in the protocol line and matched by name filters.
    pub name: &'static str,
    /// The test body.
    pub run: fn() -> TestResult,
}

thread_local! {
    static CURRENT: RefCell<&'static str> = const { RefCell::new("") };
}

/// Prints an `INFO` line for the running test.
pub fn info(text: impl Display) {
    let name = CURRENT.with(|c| *c.borrow());
    println!("INFO {name}: {}", one_line(&text.to_string()));
}

/// Adds what was being done to an error, turning it into the test's failure reason.
pub trait Context<T> {
    /// `Err(e)` becomes `Err("<what>: <e>")`.
    fn context(self, what: impl Display) -> Result<T, String>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: impl Display) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// Fails the test with `reason` unless `condition` holds.
pub fn ensure(condition: bool, reason: impl FnOnce() -> String) -> TestResult {
    if condition {
        Ok(())
    } else {
        Err(reason())
    }
}

/// Runs the cases whose name contains any of `filters` (all when empty); returns the failures.
pub fn run_all<'a>(cases: impl IntoIterator<Item = &'a TestCase>, filters: &[String]) -> usize {
    let mut failed = 0;
    let hook = panic::take_hook();
    // The panic message becomes the FAIL reason; the default hook's backtrace note is noise.
    panic::set_hook(Box::new(|_| {}));
    for case in cases {
        if !filters.is_empty() && !filters.iter().any(|f| case.name.contains(f.as_str())) {
            continue;
        }
        CURRENT.with(|c| *c.borrow_mut() = case.name);
        let outcome = panic::catch_unwind(AssertUnwindSafe(case.run));
        let line = match outcome {
            Ok(Ok(())) => format!("PASS {}", case.name),
            Ok(Err(reason)) => format!("FAIL {}: {}", case.name, one_line(&reason)),
            Err(payload) => format!("FAIL {}: panicked: {}", case.name, panic_text(&*payload)),
        };
        failed += usize::from(line.starts_with("FAIL"));
        println!("{line}");
        let _ = std::io::stdout().flush();
    }
    panic::set_hook(hook);
    failed
}

/// How a forked child ended, with everything it wrote to its report pipe.
pub enum ChildOutcome {
    /// The child returned; `code` is its exit status.
    Exited {
        /// Exit status (0 means the child's check passed).
        code: i32,
        /// The child's report.
        report: String,
    },
    /// A signal ended the child (SIGKILL from the OOM killer, for instance).
    Signaled {
        /// The signal.
        signal: Signal,
        /// What the child reported before it died.
        report: String,
    },
}

/// Runs `body` in a forked child, which gets its own address space and fd table copy and a pipe
/// to report through; the parent collects the report and the exit status. Used for checks that
/// need a second process (its own mapping of a buffer) or may get the process killed.
pub fn in_child(body: impl FnOnce(&mut File) -> i32) -> Result<ChildOutcome, String> {
    let (read_end, write_end) = pipe().context("pipe")?;
    // Anything buffered would otherwise be printed twice, once by each process.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: the test process is single-threaded (tests run one at a time on the main thread),
    // so the child may run arbitrary code; it leaves through `exit` and never returns here.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            drop(read_end);
            let mut report = File::from(write_end);
            let code = panic::catch_unwind(AssertUnwindSafe(|| body(&mut report))).unwrap_or_else(
                |payload| {
                    let _ = write!(report, "child panicked: {}", panic_text(&*payload));
                    101
                },
            );
            drop(report);
            std::process::exit(code)
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut report = String::new();
            let read = File::from(read_end).read_to_string(&mut report);
            let status = waitpid(child, None).context("waitpid")?;
            read.context("reading the child's report")?;
            match status {
                WaitStatus::Exited(_, code) => Ok(ChildOutcome::Exited { code, report }),
                WaitStatus::Signaled(_, signal, _) => Ok(ChildOutcome::Signaled { signal, report }),
                other => Err(format!("child ended unexpectedly: {other:?}")),
            }
        }
    }
}

fn one_line(text: &str) -> String {
    text.trim().replace('\n', " | ")
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
