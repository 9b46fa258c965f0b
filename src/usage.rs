//! Buffer usage bits (`android.hardware.graphics.common.BufferUsage`, V5) and what they mean.

use std::fmt;

/// How often the CPU touches a buffer in one direction (read or write).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuFrequency {
    /// Never.
    Never,
    /// Rarely: a write-combined or uncached mapping is acceptable.
    Rarely,
    /// Often: the mapping should be cached.
    Often,
}

/// A 64-bit `BufferUsage` value. Callers ask meaning-level questions instead of testing bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Usage(pub u64);

macro_rules! usage_bits {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        impl Usage {
            $($(#[$doc])* pub const $name: Usage = Usage($value);)*
        }
        /// Every named usage flag, in bit order, for parsing and printing.
        pub const NAMED_FLAGS: &[(&str, Usage)] = &[$((stringify!($name), Usage::$name)),*];
    };
}

usage_bits! {
    /// CPU reads rarely.
    CPU_READ_RARELY = 2;
    /// CPU reads often.
    CPU_READ_OFTEN = 3;
    /// CPU writes rarely.
    CPU_WRITE_RARELY = 2 << 4;
    /// CPU writes often.
    CPU_WRITE_OFTEN = 3 << 4;
    /// Sampled by the GPU.
    GPU_TEXTURE = 1 << 8;
    /// Rendered to by the GPU.
    GPU_RENDER_TARGET = 1 << 9;
    /// Scanned out by the display as an overlay plane.
    COMPOSER_OVERLAY = 1 << 11;
    /// Target of client (GPU) composition, scanned out by the display.
    COMPOSER_CLIENT_TARGET = 1 << 12;
    /// Protected content: no CPU access, protected memory.
    PROTECTED = 1 << 14;
    /// Display cursor plane.
    COMPOSER_CURSOR = 1 << 15;
    /// Read by a video encoder.
    VIDEO_ENCODER = 1 << 16;
    /// Written by the camera.
    CAMERA_OUTPUT = 1 << 17;
    /// Read by the camera (reprocessing).
    CAMERA_INPUT = 1 << 18;
    /// Used by RenderScript (GPU compute).
    RENDERSCRIPT = 1 << 20;
    /// Written by a video decoder.
    VIDEO_DECODER = 1 << 22;
    /// Written by a sensor hub through direct channel.
    SENSOR_DIRECT_DATA = 1 << 23;
    /// Used as a GPU data buffer (SSBO, vertex data).
    GPU_DATA_BUFFER = 1 << 24;
    /// Sampled by the GPU as a cube map.
    GPU_CUBE_MAP = 1 << 25;
    /// GPU texture with a complete mipmap chain.
    GPU_MIPMAP_COMPLETE = 1 << 26;
    /// Read by a hardware image (JPEG/HEIC) encoder.
    HW_IMAGE_ENCODER = 1 << 27;
    /// Rendered and scanned out at the same time (front-buffer rendering).
    FRONT_BUFFER = 1 << 32;
}

impl Usage {
    /// `CPU_READ_MASK`.
    pub const CPU_READ_MASK: u64 = 0xf;
    /// `CPU_WRITE_MASK`.
    pub const CPU_WRITE_MASK: u64 = 0xf << 4;
    /// Vendor bits in the low word (`VENDOR_MASK`).
    pub const VENDOR_MASK: u64 = 0xf << 28;
    /// Vendor bits in the high word (`VENDOR_MASK_HI`).
    pub const VENDOR_MASK_HI: u64 = 0xffff << 48;
    /// Removed bits 10 and 13: the framework still lets them through, so we accept and ignore them.
    pub const TOLERATED_LEGACY: u64 = (1 << 10) | (1 << 13);
    /// Every bit this implementation understands. Vendor bits are not understood by a generic
    /// allocator, so they are unsupported here.
    pub const KNOWN_MASK: u64 = Self::CPU_READ_MASK
        | Self::CPU_WRITE_MASK
        | Self::TOLERATED_LEGACY
        | (1 << 8)
        | (1 << 9)
        | (1 << 11)
        | (1 << 12)
        | (1 << 14)
        | (1 << 15)
        | (1 << 16)
        | (1 << 17)
        | (1 << 18)
        | (1 << 20)
        | (1 << 22)
        | (1 << 23)
        | (1 << 24)
        | (1 << 25)
        | (1 << 26)
        | (1 << 27)
        | (1 << 32);

    /// The bits as a raw value.
    pub const fn bits(self) -> u64 {
        self.0
    }
    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Usage) -> bool {
        self.0 & other.0 == other.0
    }
    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: Usage) -> bool {
        self.0 & other.0 != 0
    }
    /// Bits outside [`Usage::KNOWN_MASK`] (reserved, removed or vendor bits), 0 if none.
    pub const fn unknown_bits(self) -> u64 {
        self.0 & !Self::KNOWN_MASK
    }
    fn frequency(nibble: u64) -> Option<CpuFrequency> {
        match nibble {
            0 => Some(CpuFrequency::Never),
            2 => Some(CpuFrequency::Rarely),
            3 => Some(CpuFrequency::Often),
            _ => None,
        }
    }
    /// CPU read frequency; `None` when the nibble holds an undefined value (1 or 4..=15).
    pub fn cpu_read(self) -> Option<CpuFrequency> {
        Self::frequency(self.0 & Self::CPU_READ_MASK)
    }
    /// CPU write frequency; `None` when the nibble holds an undefined value.
    pub fn cpu_write(self) -> Option<CpuFrequency> {
        Self::frequency((self.0 & Self::CPU_WRITE_MASK) >> 4)
    }
    /// Whether the CPU maps the buffer at all.
    pub fn cpu_access(self) -> bool {
        self.0 & (Self::CPU_READ_MASK | Self::CPU_WRITE_MASK) != 0
    }
    /// Whether the CPU reads it often (the cached-mapping case).
    pub fn cpu_reads_often(self) -> bool {
        self.cpu_read() == Some(CpuFrequency::Often)
    }
    /// Whether the buffer holds protected content.
    pub const fn protected(self) -> bool {
        self.contains(Self::PROTECTED)
    }

    /// Parses `FLAG[,FLAG...]` (names as in [`NAMED_FLAGS`], `CPU_READ_NEVER`/`CPU_WRITE_NEVER`
    /// accepted as 0) or a number (decimal or `0x` hex).
    pub fn parse(text: &str) -> Result<Usage, String> {
        let text = text.trim();
        if let Some(value) = parse_number(text) {
            return Ok(Usage(value));
        }
        let mut bits = 0u64;
        for part in text.split([',', '|']) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            if part == "CPU_READ_NEVER" || part == "CPU_WRITE_NEVER" {
                continue;
            }
            let flag = NAMED_FLAGS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(part))
                .map(|(_, usage)| usage.0)
                .or_else(|| parse_number(part))
                .ok_or_else(|| format!("unknown usage flag `{part}`"))?;
            bits |= flag;
        }
        Ok(Usage(bits))
    }
}

fn parse_number(text: &str) -> Option<u64> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else {
        text.parse().ok()
    }
}

impl std::ops::BitOr for Usage {
    type Output = Usage;
    fn bitor(self, rhs: Usage) -> Usage {
        Usage(self.0 | rhs.0)
    }
}

impl fmt::Display for Usage {
    /// Prints `FLAG|FLAG|0x...` with the CPU nibbles decoded; unknown bits are shown in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut put = |f: &mut fmt::Formatter<'_>, s: &dyn fmt::Display| -> fmt::Result {
            if !first {
                f.write_str("|")?;
            }
            first = false;
            write!(f, "{s}")
        };
        let mut rest = self.0;
        for (name, mask) in [
            ("CPU_READ", Self::CPU_READ_MASK),
            ("CPU_WRITE", Self::CPU_WRITE_MASK),
        ] {
            let nibble = (self.0 & mask) >> mask.trailing_zeros();
            let word = match nibble {
                0 => None,
                2 => Some("RARELY"),
                3 => Some("OFTEN"),
                _ => Some("?"),
            };
            if let Some(word) = word {
                if word == "?" {
                    put(f, &format_args!("{name}_0x{nibble:x}"))?;
                } else {
                    put(f, &format_args!("{name}_{word}"))?;
                }
            }
            rest &= !mask;
        }
        for (name, flag) in NAMED_FLAGS.iter().skip(4) {
            if rest & flag.0 != 0 {
                put(f, name)?;
                rest &= !flag.0;
            }
        }
        if rest != 0 {
            put(f, &format_args!("0x{rest:x}"))?;
        }
        if first {
            f.write_str("CPU_READ_NEVER")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_and_numbers() {
        assert_eq!(
            Usage::parse("GPU_TEXTURE,COMPOSER_OVERLAY").unwrap(),
            Usage::GPU_TEXTURE | Usage::COMPOSER_OVERLAY
        );
        assert_eq!(Usage::parse("0x300").unwrap(), Usage(0x300));
        assert_eq!(Usage::parse("768").unwrap(), Usage(0x300));
        assert!(Usage::parse("GPU_TEXTUR").is_err());
    }

    #[test]
    fn cpu_frequencies() {
        let u = Usage::CPU_READ_OFTEN | Usage::CPU_WRITE_RARELY;
        assert_eq!(u.cpu_read(), Some(CpuFrequency::Often));
        assert_eq!(u.cpu_write(), Some(CpuFrequency::Rarely));
        assert!(u.cpu_reads_often());
        assert_eq!(Usage(1).cpu_read(), None);
        assert!(!Usage::GPU_TEXTURE.cpu_access());
    }

    #[test]
    fn reserved_and_vendor_bits_are_unknown() {
        assert_eq!(Usage(1 << 33).unknown_bits(), 1 << 33);
        assert_eq!(Usage(1 << 19).unknown_bits(), 1 << 19);
        assert_eq!(Usage(1 << 28).unknown_bits(), 1 << 28);
        assert_eq!(Usage(1 << 50).unknown_bits(), 1 << 50);
        assert_eq!((Usage::FRONT_BUFFER | Usage(1 << 10)).unknown_bits(), 0);
    }

    #[test]
    fn display_round_trips_through_parse() {
        let u = Usage::CPU_READ_OFTEN | Usage::GPU_TEXTURE | Usage::FRONT_BUFFER;
        assert_eq!(Usage::parse(&u.to_string()).unwrap(), u);
        assert_eq!(Usage(0).to_string(), "CPU_READ_NEVER");
    }
}
