//! Real-time scheduling of the service threads, as reference allocators run them.

/// Real-time priority of the service threads: allocation sits on the display and camera paths,
/// so reference allocators run SCHED_FIFO at priority 2 (the .rc grants CAP_SYS_NICE for it).
pub const FIFO_PRIORITY: i32 = 2;

/// Moves this thread, and so every binder thread it starts later, to SCHED_FIFO at
/// [`FIFO_PRIORITY`].
pub fn set_fifo_priority() -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: FIFO_PRIORITY,
    };
    // SAFETY: sched_setscheduler reads `param` only during the call; pid 0 is this thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
