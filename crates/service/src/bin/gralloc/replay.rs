//! `gralloc replay TRACE [--json]`: a cache trace under the naive policy, the tracker and the optimum.

use crate::args::Args;
use central_gralloc::profile::Profile;
use central_gralloc_coherency::report::{self, SHIPPED};
use central_gralloc_coherency::{Policy, Trace};
use std::path::Path;

const USAGE: &str = "usage: gralloc replay TRACE [--json]
TRACE is a trace file, or the name of a shipped trace:";

/// Runs the subcommand; the exit code is 0, 1 for a malformed trace, 2 for bad arguments.
pub fn run(rest: &[String]) -> u8 {
    let mut args = Args::new(rest);
    let json = args.switch("--json");
    let Some(trace) = args.positional() else {
        eprintln!("{USAGE} {}", shipped_names());
        return 2;
    };
    if let Err(e) = args.finish() {
        eprintln!("gralloc replay: {e}\n{USAGE} {}", shipped_names());
        return 2;
    }
    let (name, text) = match load(&trace) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("gralloc replay: {e}");
            return 1;
        }
    };
    // A trace's `profile` line may name a built-in or a profile file.
    let parsed = Trace::parse_with(&text, |p| {
        Profile::resolve(p).map_err(|e| format!("profile `{p}`: {e}"))
    });
    let result = parsed.and_then(|t| report::replay_trace(&t).map(|r| (t, r)));
    let (parsed, replay) = match result {
        Ok(done) => done,
        Err(e) => {
            eprintln!("gralloc replay: {trace}: {e}");
            return 1;
        }
    };
    if json {
        println!("{}", to_json(&name, &replay));
    } else {
        print!("{}", report::table(&name, &parsed, &replay));
    }
    0
}

/// The trace's name (file stem) and text: a file if one exists at `arg`, else a shipped trace.
fn load(arg: &str) -> Result<(String, String), String> {
    let path = Path::new(arg);
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(arg)
        .to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((name, text)),
        Err(e) => match SHIPPED.iter().find(|(n, _)| *n == arg) {
            Some((n, text)) => Ok((n.to_string(), text.to_string())),
            None => Err(format!(
                "cannot read {arg}: {e} (shipped traces: {})",
                shipped_names()
            )),
        },
    }
}

fn shipped_names() -> String {
    SHIPPED
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `{"trace": NAME, "policies": {"naive": {...}, "tracker": {...}, "minimum": {...}}}`.
fn to_json(name: &str, replay: &report::Replay) -> String {
    let policies: Vec<String> = Policy::ALL
        .iter()
        .map(|&p| {
            let c = replay.get(p);
            format!(
                "\"{}\": {{\"cpu_syncs\": {}, \"device_cleans\": {}, \"device_invalidates\": {}, \"total\": {}, \
                 \"stale_reads\": {}, \"lost_writes\": {}}}",
                p.name(),
                c.cpu_syncs,
                c.device_cleans,
                c.device_invalidates,
                c.total(),
                c.stale_reads,
                c.lost_writes
            )
        })
        .collect();
    format!(
        "{{\"trace\": {}, \"policies\": {{{}}}}}",
        json_string(name),
        policies.join(", ")
    )
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_every_policy_and_escapes_the_name() {
        let (name, text) = load("camera-recording").unwrap();
        let trace = Trace::parse(&text).unwrap();
        let json = to_json(&name, &report::replay_trace(&trace).unwrap());
        assert!(json.starts_with(
            "{\"trace\": \"camera-recording\", \"policies\": {\"naive\": {\"cpu_syncs\": 0"
        ));
        for key in [
            "\"tracker\": {",
            "\"minimum\": {",
            "\"device_invalidates\"",
            "\"lost_writes\": 0}}}",
        ] {
            assert!(json.contains(key), "{json} lacks {key}");
        }
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }

    #[test]
    fn bad_arguments_and_missing_traces_fail() {
        assert_eq!(run(&[]), 2);
        assert_eq!(run(&["a".into(), "b".into()]), 2);
        assert_eq!(run(&["/nonexistent/x.trace".into()]), 1);
        assert_eq!(run(&["screenshot".into(), "--json".into()]), 0);
    }
}
