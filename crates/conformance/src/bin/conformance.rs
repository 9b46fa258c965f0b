//! `conformance`: runs the IAllocator conformance cases against a running service, over an RPC
//! socket or kernel binder (the VM tier runs it as a second process); one `PASS name` or
//! `FAIL name: reason` line per case, exit 0 when all pass.

use binder::Strong;
use central_gralloc_conformance as conformance;
use central_gralloc_service::aidl::IAllocator;
use central_gralloc_service::rpc::Connection;
use central_gralloc_service::SERVICE_NAME;
use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: conformance (--socket PATH | --binder [DEVICE])
  env CENTRAL_GRALLOC_MAPPER_DIR: the directory holding mapper.<suffix>.so for the mapper_* cases
  (on Android /vendor/lib64/hw; a statically linked build skips them)";

fn main() -> ExitCode {
    // Started by `fds_are_shared_memory` as its second process: do that and nothing else.
    if let Some(outcome) = conformance::peer_from_env() {
        return match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(reason) => {
                eprintln!("conformance peer: {reason}");
                ExitCode::FAILURE
            }
        };
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut connection = None;
    let allocator: Result<Strong<dyn IAllocator>, String> = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["--socket", path] => Connection::open(Path::new(path)).map(|c| {
            let allocator = c.allocator.clone();
            connection = Some(c);
            allocator
        }),
        ["--binder", rest @ ..] if rest.len() <= 1 => {
            let opened = match rest.first() {
                Some(device) => binder::rsbinder::ProcessState::init(device, 0)
                    .map(|_| ())
                    .map_err(|e| format!("cannot open {device}: {e}")),
                None => Ok(()),
            };
            opened.and_then(|()| {
                binder::wait_for_interface::<dyn IAllocator>(SERVICE_NAME)
                    .map_err(|e| format!("{SERVICE_NAME}: {e:?}"))
            })
        }
        _ => Err(USAGE.into()),
    };
    let allocator = match allocator {
        Ok(a) => a,
        Err(e) => {
            eprintln!("conformance: {e}");
            return ExitCode::from(2);
        }
    };
    let failed = conformance::run_all(&allocator, &mut std::io::stdout());
    drop(connection);
    let skipped = match conformance::mapper::unavailable() {
        Some(_) => conformance::CASES.iter().filter(|c| c.needs_mapper).count(),
        None => 0,
    };
    println!(
        "{} of {} cases passed",
        conformance::CASES.len() - failed.len() - skipped,
        conformance::CASES.len() - skipped
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
