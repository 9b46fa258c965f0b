//! `traces/` and the traces compiled into the core (`report::SHIPPED`) are the same files.
//!
//! A Cargo-only test: it reads the source tree, which Soong's device tests do not have.

use central_gralloc::cache::report::SHIPPED;

#[test]
fn traces_dir_is_exactly_what_is_shipped() {
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
    }
}
