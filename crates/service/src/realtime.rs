//! Real-time scheduling of the service's main thread, as the reference allocators set it up.
//!
//! Why only the main thread: allocation sits on the display and camera paths, so one thread
//! answers at SCHED_FIFO and never waits behind ordinary work. The main thread joins the binder
//! pool, so that thread serves calls like any pool thread. The other pool threads are started
//! after the switch with `SCHED_RESET_ON_FORK` set, so they come up as ordinary SCHED_OTHER
//! threads: a burst of allocations (each may have the kernel clear megabytes) then cannot keep
//! every binder thread at real-time priority and starve the rest of the system, and no thread the
//! process starts later (a helper, a library's worker) inherits real-time priority by accident.
//! minigbm's allocator service does the same: `SCHED_FIFO | SCHED_RESET_ON_FORK` on the main
//! thread, then the pool.

/// Real-time priority of the main thread (the .rc grants CAP_SYS_NICE for it).
pub const FIFO_PRIORITY: i32 = 2;

/// Moves the calling thread to SCHED_FIFO at [`FIFO_PRIORITY`] with `SCHED_RESET_ON_FORK`, so
/// threads it starts afterwards (the binder pool) run at ordinary priority.
pub fn set_fifo_priority() -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: FIFO_PRIORITY,
    };
    // SAFETY: sched_setscheduler reads `param` only during the call; pid 0 is this thread.
    let rc = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's policy as `sched_getscheduler` reports it (flags included).
    fn policy() -> libc::c_int {
        // SAFETY: sched_getscheduler only reads the calling thread's state.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn main_thread_is_fifo_and_threads_it_starts_are_not() {
        // On a thread of its own, so the test harness's threads keep their policy. Needs
        // CAP_SYS_NICE (CI and device tests run as root).
        let (main, pool) = std::thread::spawn(|| {
            set_fifo_priority().expect("sched_setscheduler (needs CAP_SYS_NICE)");
            let pool = std::thread::spawn(policy).join().unwrap();
            (policy(), pool)
        })
        .join()
        .unwrap();
        assert_eq!(main, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK);
        // SCHED_NORMAL is SCHED_OTHER's kernel name (the platform's libc has only this one).
        assert_eq!(pool, libc::SCHED_NORMAL);
    }
}
