//! Checks the init script: it parses as init reads it, defines the one allocator service, starts the installed binary, and carries exactly the options of the reference allocator services.

mod common;

use central_gralloc_packaging::{find_service, only_service, service_command_line, service_name};
use common::{read, ALLOCATOR_INSTANCE, INSTALL_PATH, RC_PATH};
use std::collections::BTreeSet;

#[test]
fn defines_one_service_that_runs_the_installed_binary() {
    let rc = read(RC_PATH);
    assert_eq!(service_name(&rc).unwrap(), "vendor.graphics.allocator");
    // The VM tier starts the service from this command line: no arguments, the install path.
    assert_eq!(
        service_command_line(&rc).unwrap(),
        vec![INSTALL_PATH.to_owned()]
    );
    assert_eq!(
        find_service(&rc, "vendor.graphics.allocator")
            .unwrap()
            .program(),
        INSTALL_PATH
    );
}

#[test]
fn service_line_is_canonical() {
    // Tools that read the .rc with line tools (grep, awk) rely on a single, unsplit service line.
    let rc = read(RC_PATH);
    let service_lines: Vec<&str> = rc
        .lines()
        .filter(|line| line.trim_start().starts_with("service "))
        .collect();
    assert_eq!(
        service_lines,
        [format!("service vendor.graphics.allocator {INSTALL_PATH}")]
    );
}

#[test]
fn options_are_exactly_the_reference_set() {
    let service = only_service(&read(RC_PATH)).unwrap();
    let actual: BTreeSet<String> = service
        .options
        .iter()
        .map(|tokens| tokens.join(" "))
        .collect();
    let expected: BTreeSet<String> = [
        "class hal animation",
        "user system",
        "group graphics drmrpc",
        "capabilities SYS_NICE",
        "onrestart restart surfaceflinger",
        "task_profiles ServiceCapacityLow",
        &format!("interface aidl {ALLOCATOR_INSTANCE}"),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(actual, expected);
    assert_eq!(service.options.len(), expected.len(), "no option repeated");
}

#[test]
fn interface_option_names_the_vintf_instance() {
    let service = only_service(&read(RC_PATH)).unwrap();
    let interface = service.option("interface").expect("interface option");
    assert_eq!(
        interface,
        ["aidl".to_owned(), ALLOCATOR_INSTANCE.to_owned()]
    );
    // The instance is <package>.<fqname> of the VINTF fragment.
    let doc = read(common::ALLOCATOR_FRAGMENT);
    let xml = roxmltree::Document::parse(&doc).expect("allocator fragment parses");
    let text = |tag: &str| {
        xml.descendants()
            .find(|n| n.has_tag_name(tag))
            .and_then(|n| n.text())
            .unwrap_or_else(|| panic!("fragment lacks <{tag}>"))
            .trim()
            .to_owned()
    };
    assert_eq!(
        format!("{}.{}", text("name"), text("fqname")),
        ALLOCATOR_INSTANCE
    );
}
