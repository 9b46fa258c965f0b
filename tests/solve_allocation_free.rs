//! `solve` makes no heap allocation, so its cost cannot grow with the number of live buffers.

use central_gralloc::descriptor::Descriptor;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::Profile;
use central_gralloc::solver::solve;
use central_gralloc::usage::Usage;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the thread being measured: the test harness's own threads (output capture, other
    /// tests) allocate whenever they like, and must not count.
    static MEASURED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if MEASURED.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn solve_does_not_allocate() {
    let soc = Profile::builtin("soc").unwrap();
    let requests = [
        (
            1920,
            1080,
            PixelFormat::RGBA_8888,
            Usage::GPU_RENDER_TARGET | Usage::COMPOSER_OVERLAY,
        ),
        (
            3840,
            2160,
            PixelFormat::YCBCR_420_888,
            Usage::CAMERA_OUTPUT | Usage::VIDEO_ENCODER,
        ),
        (
            640,
            480,
            PixelFormat::IMPLEMENTATION_DEFINED,
            Usage::CAMERA_OUTPUT | Usage::GPU_TEXTURE,
        ),
    ];
    let descriptors: Vec<Descriptor> = requests
        .iter()
        .map(|&(w, h, f, u)| Descriptor::simple("x", w, h, f, u).unwrap())
        .collect();
    // Many live placements, then more solves: the count of allocations during solving stays 0.
    let mut live = Vec::with_capacity(10_000);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    MEASURED.with(|m| m.set(true));
    for i in 0..10_000 {
        let placement = solve(&descriptors[i % descriptors.len()], &soc).unwrap();
        if live.len() < live.capacity() {
            live.push(placement);
        }
    }
    MEASURED.with(|m| m.set(false));
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 0);
    // The counter counts: one allocation on the measured thread is seen.
    MEASURED.with(|m| m.set(true));
    let boxed = std::hint::black_box(Box::new(live.len()));
    MEASURED.with(|m| m.set(false));
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 1, "{boxed}");
    assert_eq!(live.len(), 10_000);
}
