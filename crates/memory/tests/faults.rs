//! Faults leave nothing behind: every scenario counts the process's open fds before and after.
//! One test function, so no other test of this binary opens fds concurrently.

use central_gralloc::descriptor::Descriptor;
use central_gralloc::error::ErrorCode;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::{HeapRole, Profile};
use central_gralloc::usage::Usage;
use central_gralloc_memory::{
    map, Allocator, Backend, BackendConfig, BufferHandle, CpuAccess, Heap, Limits, Mapping,
    MemError, MemfdHeap, NativeHandle,
};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A memfd heap that fails with ENOMEM after `ok` allocations.
#[derive(Debug)]
struct FailAfter {
    ok: u32,
    made: AtomicU32,
}

impl Heap for FailAfter {
    fn kind(&self) -> central_gralloc_memory::BufferKind {
        MemfdHeap.kind()
    }
    fn describe(&self) -> String {
        format!("memfd failing after {}", self.ok)
    }
    fn allocate(&self, size: u64, name: &str) -> Result<OwnedFd, MemError> {
        if self.made.fetch_add(1, Ordering::Relaxed) >= self.ok {
            return Err(MemError::sys(
                central_gralloc_memory::SysOp::HeapAlloc,
                nix::errno::Errno::ENOMEM,
            ));
        }
        MemfdHeap.allocate(size, name)
    }
}

fn desc() -> Descriptor {
    Descriptor::simple(
        "faults",
        640,
        480,
        PixelFormat::RGBA_8888,
        Usage::GPU_TEXTURE | Usage::CPU_WRITE_OFTEN,
    )
    .unwrap()
}

fn no_leak(what: &str, f: impl FnOnce()) {
    let before = open_fds();
    f();
    assert_eq!(open_fds(), before, "{what} leaked fds");
}

#[test]
fn faults_close_every_fd_and_leave_the_process_healthy() {
    let profile = Profile::builtin("host").unwrap();

    no_leak("ENOMEM at buffer 3 of 5", || {
        let heap = FailAfter {
            ok: 3,
            made: AtomicU32::new(0),
        };
        let a = Allocator::with_heaps(
            profile.clone(),
            vec![(HeapRole::System, Box::new(heap))],
            Limits::default(),
        );
        let e = a.allocate(&desc(), 5).unwrap_err();
        assert_eq!(e.code(), ErrorCode::NoResources, "{e}");
    });

    no_leak("EMFILE part way through a batch", || {
        let a = Allocator::new(
            profile.clone(),
            &BackendConfig::new(Backend::Memfd),
            Limits::default(),
        )
        .unwrap();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        // Room for about two buffers (two fds each) beyond what is open now.
        let room = open_fds() as u64 + 4;
        setrlimit(Resource::RLIMIT_NOFILE, room, hard).unwrap();
        let result = a.allocate(&desc(), 8);
        setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
        let e = result.unwrap_err();
        assert_eq!(e.errno(), Some(nix::errno::Errno::EMFILE), "{e}");
        assert_eq!(e.code(), ErrorCode::NoResources);
        // Healthy afterwards: the same request succeeds.
        assert_eq!(a.allocate(&desc(), 8).unwrap().buffers.len(), 8);
    });

    no_leak("heap directory removed", || {
        let dir = std::env::temp_dir().join(format!("cg-faults-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.join("system")).unwrap();
        let a = Allocator::new(
            profile.clone(),
            &BackendConfig::dma_heap_in(&dir),
            Limits::default(),
        )
        .unwrap();
        // The node is not a dma-heap: a clear error, nothing left open.
        assert!(a.allocate(&desc(), 3).is_err());
        drop(a);
        std::fs::remove_dir_all(&dir).unwrap();
        let a = Allocator::new(
            profile.clone(),
            &BackendConfig::dma_heap_in(&dir),
            Limits::default(),
        )
        .unwrap();
        let e = a.allocate(&desc(), 1).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unsupported, "{e}");
    });

    let a = Allocator::new(
        profile.clone(),
        &BackendConfig::new(Backend::Memfd),
        Limits::default(),
    )
    .unwrap();
    let buffer = a.allocate(&desc(), 1).unwrap().buffers.pop().unwrap();
    let dup = |fd: std::os::fd::BorrowedFd<'_>| fd.try_clone_to_owned().unwrap();

    no_leak("forged and truncated handles", || {
        let ints = buffer.info().to_ints();
        for n in [0, 1, 3, ints.len() - 1] {
            let h = NativeHandle {
                fds: vec![dup(buffer.fd()), dup(buffer.metadata_fd())],
                ints: ints[..n].to_vec(),
            };
            assert!(BufferHandle::decode(h).is_err());
        }
        // Ints claiming more memory than the fd holds.
        let mut bigger = ints.clone();
        bigger[16] = 1;
        let h = NativeHandle {
            fds: vec![dup(buffer.fd()), dup(buffer.metadata_fd())],
            ints: bigger,
        };
        let e = BufferHandle::decode(h).unwrap_err();
        assert!(e.to_string().contains("holds"), "{e}");
        let (r, w) = nix::unistd::pipe().unwrap();
        let h = NativeHandle {
            fds: vec![r, w],
            ints: ints.clone(),
        };
        assert!(BufferHandle::decode(h).is_err());
        assert!(BufferHandle::decode(buffer.encode().unwrap()).is_ok());
    });

    no_leak("sync and mmap on wrong fds", || {
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert!(matches!(
            map::begin_cpu_access(r.as_fd(), CpuAccess::Read),
            Err(MemError::NotDmaBuf)
        ));
        assert!(Mapping::new(r.as_fd(), 4096, CpuAccess::Read).is_err());
        assert!(matches!(
            map::end_cpu_access(buffer.fd(), CpuAccess::Read),
            Err(MemError::NotDmaBuf)
        ));
        assert!(Mapping::new(buffer.fd(), buffer.info().size + 4096, CpuAccess::Read).is_err());
    });
}
