//! Robustness of the real service: clients that vanish mid-call, concurrent clients, hostile
//! counts, SIGTERM. After each, the service still answers correctly and its open-fd count
//! (`/proc/<pid>/fd`) returns to its baseline. Every refusal checked here must be a
//! service-specific `AllocationError` of the expected kind: a transport failure reads as value
//! 0 and would otherwise pass for `BAD_DESCRIPTOR`.

mod common;

use central_gralloc::error::ErrorCode;
use central_gralloc::format::PixelFormat;
use central_gralloc_conformance::{allocation_error, descriptor, run_named};
use central_gralloc_service::aidl::BufferUsage;
use central_gralloc_service::child::ServiceChild;
use common::{assert_fds_back, fd_count, idle_fds, wait_for};
use std::time::Duration;

const CPU: i64 = BufferUsage::CPU_READ_OFTEN.0 | BufferUsage::CPU_WRITE_OFTEN.0;

/// The `AllocationError` a refused call carries; panics if it succeeded or failed otherwise.
fn refused<T>(result: binder::Result<T>, what: &str) -> ErrorCode {
    allocation_error(result).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The service still serves a fresh client correctly.
fn answers_correctly(service: &ServiceChild) {
    let connection = service.connect().expect("a fresh client connects");
    if let Err(e) = run_named(&connection.allocator, "allocate_64x64_rgba_cpu_often") {
        let dump = connection
            .debug()
            .and_then(|(_s, d)| d.dumpText(&[]).map_err(|e| format!("{e:?}")));
        panic!("a fresh client: {e}\n{}", dump.unwrap_or_else(|e| e));
    }
}

#[test]
fn a_client_that_disconnects_mid_call_leaves_no_trace() {
    let mut service = common::start("disconnect", &[]);
    answers_correctly(&service);
    let baseline = idle_fds(&service);
    let mut killed_connected = 0;
    for _ in 0..5 {
        // A client process that asks for big buffers and is killed once the service holds its
        // connection (so while its call is in flight, or about to be).
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_gralloc"))
            .args(["alloc", "--socket"])
            .arg(service.socket())
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
        let mut exited = false;
        let settled = wait_for(Duration::from_secs(10), || {
            exited = matches!(child.try_wait(), Ok(Some(_)));
            exited || fd_count(&service) > baseline
        });
        assert!(settled, "the client neither connected nor exited");
        if !exited && child.kill().is_ok() {
            killed_connected += 1;
        }
        let _ = child.wait();
    }
    assert!(
        killed_connected > 0,
        "every client finished before it could be killed: no disconnect was exercised"
    );
    // And one in-process client that drops its session without a word.
    drop(service.connect().expect("connect"));
    assert!(service.running(), "the service died");
    answers_correctly(&service);
    assert_fds_back(&service, baseline);
    service.terminate().expect("clean exit on SIGTERM");
}

#[test]
fn eight_concurrent_clients_allocate_and_free() {
    let mut service = common::start("concurrent", &[]);
    answers_correctly(&service);
    let baseline = idle_fds(&service);
    let path = service.socket().to_path_buf();
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
    assert!(service.running());
    answers_correctly(&service);
    assert_fds_back(&service, baseline);
    service.terminate().expect("clean exit on SIGTERM");
}

#[test]
fn hostile_counts_are_refused_and_the_service_stays_up() {
    let mut service = common::start("counts", &[]);
    answers_correctly(&service);
    let baseline = idle_fds(&service);
    {
        let connection = service.connect().expect("connect");
        let d = descriptor(64, 64, PixelFormat::RGBA_8888, CPU);
        for (count, expected) in [
            (0, ErrorCode::BadDescriptor),
            (-1, ErrorCode::BadDescriptor),
            (i32::MIN, ErrorCode::BadDescriptor),
            (i32::MAX, ErrorCode::NoResources),
            (65, ErrorCode::NoResources),
        ] {
            let what = format!("count {count}");
            assert_eq!(
                refused(connection.allocator.allocate2(&d, count), &what),
                expected,
                "{what}"
            );
        }
        // 32 GiB a buffer: over the per-request byte limit whatever the count, so the request
        // can never succeed; refused before anything is allocated.
        let huge = descriptor(65535, 65535, PixelFormat::RGBA_FP16, CPU);
        assert_eq!(
            refused(connection.allocator.allocate2(&huge, 64), "64 huge buffers"),
            ErrorCode::Unsupported
        );
    }
    assert!(service.running());
    answers_correctly(&service);
    assert_fds_back(&service, baseline);
    service.terminate().expect("clean exit on SIGTERM");
}

#[test]
fn sigterm_stops_the_service_and_removes_the_socket() {
    let mut service = common::start("sigterm", &[]);
    answers_correctly(&service);
    let path = service.socket().to_path_buf();
    assert!(path.exists());
    service.terminate().expect("exit status 0 after SIGTERM");
    assert!(!path.exists(), "the socket is removed");
}

#[test]
fn dump_reports_profile_counters_limits_and_failures() {
    let service = common::start("dump", &[]);
    let connection = service.connect().expect("connect");
    let mut d = descriptor(64, 64, PixelFormat::RGBA_8888, CPU);
    d.layerCount = 0;
    assert_eq!(
        refused(connection.allocator.allocate2(&d, 1), "layerCount 0"),
        ErrorCode::BadDescriptor
    );
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
    let mut service = common::start("options", &[]);
    {
        let connection = service.connect().expect("connect");
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
            assert_eq!(
                refused(connection.allocator.allocate2(&d, 1), "a hostile option"),
                ErrorCode::Unsupported
            );
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
    assert!(service.running());
    answers_correctly(&service);
    service.terminate().expect("clean exit on SIGTERM");
}

#[test]
fn a_buffer_no_request_may_hold_is_not_supported() {
    // 65535 x 65535 RGBA_FP16 is 32 GiB: over the per-request byte limit whatever the count,
    // so it can never be allocated, and isSupported must say so ("true means only resource
    // exhaustion can make it fail").
    let mut service = common::start("huge", &[]);
    {
        let connection = service.connect().expect("connect");
        for (w, h) in [(65535, 65535), (32768, 32768)] {
            let huge = descriptor(w, h, PixelFormat::RGBA_FP16, CPU);
            assert!(
                !connection
                    .allocator
                    .isSupported(&huge)
                    .expect("isSupported"),
                "{w}x{h} RGBA_FP16 is supported"
            );
            let what = format!("{w}x{h} RGBA_FP16");
            assert_eq!(
                refused(connection.allocator.allocate2(&huge, 1), &what),
                ErrorCode::Unsupported,
                "{what}"
            );
        }
        // Within the limit one at a time, over it together: that is NO_RESOURCES.
        let big = descriptor(2048, 2048, PixelFormat::RGBA_FP16, CPU);
        assert!(connection.allocator.isSupported(&big).expect("isSupported"));
        assert_eq!(
            refused(connection.allocator.allocate2(&big, 64), "64 x 32 MiB"),
            ErrorCode::NoResources
        );
    }
    assert!(service.running());
    service.terminate().expect("clean exit on SIGTERM");
}

#[test]
fn reserved_bytes_count_against_the_client_quota() {
    // Each request: eight 1x1 buffers with 16 MiB of reserved (client metadata) bytes each,
    // about 128 MiB in the service's metadata regions. With a 200 MB per-second cap, the
    // second request within the second must be refused.
    let mut service = common::start("reserved", &["--quota-bytes", "200000000"]);
    {
        let connection = service.connect().expect("connect");
        let mut d = descriptor(1, 1, PixelFormat::RGBA_8888, CPU);
        d.reservedSize = 16 << 20;
        let first = connection
            .allocator
            .allocate2(&d, 8)
            .expect("first request");
        assert_eq!(first.buffers.len(), 8);
        let second = connection.allocator.allocate2(&d, 8);
        assert_eq!(
            refused(second, "256 MiB within one window of a 200 MB cap"),
            ErrorCode::NoResources
        );
    }
    assert!(service.running());
    service.terminate().expect("clean exit on SIGTERM");
}
