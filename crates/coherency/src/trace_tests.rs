//! Trace parsing errors, and every shipped trace replayed under every policy.

use crate::policy::Policy;
use crate::report::{replay_trace, shipped_table, table, SHIPPED};
use crate::trace::Trace;

fn error_line(text: &str) -> (usize, String) {
    let e = Trace::parse(text).expect_err("the trace is malformed");
    (e.line, e.to_string())
}

const HEAD: &str =
    "profile soc\nbuffer b 64x64 YCBCR_420_888 CPU_READ_OFTEN,GPU_TEXTURE,CAMERA_OUTPUT\n";

#[test]
fn malformed_traces_name_their_line() {
    let cases: [(&str, usize, &str); 14] = [
        ("buffer b 64x64 RGBA_8888 GPU_TEXTURE\n", 1, "profile"),
        ("profile nowhere\n", 1, "unknown profile"),
        ("profile soc\nprofile soc\n", 2, "second"),
        (
            "profile soc\nbuffer b 64by64 RGBA_8888 GPU_TEXTURE\n",
            2,
            "size",
        ),
        ("profile soc\nbuffer b 64x64 NOPE GPU_TEXTURE\n", 2, ""),
        (
            "profile soc\nbuffer b 64x64 RGBA_8888 GPU_TEXTUR\n",
            2,
            "GPU_TEXTUR",
        ),
        ("\n# comment\ncpu b begin read\n", 3, "unknown buffer"),
        ("dev b gpu write # trailing comment\n", 3, "does not write"),
        ("dev b teapot read\n", 3, "no device `teapot`"),
        ("dev b display read\n", 3, "not attached"),
        ("cpu b begin write\n", 3, "CPU_WRITE"),
        ("cpu b end\n", 3, "not locked"),
        (
            "cpu b begin read\ncpu b begin read\n",
            4,
            "already locked by the CPU (line 3)",
        ),
        ("cpu b begin read\n\n", 3, "still locked"),
    ];
    for (i, (text, line, needle)) in cases.into_iter().enumerate() {
        let text = if i < 7 {
            text.to_string()
        } else {
            format!("{HEAD}{text}")
        };
        let (got, message) = error_line(&text);
        assert_eq!(got, line, "case {i}: {message}");
        assert!(
            message.contains(needle),
            "case {i}: `{message}` lacks `{needle}`"
        );
        assert!(message.starts_with(&format!("line {line}: ")), "{message}");
    }
    // `dev b gpu read` on a buffer the GPU only reads is fine; writing is not.
    let (line, message) = error_line(&format!("{HEAD}dev b gpu write\n"));
    assert_eq!(line, 3);
    assert!(message.contains("does not write"), "{message}");
    let (_, message) = error_line(&format!("{HEAD}dev b cpu read\n"));
    assert!(message.contains("is the CPU"), "{message}");
    assert!(message.starts_with("line 3"), "{message}");
}

#[test]
fn a_well_formed_trace_parses() {
    let trace = Trace::parse(&format!(
        "{HEAD}dev b camera write\ncpu b begin read\ncpu b end  # done\n"
    ))
    .unwrap();
    assert_eq!(trace.buffers.len(), 1);
    assert_eq!(trace.events.len(), 3);
    assert_eq!(trace.events[2].line, 5);
}

/// Every file in traces/ is shipped (compiled in) with the same text, and replays cleanly: the
/// tracker makes no mistake and does exactly as few operations as the offline optimum; naive does
/// strictly more on the camera, video and composition traces.
#[test]
fn every_shipped_trace_replays_at_the_optimum() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("traces");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        SHIPPED.len(),
        "traces/ and report::SHIPPED differ"
    );
    for path in files {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let shipped = SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
        assert_eq!(
            shipped,
            Some(text.as_str()),
            "{name} is not in report::SHIPPED"
        );
        let trace = Trace::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let replay = replay_trace(&trace).unwrap();
        let [naive, tracker, minimum] =
            [Policy::Naive, Policy::Tracker, Policy::Minimum].map(|p| replay.get(p));
        let shown = table(name, &trace, &replay);
        assert!(
            naive.correct() && tracker.correct() && minimum.correct(),
            "{shown}"
        );
        assert_eq!(tracker.total(), minimum.total(), "{shown}");
        assert!(tracker.total() <= naive.total(), "{shown}");
        if ["camera", "video", "composition"]
            .iter()
            .any(|k| name.contains(k))
        {
            assert!(naive.total() > tracker.total(), "{shown}");
        }
    }
    let summary = shipped_table();
    assert!(!summary.contains("error"), "{summary}");
    for (position, policy) in Policy::ALL.into_iter().enumerate() {
        assert_eq!(policy.index(), position, "{}", policy.name());
    }
}
