//! Checks the VINTF fragments: well-formed device manifests declaring the AIDL allocator V2 and the native mapper 5.0 instance whose library, label and suffix all say `central`.

mod common;

use common::{read, ALLOCATOR_FRAGMENT, MAPPER_FRAGMENT, MAPPER_SUFFIX};
use roxmltree::{Document, Node};

/// The text of the one child element `tag` of `node`.
fn child_text<'a>(node: Node<'a, '_>, tag: &str) -> &'a str {
    let children: Vec<Node> = node.children().filter(|c| c.has_tag_name(tag)).collect();
    let [child] = children.as_slice() else {
        panic!(
            "<{}> has {} <{tag}> children, expected 1",
            node.tag_name().name(),
            children.len()
        );
    };
    child.text().unwrap_or("").trim()
}

/// The one `<hal>` of a device manifest fragment.
fn only_hal<'a>(doc: &'a Document) -> Node<'a, 'a> {
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "manifest");
    assert_eq!(root.attribute("version"), Some("1.0"));
    assert_eq!(root.attribute("type"), Some("device"));
    let hals: Vec<Node> = root.children().filter(|c| c.is_element()).collect();
    let [hal] = hals.as_slice() else {
        panic!("expected exactly one <hal>, got {}", hals.len());
    };
    assert_eq!(hal.tag_name().name(), "hal");
    *hal
}

#[test]
fn allocator_fragment_declares_aidl_v2_default() {
    let text = read(ALLOCATOR_FRAGMENT);
    let doc = Document::parse(&text).expect("well-formed XML");
    let hal = only_hal(&doc);
    assert_eq!(hal.attribute("format"), Some("aidl"));
    assert_eq!(
        child_text(hal, "name"),
        "android.hardware.graphics.allocator"
    );
    assert_eq!(child_text(hal, "version"), "2");
    assert_eq!(child_text(hal, "fqname"), "IAllocator/default");
}

#[test]
fn mapper_fragment_declares_native_5_0_central() {
    let text = read(MAPPER_FRAGMENT);
    let doc = Document::parse(&text).expect("well-formed XML");
    let hal = only_hal(&doc);
    assert_eq!(hal.attribute("format"), Some("native"));
    assert_eq!(child_text(hal, "name"), "mapper");
    assert_eq!(child_text(hal, "version"), "5.0");
    let interface = hal
        .children()
        .find(|c| c.has_tag_name("interface"))
        .expect("<interface>");
    assert_eq!(child_text(interface, "instance"), MAPPER_SUFFIX);
    assert!(MAPPER_FRAGMENT.ends_with(&format!("/mapper.{MAPPER_SUFFIX}.xml")));
}

#[test]
fn mapper_instance_agrees_with_library_label_and_service_context() {
    // servicemanager maps the VINTF instance to "mapper/<instance>" (service_contexts) and
    // loads /vendor/lib[64]/hw/mapper.<instance>.so (file_contexts).
    let service_contexts = read("sepolicy/service_contexts");
    let wanted = format!("mapper/{MAPPER_SUFFIX}");
    let line = common::policy_lines(&service_contexts)
        .into_iter()
        .map(|(_, line)| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&wanted.as_str()))
        .unwrap_or_else(|| panic!("service_contexts lacks {wanted}"));
    let [_, context] = line.as_slice() else {
        panic!("service_contexts: {line:?}")
    };
    assert_eq!(
        common::selinux_type(context, "service_contexts"),
        "hal_graphics_mapper_service"
    );

    for lib in ["lib", "lib64"] {
        let path = format!("/vendor/{lib}/hw/mapper.{MAPPER_SUFFIX}.so");
        let labels: Vec<String> = common::file_contexts()
            .into_iter()
            .filter(|(pattern, _)| common::file_context_regex(pattern).is_match(&path))
            .map(|(_, ty)| ty)
            .collect();
        assert_eq!(labels, ["same_process_hal_file"], "{path}");
    }
}
