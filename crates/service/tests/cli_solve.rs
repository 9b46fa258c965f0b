//! `gralloc solve`, `profiles` and `profile show` as a user runs them: the real binary.

use serde_json::Value;
use std::process::Command;

fn gralloc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gralloc"))
        .args(args)
        .output()
        .expect("run gralloc");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn solve_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["solve", "--json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = gralloc(&all);
    let value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    (code, value)
}

#[test]
fn solve_json_has_the_documented_fields() {
    let (code, v) = solve_json(&[
        "--profile",
        "soc",
        "--width",
        "1920",
        "--height",
        "1080",
        "--format",
        "RGBA_8888",
        "--usage",
        "GPU_RENDER_TARGET,COMPOSER_OVERLAY",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["format"], "RGBA_8888");
    assert_eq!(v["heap"], "contiguous");
    assert_eq!(v["contiguous"], true);
    assert_eq!(v["cache"], "cached");
    assert_eq!(v["stride"], 1920);
    assert_eq!(v["size"], 1920 * 1080 * 4);
    assert_eq!(v["devices"], serde_json::json!(["gpu", "display"]));
    assert_eq!(v["planes"][0]["stride"], 7680);
    assert!(v["reasons"]["heap"].as_str().unwrap().contains("display"));
}

#[test]
fn solve_odd_yv12_by_number_and_usage_number() {
    // YV12 = 0x32315659, usage 0x33 = CPU read/write often.
    let (code, v) = solve_json(&[
        "--profile",
        "host",
        "--width",
        "11",
        "--height",
        "11",
        "--format",
        "0x32315659",
        "--usage",
        "0x33",
    ]);
    assert_eq!(code, 0, "{v}");
    let planes = v["planes"].as_array().unwrap();
    assert_eq!(planes.len(), 3);
    assert_eq!(v["stride"], 16);
    assert_eq!(planes[1]["stride"], 16);
    assert_eq!(v["cache"], "cached");
}

#[test]
fn failures_are_json_errors_with_nonzero_exit() {
    let (code, v) = solve_json(&[
        "--profile",
        "soc",
        "--width",
        "64",
        "--height",
        "64",
        "--format",
        "RAW16",
        "--usage",
        "COMPOSER_OVERLAY",
    ]);
    assert_ne!(code, 0);
    assert_eq!(v["error"], "UNSUPPORTED");
    assert!(v["reason"].as_str().unwrap().contains("display"));
    let (code, v) = solve_json(&[
        "--profile",
        "soc",
        "--width",
        "0",
        "--height",
        "64",
        "--format",
        "RGBA_8888",
        "--usage",
        "GPU_TEXTURE",
    ]);
    assert_ne!(code, 0);
    assert_eq!(v["error"], "BAD_DESCRIPTOR");
    let (code, v) = solve_json(&[
        "--profile",
        "soc",
        "--width",
        "8",
        "--height",
        "8",
        "--format",
        "RGBA_8888",
        "--usage",
        "0x200000000",
    ]);
    assert_ne!(code, 0);
    assert_eq!(v["error"], "UNSUPPORTED");
}

#[test]
fn table_output_and_usage_errors() {
    let (code, out, _) = gralloc(&[
        "solve",
        "--profile",
        "cuttlefish",
        "--width",
        "640",
        "--height",
        "480",
        "--format",
        "IMPLEMENTATION_DEFINED",
        "--usage",
        "CAMERA_OUTPUT,GPU_TEXTURE",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("YCBCR_420_888 (requested IMPLEMENTATION_DEFINED)"),
        "{out}"
    );
    let (code, _, err) = gralloc(&["solve", "--profile", "soc", "--width", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("missing --height"), "{err}");
    let (code, _, err) = gralloc(&["solve", "--profile", "/nonexistent.conf", "--width", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn profiles_and_profile_show() {
    let (code, out, _) = gralloc(&["profiles"]);
    assert_eq!(code, 0);
    for name in ["soc", "cuttlefish", "host"] {
        assert!(out.contains(name), "{out}");
    }
    let (code, out, _) = gralloc(&["profile", "show", "soc", "--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let names: Vec<&str> = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cpu", "gpu", "display", "camera", "codec"]);
    assert_eq!(v["devices"][3]["address_bits"], 32);
    // The text form is the file format: write it out and load it back as a file.
    let (code, text, _) = gralloc(&["profile", "show", "soc"]);
    assert_eq!(code, 0);
    let path = std::env::temp_dir().join(format!("cg-cli-{}.conf", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let (code, out, _) = gralloc(&["profile", "show", path.to_str().unwrap(), "--json"]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(out.trim()).unwrap(), v);
    // A malformed file names the line.
    std::fs::write(
        &path,
        "profile x\nheap system\n  name = system\ndevice d\n  roles = cpu\n  bogus = 1\n",
    )
    .unwrap();
    let (code, _, err) = gralloc(&["profile", "show", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("line 6"), "{err}");
}

/// `gralloc probe` on whatever this machine has: a profile that parses back, JSON that carries
/// the same profile and a source for every value, and an overlay that changes only what it names.
#[test]
fn probe_prints_a_profile_with_sources_and_applies_an_overlay() {
    let (code, text, err) = gralloc(&["probe"]);
    assert_eq!(code, 0, "{err}");
    let probed = central_gralloc::profile::Profile::parse(&text).unwrap();
    assert_eq!(probed.name, "probe");
    assert!(probed.device("cpu").is_some());
    for line in text.lines().filter(|l| l.contains(" = ")) {
        assert!(line.contains("  # "), "value without a source: {line}");
    }
    let (code, out, _) = gralloc(&["probe", "--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let again = central_gralloc::profile::Profile::parse(v["profile"].as_str().unwrap()).unwrap();
    assert_eq!(again, probed);
    for section in v["sections"].as_array().unwrap() {
        for value in section["values"].as_array().unwrap() {
            assert!(!value["source"].as_str().unwrap().is_empty(), "{value}");
        }
    }
    let dir = std::env::temp_dir().join(format!("cg-cli-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let overlay = dir.join("overlay.conf");
    std::fs::write(&overlay, "device cpu\n  size-align = 65536\n").unwrap();
    let (code, out, err) = gralloc(&["profile", "show", &format!("probe:{}", overlay.display())]);
    assert_eq!(code, 0, "{err}");
    let merged = central_gralloc::profile::Profile::parse(&out).unwrap();
    assert_eq!(merged.device("cpu").unwrap().constraints.size_align, 65536);
    assert_eq!(merged.devices().len(), probed.devices().len());
    std::fs::write(&overlay, "device cpu\n  size-align = lots\n").unwrap();
    let (code, _, err) = gralloc(&["probe", "--overlay", overlay.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("line 2"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
