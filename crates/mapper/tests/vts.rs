//! The stable-C VTS cases, ported to C, against the built `mapper.central.so` loaded with dlopen
//! and buffers from a real `allocator-service` over binder.
//!
//! `vts_stablec_cases_pass` compiles `tests/vts/vts_stablec.c` with the system C compiler (`cc`
//! from `PATH`, or `$VTS_CC`, with `$VTS_CFLAGS` added), copies the cdylib to a temporary
//! directory as `mapper.central.so` (the name the platform derives from
//! `getIMapperLibrarySuffix()`), starts `allocator-service` (memfd backend) on a temporary socket,
//! and runs the program with one end of a `SOCK_SEQPACKET` socketpair.
//! This process holds the RPC binder connection and serves the program's `allocate2` and
//! `isSupported` requests, passing each buffer's fds with `SCM_RIGHTS` (see the protocol at the
//! top of the C file): the program gets buffers the way libui does, from the allocator over
//! binder, and builds its own `native_handle_t` around them.
//!
//! `allocator-service` is another package's binary, which Cargo builds for that package's tests
//! only, so the test builds it with `cargo build` into the same target directory first (a no-op
//! when it is up to date).

use binder::ExceptionCode;
use central_gralloc_service::aidl::{BufferDescriptorInfo, BufferUsage, IAllocator, PixelFormat};
use central_gralloc_service::rpc::Connection;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The 52 cases of `VtsHalGraphicsMapperStableC_TargetTest` on Android 14/15: each must be
/// reported (PASS, or SKIP where VTS itself skips).
const VTS_A15_CASES: [&str; 52] = [
    "VersionChecks",
    "AllV5CallbacksDefined",
    "DualLoadIsIdentical",
    "CanAllocate",
    "ImportFreeBuffer",
    "ImportFreeBufferSingleton",
    "ImportBufferNegative",
    "FreeBufferNegative",
    "LockUnlockBasic",
    "Lock_YCRCB_420_SP",
    "YV12SubsampleMetadata",
    "Lock_YV12",
    "Lock_YCBCR_420_888",
    "Lock_RAW10",
    "Lock_RAW12",
    "Lock_YCBCR_P010",
    "LockBadAccessRegion",
    "UnlockNegative",
    "UnlockNotImported",
    "UnlockNotLocked",
    "LockUnlockNested",
    "FlushRereadBasic",
    "FlushLockedBufferBadBuffer",
    "RereadLockedBufferBadBuffer",
    "GetBufferId",
    "GetName",
    "GetWidthHeight",
    "GetLayerCount",
    "GetPixelFormatRequested",
    "GetPixelFormatFourCC",
    "GetPixelFormatModifier",
    "GetUsage",
    "GetUsage64",
    "GetAllocationSize",
    "GetProtectedContent",
    "GetCompression",
    "GetInterlaced",
    "GetChromaSiting",
    "GetPlaneLayouts",
    "GetCrop",
    "GetSetDataspace",
    "GetSetBlendMode",
    "GetSetSmpte2086",
    "GetCta861_3",
    "GetSmpte2094_10",
    "GetSmpte2094_40",
    "GetStride",
    "SupportsRequiredGettersSetters",
    "CheckRequiredSettersIfHasGetters",
    "ListSupportedWorks",
    "GetMetadataBadValue",
    "GetUnsupportedMetadata",
];

/// VTS cases that may report SKIP, and why VTS allows it.
const MAY_SKIP: [(&str, &str); 1] = [(
    "GetUsage64",
    "VTS skips it when isSupported(FRONT_BUFFER | GPU_RENDER_TARGET | ...) is false",
)];

/// What the exported dynamic symbol table of the library must be, exactly.
const EXPORTS: [(&str, &str); 3] = [
    ("AIMapper_loadIMapper", "FUNC"),
    ("ANDROID_HAL_MAPPER_VERSION", "OBJECT"),
    ("ANDROID_HAL_STABLEC_VERSION", "OBJECT"),
];

#[test]
fn vts_stablec_cases_pass() {
    let dir = TempDir::new("vts");
    let program = compile_harness(&dir);
    let library = install_library(&dir);
    let service = ServiceProcess::start(&service_binary());
    let connection = Connection::open(service.path()).expect("connect to allocator-service");

    let (ours, theirs) = seqpacket_pair();
    let theirs_raw = theirs.as_raw_fd();
    let mut command = Command::new(&program);
    command
        .arg(&library)
        .arg(theirs_raw.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and only calls fcntl(2), which
    // is async-signal-safe; it clears close-on-exec on the child's copy of `theirs_raw`, an fd
    // this process owns (in `theirs`) for the whole spawn.
    unsafe {
        command.pre_exec(move || {
            if libc::fcntl(theirs_raw, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().expect("run the compiled harness");
    // The child has its copy; ours must go so the socket reads EOF when the child exits.
    drop(theirs);
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));

    let served = serve(&ours, &*connection.allocator);
    let status = wait_with_timeout(&mut child, Duration::from_secs(60));
    let output = stdout.join().expect("stdout reader");
    let errors = stderr.join().expect("stderr reader");
    drop(connection);

    println!("{output}");
    if !errors.is_empty() {
        println!("stderr:\n{errors}");
    }
    let requests = served.unwrap_or_else(|e| panic!("serving the harness: {e}\n{output}"));
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "the harness failed ({status:?}) after {requests} allocator requests; output above"
    );
    check_report(&output);
}

/// The exported dynamic symbols are the three the platform looks up, and nothing else of ours.
#[test]
fn library_exports_exactly_the_mapper_symbols() {
    let library = built_library();
    let out = Command::new("readelf")
        .args(["--dyn-syms", "--wide"])
        .arg(&library)
        .output()
        .unwrap_or_else(|e| {
            panic!("readelf (binutils) is needed to check the exported symbols: {e}")
        });
    assert!(out.status.success(), "readelf failed: {out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    let mut defined = Vec::new();
    for line in table.lines() {
        // Num: Value Size Type Bind Vis Ndx Name
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 || !fields[0].ends_with(':') {
            continue;
        }
        let (size, kind, bind, ndx, name) = (fields[2], fields[3], fields[4], fields[6], fields[7]);
        if ndx == "UND" || (bind != "GLOBAL" && bind != "WEAK") {
            continue;
        }
        let name = name.split('@').next().unwrap_or(name);
        defined.push((name.to_string(), kind.to_string(), size.to_string()));
    }
    defined.sort();
    let names: Vec<&str> = defined.iter().map(|(n, _, _)| n.as_str()).collect();
    let expected: Vec<&str> = EXPORTS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, expected, "exported symbols of {}", library.display());
    for (name, kind, size) in &defined {
        let want = EXPORTS.iter().find(|(n, _)| n == name).map(|(_, k)| *k);
        assert_eq!(Some(kind.as_str()), want, "{name} is a {kind}");
        if kind == "OBJECT" {
            assert_eq!(size, "4", "{name} must be a 4-byte uint32_t");
        }
    }
}

/// Every VTS case was reported, none failed, and the summary says so.
fn check_report(output: &str) {
    let mut passed = 0;
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    for line in output.lines() {
        if line.starts_with("PASS ") {
            passed += 1;
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            failed.push(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("SKIP ") {
            skipped.push(rest.split(':').next().unwrap_or(rest).to_string());
        }
    }
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
    for case in VTS_A15_CASES {
        let pass = output.lines().any(|l| l == format!("PASS {case}"));
        let skip = skipped.iter().any(|s| s == case);
        let allowed = MAY_SKIP.iter().any(|(n, _)| *n == case);
        assert!(
            pass || (skip && allowed),
            "VTS case {case} was not reported as passed{}",
            if skip { " (skipped)" } else { "" }
        );
    }
    let summary = format!("{passed} passed, 0 failed");
    assert_eq!(
        output.lines().last(),
        Some(summary.as_str()),
        "the summary line does not match the case lines"
    );
}

// ----------------------------------------------------------------------------------------------
// Serving the harness's allocator requests.
// ----------------------------------------------------------------------------------------------

/// Reply kinds (the C side's REPLY_*).
const REPLY_OK: i32 = 0;
const REPLY_ALLOCATION_ERROR: i32 = 1;
const REPLY_TRANSPORT: i32 = 2;

/// Answers requests until the harness closes its end; returns how many it served.
fn serve(sock: &OwnedFd, allocator: &dyn IAllocator) -> Result<usize, String> {
    let mut served = 0;
    let mut buf = [0u8; 1024];
    loop {
        // SAFETY: recv(2) into `buf`, which is valid for `buf.len()` bytes, on an fd we own.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("recv: {e}"));
        }
        if n == 0 {
            return Ok(served);
        }
        let text = std::str::from_utf8(&buf[..n as usize])
            .map_err(|_| "request is not UTF-8".to_string())?;
        let (op, descriptor, count) = parse_request(text)?;
        match op {
            'S' => {
                let reply = match allocator.isSupported(&descriptor) {
                    Ok(yes) => [REPLY_OK, i32::from(yes), 0, 0],
                    Err(status) => [REPLY_TRANSPORT, status.exception_code() as i32, 0, 0],
                };
                send_with_fds(sock, &ints_bytes(&reply), &[])?;
            }
            'A' => match allocator.allocate2(&descriptor, count) {
                Ok(result) => {
                    let count = i32::try_from(result.buffers.len()).unwrap_or(i32::MAX);
                    send_with_fds(sock, &ints_bytes(&[REPLY_OK, 0, result.stride, count]), &[])?;
                    for handle in &result.buffers {
                        let mut ints = vec![
                            i32::try_from(handle.fds.len()).unwrap_or(i32::MAX),
                            i32::try_from(handle.ints.len()).unwrap_or(i32::MAX),
                        ];
                        ints.extend_from_slice(&handle.ints);
                        let fds: Vec<RawFd> =
                            handle.fds.iter().map(|f| f.as_ref().as_raw_fd()).collect();
                        send_with_fds(sock, &ints_bytes(&ints), &fds)?;
                    }
                    // `result` drops here: this process's copies of the fds close; the
                    // harness holds its own from SCM_RIGHTS.
                }
                Err(status) => {
                    let reply = if status.exception_code() == ExceptionCode::ServiceSpecific {
                        [
                            REPLY_ALLOCATION_ERROR,
                            status.service_specific_error(),
                            0,
                            0,
                        ]
                    } else {
                        [REPLY_TRANSPORT, status.exception_code() as i32, 0, 0]
                    };
                    send_with_fds(sock, &ints_bytes(&reply), &[])?;
                }
            },
            other => return Err(format!("unknown request {other:?}")),
        }
        served += 1;
    }
}

/// `"A|S WIDTH HEIGHT LAYERS FORMAT USAGE RESERVED COUNT NAME"`; NAME may hold spaces.
fn parse_request(text: &str) -> Result<(char, BufferDescriptorInfo, i32), String> {
    let fields: Vec<&str> = text.splitn(9, ' ').collect();
    let [op, width, height, layers, format, usage, reserved, count, name_text] = fields[..] else {
        return Err(format!("malformed request {text:?}"));
    };
    let op = op.chars().next().unwrap_or('?');
    let number = |what: &str, field: &str| -> Result<i64, String> {
        field
            .parse::<i64>()
            .or_else(|_| field.parse::<u64>().map(|u| u as i64))
            .map_err(|_| format!("{what} {field:?} in {text:?}"))
    };
    let width = number("width", width)? as i32;
    let height = number("height", height)? as i32;
    let layer_count = number("layers", layers)? as i32;
    let format = number("format", format)? as i32;
    let usage = number("usage", usage)?;
    let reserved = number("reserved", reserved)?;
    let count = number("count", count)? as i32;
    let mut name = [0u8; 128];
    let bytes = name_text.as_bytes();
    let len = bytes.len().min(name.len() - 1);
    name[..len].copy_from_slice(&bytes[..len]);
    let descriptor = BufferDescriptorInfo {
        name,
        width,
        height,
        layerCount: layer_count,
        format: PixelFormat(format),
        usage: BufferUsage(usage),
        reservedSize: reserved,
        additionalOptions: Vec::new(),
    };
    Ok((op, descriptor, count))
}

fn ints_bytes(ints: &[i32]) -> Vec<u8> {
    ints.iter().flat_map(|i| i.to_le_bytes()).collect()
}

/// One message with `fds` attached as `SCM_RIGHTS` (none if empty).
fn send_with_fds(sock: &OwnedFd, data: &[u8], fds: &[RawFd]) -> Result<(), String> {
    let fd_bytes = std::mem::size_of_val(fds);
    let space = if fds.is_empty() {
        0
    } else {
        // SAFETY: CMSG_SPACE only computes a size.
        unsafe { libc::CMSG_SPACE(fd_bytes as u32) as usize }
    };
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer is `space` bytes, aligned, and CMSG_SPACE(fd_bytes) was
        // computed for exactly one header carrying `fd_bytes` of data, so CMSG_FIRSTHDR is
        // non-null and CMSG_DATA has room for the fds.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr().cast::<u8>(),
                libc::CMSG_DATA(cmsg),
                fd_bytes,
            );
        }
    }
    // SAFETY: `msg` points at `iov` (valid for `data.len()` bytes) and `control`, both alive
    // for the call; the fds are open (owned by the allocation result the caller holds).
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(format!("sendmsg: {}", std::io::Error::last_os_error()));
    }
    if n as usize != data.len() {
        return Err(format!("sendmsg sent {n} of {} bytes", data.len()));
    }
    Ok(())
}

fn seqpacket_pair() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: socketpair(2) writes two fds into the array on success.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "socketpair: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just created by socketpair and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        text.push_str(&String::from_utf8_lossy(&bytes));
        text
    })
}

fn wait_with_timeout(
    child: &mut Child,
    limit: Duration,
) -> Result<std::process::ExitStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no exit within {limit:?}; killed"));
            }
            Err(e) => return Err(format!("wait: {e}")),
        }
    }
}

// ----------------------------------------------------------------------------------------------
// The pieces: compiler, library, service.
// ----------------------------------------------------------------------------------------------

/// `target/<profile>`, from this test executable's path (`target/<profile>/deps/vts-HASH`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("the test binary lives in target/<profile>/deps")
}

/// The cdylib Cargo built with the rlib this test links. A library with a cdylib crate type gets
/// no hash in its file name, so `deps/` holds exactly one; Cargo copies it up to
/// `target/<profile>/` only when the library itself is a requested target.
fn built_library() -> PathBuf {
    let name = "libcentral_gralloc_mapper.so";
    let profile = profile_dir();
    let candidates = [profile.join("deps").join(name), profile.join(name)];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "{name} is in neither {} nor {}: the mapper's cdylib is built with this test \
                 (crate-type cdylib in crates/mapper/Cargo.toml)",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

/// Copies the cdylib as `mapper.central.so`, the name the platform loads for suffix `central`.
fn install_library(dir: &TempDir) -> PathBuf {
    let target = dir.path().join("mapper.central.so");
    std::fs::copy(built_library(), &target).expect("copy the mapper library");
    target
}

fn compile_harness(dir: &TempDir) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vts/vts_stablec.c");
    let output = dir.path().join("vts_stablec");
    let cc = std::env::var_os("VTS_CC").unwrap_or_else(|| "cc".into());
    // $VTS_CFLAGS adds flags, e.g. -fsanitize=address,undefined to check the harness itself.
    // (Not CC/CFLAGS: build scripts of dependencies read those.)
    let extra = std::env::var("VTS_CFLAGS").unwrap_or_default();
    let result = Command::new(&cc)
        .args(["-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror"])
        .args(extra.split_whitespace())
        .arg("-o")
        .arg(&output)
        .arg(&source)
        .args(["-ldl", "-pthread"])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the VTS harness needs a C compiler: running {:?} failed: {e} \
                 (install one, e.g. gcc, or set VTS_CC)",
                cc
            )
        });
    assert!(
        result.status.success(),
        "compiling {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&result.stderr)
    );
    output
}

/// Builds `allocator-service` into this test's target directory and returns its path.
fn service_binary() -> PathBuf {
    let profile = profile_dir();
    let target_dir = profile.parent().expect("target dir").to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "-p", "central-gralloc-service"])
        .args(["--bin", "allocator-service", "--target-dir"])
        .arg(&target_dir);
    match profile.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
        None => panic!("unexpected target layout {}", profile.display()),
    }
    let status = command.status().expect("run cargo build");
    assert!(status.success(), "cargo build of allocator-service failed");
    let binary = profile.join("allocator-service");
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

/// A running `allocator-service` on a temporary socket; SIGTERM and reaped on drop.
struct ServiceProcess {
    child: Child,
    path: PathBuf,
}

impl ServiceProcess {
    fn start(binary: &Path) -> ServiceProcess {
        let path = unique_path("vts-svc", "sock");
        let child = Command::new(binary)
            .arg("--socket")
            .arg(&path)
            .args(["--backend", "memfd"])
            .env("CENTRAL_GRALLOC_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn allocator-service");
        let service = ServiceProcess { child, path };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Connection::open(&service.path).is_err() {
            assert!(
                Instant::now() < deadline,
                "allocator-service never accepted"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        service
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child, not yet reaped, so the pid cannot name another
        // process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        if wait_with_timeout(&mut self.child, Duration::from_secs(10)).is_err() {
            let _ = self.child.kill();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn unique_path(tag: &str, ext: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "cg-{tag}-{}-{}.{ext}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = unique_path(tag, "d");
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
