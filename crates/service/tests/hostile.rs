//! Hostile clients against the real service on its socket: processes that open connections and
//! then say nothing must not keep an ordinary client out.

mod common;

use central_gralloc::format::PixelFormat;
use central_gralloc_conformance::descriptor;
use central_gralloc_service::aidl::BufferUsage;
use central_gralloc_service::child::{unique_socket, ServiceChild};
use central_gralloc_service::rpc::{Connection, WIRE_VERSION};
use std::io::Read;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CPU: i64 = BufferUsage::CPU_READ_OFTEN.0 | BufferUsage::CPU_WRITE_OFTEN.0;

/// How long an ordinary client may take to connect and allocate while the attack goes on. The
/// call itself takes milliseconds; before connections were bounded it waited forever.
const SERVED_WITHIN: Duration = Duration::from_secs(15);

/// The bytes an rsbinder client writes when it opens a session (the RPC connection header and
/// what follows it before the server answers), taken from a real client against a listener
/// that never answers.
fn connection_header() -> Vec<u8> {
    let path = unique_socket("capture");
    let listener = UnixListener::bind(&path).expect("bind the capture socket");
    let client_path = path.clone();
    let client = std::thread::spawn(move || {
        // Fails once the listener hangs up; only its first bytes matter.
        let _ = binder::rpc::RpcSession::setup_unix_client_android13plus_fd(
            &client_path,
            WIRE_VERSION,
            binder::rpc::FileDescriptorTransportMode::Unix,
        );
    });
    let (mut stream, _) = listener.accept().expect("the client connects");
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("read timeout");
    let mut header = Vec::new();
    let mut chunk = [0u8; 256];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        header.extend_from_slice(&chunk[..n]);
    }
    drop(stream);
    client.join().expect("the capture client");
    let _ = std::fs::remove_file(&path);
    assert!(header.len() >= 16, "captured {} header bytes", header.len());
    header
}

/// A forked process that opens `idle` connections which send `header` and then nothing, and
/// `silent` ones which send nothing at all, and keeps them open until killed.
struct Attacker {
    pid: libc::pid_t,
}

impl Attacker {
    fn start(path: &Path, header: &[u8], idle: usize, silent: usize) -> Attacker {
        use std::os::unix::ffi::OsStrExt;
        // Everything the child needs is prepared here: after fork it makes system calls only.
        // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
        let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        address.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let bytes = path.as_os_str().as_bytes();
        assert!(bytes.len() < address.sun_path.len(), "socket path too long");
        for (dst, src) in address.sun_path.iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        let mut ready = [0 as libc::c_int; 2];
        // SAFETY: `ready` has room for the two fds pipe(2) writes.
        assert_eq!(unsafe { libc::pipe(ready.as_mut_ptr()) }, 0, "pipe");
        // SAFETY: the child below only makes system calls (socket, connect, write, pause,
        // _exit) on data prepared before the fork, so it touches no lock another thread of
        // this test process may have held at the fork.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            // SAFETY: system calls on the prepared address and header, in the child only.
            unsafe {
                libc::close(ready[0]);
                for n in 0..idle + silent {
                    let fd =
                        libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
                    if fd < 0 {
                        break;
                    }
                    let connected = libc::connect(
                        fd,
                        std::ptr::addr_of!(address).cast(),
                        std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                    );
                    if connected == 0 && n < idle {
                        libc::write(fd, header.as_ptr().cast(), header.len());
                    }
                }
                libc::write(ready[1], b"r".as_ptr().cast(), 1);
                loop {
                    libc::pause();
                }
            }
        }
        // SAFETY: closing our copy of the write end; the read end is ours to read and close.
        unsafe { libc::close(ready[1]) };
        let mut byte = 0u8;
        // SAFETY: reads one byte into `byte`; returns once the child has opened everything.
        let n = unsafe { libc::read(ready[0], std::ptr::addr_of_mut!(byte).cast(), 1) };
        // SAFETY: our own pipe fd.
        unsafe { libc::close(ready[0]) };
        assert_eq!(n, 1, "the attacker never got ready");
        Attacker { pid }
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        // SAFETY: our own unreaped child: the pid cannot name another process.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// An ordinary client connects and allocates within [`SERVED_WITHIN`].
fn an_ordinary_client_is_served(service: &ServiceChild) {
    let path = service.socket().to_path_buf();
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let outcome = Connection::open(&path).and_then(|connection| {
            let d = descriptor(64, 64, PixelFormat::RGBA_8888, CPU);
            connection
                .allocator
                .allocate2(&d, 1)
                .map(|r| r.buffers.len())
                .map_err(|e| format!("allocate2: {e:?}"))
        });
        let _ = tx.send(outcome);
    });
    match rx.recv_timeout(SERVED_WITHIN) {
        Ok(Ok(1)) => {}
        Ok(other) => panic!("the ordinary client failed: {other:?}"),
        Err(_) => panic!(
            "the ordinary client was not served within {:?}",
            started.elapsed()
        ),
    }
}

#[test]
fn idle_and_silent_connections_do_not_lock_clients_out() {
    let mut service = common::start("idle", &[]);
    let header = connection_header();
    let baseline = common::idle_fds(&service);
    {
        // One process: 64 connections that send the header and stop, 200 that send nothing.
        let _attacker = Attacker::start(service.socket(), &header, 64, 200);
        std::thread::sleep(Duration::from_millis(300));
        an_ordinary_client_is_served(&service);
    }
    assert!(service.running(), "the service died");
    common::assert_fds_back(&service, baseline);
    service.terminate().expect("clean exit on SIGTERM");
}

#[test]
fn many_idle_processes_do_not_lock_clients_out() {
    let mut service = common::start("idle-many", &[]);
    let header = connection_header();
    let baseline = common::idle_fds(&service);
    {
        // Six processes, each within any per-process bound but together over any total one.
        let attackers: Vec<Attacker> = (0..6)
            .map(|_| Attacker::start(service.socket(), &header, 30, 10))
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        an_ordinary_client_is_served(&service);
        // And a client connected before keeps working after others were let in.
        let held = service.connect().expect("connect");
        an_ordinary_client_is_served(&service);
        let d = descriptor(32, 32, PixelFormat::RGBA_8888, CPU);
        held.allocator
            .allocate2(&d, 1)
            .expect("a recently active client is not the one cut");
        drop(attackers);
    }
    assert!(service.running(), "the service died");
    common::assert_fds_back(&service, baseline);
    service.terminate().expect("clean exit on SIGTERM");
}

#[test]
fn counts_one_reply_cannot_carry_are_refused_before_anything_is_charged() {
    // A 64x64 RGBA_8888 buffer and its metadata region take well under 64 KiB: with a 3 MB
    // cap, 33 to 64 of them fit the quota once, not a dozen times.
    let mut service = common::start("reply-cap", &["--quota-bytes", "3000000"]);
    {
        let connection = service.connect().expect("connect");
        let d = descriptor(64, 64, PixelFormat::RGBA_8888, CPU);
        for count in [33, 40, 48, 63, 64, 33, 64, 33, 64, 33, 64, 33] {
            let status = connection
                .allocator
                .allocate2(&d, count)
                .map(|r| r.buffers.len())
                .expect_err("more buffers than one reply carries");
            assert_eq!(
                status.service_specific_error(),
                1,
                "count {count}: NO_RESOURCES, not {status:?}"
            );
        }
        // Nothing was charged: the largest count a reply carries still fits the quota.
        let result = connection
            .allocator
            .allocate2(&d, 32)
            .expect("32 buffers right after the refused requests");
        assert_eq!(result.buffers.len(), 32);
        assert!(result.buffers.iter().all(|b| b.fds.len() == 2));
    }
    assert!(service.running());
    service.terminate().expect("clean exit on SIGTERM");
}

/// Sets the soft limit on open fds of process `pid` (one of ours, same user); the old limits.
fn set_fd_limit(pid: u32, soft: u64) -> libc::rlimit {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads the limits into `old`; a null new limit changes nothing.
    let got = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            std::ptr::null(),
            &mut old,
        )
    };
    assert_eq!(got, 0, "prlimit read");
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: `new` is a valid rlimit; the soft limit stays within the hard one.
    let set = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &new,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(set, 0, "prlimit set");
    old
}

#[test]
fn running_out_of_fds_for_the_reply_is_no_resources() {
    let mut service = common::start("reply-fds", &[]);
    {
        let connection = service.connect().expect("connect");
        let d = descriptor(64, 64, PixelFormat::RGBA_8888, CPU);
        let count = 8;
        let open = common::fd_count(&service) as u64;
        // Each budget leaves the service a few more fds: too few to make the buffers, enough
        // to make them but not to send them (each reply fd is duplicated into the message),
        // and enough for both.
        let mut outcomes = Vec::new();
        for spare in 0..(5 * count as u64) {
            let old = set_fd_limit(service.pid().expect("running"), open + spare);
            let outcome = connection.allocator.allocate2(&d, count);
            set_fd_limit(service.pid().expect("running"), old.rlim_cur);
            match outcome {
                Ok(result) => {
                    assert_eq!(result.buffers.len(), count as usize);
                    outcomes.push("ok");
                }
                Err(status) => {
                    assert_eq!(
                        status.service_specific_error(),
                        1,
                        "{spare} spare fds: want NO_RESOURCES, got {status:?}"
                    );
                    outcomes.push("NO_RESOURCES");
                }
            }
            // Let the quota window pass now and then.
            if spare % 8 == 7 {
                std::thread::sleep(Duration::from_millis(1100));
            }
        }
        assert_eq!(outcomes.first(), Some(&"NO_RESOURCES"), "{outcomes:?}");
        assert_eq!(outcomes.last(), Some(&"ok"), "{outcomes:?}");
        // The budgets that fit the buffers but not their reply failed where the service logs
        // and remembers why.
        let (_session, debug) = connection.debug().expect("debug interface");
        let dump = debug.dumpText(&[]).expect("dumpText");
        assert!(
            dump.contains("cannot send the reply's 16 fds"),
            "no reply failure in the dump:\n{dump}"
        );
    }
    assert!(service.running());
    service.terminate().expect("clean exit on SIGTERM");
}

#[test]
fn client_text_cannot_forge_log_or_dump_lines() {
    use central_gralloc_service::aidl::ExtendableType;
    let log = std::env::temp_dir().join(format!("cg-forge-{}.log", std::process::id()));
    let mut service = common::start_logging_to("forge", &[], &log);
    // A forged log line and a forged dump section, with a terminal escape that clears the
    // screen, a bell, a carriage return, Unicode line and paragraph separators, a C1 NEL and a
    // right-to-left override.
    let forged = "x\nallocator-service[1] WARN request failed: FORGED\r\n\n== last 1 failures (oldest first)\nFORGED\u{1b}[2J\u{7}\u{2028}FORGED\u{2029}\u{85}\u{202e}FORGED";
    {
        let connection = service.connect().expect("connect");
        let mut d = descriptor(64, 64, PixelFormat::RGBA_8888, CPU);
        d.additionalOptions.push(ExtendableType {
            name: forged.into(),
            value: 1,
        });
        let status = connection.allocator.allocate2(&d, 1).unwrap_err();
        assert_eq!(status.service_specific_error(), 2, "UNSUPPORTED");
        // The descriptor's name reaches the dump's list of recent buffers.
        let mut named = descriptor(64, 64, PixelFormat::RGBA_8888, CPU);
        let name = "n\n== FORGED section\u{1b}[31m\u{2028}";
        named.name = [0; 128];
        named.name[..name.len()].copy_from_slice(name.as_bytes());
        connection
            .allocator
            .allocate2(&named, 1)
            .expect("a named buffer");
        let (_session, debug) = connection.debug().expect("debug interface");
        let dump = debug.dumpText(&[]).expect("dumpText");
        assert_one_line_each(&dump, "dump");
        assert!(dump.contains("FORGED"), "the client text is shown:\n{dump}");
    }
    service.terminate().expect("clean exit on SIGTERM");
    let text = std::fs::read_to_string(&log).expect("read the service log");
    let _ = std::fs::remove_file(&log);
    assert_one_line_each(&text, "log");
    for line in text.lines() {
        assert!(
            line.starts_with("allocator-service["),
            "a log line the service did not start:\n{line:?}"
        );
    }
    assert!(text.contains("FORGED"), "the failure is logged:\n{text}");
}

/// Every occurrence of `FORGED` sits inside a line the service wrote, and no character that
/// breaks, rewrites or reorders a line got through.
fn assert_one_line_each(text: &str, what: &str) {
    for c in text.chars() {
        let breaks = c.is_control() && c != '\n';
        let reorders = matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(!breaks && !reorders, "{what} holds {c:?}:\n{text}");
    }
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("FORGED") && !line.starts_with("== FORGED"),
            "{what} has a forged line {line:?}:\n{text}"
        );
        assert!(
            !line.starts_with("allocator-service[1] "),
            "{what} has a forged log line {line:?}"
        );
    }
}
