//! Prints the command line init would run for a service of an `.rc` file, shell-quoted on one line.
//!
//! Usage: `rc-exec-line FILE.rc [SERVICE]`. SERVICE may be left out when the file defines one
//! service. Arguments are quoted for a POSIX shell, so `eval "set -- $(rc-exec-line FILE.rc)"`
//! restores the exact argument vector init would pass to `execv`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, service) = match args.as_slice() {
        [path] => (path, None),
        [path, service] => (path, Some(service.as_str())),
        _ => {
            eprintln!("usage: rc-exec-line FILE.rc [SERVICE]");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("rc-exec-line: {path}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let found = match service {
        Some(name) => central_gralloc_packaging::find_service(&text, name),
        None => central_gralloc_packaging::only_service(&text),
    };
    match found {
        Ok(service) => {
            println!(
                "{}",
                central_gralloc_packaging::shell_quote(&service.command)
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("rc-exec-line: {path}: {err}");
            ExitCode::FAILURE
        }
    }
}
