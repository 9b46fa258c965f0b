//! `gralloc`: the command-line tool (solve, profiles, probe, replay, alloc, supported, dump, demo).

mod args;
mod client;
mod demo;
mod lockround;
mod probe;
mod replay;
mod solve;

use std::process::ExitCode;

const USAGE: &str = "usage: gralloc <command> [args]
commands:
  solve --profile NAME|FILE --width W --height H --format NAME|NUMBER --usage FLAGS|NUMBER [--layers N] [--json]
  profiles
  profile show NAME|FILE|probe[:OVERLAY] [--json]
  probe [--json] [--overlay FILE]
  replay TRACE [--json]
  alloc --socket PATH <solve flags> [--count N] [--json]
  supported --socket PATH <solve flags>
  dump --socket PATH
  demo";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let code = match command.as_str() {
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            0
        }
        "solve" => solve::run(rest),
        "profiles" => solve::profiles(rest),
        "profile" => solve::profile(rest),
        "alloc" => client::alloc(rest),
        "supported" => client::supported(rest),
        "dump" => client::dump(rest),
        "demo" => demo::run(rest),
        demo::SERVE_COMMAND => demo::serve(rest),
        "replay" => replay::run(rest),
        "probe" => probe::run(rest),
        _ => {
            eprintln!("gralloc: unknown command `{command}`\n{USAGE}");
            2
        }
    };
    ExitCode::from(code)
}
