//! The shared word under concurrency: threads in one process, and two processes mapping one memfd.

use super::Tracker;
use crate::cache::state::{
    BufferState, CacheDomains, CpuAccess, CpuLines, DeviceAccess, SyncFlags,
};
use std::sync::atomic::AtomicU64;

/// A cached buffer with a coherent GPU (0) and a non-coherent camera (1).
fn domains() -> CacheDomains {
    CacheDomains::new(true)
        .attach(0, true)
        .and_then(|d| d.attach(1, false))
        .unwrap()
}

/// One round of six events that leaves no lock held; returns how many cleans it was told to do.
fn round(t: &Tracker<'_>) -> Option<u32> {
    let mut cleans = 0;
    t.cpu_begin(CpuAccess::Write).ok()?;
    t.cpu_end(CpuAccess::Write).ok()?;
    cleans += u32::from(t.device_access(1, DeviceAccess::Read).ok()?.clean_before);
    t.device_access(1, DeviceAccess::Write).ok()?;
    t.cpu_begin(CpuAccess::Read).ok()?;
    t.cpu_end(CpuAccess::Read).ok()?;
    Some(cleans)
}

const ROUNDS: u32 = 20_000;

#[test]
fn threads_never_lose_an_update() {
    let word = AtomicU64::new(0);
    let threads = 4;
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let t = Tracker::new(domains(), &word);
                for _ in 0..ROUNDS {
                    round(&t).unwrap();
                }
            });
        }
    });
    let state = BufferState::from_word(word.into_inner()).unwrap();
    assert_eq!(state.events, threads * ROUNDS * 6);
    assert_eq!((state.cpu_writers, state.cpu_readers), (0, 0));
}

#[test]
fn a_handoff_between_threads_sees_the_other_threads_write() {
    let word = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let t = Tracker::new(domains(), &word);
            t.cpu_begin(CpuAccess::Write).unwrap();
            t.cpu_end(CpuAccess::Write).unwrap();
        })
        .join()
        .unwrap();
    });
    let t = Tracker::new(domains(), &word);
    assert!(t.device_access(1, DeviceAccess::Read).unwrap().clean_before);
}

/// A page of shared memory from a memfd, as the buffer's metadata region is.
struct SharedPage {
    fd: libc::c_int,
    word: *mut AtomicU64,
}

impl SharedPage {
    fn create() -> SharedPage {
        // The raw syscall: Android 15's libc crate (0.2.153) declares no memfd_create for Android.
        // SAFETY: the name is a NUL-terminated literal; memfd_create has no other preconditions.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_memfd_create,
                c"cache-tracker-test".as_ptr(),
                libc::MFD_CLOEXEC,
            )
        };
        assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
        let fd = fd as libc::c_int;
        // SAFETY: fd is the memfd just created and owned here.
        assert_eq!(unsafe { libc::ftruncate(fd, 4096) }, 0);
        SharedPage {
            fd,
            word: Self::map(fd).expect("mmap"),
        }
    }

    /// Maps the page anew, as another process opening the buffer would. Allocation-free, so a
    /// forked child may call it.
    fn map(fd: libc::c_int) -> Option<*mut AtomicU64> {
        // SAFETY: a fresh shared mapping of a 4096-byte memfd; the kernel picks the address.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        (address != libc::MAP_FAILED).then_some(address.cast::<AtomicU64>())
    }

    fn word(&self) -> &AtomicU64 {
        // SAFETY: the mapping is page-aligned, lives as long as self, and is only accessed atomically.
        unsafe { &*self.word }
    }

    /// Runs `child` in a forked process over its own mapping of the page; returns its exit code.
    /// The child must not allocate (another test thread may hold the allocator's lock at the fork).
    fn in_child(&self, child: fn(&AtomicU64) -> bool) -> libc::c_int {
        // SAFETY: the child only maps memory, runs allocation-free tracker code and calls _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let ok = match Self::map(self.fd) {
                // SAFETY: as in `word`: a live, page-aligned shared mapping used only atomically.
                Some(word) => child(unsafe { &*word }),
                None => false,
            };
            // SAFETY: _exit ends the child without running the parent's atexit handlers or unwinding.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: pid is our child; status is a valid out-pointer.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        }
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: unmaps the page mapped in `create` and closes its fd; no reference outlives self.
        unsafe {
            libc::munmap(self.word.cast(), 4096);
            libc::close(self.fd);
        }
    }
}

#[test]
fn two_processes_share_one_state_through_a_memfd() {
    let page = SharedPage::create();
    let here = Tracker::new(domains(), page.word());

    // The app (child) draws with the CPU; the camera queuer (here) must clean before its read.
    let app = |word: &AtomicU64| {
        let t = Tracker::new(domains(), word);
        t.cpu_begin(CpuAccess::Write) == Ok(None) && t.cpu_end(CpuAccess::Write) == Ok(None)
    };
    assert_eq!(page.in_child(app), 0);
    assert!(
        here.device_access(1, DeviceAccess::Read)
            .unwrap()
            .clean_before
    );

    // The camera writes (here); a reader in another process must invalidate at its lock.
    here.device_access(1, DeviceAccess::Write).unwrap();
    assert_eq!(here.state().unwrap().lines, CpuLines::Stale);
    let reader = |word: &AtomicU64| {
        let t = Tracker::new(domains(), word);
        t.cpu_begin(CpuAccess::Read) == Ok(Some(SyncFlags::START | SyncFlags::READ))
            && t.cpu_end(CpuAccess::Read).is_ok()
    };
    assert_eq!(page.in_child(reader), 0);
    assert_eq!(
        here.cpu_begin(CpuAccess::Read),
        Ok(None),
        "the child's invalidate covers this process too"
    );
    here.cpu_end(CpuAccess::Read).unwrap();
}

#[test]
fn two_processes_hammering_one_word_lose_no_update() {
    let page = SharedPage::create();
    let here = Tracker::new(domains(), page.word());
    let before = here.state().unwrap().events;
    let hammer = |word: &AtomicU64| {
        let t = Tracker::new(domains(), word);
        (0..ROUNDS).all(|_| round(&t).is_some())
    };
    // SAFETY: as in `in_child`; this child runs concurrently with the loop below.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let ok = SharedPage::map(page.fd).is_some_and(|word| {
            // SAFETY: a live, page-aligned shared mapping used only atomically.
            hammer(unsafe { &*word })
        });
        // SAFETY: ends the child without unwinding into the test harness.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    for _ in 0..ROUNDS {
        round(&here).unwrap();
    }
    let mut status = 0;
    // SAFETY: pid is our child; status is a valid out-pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    let state = here.state().unwrap();
    assert_eq!(state.events.wrapping_sub(before), 2 * ROUNDS * 6);
    assert_eq!((state.cpu_writers, state.cpu_readers), (0, 0));
}
