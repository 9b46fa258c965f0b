//! `rc-identity RC SERVICE -- PROGRAM [ARGS...]`: executes PROGRAM with the identity Android's
//! init gives SERVICE of the `.rc` file RC, for the VM tier's busybox userland, which has no tool
//! that can keep a capability across a change of user.
//!
//! As init does for a service: `user` becomes the uid, the first `group` the gid and the others
//! the supplementary groups, and `capabilities` stay effective after the uid change (kept across
//! `setuid`, then raised as ambient so they survive `execve`). Names are Android's ids
//! (`android_filesystem_config.h`) and capability names without `CAP_`. The bounding set is not
//! narrowed (init drops the capabilities not listed from it); nothing in the VM relies on that.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::ffi::CString;
use std::process::ExitCode;

use nix::libc;
use nix::unistd::{execv, setgid, setgroups, setuid, Gid, Uid};

/// Android ids for the user and group names the `.rc` files here use.
const AIDS: &[(&str, u32)] = &[
    ("root", 0),
    ("system", 1000),
    ("graphics", 1003),
    ("audio", 1005),
    ("camera", 1006),
    ("media", 1013),
    ("drmrpc", 1026),
];

/// Capability numbers (`linux/capability.h`) for the names an `.rc` may list.
const CAPABILITIES: &[(&str, u32)] = &[
    ("CHOWN", 0),
    ("DAC_OVERRIDE", 1),
    ("NET_ADMIN", 12),
    ("IPC_LOCK", 14),
    ("SYS_ADMIN", 21),
    ("SYS_NICE", 23),
    ("SYS_RESOURCE", 24),
    ("WAKE_ALARM", 35),
    ("BLOCK_SUSPEND", 36),
];

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [rc, service, dashes, program, rest @ ..] if dashes == "--" => {
            run(rc, service, program, rest)
        }
        _ => Err("usage: rc-identity RC SERVICE -- PROGRAM [ARGS...]".into()),
    };
    // Only a failure returns: success is the exec.
    if let Err(e) = result {
        eprintln!("rc-identity: {e}");
    }
    ExitCode::FAILURE
}

fn aid(name: &str) -> Result<u32, String> {
    AIDS.iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, id)| id)
        .ok_or_else(|| format!("no Android id known for `{name}`"))
}

fn capability(name: &str) -> Result<u32, String> {
    CAPABILITIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, bit)| bit)
        .ok_or_else(|| format!("unknown capability `{name}`"))
}

fn run(rc: &str, service: &str, program: &str, args: &[String]) -> Result<(), String> {
    let text = std::fs::read_to_string(rc).map_err(|e| format!("{rc}: {e}"))?;
    let service = central_gralloc_packaging::find_service(&text, service)
        .map_err(|e| format!("{rc}: {e}"))?;
    let user = service
        .option("user")
        .and_then(|a| a.first())
        .map_or("root", String::as_str);
    let uid = aid(user)?;
    let groups = service
        .option("group")
        .map(|names| names.iter().map(|n| aid(n)).collect::<Result<Vec<_>, _>>())
        .transpose()?
        .unwrap_or_default();
    let gid = groups.first().copied().unwrap_or(uid);
    let supplementary: Vec<Gid> = groups.iter().skip(1).map(|&g| Gid::from_raw(g)).collect();
    let caps = service
        .option("capabilities")
        .map(|names| {
            names
                .iter()
                .map(|n| capability(n))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();

    let argv = std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .map(|a| CString::new(a).map_err(|_| format!("argument {a:?} contains a NUL")))
        .collect::<Result<Vec<_>, _>>()?;
    let path = argv.first().ok_or("no program")?.clone();

    if !caps.is_empty() {
        nix::sys::prctl::set_keepcaps(true).map_err(|e| format!("PR_SET_KEEPCAPS: {e}"))?;
    }
    setgroups(&supplementary).map_err(|e| format!("setgroups: {e}"))?;
    setgid(Gid::from_raw(gid)).map_err(|e| format!("setgid {gid}: {e}"))?;
    setuid(Uid::from_raw(uid)).map_err(|e| format!("setuid {uid}: {e}"))?;
    if !caps.is_empty() {
        raise_ambient(&caps)?;
    }
    let Err(err) = execv(&path, &argv);
    Err(format!("exec {program}: {err}"))
}

/// Makes `caps` effective, permitted and inheritable, then ambient, so that they survive the
/// `execve` of a program without file capabilities.
fn raise_ambient(caps: &[u32]) -> Result<(), String> {
    let mut data = [CapData::default(); 2];
    for &cap in caps {
        let word = data
            .get_mut((cap / 32) as usize)
            .ok_or_else(|| format!("capability {cap} is beyond version 3's 64 bits"))?;
        let bit = 1u32 << (cap % 32);
        word.effective |= bit;
        word.permitted |= bit;
        word.inheritable |= bit;
    }
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: capset reads one header and two data structs (version 3), both live for the
    // call and laid out as `linux/capability.h` declares them (#[repr(C)], u32 fields).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(format!("capset: {}", std::io::Error::last_os_error()));
    }
    for &cap in caps {
        // SAFETY: PR_CAP_AMBIENT_RAISE takes integer arguments only; no memory is passed.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                libc::c_ulong::from(cap),
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if rc != 0 {
            return Err(format!(
                "PR_CAP_AMBIENT_RAISE {cap}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}
