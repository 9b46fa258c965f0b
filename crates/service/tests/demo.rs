//! `gralloc demo`, the README's main-job command, runs end to end: a real service in a child
//! process, real buffers over binder, and the replay table.

use std::process::Command;

#[test]
fn demo_allocates_through_the_service_and_ends_with_the_replay_table() {
    let out = Command::new(env!("CARGO_BIN_EXE_gralloc"))
        .arg("demo")
        .output()
        .expect("run gralloc demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stdout}\n{stderr}");
    for profile in ["== profile soc", "== profile cuttlefish"] {
        assert!(stdout.contains(profile), "{profile} missing:\n{stdout}");
    }
    for buffer in [
        "display framebuffer",
        "camera preview",
        "video decode output",
        "cursor",
        "BLOB",
    ] {
        assert!(stdout.contains(buffer), "{buffer} missing:\n{stdout}");
    }
    // Every cuttlefish role has a stand-in here (memfd for the system heap and for virtio-gpu's
    // own memory), so its buffers are really allocated.
    let cuttlefish = stdout.split("== profile cuttlefish").nth(1).unwrap_or("");
    let allocated = cuttlefish
        .lines()
        .find(|l| l.starts_with("buffers allocated"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    assert!(
        allocated >= 10,
        "cuttlefish allocated {allocated} buffers:\n{stdout}"
    );
    // The replay table closes the demo, with a row per shipped trace.
    let table = stdout
        .split("cache maintenance per shipped trace")
        .nth(1)
        .unwrap_or("");
    for trace in ["camera-preview", "video-playback", "gpu-composition"] {
        assert!(
            table.contains(trace),
            "{trace} missing from the replay table:\n{stdout}"
        );
    }
}
