//! `docs/architecture.md` describes the handle and the metadata region field by field; these
//! checks keep its tables in step with the code, so the document cannot drift from the layouts
//! every process relies on.

use central_gralloc_memory::handle::{HANDLE_FDS, HANDLE_INTS, HANDLE_MAGIC, HANDLE_VERSION};
use central_gralloc_memory::metadata::*;

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/architecture.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first two cells of each row of the first table after the heading starting with
/// `heading`, header and separator rows left out.
fn table(doc: &str, heading: &str) -> Vec<(String, String)> {
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no section `## {heading}`"));
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[2].to_owned())
        })
        .collect()
}

/// `12`, or a sum such as `4 + 40`.
fn number(cell: &str) -> usize {
    cell.split('+')
        .map(|n| {
            n.trim()
                .parse::<usize>()
                .unwrap_or_else(|e| panic!("`{cell}`: {e}"))
        })
        .sum()
}

#[test]
fn the_documented_handle_ints_tile_the_encoding() {
    let rows = table(&doc(), "4. The buffer handle");
    let mut next = 0;
    for (ints, field) in &rows {
        let (first, last) = match ints.split_once('–') {
            Some((a, b)) => (number(a), number(b)),
            None => (number(ints), number(ints)),
        };
        assert_eq!(
            first, next,
            "row `{ints} | {field}` does not follow the previous one"
        );
        next = last + 1;
    }
    assert_eq!(next, HANDLE_INTS, "the rows cover ints 0..{next}");
    let field = |index: usize| {
        rows.iter()
            .find(|(ints, _)| number(ints.split('–').next().unwrap_or("")) == index)
            .map(|(_, f)| f.as_str())
            .unwrap_or_default()
    };
    assert!(field(0).contains(&String::from_utf8_lossy(&HANDLE_MAGIC.to_le_bytes()).to_string()));
    assert!(field(1).ends_with(&HANDLE_VERSION.to_string()));
    assert!(field(2).ends_with(&HANDLE_INTS.to_string()));
    assert!(field(3).ends_with(&HANDLE_FDS.to_string()));
}

#[test]
fn the_documented_metadata_fields_sit_at_the_code_offsets() {
    let rows = table(&doc(), "5. The metadata region");
    let mut next = 0;
    let mut documented = Vec::new();
    for (offset, bytes) in &rows {
        let offset = number(offset);
        assert_eq!(
            offset, next,
            "the row at {offset} does not follow the previous one"
        );
        documented.push(offset);
        next = if bytes == "n" {
            usize::MAX
        } else {
            offset + number(bytes)
        };
    }
    assert_eq!(next, usize::MAX, "the table ends with the client's bytes");
    assert_eq!(documented.last(), Some(&HEADER_SIZE));
    for (name, offset) in [
        ("OFFSET_MAGIC", OFFSET_MAGIC),
        ("OFFSET_VERSION", OFFSET_VERSION),
        ("OFFSET_CACHE_STATE", OFFSET_CACHE_STATE),
        ("OFFSET_BUFFER_ID", OFFSET_BUFFER_ID),
        ("OFFSET_HEADER_SIZE", OFFSET_HEADER_SIZE),
        ("OFFSET_FLAGS", OFFSET_FLAGS),
        ("OFFSET_RESERVED_SIZE", OFFSET_RESERVED_SIZE),
        ("OFFSET_DATASPACE", OFFSET_DATASPACE),
        ("OFFSET_BLEND_MODE", OFFSET_BLEND_MODE),
        ("OFFSET_CROP", OFFSET_CROP),
        ("OFFSET_NAME", OFFSET_NAME),
        ("OFFSET_SMPTE2086", OFFSET_SMPTE2086),
        ("OFFSET_CTA861_3", OFFSET_CTA861_3),
        ("OFFSET_SMPTE2094_40_LEN", OFFSET_SMPTE2094_40_LEN),
        ("OFFSET_SMPTE2094_10_LEN", OFFSET_SMPTE2094_10_LEN),
        ("OFFSET_LOCK_FLAGS", OFFSET_LOCK_FLAGS),
        ("OFFSET_LOCK_READERS", OFFSET_LOCK_READERS),
        ("OFFSET_LOCK_WRITERS", OFFSET_LOCK_WRITERS),
        ("OFFSET_LOCK_COHERENT", OFFSET_LOCK_COHERENT),
        ("OFFSET_SYNCS_DECIDED", OFFSET_SYNCS_DECIDED),
        ("OFFSET_SYNCS_SKIPPED", OFFSET_SYNCS_SKIPPED),
        ("OFFSET_SYNCS_ISSUED", OFFSET_SYNCS_ISSUED),
        ("OFFSET_SMPTE2094_40", OFFSET_SMPTE2094_40),
        ("OFFSET_SMPTE2094_10", OFFSET_SMPTE2094_10),
    ] {
        assert!(
            documented.contains(&offset),
            "{name} = {offset} starts no row of the document's table"
        );
    }
    let blob_40 = rows.iter().find(|(o, _)| number(o) == OFFSET_SMPTE2094_40);
    assert_eq!(blob_40.map(|(_, b)| number(b)), Some(SMPTE2094_40_CAP));
    let blob_10 = rows.iter().find(|(o, _)| number(o) == OFFSET_SMPTE2094_10);
    assert_eq!(blob_10.map(|(_, b)| number(b)), Some(SMPTE2094_10_CAP));
    let name = rows.iter().find(|(o, _)| number(o) == OFFSET_NAME);
    assert_eq!(name.map(|(_, b)| number(b)), Some(NAME_SIZE));
}
