//! The mapper's entry points through its `AIMapper` table, on real buffers (sealed memfds from the
//! allocator's host backend): import, lock, write, read back through a second import and a second
//! process, and every kind of hostile input a client can hand it.

use central_gralloc::descriptor::Descriptor;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::Profile;
use central_gralloc::usage::Usage;
use central_gralloc_mapper::error::{BAD_BUFFER, BAD_VALUE};
use central_gralloc_mapper::ffi::{AIMapper, AIMapperV5, ARect, BufferHandleT, NativeHandleT};
use central_gralloc_mapper::AIMapper_loadIMapper;
use central_gralloc_memory::{Allocator, Backend, BackendConfig, Limits, NativeHandle};
use std::ffi::c_void;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::ptr;

/// Tests count this process's open fds, so they run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn mapper() -> &'static AIMapperV5 {
    let mut m: *const AIMapper = ptr::null();
    // SAFETY: a valid out-pointer; the table it returns is a static that lives forever.
    unsafe {
        assert_eq!(AIMapper_loadIMapper(&mut m), 0);
        &(*m).v5
    }
}

fn allocate(w: u32, h: u32, format: PixelFormat, usage: Usage) -> NativeHandle {
    let profile = Profile::builtin("soc").unwrap();
    let allocator = Allocator::new(
        profile,
        &BackendConfig::new(Backend::Memfd),
        Limits::default(),
    )
    .unwrap();
    let desc = Descriptor::simple("mapper-test", w, h, format, usage).unwrap();
    let mut a = allocator.allocate(&desc, 1).unwrap();
    a.buffers.remove(0).into_handle()
}

/// A raw `native_handle_t` borrowing `handle`'s fds, as libui builds one from an AIDL handle.
fn raw(handle: &NativeHandle) -> Vec<i32> {
    let mut words = vec![12, handle.fds.len() as i32, handle.ints.len() as i32];
    words.extend(handle.fds.iter().map(|fd| fd.as_raw_fd()));
    words.extend(&handle.ints);
    words
}

fn import(m: &AIMapperV5, words: &[i32]) -> Result<BufferHandleT, i32> {
    let mut out: BufferHandleT = ptr::null();
    // SAFETY: `words` is a complete native handle for the duration of the call.
    let err = unsafe { (m.import_buffer)(words.as_ptr().cast::<NativeHandleT>(), &mut out) };
    if err == 0 {
        Ok(out)
    } else {
        Err(err)
    }
}

fn lock(m: &AIMapperV5, b: BufferHandleT, usage: Usage, rect: ARect) -> Result<*mut u8, i32> {
    let mut data: *mut c_void = ptr::null_mut();
    // SAFETY: valid out-pointer; -1 is "no fence".
    let err = unsafe { (m.lock)(b, usage.0, rect, -1, &mut data) };
    if err == 0 {
        Ok(data.cast())
    } else {
        Err(err)
    }
}

fn unlock(m: &AIMapperV5, b: BufferHandleT) -> i32 {
    let mut fence = 7;
    // SAFETY: valid out-pointer.
    let err = unsafe { (m.unlock)(b, &mut fence) };
    assert_eq!(fence, -1, "the release fence is always empty");
    err
}

fn free(m: &AIMapperV5, b: BufferHandleT) -> i32 {
    // SAFETY: freeing a handle (imported or not) is always a valid call.
    unsafe { (m.free_buffer)(b) }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

const WHOLE: ARect = ARect {
    left: 0,
    top: 0,
    right: 0,
    bottom: 0,
};

#[test]
fn writes_through_one_import_are_read_through_another_and_in_a_child() {
    let _serial = serial();
    let m = mapper();
    let usage = Usage::CPU_READ_OFTEN | Usage::CPU_WRITE_OFTEN | Usage::GPU_TEXTURE;
    let handle = allocate(64, 64, PixelFormat::RGBA_8888, usage);
    let words = raw(&handle);
    let a = import(m, &words).unwrap();
    let b = import(m, &words).unwrap();
    assert_ne!(a, b, "every import is a new handle");
    let size = 64 * 64 * 4;
    let data = lock(m, a, Usage::CPU_WRITE_OFTEN, WHOLE).unwrap();
    for i in 0..size {
        // SAFETY: the lock maps the whole buffer, which holds at least 64 x 64 x 4 bytes.
        unsafe { data.add(i).write((i % 251) as u8) };
    }
    assert_eq!(unlock(m, a), 0);
    let seen = lock(m, b, Usage::CPU_READ_OFTEN, WHOLE).unwrap();
    // SAFETY: as above, through the other import's mapping.
    let bytes = unsafe { std::slice::from_raw_parts(seen, size) };
    assert!(bytes.iter().enumerate().all(|(i, &v)| v == (i % 251) as u8));
    assert_eq!(unlock(m, b), 0);

    // A child process imports the same raw handle (its fds are inherited by fork) and checks.
    // SAFETY: the child only imports, reads and exits.
    match unsafe { libc::fork() } {
        0 => {
            let ok = import(m, &words)
                .and_then(|c| lock(m, c, Usage::CPU_READ_OFTEN, WHOLE))
                // SAFETY: the child's own mapping of the whole buffer.
                .map(|p| {
                    unsafe { std::slice::from_raw_parts(p, size) }
                        .iter()
                        .enumerate()
                        .all(|(i, &v)| v == (i % 251) as u8)
                })
                .unwrap_or(false);
            // SAFETY: leaving the forked child without running the parent's test harness.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        pid => {
            assert!(pid > 0);
            let mut status = 0;
            // SAFETY: waiting for our own child.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "child saw other bytes"
            );
        }
    }
    assert_eq!(free(m, a), 0);
    assert_eq!(free(m, b), 0);
    assert_eq!(free(m, a), BAD_BUFFER, "a freed handle is no longer known");
}

#[test]
fn lock_refuses_bad_usage_and_regions_and_unlock_needs_a_lock() {
    let _serial = serial();
    let m = mapper();
    let handle = allocate(
        32,
        16,
        PixelFormat::RGBA_8888,
        Usage::CPU_READ_RARELY | Usage::GPU_RENDER_TARGET,
    );
    let b = import(m, &raw(&handle)).unwrap();
    assert_eq!(lock(m, b, Usage(0), WHOLE), Err(BAD_VALUE), "no CPU usage");
    assert_eq!(
        lock(m, b, Usage::CPU_WRITE_OFTEN, WHOLE),
        Err(BAD_VALUE),
        "write on a read-only buffer"
    );
    for rect in [
        ARect {
            left: -1,
            top: 0,
            right: 4,
            bottom: 4,
        },
        ARect {
            left: 0,
            top: 0,
            right: 33,
            bottom: 4,
        },
        ARect {
            left: 0,
            top: 0,
            right: 4,
            bottom: 17,
        },
        ARect {
            left: 4,
            top: 0,
            right: 2,
            bottom: 4,
        },
        ARect {
            left: 0,
            top: 4,
            right: 4,
            bottom: 4,
        },
    ] {
        assert_eq!(
            lock(m, b, Usage::CPU_READ_OFTEN, rect),
            Err(BAD_VALUE),
            "{rect:?}"
        );
    }
    assert_eq!(
        unlock(m, b),
        BAD_BUFFER,
        "a failed lock leaves nothing locked"
    );
    let inner = ARect {
        left: 1,
        top: 2,
        right: 32,
        bottom: 16,
    };
    let first = lock(m, b, Usage::CPU_READ_OFTEN, inner).unwrap();
    let second = lock(m, b, Usage::CPU_READ_OFTEN, WHOLE).unwrap();
    assert_eq!(
        first, second,
        "the address is the buffer's first byte whatever the region"
    );
    assert_eq!(unlock(m, b), 0);
    assert_eq!(unlock(m, b), 0);
    assert_eq!(unlock(m, b), BAD_BUFFER);
    // SAFETY: plain calls on a handle that is not locked.
    unsafe {
        assert_eq!((m.flush_locked_buffer)(b), BAD_BUFFER);
        assert_eq!((m.reread_locked_buffer)(b), BAD_BUFFER);
    }
    assert_eq!(free(m, b), 0);
}

#[test]
fn the_acquire_fence_is_waited_on_and_closed_on_every_path() {
    let _serial = serial();
    let m = mapper();
    let handle = allocate(16, 16, PixelFormat::RGBA_8888, Usage::CPU_READ_OFTEN);
    let b = import(m, &raw(&handle)).unwrap();
    for (usage, expect) in [
        (Usage::CPU_READ_OFTEN, 0),
        (Usage::CPU_WRITE_OFTEN, BAD_VALUE),
    ] {
        let (r, w) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&w, b"x").unwrap(); // a signalled fence reads as readable
        let fence = r.into_raw_fd();
        let mut data: *mut c_void = ptr::null_mut();
        // SAFETY: the fence's ownership passes to the mapper, as the ABI says.
        let err = unsafe { (m.lock)(b, usage.0, WHOLE, fence, &mut data) };
        assert_eq!(err, expect);
        // SAFETY: F_GETFD on a number we no longer own only asks whether it is open.
        assert_eq!(
            unsafe { libc::fcntl(fence, libc::F_GETFD) },
            -1,
            "fence left open"
        );
        if err == 0 {
            assert_eq!(unlock(m, b), 0);
        }
    }
    assert_eq!(free(m, b), 0);
}

#[test]
fn hostile_handles_are_refused_and_leave_no_fd_behind() {
    let _serial = serial();
    let m = mapper();
    let usage = Usage::CPU_READ_OFTEN;
    let one = allocate(16, 16, PixelFormat::RGBA_8888, usage);
    let other = allocate(16, 16, PixelFormat::RGBA_8888, usage);
    let before = open_fds();
    let good = raw(&one);
    let nfds = one.fds.len();
    let mut cases: Vec<(&str, Vec<i32>)> = Vec::new();
    cases.push(("truncated ints", good[..good.len() - 3].to_vec()));
    let mut short = good.clone();
    short[2] -= 3;
    cases.push(("numInts says less", short));
    let mut wrong_version = good.clone();
    wrong_version[0] = 16;
    cases.push(("not a native_handle_t", wrong_version));
    let mut magic = good.clone();
    magic[3 + nfds] ^= 1;
    cases.push(("bad magic", magic));
    let mut swapped = good.clone();
    swapped.swap(3, 4);
    cases.push(("fds swapped", swapped));
    let mut foreign_meta = good.clone();
    foreign_meta[4] = other.fds[1].as_raw_fd();
    cases.push(("another buffer's metadata", foreign_meta));
    let mut closed = good.clone();
    closed[3] = 100_000;
    cases.push(("fd not open", closed));
    let mut negative = good.clone();
    negative[3] = -1;
    cases.push(("negative fd", negative));
    let mut huge = good.clone();
    let size_at = 3 + nfds + 15; // allocation size, low word
    huge[size_at] = i32::MAX;
    cases.push(("size beyond the fd", huge));
    let mut width = good.clone();
    width[3 + nfds + 6] = 1 << 20;
    cases.push(("width beyond the planes", width));
    let mut too_many = vec![12, 1024, 0];
    too_many.extend(vec![one.fds[0].as_raw_fd(); 1024]);
    cases.push(("a thousand fds", too_many));
    cases.push(("absurd counts", vec![12, -1, i32::MAX]));
    for (what, words) in &cases {
        assert_eq!(import(m, words), Err(BAD_BUFFER), "{what}");
    }
    assert_eq!(open_fds(), before, "a refused import left fds open");
    let b = import(m, &good).unwrap();
    assert_eq!(
        open_fds(),
        before + 2,
        "an import owns exactly its two dup'd fds"
    );
    assert_eq!(free(m, b), 0);
    assert_eq!(open_fds(), before);
}

#[test]
fn transport_size_and_reserved_region() {
    let _serial = serial();
    let m = mapper();
    let handle = allocate(8, 8, PixelFormat::RGBA_8888, Usage::CPU_READ_OFTEN);
    let words = raw(&handle);
    let b = import(m, &words).unwrap();
    let (mut fds, mut ints) = (0u32, 0u32);
    let mut region: *mut c_void = ptr::null_mut();
    let mut size = 1u64;
    // SAFETY: valid out-pointers.
    unsafe {
        assert_eq!((m.get_transport_size)(b, &mut fds, &mut ints), 0);
        assert_eq!((m.get_reserved_region)(b, &mut region, &mut size), 0);
    }
    assert_eq!(
        (fds as usize, ints as usize),
        (handle.fds.len(), handle.ints.len())
    );
    assert_eq!(size, 0, "nothing reserved was asked for");
    // An imported handle is a valid raw handle too (passthrough HALs hand those over).
    // SAFETY: an imported handle is a complete native handle until freed.
    let again = unsafe {
        let h = &*b;
        std::slice::from_raw_parts(b.cast::<i32>(), 3 + (h.num_fds + h.num_ints) as usize).to_vec()
    };
    let c = import(m, &again).unwrap();
    assert_eq!(free(m, c), 0);
    assert_eq!(free(m, b), 0);
}

#[test]
fn many_threads_import_lock_and_free_at_once() {
    let _serial = serial();
    let m = mapper();
    let handle = allocate(
        64,
        32,
        PixelFormat::RGBA_8888,
        Usage::CPU_READ_OFTEN | Usage::CPU_WRITE_OFTEN,
    );
    let words = raw(&handle);
    let before = open_fds();
    std::thread::scope(|s| {
        for t in 0..8u8 {
            let words = &words;
            s.spawn(move || {
                for _ in 0..50 {
                    let b = import(m, words).unwrap();
                    let p = lock(m, b, Usage::CPU_WRITE_OFTEN, WHOLE).unwrap();
                    // SAFETY: one byte inside the locked buffer; threads write distinct bytes.
                    unsafe { p.add(usize::from(t)).write(t) };
                    assert_eq!(unlock(m, b), 0);
                    assert_eq!(free(m, b), 0);
                }
            });
        }
    });
    assert_eq!(open_fds(), before);
}

#[test]
fn sync_counters_follow_the_rule_and_are_shared_through_the_region() {
    let _serial = serial();
    let m = mapper();
    // soc's video decoder writes without snooping: every first lock must invalidate, read unlocks
    // skip.
    let handle = allocate(
        64,
        64,
        PixelFormat::YCBCR_420_888,
        Usage::VIDEO_DECODER | Usage::CPU_READ_OFTEN,
    );
    let words = raw(&handle);
    let a = import(m, &words).unwrap();
    let b = import(m, &words).unwrap();
    for _ in 0..3 {
        lock(m, a, Usage::CPU_READ_OFTEN, WHOLE).unwrap();
        assert_eq!(unlock(m, a), 0);
    }
    lock(m, b, Usage::CPU_READ_OFTEN, WHOLE).unwrap();
    assert_eq!(unlock(m, b), 0);
    let counts = |h: BufferHandleT| {
        let name = central_gralloc_mapper::vendor::NAME.as_ptr();
        let ty = central_gralloc_mapper::ffi::AIMapperMetadataType { name, value: 1 };
        let mut out = [0u8; 256];
        // SAFETY: a valid destination of the given size.
        let n = unsafe { (m.get_metadata)(h, ty, out.as_mut_ptr().cast(), out.len()) };
        assert!(n > 0, "vendor counters: {n}");
        let payload = &out[8 + 38 + 8..n as usize];
        payload
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect::<Vec<_>>()
    };
    // decided, skipped, issued: all processes, then this import. A memfd makes no ioctl.
    assert_eq!(counts(a), vec![4, 4, 0, 3, 3, 0]);
    assert_eq!(counts(b), vec![4, 4, 0, 1, 1, 0]);
    assert_eq!(free(m, a), 0);
    assert_eq!(free(m, b), 0);
}
