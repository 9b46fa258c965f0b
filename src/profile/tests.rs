//! Profile parsing: built-ins, round trips, and errors that name the line.

use super::*;

#[test]
fn builtins_parse_and_name_their_devices() {
    for (name, text) in BUILTIN {
        let p = Profile::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.name, name);
        assert!(p.device("cpu").is_some() && p.device("gpu").is_some());
    }
    let soc = Profile::builtin("soc").unwrap();
    let names: Vec<&str> = soc.devices().iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["cpu", "gpu", "display", "camera", "codec"]);
    assert!(soc.device("gpu").unwrap().coherent());
    assert!(!soc.device("display").unwrap().coherent());
    assert!(soc.device("display").unwrap().constraints.contiguous);
    assert_eq!(soc.device("camera").unwrap().constraints.address_bits, 32);
    assert_eq!(soc.device("codec").unwrap().constraints.height_align, 16);
    assert_eq!(soc.device("codec").unwrap().constraints.stride_align, 64);
    let cf = Profile::builtin("cuttlefish").unwrap();
    assert!(cf.devices().iter().all(|d| d.coherent()));
    // virtio-gpu imports only its own exports: the GPU and display take memory it allocates.
    let foreign: Vec<(&str, bool)> = cf
        .devices()
        .iter()
        .map(|d| (d.name.as_str(), d.constraints.imports_foreign))
        .collect();
    assert_eq!(
        foreign,
        [
            ("cpu", true),
            ("gpu", false),
            ("display", false),
            ("camera", true),
            ("codec", true)
        ]
    );
    let device = cf.heap(HeapRole::Device).unwrap();
    assert_eq!(device.name, "virtio_gpu");
    assert_eq!((device.stride_align, device.max_size), (4, 256 << 20));
    assert!(!device.contiguous);
    // Profiles that do not say so import foreign dma-bufs and have no device heap.
    assert!(soc.devices().iter().all(|d| d.constraints.imports_foreign));
    assert!(soc.heap(HeapRole::Device).is_none());
    assert!(Profile::builtin("nope").is_none());
}

#[test]
fn display_round_trips() {
    for (name, _) in BUILTIN {
        let p = Profile::builtin(name).unwrap();
        let again = Profile::parse(&p.to_string()).unwrap();
        assert_eq!(p, again, "{name}");
    }
}

#[test]
fn errors_name_the_line() {
    let cases = [
        ("profile x\nheap system\n  name = system\ndevice a\n  roles = gpu\n  stride-align = zero\n", 6),
        ("profile x\nheap system\n  name = system\ndevice a\n  roles = toaster\n", 5),
        ("profile x\n  coherent = yes\n", 2),
        ("profile x\nheap system\n  name = system\ndevice a\n  roles = gpu\n  reads = RGBA_9999\n", 6),
        ("profile x\nheap system\n  name = system\ndevice a\n", 4),
        ("profile x\nheap magic\n", 2),
        ("profile x\nheap system\n  name = ../etc\n", 3),
        ("profile x\nheap system\n  name = system\ndevice a\n  roles = gpu\ndevice a\n", 6),
        ("profile x\nwat\n", 2),
        ("profile x\nheap system\n  name = system\ndevice a\n  roles = gpu\n  address-bits = 99\n", 6),
        ("profile x\nheap system\n  name = system\ndevice a\n  roles = gpu\n  imports-foreign = maybe\n", 6),
        ("profile x\nheap system\n  name = system\nheap device\n  name = virtio_gpu\n  max-size = 0\n", 6),
        ("profile x\nheap system\n  name = system\nheap device\n  stride-align = -4\n", 5),
    ];
    for (text, line) in cases {
        let e = Profile::parse(text).unwrap_err();
        assert_eq!(e.line, line, "{text:?}: {e}");
        assert!(e.to_string().contains(&format!("line {line}")));
    }
    assert_eq!(
        Profile::parse("heap system\n  name = s\n")
            .unwrap_err()
            .line,
        0
    );
    assert!(Profile::parse("profile x\n")
        .unwrap_err()
        .message
        .contains("system"));
}

#[test]
fn loads_from_file() {
    let dir = std::env::temp_dir().join(format!("cg-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.conf");
    std::fs::write(&path, BUILTIN[0].1).unwrap();
    assert_eq!(
        Profile::resolve(path.to_str().unwrap()).unwrap(),
        Profile::builtin("soc").unwrap()
    );
    assert_eq!(Profile::resolve("/nonexistent/p.conf").unwrap_err().line, 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn new_refuses_constraints_a_file_could_not_hold() {
    // Profile::new is the door for tools and the memory layer: a zero alignment there used to
    // reach the solver's per-device check as a division by zero.
    use crate::descriptor::Descriptor;
    use crate::format::PixelFormat;
    use crate::usage::Usage;
    let soc = Profile::builtin("soc").unwrap();
    let heaps = soc.heaps().to_vec();
    let bad: [fn(&mut Constraints); 6] = [
        |c| c.stride_align = 0,
        |c| c.height_align = 0,
        |c| c.offset_align = 0,
        |c| c.size_align = 0,
        |c| c.address_bits = 65,
        |c| c.address_bits = 0,
    ];
    for (n, spoil) in bad.into_iter().enumerate() {
        let mut devices = soc.devices().to_vec();
        spoil(&mut devices[1].constraints);
        match Profile::new("x", devices, heaps.clone()) {
            Err(e) => assert!(e.message.contains("gpu"), "case {n}: {e}"),
            Ok(p) => {
                let d = Descriptor::simple("t", 64, 64, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE)
                    .unwrap();
                let _ = crate::solver::solve(&d, &p);
                panic!("case {n}: accepted");
            }
        }
    }
    let mut heaps = soc.heaps().to_vec();
    heaps[0].address_bits = 200;
    assert!(Profile::new("x", soc.devices().to_vec(), heaps).is_err());
}
