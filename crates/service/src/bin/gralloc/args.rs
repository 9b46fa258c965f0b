//! Flag parsing shared by the subcommands: `--flag VALUE` pairs, switches, and descriptor flags.

use central_gralloc::descriptor::DescriptorInfo;
use central_gralloc::format::PixelFormat;
use central_gralloc::usage::Usage;

/// Arguments left to consume.
pub struct Args {
    rest: Vec<String>,
}

impl Args {
    /// Wraps the arguments after the subcommand.
    pub fn new(args: &[String]) -> Args {
        Args {
            rest: args.to_vec(),
        }
    }

    /// Removes `--name VALUE` (or `--name=VALUE`) and returns VALUE.
    pub fn value(&mut self, name: &str) -> Result<Option<String>, String> {
        let eq = format!("{name}=");
        if let Some(i) = self.rest.iter().position(|a| a == name) {
            if i + 1 >= self.rest.len() {
                return Err(format!("{name} needs a value"));
            }
            let value = self.rest.remove(i + 1);
            self.rest.remove(i);
            return Ok(Some(value));
        }
        if let Some(i) = self.rest.iter().position(|a| a.starts_with(&eq)) {
            let arg = self.rest.remove(i);
            return Ok(Some(arg[eq.len()..].to_string()));
        }
        Ok(None)
    }

    /// Like [`Args::value`] but the flag must be present.
    pub fn required(&mut self, name: &str) -> Result<String, String> {
        self.value(name)?.ok_or_else(|| format!("missing {name}"))
    }

    /// Removes a switch such as `--json`; true if it was there.
    pub fn switch(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    /// Removes and returns the next positional argument.
    pub fn positional(&mut self) -> Option<String> {
        let i = self.rest.iter().position(|a| !a.starts_with("--"))?;
        Some(self.rest.remove(i))
    }

    /// Fails if anything was not consumed.
    pub fn finish(self) -> Result<(), String> {
        match self.rest.first() {
            Some(extra) => Err(format!("unexpected argument `{extra}`")),
            None => Ok(()),
        }
    }

    /// The descriptor flags of `gralloc solve`: `--width --height --format --usage [--layers]
    /// [--name] [--reserved]`, as the raw wire fields (validation is the core's job).
    pub fn descriptor(&mut self) -> Result<DescriptorInfo, String> {
        let int = |name: &str, text: String| -> Result<i32, String> {
            text.parse::<i32>()
                .map_err(|_| format!("{name} wants a 32-bit integer, found `{text}`"))
        };
        let width = int("--width", self.required("--width")?)?;
        let height = int("--height", self.required("--height")?)?;
        let format = PixelFormat::parse(&self.required("--format")?)?;
        let usage = Usage::parse(&self.required("--usage")?)?;
        let layer_count = match self.value("--layers")? {
            Some(v) => int("--layers", v)?,
            None => 1,
        };
        let reserved_size = match self.value("--reserved")? {
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| format!("--reserved wants an integer, found `{v}`"))?,
            None => 0,
        };
        let name = self
            .value("--name")?
            .unwrap_or_else(|| "gralloc-cli".to_string());
        let mut additional_options = Vec::new();
        while let Some(option) = self.value("--option")? {
            let (key, value) = option.split_once('=').unwrap_or((option.as_str(), "0"));
            let value = value
                .parse::<i64>()
                .map_err(|_| format!("--option {key} wants an integer value"))?;
            additional_options.push((key.to_string(), value));
        }
        Ok(DescriptorInfo {
            name: name.into_bytes(),
            width,
            height,
            layer_count,
            format: format.0,
            usage: usage.bits() as i64,
            reserved_size,
            additional_options,
        })
    }
}
