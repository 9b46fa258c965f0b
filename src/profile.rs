//! Platform profiles: a platform's devices and heaps, built in or loaded from a profile file.

use crate::device::{Constraints, Device, Role};
use crate::format::{FormatKind, FormatSet, PixelFormat};
use std::fmt;

pub use crate::device::MAX_DEVICES;

/// What a heap is for; the solver picks a role, the memory layer finds the kernel heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeapRole {
    /// Ordinary cached system memory (`/dev/dma_heap/system`).
    System,
    /// System memory mapped write-combined (`system-uncached`).
    SystemUncached,
    /// Physically contiguous memory (a CMA heap).
    Contiguous,
    /// Protected (secure) memory.
    Protected,
    /// Memory a DRM device allocates itself and exports as a dma-buf, for devices that cannot
    /// import dma-bufs another driver made (virtio-gpu). The heap's `name` is the DRM driver.
    Device,
}

impl HeapRole {
    /// Every role.
    pub const ALL: [HeapRole; 5] = [
        HeapRole::System,
        HeapRole::SystemUncached,
        HeapRole::Contiguous,
        HeapRole::Protected,
        HeapRole::Device,
    ];
    /// The name used in profile files and dumps.
    pub const fn name(self) -> &'static str {
        match self {
            HeapRole::System => "system",
            HeapRole::SystemUncached => "system-uncached",
            HeapRole::Contiguous => "contiguous",
            HeapRole::Protected => "protected",
            HeapRole::Device => "device",
        }
    }
    /// Parses a profile-file heap role.
    pub fn parse(text: &str) -> Option<HeapRole> {
        HeapRole::ALL.into_iter().find(|r| r.name() == text)
    }
}

impl fmt::Display for HeapRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One heap a profile expects the kernel to have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapSpec {
    /// What the solver uses it for.
    pub role: HeapRole,
    /// The kernel heap name under `/dev/dma_heap/`; for the `device` role, the DRM driver name
    /// (`DRM_IOCTL_VERSION`) of the device that allocates.
    pub name: String,
    /// Highest physical address bit its memory may use.
    pub address_bits: u8,
    /// Whether its buffers are physically contiguous.
    pub contiguous: bool,
    /// Row pitch of every plane is a multiple of this many bytes (what the allocating driver
    /// needs on top of the devices' alignments; 1 for a dma-heap).
    pub stride_align: u64,
    /// Largest buffer it can make, in bytes.
    pub max_size: u64,
}

impl HeapSpec {
    /// A heap of `role` called `name` with no limits of its own: any address, not contiguous
    /// (unless `role` is `contiguous`), no alignment, no size limit.
    pub fn new(role: HeapRole, name: &str) -> HeapSpec {
        HeapSpec {
            role,
            name: name.to_string(),
            address_bits: 64,
            contiguous: role == HeapRole::Contiguous,
            stride_align: 1,
            max_size: u64::MAX,
        }
    }
}

/// A platform: its devices and heaps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Profile name.
    pub name: String,
    devices: Vec<Device>,
    heaps: Vec<HeapSpec>,
}

/// A malformed profile file: the line and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileError {
    /// 1-based line number (0 for whole-file problems).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "profile: {}", self.message)
        } else {
            write!(f, "profile line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ProfileError {}

/// The built-in profiles' sources, in the same file format a device ships under `/vendor/etc/`.
pub const BUILTIN: [(&str, &str); 3] = [
    ("soc", include_str!("../profiles/soc.conf")),
    ("cuttlefish", include_str!("../profiles/cuttlefish.conf")),
    ("host", include_str!("../profiles/host.conf")),
];

impl Profile {
    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Option<Profile> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, text)| Profile::parse(text).ok())
    }

    /// Loads a profile file.
    pub fn from_file(path: &std::path::Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
            line: 0,
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        Profile::parse(&text)
    }

    /// A built-in profile name, or else a path to a profile file.
    pub fn resolve(name_or_path: &str) -> Result<Profile, ProfileError> {
        match Profile::builtin(name_or_path) {
            Some(profile) => Ok(profile),
            None => Profile::from_file(std::path::Path::new(name_or_path)),
        }
    }

    /// Builds a profile from parts (tests, tools).
    pub fn new(
        name: &str,
        devices: Vec<Device>,
        heaps: Vec<HeapSpec>,
    ) -> Result<Profile, ProfileError> {
        let whole = |message: String| ProfileError { line: 0, message };
        if devices.len() > MAX_DEVICES {
            return Err(whole(format!("more than {MAX_DEVICES} devices")));
        }
        for (i, d) in devices.iter().enumerate() {
            if devices[..i].iter().any(|e| e.name == d.name) {
                return Err(whole(format!("device `{}` listed twice", d.name)));
            }
            // What the file parser enforces, for profiles built in code: the solver divides by
            // alignments and compares address widths.
            let c = &d.constraints;
            let zero = [
                ("stride-align", c.stride_align),
                ("height-align", c.height_align),
                ("offset-align", c.offset_align),
                ("size-align", c.size_align),
            ]
            .into_iter()
            .find(|(_, v)| *v == 0);
            if let Some((key, _)) = zero {
                return Err(whole(format!(
                    "device `{}`: `{key}` must be positive",
                    d.name
                )));
            }
            if !ADDRESS_BITS.contains(&c.address_bits) {
                return Err(whole(format!(
                    "device `{}`: address-bits {} is not in 12..=64",
                    d.name, c.address_bits
                )));
            }
        }
        for (i, h) in heaps.iter().enumerate() {
            if heaps[..i].iter().any(|e| e.role == h.role) {
                return Err(whole(format!("heap role `{}` listed twice", h.role)));
            }
            if !ADDRESS_BITS.contains(&h.address_bits) {
                return Err(whole(format!(
                    "heap `{}`: address-bits {} is not in 12..=64",
                    h.role, h.address_bits
                )));
            }
            if h.stride_align == 0 || h.max_size == 0 {
                return Err(whole(format!(
                    "heap `{}`: `stride-align` and `max-size` must be positive",
                    h.role
                )));
            }
        }
        if !heaps.iter().any(|h| h.role == HeapRole::System) {
            return Err(whole("no `system` heap".into()));
        }
        Ok(Profile {
            name: name.to_string(),
            devices,
            heaps,
        })
    }

    /// Its devices, in profile order (the order of device masks).
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }
    /// Index of the device called `name`.
    pub fn device_index(&self, name: &str) -> Option<usize> {
        self.devices.iter().position(|d| d.name == name)
    }
    /// The device called `name`.
    pub fn device(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.name == name)
    }
    /// Its heaps.
    pub fn heaps(&self) -> &[HeapSpec] {
        &self.heaps
    }
    /// The heap for `role`, if the platform has one.
    pub fn heap(&self, role: HeapRole) -> Option<&HeapSpec> {
        self.heaps.iter().find(|h| h.role == role)
    }

    /// Parses the profile file format (see `profiles/soc.conf` for a commented example).
    pub fn parse(text: &str) -> Result<Profile, ProfileError> {
        let mut parser = Parser::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if !content.is_empty() {
                parser
                    .line(line, content)
                    .map_err(|message| ProfileError { line, message })?;
            }
        }
        parser.finish()
    }
}

/// The section a `key = value` line belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Section {
    /// Before the first `device` or `heap` line.
    #[default]
    None,
    Device,
    Heap,
}

/// A profile file being read, line by line; devices and heaps keep the line that opened them,
/// for the errors only the whole file can show.
#[derive(Default)]
struct Parser {
    name: Option<String>,
    devices: Vec<(usize, Device)>,
    heaps: Vec<(usize, HeapSpec)>,
    section: Section,
}

impl Parser {
    /// One non-empty line, comments stripped.
    fn line(&mut self, line: usize, content: &str) -> Result<(), String> {
        if let Some((key, value)) = content.split_once('=') {
            return self.key_value(key.trim(), value.trim());
        }
        let mut words = content.split_whitespace();
        let keyword = words.next().unwrap_or("");
        let arg = words.next();
        if words.next().is_some() {
            return Err(format!("unexpected text after `{keyword}`"));
        }
        match (keyword, arg) {
            ("profile", Some(name)) => self.profile(name),
            ("device", Some(name)) => self.device(line, name),
            ("heap", Some(role)) => self.heap(line, role),
            _ => Err(format!(
                "expected `profile NAME`, `device NAME`, `heap ROLE` or `key = value`, found \
                 `{content}`"
            )),
        }
    }

    /// A `key = value` line of the current device or heap.
    fn key_value(&mut self, key: &str, value: &str) -> Result<(), String> {
        match self.section {
            Section::None => Err(format!("`{key}` outside a device or heap section")),
            Section::Device => match self.devices.last_mut() {
                Some((_, device)) => device_key(device, key, value),
                None => Err("no device".into()),
            },
            Section::Heap => match self.heaps.last_mut() {
                Some((_, heap)) => heap_key(heap, key, value),
                None => Err("no heap".into()),
            },
        }
    }

    fn profile(&mut self, name: &str) -> Result<(), String> {
        if self.name.is_some() {
            return Err("second `profile` line".into());
        }
        self.name = Some(name.to_string());
        Ok(())
    }

    fn device(&mut self, line: usize, name: &str) -> Result<(), String> {
        if self.devices.iter().any(|(_, d)| d.name == name) {
            return Err(format!("device `{name}` defined twice"));
        }
        if self.devices.len() == MAX_DEVICES {
            return Err(format!("more than {MAX_DEVICES} devices"));
        }
        // Capabilities are opt-in: an undeclared device is assumed not to snoop CPU caches (so
        // maintenance is never skipped by mistake) and not to handle protected memory.
        let defaults = Constraints {
            coherent: false,
            protected: false,
            ..Constraints::NONE
        };
        self.devices.push((line, Device::new(name, &[], defaults)));
        self.section = Section::Device;
        Ok(())
    }

    fn heap(&mut self, line: usize, role: &str) -> Result<(), String> {
        let parsed = HeapRole::parse(role).ok_or_else(|| {
            format!(
                "unknown heap role `{role}` (system, system-uncached, contiguous, protected, device)"
            )
        })?;
        if self.heaps.iter().any(|(_, h)| h.role == parsed) {
            return Err(format!("heap `{role}` defined twice"));
        }
        self.heaps.push((line, HeapSpec::new(parsed, "")));
        self.section = Section::Heap;
        Ok(())
    }

    /// The profile, once every device has a role and every heap a name.
    fn finish(self) -> Result<Profile, ProfileError> {
        for (line, device) in &self.devices {
            if device.roles == 0 {
                return Err(ProfileError {
                    line: *line,
                    message: format!("device `{}` has no roles", device.name),
                });
            }
        }
        for (line, heap) in &self.heaps {
            if heap.name.is_empty() {
                return Err(ProfileError {
                    line: *line,
                    message: format!("heap `{}` has no name", heap.role),
                });
            }
        }
        let name = self.name.ok_or(ProfileError {
            line: 0,
            message: "missing `profile NAME` line".into(),
        })?;
        Profile::new(
            &name,
            self.devices.into_iter().map(|(_, d)| d).collect(),
            self.heaps.into_iter().map(|(_, h)| h).collect(),
        )
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "yes" | "true" | "1" => Ok(true),
        "no" | "false" | "0" => Ok(false),
        _ => Err(format!("expected yes or no, found `{value}`")),
    }
}

fn parse_u64(key: &str, value: &str) -> Result<u64, String> {
    let n = if let Some(hex) = value.strip_prefix("0x") {
        u64::from_str_radix(hex, 16)
    } else {
        value.parse()
    };
    n.map_err(|_| format!("`{key}` wants a number, found `{value}`"))
}

fn parse_positive(key: &str, value: &str) -> Result<u64, String> {
    match parse_u64(key, value)? {
        0 => Err(format!("`{key}` must be positive")),
        n => Ok(n),
    }
}

fn parse_u32(key: &str, value: &str) -> Result<u32, String> {
    u32::try_from(parse_positive(key, value)?)
        .map_err(|_| format!("`{key}` = {value} is too large"))
}

fn parse_formats(value: &str) -> Result<FormatSet, String> {
    let mut set = FormatSet::EMPTY;
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let group = match item {
            "@all" => Some(FormatSet::ALL),
            "@rgb" => Some(FormatSet::of_kind(FormatKind::Rgb)),
            "@yuv" => Some(FormatSet::of_kind(FormatKind::Yuv)),
            "@raw" => Some(FormatSet::of_kind(FormatKind::Raw)),
            "@blob" => Some(FormatSet::of_kind(FormatKind::Blob)),
            "@depth" => Some(FormatSet::of_kind(FormatKind::Depth)),
            _ => None,
        };
        set = match group {
            Some(g) => set | g,
            None => {
                let format = PixelFormat::parse(item)?;
                if format.info().is_none() {
                    return Err(format!("unknown pixel format `{item}`"));
                }
                set.with(format)
            }
        };
    }
    Ok(set)
}

fn device_key(device: &mut Device, key: &str, value: &str) -> Result<(), String> {
    let c = &mut device.constraints;
    match key {
        "roles" => {
            let mut roles = Vec::new();
            for r in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                roles.push(Role::parse(r).ok_or_else(|| {
                    let known: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                    format!("unknown role `{r}` (known: {})", known.join(", "))
                })?);
            }
            let constraints = *c;
            *device = Device::new(&device.name, &roles, constraints);
        }
        "coherent" => c.coherent = parse_bool(value)?,
        "contiguous" => c.contiguous = parse_bool(value)?,
        "protected" => c.protected = parse_bool(value)?,
        "imports-foreign" => c.imports_foreign = parse_bool(value)?,
        "stride-align" => c.stride_align = parse_positive(key, value)?,
        "height-align" => c.height_align = parse_positive(key, value)?,
        "offset-align" => c.offset_align = parse_positive(key, value)?,
        "size-align" => c.size_align = parse_positive(key, value)?,
        "min-width" => c.min_width = parse_u32(key, value)?,
        "min-height" => c.min_height = parse_u32(key, value)?,
        "max-width" => c.max_width = parse_u32(key, value)?,
        "max-height" => c.max_height = parse_u32(key, value)?,
        "max-stride" => c.max_stride = parse_positive(key, value)?,
        "max-size" => c.max_size = parse_positive(key, value)?,
        "address-bits" => c.address_bits = parse_address_bits(value)?,
        "reads" => c.reads = parse_formats(value)?,
        "writes" => c.writes = parse_formats(value)?,
        _ => return Err(format!("unknown device key `{key}`")),
    }
    Ok(())
}

/// Address widths a device or heap may declare (a 4 KiB page up to the whole 64-bit space).
const ADDRESS_BITS: std::ops::RangeInclusive<u8> = 12..=64;

fn parse_address_bits(value: &str) -> Result<u8, String> {
    match value.parse::<u8>() {
        Ok(bits) if ADDRESS_BITS.contains(&bits) => Ok(bits),
        _ => Err(format!("`address-bits` wants 12..=64, found `{value}`")),
    }
}

fn heap_key(heap: &mut HeapSpec, key: &str, value: &str) -> Result<(), String> {
    match key {
        "name" => {
            // The name becomes a path under /dev/dma_heap: no separators, no dot entries.
            if value.is_empty() || value.contains('/') || value == "." || value == ".." {
                return Err(format!("invalid heap name `{value}`"));
            }
            heap.name = value.to_string();
        }
        "address-bits" => heap.address_bits = parse_address_bits(value)?,
        "contiguous" => heap.contiguous = parse_bool(value)?,
        "stride-align" => heap.stride_align = parse_positive(key, value)?,
        "max-size" => heap.max_size = parse_positive(key, value)?,
        _ => return Err(format!("unknown heap key `{key}`")),
    }
    Ok(())
}

impl fmt::Display for Profile {
    /// Writes the profile back in the file format (a round trip gives the same profile).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "profile {}", self.name)?;
        for h in &self.heaps {
            writeln!(
                f,
                "\nheap {}\n  name = {}\n  address-bits = {}",
                h.role, h.name, h.address_bits
            )?;
            writeln!(f, "  contiguous = {}", yes(h.contiguous))?;
            writeln!(
                f,
                "  stride-align = {}\n  max-size = {}",
                h.stride_align, h.max_size
            )?;
        }
        for d in &self.devices {
            let c = &d.constraints;
            let roles: Vec<&str> = d.role_list().map(Role::name).collect();
            writeln!(f, "\ndevice {}\n  roles = {}", d.name, roles.join(", "))?;
            writeln!(
                f,
                "  coherent = {}\n  contiguous = {}\n  protected = {}",
                yes(c.coherent),
                yes(c.contiguous),
                yes(c.protected)
            )?;
            writeln!(f, "  imports-foreign = {}", yes(c.imports_foreign))?;
            writeln!(
                f,
                "  stride-align = {}\n  height-align = {}",
                c.stride_align, c.height_align
            )?;
            writeln!(
                f,
                "  offset-align = {}\n  size-align = {}",
                c.offset_align, c.size_align
            )?;
            // 0 (no minimum) has no spelling in the file: the key is left out.
            for (key, min) in [("min-width", c.min_width), ("min-height", c.min_height)] {
                if min > 0 {
                    writeln!(f, "  {key} = {min}")?;
                }
            }
            writeln!(
                f,
                "  max-width = {}\n  max-height = {}",
                c.max_width, c.max_height
            )?;
            writeln!(
                f,
                "  max-stride = {}\n  max-size = {}",
                c.max_stride, c.max_size
            )?;
            writeln!(f, "  address-bits = {}", c.address_bits)?;
            writeln!(
                f,
                "  reads = {}\n  writes = {}",
                format_list(c.reads),
                format_list(c.writes)
            )?;
        }
        Ok(())
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// A format set as a comma-separated list of names.
pub fn format_list(set: FormatSet) -> String {
    set.iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

mod overlay;

#[cfg(test)]
mod tests;
