//! Trace files: buffers placed on a platform profile, and the CPU and device events on them.
//!
//! ```text
//! profile soc
//! buffer <name> <W>x<H> <FORMAT> <USAGE,...>
//! cpu <name> begin read|write|rw
//! cpu <name> end
//! dev <name> <device> read|write
//! # comments, blank lines
//! ```
//!
//! Each `buffer` is placed by the solver, exactly as an allocation would be: its cache policy and the
//! devices its usage attaches come from the placement, each device's coherency from the profile.
//! Everything a trace says is checked against that: a malformed trace is an error naming its line.

use crate::policy::Event;
use central_gralloc::cache::{domains, CacheDomains, CpuAccess, DeviceAccess, LockDomains};
use central_gralloc::descriptor::Descriptor;
use central_gralloc::device::Role;
use central_gralloc::format::PixelFormat;
use central_gralloc::profile::Profile;
use central_gralloc::solver::{self, Placement};
use central_gralloc::usage::{CpuFrequency, Usage};
use std::fmt;

/// A trace that could not be read; `line` is 1-based (0 for the trace as a whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// The offending line.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for TraceError {}

/// One buffer of a trace, as placed.
#[derive(Clone, Debug)]
pub struct TraceBuffer {
    /// Its name in the trace.
    pub name: String,
    /// The line that declared it.
    pub line: usize,
    /// Its usage.
    pub usage: Usage,
    /// The solver's placement.
    pub placement: Placement,
    /// What was asked for.
    pub descriptor: Descriptor,
    /// The CPU mapping and devices as the tracker sees them.
    pub domains: CacheDomains,
    /// The CPU mapping and devices as the mapper's lock-path rule sees them.
    pub lock: LockDomains,
}

/// One event of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// Its line.
    pub line: usize,
    /// Index into [`Trace::buffers`].
    pub buffer: usize,
    /// What happens.
    pub event: Event,
}

/// A parsed trace.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The platform profile.
    pub profile: Profile,
    /// Buffers in declaration order.
    pub buffers: Vec<TraceBuffer>,
    /// Events in trace order.
    pub events: Vec<TraceEvent>,
}

impl Trace {
    /// Parses a trace whose `profile` line names a built-in profile.
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        Trace::parse_with(text, |name| {
            Profile::builtin(name).ok_or_else(|| {
                format!("unknown profile `{name}` (built-ins: soc, cuttlefish, host)")
            })
        })
    }

    /// Parses a trace, resolving its `profile` line with `profile` (a tool may accept files).
    pub fn parse_with(
        text: &str,
        profile: impl Fn(&str) -> Result<Profile, String>,
    ) -> Result<Trace, TraceError> {
        let mut parser = Parser {
            profile: None,
            buffers: Vec::new(),
            events: Vec::new(),
            open: Vec::new(),
        };
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or("");
            let words: Vec<&str> = content.split_whitespace().collect();
            if words.is_empty() {
                continue;
            }
            parser
                .line(line, &words, &profile)
                .map_err(|message| TraceError { line, message })?;
        }
        if let Some((buffer, (line, _))) = parser
            .open
            .iter()
            .enumerate()
            .find_map(|(b, open)| open.map(|o| (b, o)))
        {
            let name = parser.buffers.get(buffer).map_or("?", |b| b.name.as_str());
            return Err(TraceError {
                line,
                message: format!("`{name}` is still locked at the end of the trace"),
            });
        }
        let profile = parser.profile.ok_or(TraceError {
            line: 0,
            message: "empty trace: no `profile` line".into(),
        })?;
        Ok(Trace {
            profile,
            buffers: parser.buffers,
            events: parser.events,
        })
    }

    /// The events of buffer `index`, in order.
    pub fn events_of(&self, index: usize) -> Vec<Event> {
        self.events
            .iter()
            .filter(|e| e.buffer == index)
            .map(|e| e.event)
            .collect()
    }
}

struct Parser {
    profile: Option<Profile>,
    buffers: Vec<TraceBuffer>,
    events: Vec<TraceEvent>,
    /// Per buffer, the open CPU access and the line that began it.
    open: Vec<Option<(usize, CpuAccess)>>,
}

impl Parser {
    fn line(
        &mut self,
        line: usize,
        words: &[&str],
        profile: &impl Fn(&str) -> Result<Profile, String>,
    ) -> Result<(), String> {
        match words {
            ["profile", name] => {
                if self.profile.is_some() {
                    return Err("a second `profile` line".into());
                }
                self.profile = Some(profile(name)?);
                Ok(())
            }
            ["profile", ..] => Err("expected `profile NAME`".into()),
            ["buffer", name, size, format, usage] => self.buffer(line, name, size, format, usage),
            ["buffer", ..] => Err("expected `buffer NAME WxH FORMAT USAGE[,USAGE...]`".into()),
            ["cpu", name, "begin", access] => {
                let access = match *access {
                    "read" => CpuAccess::Read,
                    "write" => CpuAccess::Write,
                    "rw" => CpuAccess::ReadWrite,
                    other => {
                        return Err(format!("CPU access `{other}`: expected read, write or rw"))
                    }
                };
                self.cpu_begin(line, name, access)
            }
            ["cpu", name, "end"] => self.cpu_end(line, name),
            ["cpu", ..] => Err("expected `cpu NAME begin read|write|rw` or `cpu NAME end`".into()),
            ["dev", name, device, access] => {
                let access = match *access {
                    "read" => DeviceAccess::Read,
                    "write" => DeviceAccess::Write,
                    other => {
                        return Err(format!("device access `{other}`: expected read or write"))
                    }
                };
                self.device(line, name, device, access)
            }
            ["dev", ..] => Err("expected `dev NAME DEVICE read|write`".into()),
            [other, ..] => Err(format!(
                "unknown directive `{other}`: expected profile, buffer, cpu or dev"
            )),
            [] => Ok(()),
        }
    }

    fn profile(&self) -> Result<&Profile, String> {
        self.profile
            .as_ref()
            .ok_or_else(|| "the trace must start with a `profile` line".to_string())
    }

    fn buffer(
        &mut self,
        line: usize,
        name: &str,
        size: &str,
        format: &str,
        usage: &str,
    ) -> Result<(), String> {
        let profile = self.profile()?;
        if self.buffers.iter().any(|b| b.name == name) {
            return Err(format!("buffer `{name}` declared twice"));
        }
        let (width, height) = size
            .split_once(['x', 'X'])
            .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
            .ok_or_else(|| format!("size `{size}`: expected WIDTHxHEIGHT"))?;
        let format = PixelFormat::parse(format)?;
        let usage = Usage::parse(usage)?;
        let descriptor = Descriptor::simple(name, width, height, format, usage)
            .map_err(|e| format!("buffer `{name}`: {e}"))?;
        let placement =
            solver::solve(&descriptor, profile).map_err(|e| format!("buffer `{name}`: {e}"))?;
        let domains =
            domains(profile, &placement, usage).map_err(|e| format!("buffer `{name}`: {e}"))?;
        self.buffers.push(TraceBuffer {
            name: name.to_string(),
            line,
            usage,
            lock: LockDomains::for_placement(profile, &placement),
            placement,
            descriptor,
            domains,
        });
        self.open.push(None);
        Ok(())
    }

    fn find(&self, name: &str) -> Result<usize, String> {
        self.buffers
            .iter()
            .position(|b| b.name == name)
            .ok_or_else(|| {
                format!("unknown buffer `{name}` (declare it with a `buffer` line first)")
            })
    }

    fn cpu_begin(&mut self, line: usize, name: &str, access: CpuAccess) -> Result<(), String> {
        let buffer = self.find(name)?;
        let usage = self.buffers[buffer].usage;
        let never = |f: Option<CpuFrequency>| f.map_or(true, |f| f == CpuFrequency::Never);
        if access.reads() && never(usage.cpu_read()) {
            return Err(format!(
                "`{name}` has no CPU_READ usage, so the CPU cannot lock it for reading"
            ));
        }
        if access.writes() && never(usage.cpu_write()) {
            return Err(format!(
                "`{name}` has no CPU_WRITE usage, so the CPU cannot lock it for writing"
            ));
        }
        if let Some((begun, _)) = self.open[buffer] {
            return Err(format!(
                "`{name}` is already locked by the CPU (line {begun})"
            ));
        }
        self.open[buffer] = Some((line, access));
        self.events.push(TraceEvent {
            line,
            buffer,
            event: Event::CpuBegin(access),
        });
        Ok(())
    }

    fn cpu_end(&mut self, line: usize, name: &str) -> Result<(), String> {
        let buffer = self.find(name)?;
        let (_, access) = self.open[buffer]
            .take()
            .ok_or_else(|| format!("`{name}` is not locked by the CPU"))?;
        self.events.push(TraceEvent {
            line,
            buffer,
            event: Event::CpuEnd(access),
        });
        Ok(())
    }

    fn device(
        &mut self,
        line: usize,
        name: &str,
        device: &str,
        access: DeviceAccess,
    ) -> Result<(), String> {
        let buffer = self.find(name)?;
        let profile = self.profile()?;
        let index = profile.device_index(device).ok_or_else(|| {
            let names: Vec<&str> = profile.devices().iter().map(|d| d.name.as_str()).collect();
            format!(
                "no device `{device}` in profile `{}` (devices: {})",
                profile.name,
                names.join(", ")
            )
        })?;
        if profile
            .devices()
            .get(index)
            .is_some_and(|d| d.has_role(Role::Cpu))
        {
            return Err(format!(
                "`{device}` is the CPU: use `cpu {name} begin ...` and `cpu {name} end`"
            ));
        }
        let placement = &self.buffers[buffer].placement;
        let allowed = placement.access(index);
        let (ok, verb) = match access {
            DeviceAccess::Read => (allowed.read, "read"),
            DeviceAccess::Write => (allowed.write, "write"),
        };
        if !ok {
            let attached: Vec<&str> = placement.device_names(profile).collect();
            let how = if allowed.is_none() {
                "is not attached to it"
            } else {
                "does not"
            };
            return Err(format!(
                "`{device}` cannot {verb} `{name}`: by its usage it {how}{} (attached: {})",
                if allowed.is_none() {
                    String::new()
                } else {
                    format!(" {verb} it")
                },
                attached.join(", ")
            ));
        }
        self.events.push(TraceEvent {
            line,
            buffer,
            event: Event::Device { index, access },
        });
        Ok(())
    }
}
