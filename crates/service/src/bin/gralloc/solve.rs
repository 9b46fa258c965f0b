//! `gralloc solve`, `gralloc profiles`, `gralloc profile show`: the solver from the command line.

use crate::args::Args;
use central_gralloc::descriptor::Descriptor;
use central_gralloc::profile::{format_list, HeapRole, Profile, BUILTIN};
use central_gralloc::solver::{solve, Placement, SolveError};
use serde_json::{json, Value};

/// The placement as the JSON object `gralloc solve --json` prints.
pub fn placement_json(placement: &Placement, profile: &Profile) -> Value {
    let heap_name = profile.heap(placement.heap).map(|h| h.name.clone());
    let planes: Vec<Value> = placement
        .layout
        .planes()
        .iter()
        .map(
            |p| json!({"offset": p.offset, "stride": p.stride, "size": p.size, "fourcc": p.fourcc}),
        )
        .collect();
    let reasons: serde_json::Map<String, Value> = placement
        .explain(profile)
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v)))
        .collect();
    json!({
        "format": placement.format.to_string(),
        "requested_format": placement.requested_format.to_string(),
        "fourcc": placement.fourcc,
        "heap": placement.heap.name(),
        "heap_name": heap_name,
        "contiguous": placement.contiguous,
        "address_bits": placement.address_bits,
        "cache": placement.cache.name(),
        "size": placement.size(),
        "stride": placement.layout.stride,
        "layers": placement.layout.layer_count,
        "layer_stride": placement.layout.layer_stride,
        "reserved_size": placement.reserved_size,
        "planes": planes,
        "devices": placement.device_names(profile).collect::<Vec<_>>(),
        "reasons": reasons,
    })
}

/// A readable table of a placement.
pub fn placement_table(placement: &Placement, profile: &Profile) -> String {
    let mut out = String::new();
    let heap_name = profile
        .heap(placement.heap)
        .map_or("?", |h| h.name.as_str());
    let devices: Vec<&str> = placement.device_names(profile).collect();
    let rows = [
        (
            "format",
            format!(
                "{} (requested {})",
                placement.format, placement.requested_format
            ),
        ),
        (
            "heap",
            if placement.heap == HeapRole::Device {
                format!("{} (DRM driver {heap_name})", placement.heap)
            } else {
                format!("{} (/dev/dma_heap/{heap_name})", placement.heap)
            },
        ),
        ("contiguous", placement.contiguous.to_string()),
        ("address bits", placement.address_bits.to_string()),
        ("cache", placement.cache.name().to_string()),
        ("size", format!("{} bytes", placement.size())),
        ("stride", placement.layout.stride.to_string()),
        ("devices", devices.join(", ")),
    ];
    for (k, v) in rows {
        out.push_str(&format!("{k:<13} {v}\n"));
    }
    for (i, p) in placement.layout.planes().iter().enumerate() {
        out.push_str(&format!(
            "plane {i:<7} offset {:>10}  stride {:>6}  size {:>10}  ({}x{})\n",
            p.offset, p.stride, p.size, p.width, p.height
        ));
    }
    for (k, v) in placement.explain(profile) {
        out.push_str(&format!("why {k:<9} {v}\n"));
    }
    out
}

/// The error object of a failed request.
pub fn error_json(error: &SolveError) -> Value {
    json!({"error": error.code().name(), "reason": error.to_string()})
}

fn load_profile(args: &mut Args) -> Result<Profile, String> {
    let name = args
        .value("--profile")?
        .unwrap_or_else(|| "host".to_string());
    central_gralloc_probe::resolve_profile(&name)
}

/// `gralloc solve`.
pub fn run(rest: &[String]) -> u8 {
    let mut args = Args::new(rest);
    let json = args.switch("--json");
    let parsed = load_profile(&mut args).and_then(|p| Ok((p, args.descriptor()?)));
    let (profile, info) = match parsed.and_then(|x| args.finish().map(|_| x)) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("gralloc solve: {e}");
            return 2;
        }
    };
    let result = Descriptor::from_info(&info)
        .map_err(SolveError::from)
        .and_then(|d| solve(&d, &profile));
    match (result, json) {
        (Ok(p), true) => println!("{}", placement_json(&p, &profile)),
        (Ok(p), false) => print!("{}", placement_table(&p, &profile)),
        (Err(e), true) => {
            println!("{}", error_json(&e));
            return 1;
        }
        (Err(e), false) => {
            eprintln!("{}: {e}", e.code().name());
            return 1;
        }
    }
    0
}

/// `gralloc profiles`.
pub fn profiles(rest: &[String]) -> u8 {
    if let Err(e) = Args::new(rest).finish() {
        eprintln!("gralloc profiles: {e}");
        return 2;
    }
    for (name, _) in BUILTIN {
        if let Some(p) = Profile::builtin(name) {
            let devices: Vec<&str> = p.devices().iter().map(|d| d.name.as_str()).collect();
            println!("{name:<12} devices: {}", devices.join(", "));
        }
    }
    0
}

/// `gralloc profile show NAME|FILE|probe[:OVERLAY] [--json]`.
pub fn profile(rest: &[String]) -> u8 {
    let mut args = Args::new(rest);
    let json = args.switch("--json");
    let (Some(verb), Some(name)) = (args.positional(), args.positional()) else {
        eprintln!("usage: gralloc profile show NAME|FILE|probe[:OVERLAY] [--json]");
        return 2;
    };
    if verb != "show" || args.finish().is_err() {
        eprintln!("usage: gralloc profile show NAME|FILE|probe[:OVERLAY] [--json]");
        return 2;
    }
    let profile = match central_gralloc_probe::resolve_profile(&name) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("gralloc profile: {e}");
            return 1;
        }
    };
    if !json {
        print!("{profile}");
        return 0;
    }
    let devices: Vec<Value> = profile
        .devices()
        .iter()
        .map(|d| {
            let c = &d.constraints;
            json!({
                "name": d.name,
                "roles": d.role_list().map(|r| r.name()).collect::<Vec<_>>(),
                "coherent": c.coherent,
                "contiguous": c.contiguous,
                "protected": c.protected,
                "stride_align": c.stride_align,
                "height_align": c.height_align,
                "offset_align": c.offset_align,
                "size_align": c.size_align,
                "min_width": c.min_width,
                "min_height": c.min_height,
                "max_width": c.max_width,
                "max_height": c.max_height,
                "max_stride": c.max_stride,
                "address_bits": c.address_bits,
                "reads": format_list(c.reads),
                "writes": format_list(c.writes),
            })
        })
        .collect();
    let heaps: Vec<Value> = profile
        .heaps()
        .iter()
        .map(|h| json!({"role": h.role.name(), "name": h.name, "address_bits": h.address_bits, "contiguous": h.contiguous}))
        .collect();
    println!(
        "{}",
        json!({"name": profile.name, "devices": devices, "heaps": heaps})
    );
    0
}
