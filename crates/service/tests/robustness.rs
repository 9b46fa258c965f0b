//! Robustness of the real service: clients that vanish mid-call, concurrent clients, hostile
//! counts, SIGTERM. After each, the service still answers correctly and its open-fd count
//! (`/proc/<pid>/fd`) returns to its baseline.

mod common;

use central_gralloc::format::PixelFormat;
use central_gralloc_conformance::{descriptor, run_named};
use central_gralloc_service::aidl::BufferUsage;
use common::ServiceProcess;

const CPU: i64 = BufferUsage::CPU_READ_OFTEN.0 | BufferUsage::CPU_WRITE_OFTEN.0;

/// The service still serves a fresh client correctly.
fn answers_correctly(service: &ServiceProcess) {
    let connection = service.connect();
    if let Err(e) = run_named(&connection.allocator, "allocate_64x64_rgba_cpu_often") {
        let dump = connection
            .debug()
            .and_then(|(_s, d)| d.dumpText(&[]).map_err(|e| format!("{e:?}")));
        panic!("a fresh client: {e}\n{}", dump.unwrap_or_else(|e| e));
    }
}

fn assert_fds_back(service: &ServiceProcess, baseline: usize) {
    let now = service.settle_fds(baseline);
    assert!(now <= baseline, "service fds {now} > baseline {baseline}");
}

#[test]
fn a_client_that_disconnects_mid_call_leaves_no_trace() {
    let mut service = ServiceProcess::start("disconnect", &[]);
    answers_correctly(&service);
    let baseline = service.settle_fds(0).max(service.fd_count());
    for _ in 0..5 {
        // A client process that asks for big buffers and is killed while the call is in flight.
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_gralloc"))
            .args(["alloc", "--socket"])
            .arg(service.path())
            .args([
                "--width",
                "2048",
                "--height",
                "2048",
                "--format",
                "RGBA_8888",
            ])
            .args(["--usage", "CPU_READ_OFTEN|CPU_WRITE_OFTEN", "--count", "4"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let mut child = child.expect("spawn a client");
        std::thread::sleep(std::time::Duration::from_millis(30));
        let _ = child.kill();
        let _ = child.wait();
    }
    // And one in-process client that drops its session without a word.
    drop(service.connect());
    assert!(service.alive(), "the service died");
    answers_correctly(&service);
    assert_fds_back(&service, baseline);
    assert!(service.terminate(), "clean exit on SIGTERM");
}

#[test]
fn eight_concurrent_clients_allocate_and_free() {
    let mut service = ServiceProcess::start("concurrent", &[]);
    answers_correctly(&service);
    let baseline = service.fd_count();
    let path = service.path().to_path_buf();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let connection =
                    central_gralloc_service::rpc::Connection::open(&path).expect("connect");
                for i in 0..25 {
                    let w = 32 + 8 * ((t * 25 + i) % 16);
                    let d = descriptor(w, 48, PixelFormat::RGBA_8888, CPU);
                    let result = connection.allocator.allocate2(&d, 2).expect("allocate2");
                    assert_eq!(result.buffers.len(), 2);
                    assert!(result.stride >= w);
                    // Dropping the result closes this client's fds: that is the free.
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a client thread failed");
    }
    assert!(service.alive());
    answers_correctly(&service);
    assert_fds_back(&service, baseline);
    assert!(service.terminate());
}

#[test]
fn hostile_counts_are_refused_and_the_service_stays_up() {
    let mut service = ServiceProcess::start("counts", &[]);
    answers_correctly(&service);
    let baseline = service.fd_count();
    {
        let connection = service.connect();
        let d = descriptor(64, 64, PixelFormat::RGBA_8888, CPU);
        for (count, expected) in [(0, 0), (-1, 0), (i32::MIN, 0), (i32::MAX, 1), (65, 1)] {
            let status = connection.allocator.allocate2(&d, count).unwrap_err();
            assert_eq!(status.service_specific_error(), expected, "count {count}");
        }
        // A huge buffer within the count limit: refused by the byte limit, nothing allocated.
        let huge = descriptor(65535, 65535, PixelFormat::RGBA_FP16, CPU);
        let status = connection.allocator.allocate2(&huge, 64).unwrap_err();
        assert!((0..=2).contains(&status.service_specific_error()));
    }
    assert!(service.alive());
    answers_correctly(&service);
    assert_fds_back(&service, baseline);
    assert!(service.terminate());
}

#[test]
fn sigterm_stops_the_service_and_removes_the_socket() {
    let mut service = ServiceProcess::start("sigterm", &[]);
    answers_correctly(&service);
    let path = service.path().to_path_buf();
    assert!(path.exists());
    assert!(service.terminate(), "exit status 0 after SIGTERM");
    assert!(!path.exists(), "the socket is removed");
}

#[test]
fn dump_reports_profile_counters_limits_and_failures() {
    let service = ServiceProcess::start("dump", &[]);
    let connection = service.connect();
    let mut d = descriptor(64, 64, PixelFormat::RGBA_8888, CPU);
    d.layerCount = 0;
    assert!(connection.allocator.allocate2(&d, 1).is_err());
    let (_session, debug) = connection.debug().expect("debug interface");
    let text = debug.dumpText(&[]).expect("dumpText");
    for needle in [
        "== profile host",
        "== heaps",
        "== counters",
        "== limits",
        "per client",
        "layerCount 0 is not positive",
    ] {
        assert!(text.contains(needle), "dump lacks `{needle}`:\n{text}");
    }
}

#[test]
fn hostile_option_names_are_not_kept_in_the_failure_ring() {
    use central_gralloc_service::aidl::ExtendableType;
    let mut service = ServiceProcess::start("options", &[]);
    {
        let connection = service.connect();
        // Sixteen failures (the ring's length), each naming a 256 KiB unknown option among a
        // thousand small ones: the service may refuse them, but must not keep 4 MiB of
        // client-chosen text for `dumpsys`.
        for n in 0..16 {
            let mut d = descriptor(64, 64, PixelFormat::RGBA_8888, CPU);
            for i in 0..1000 {
                d.additionalOptions.push(ExtendableType {
                    name: "android.hardware.graphics.common.Dataspace".into(),
                    value: i,
                });
            }
            d.additionalOptions.push(ExtendableType {
                name: format!("{n}{}", "x".repeat(256 << 10)),
                value: 1,
            });
            let status = connection.allocator.allocate2(&d, 1).unwrap_err();
            assert_eq!(status.service_specific_error(), 2, "UNSUPPORTED");
            assert!(!connection.allocator.isSupported(&d).expect("isSupported"));
        }
        let (_session, debug) = connection.debug().expect("debug interface");
        let text = debug.dumpText(&[]).expect("dumpText");
        assert!(
            text.len() < 64 << 10,
            "the dump holds {} bytes of failures",
            text.len()
        );
        assert!(text.contains("unknown option"), "{text}");
    }
    assert!(service.alive());
    answers_correctly(&service);
    assert!(service.terminate());
}

#[test]
fn a_buffer_no_request_may_hold_is_not_supported() {
    // 65535 x 65535 RGBA_FP16 is 32 GiB: over the per-request byte limit whatever the count,
    // so it can never be allocated, and isSupported must say so ("true means only resource
    // exhaustion can make it fail").
    let mut service = ServiceProcess::start("huge", &[]);
    {
        let connection = service.connect();
        for (w, h) in [(65535, 65535), (32768, 32768)] {
            let huge = descriptor(w, h, PixelFormat::RGBA_FP16, CPU);
            assert!(
                !connection
                    .allocator
                    .isSupported(&huge)
                    .expect("isSupported"),
                "{w}x{h} RGBA_FP16 is supported"
            );
            let status = connection.allocator.allocate2(&huge, 1).unwrap_err();
            assert_eq!(status.service_specific_error(), 2, "{w}x{h}: UNSUPPORTED");
        }
        // Within the limit one at a time, over it together: that is NO_RESOURCES.
        let big = descriptor(2048, 2048, PixelFormat::RGBA_FP16, CPU);
        assert!(connection.allocator.isSupported(&big).expect("isSupported"));
        let status = connection.allocator.allocate2(&big, 64).unwrap_err();
        assert_eq!(
            status.service_specific_error(),
            1,
            "64 x 32 MiB: NO_RESOURCES"
        );
    }
    assert!(service.alive());
    assert!(service.terminate());
}

#[test]
fn reserved_bytes_count_against_the_client_quota() {
    // Each request: eight 1x1 buffers with 16 MiB of reserved (client metadata) bytes each,
    // about 128 MiB in the service's metadata regions. With a 200 MB per-second cap, the
    // second request within the second must be refused.
    let mut service = ServiceProcess::start("reserved", &["--quota-bytes", "200000000"]);
    {
        let connection = service.connect();
        let mut d = descriptor(1, 1, PixelFormat::RGBA_8888, CPU);
        d.reservedSize = 16 << 20;
        let first = connection
            .allocator
            .allocate2(&d, 8)
            .expect("first request");
        assert_eq!(first.buffers.len(), 8);
        let status = connection
            .allocator
            .allocate2(&d, 8)
            .map(|r| r.buffers.len())
            .expect_err("256 MiB handed out within one window of a 200 MB cap");
        assert_eq!(status.service_specific_error(), 1, "NO_RESOURCES");
    }
    assert!(service.alive());
    assert!(service.terminate());
}
