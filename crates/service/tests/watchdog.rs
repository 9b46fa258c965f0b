//! The binder call watchdog of the real service: every binder method is watched, and a call over
//! the threshold is logged and shown in the dump with its caller, its request and its last step.

mod common;

use central_gralloc::format::PixelFormat;
use central_gralloc_conformance::descriptor;
use central_gralloc_service::aidl::BufferUsage;

#[test]
fn every_call_over_the_threshold_is_logged_with_what_it_was_doing() {
    let log = std::env::temp_dir().join(format!("cg-watchdog-{}.log", std::process::id()));
    // Threshold zero: every call is over it, so each one's report shows the wiring.
    let mut service = common::start_logging_to("watchdog", &["--watchdog-ms", "0"], &log);
    let pid = std::process::id();
    {
        let connection = service.connect().expect("connect");
        let usage = BufferUsage::CPU_READ_OFTEN.0 | BufferUsage::CPU_WRITE_OFTEN.0;
        let d = descriptor(64, 48, PixelFormat::RGBA_8888, usage);
        connection.allocator.allocate2(&d, 2).expect("allocate2");
        assert!(connection.allocator.isSupported(&d).expect("isSupported"));
        connection
            .allocator
            .getIMapperLibrarySuffix()
            .expect("suffix");
        // The deprecated V1 method is a binder call like the others.
        #[allow(deprecated)]
        let v1 = connection.allocator.allocate(&[1, 2, 3], 1);
        assert!(v1.is_err());
        let (_session, debug) = connection.debug().expect("debug interface");
        let dump = debug.dumpText(&[]).expect("dumpText");
        assert!(
            dump.contains("== binder call watchdog: threshold 0 ms"),
            "{dump}"
        );
        let want = format!(
            "allocate2 from pid {pid} uid {}: 64x48x1 RGBA_8888 usage",
            effective_uid()
        );
        assert!(dump.contains(&want), "no `{want}` in:\n{dump}");
        assert!(
            dump.contains("count 2 (step: remembering the buffers)"),
            "{dump}"
        );
    }
    service.terminate().expect("clean exit on SIGTERM");
    let text = std::fs::read_to_string(&log).expect("the service log");
    let _ = std::fs::remove_file(&log);
    for method in [
        "allocate2",
        "isSupported",
        "getIMapperLibrarySuffix",
        "allocate",
        "dumpText",
    ] {
        let needle = format!("(threshold 0 ms): {method} from pid {pid} ");
        assert!(text.contains(&needle), "no `{needle}` in the log:\n{text}");
    }
}

/// This process's user id, as the service sees its calls.
fn effective_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("Uid line")
}
