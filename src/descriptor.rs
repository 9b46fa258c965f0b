//! `Descriptor`: a validated buffer request, built from the fields of `BufferDescriptorInfo`.

use crate::error::ErrorCode;
use crate::format::{FormatKind, PixelFormat};
use crate::text::escaped;
use crate::usage::Usage;
use std::fmt;

/// Length of `BufferDescriptorInfo.name`.
pub const NAME_LEN: usize = 128;

/// Largest `reservedSize` accepted: the reserved region is per-buffer client metadata, not a
/// second buffer, and it is allocated and zeroed in the service.
pub const MAX_RESERVED_SIZE: u64 = 16 << 20;

/// Option name of the dataspace hint.
pub const OPTION_DATASPACE: &str = "android.hardware.graphics.common.Dataspace";
/// Option name of the compression request.
pub const OPTION_COMPRESSION: &str = "android.hardware.graphics.common.Compression";
/// Most bytes of a client's option name an error message quotes (escaped, the rest counted).
pub const OPTION_NAME_SHOWN: usize = 128;

/// The raw fields of `BufferDescriptorInfo`, exactly as they cross the process boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescriptorInfo {
    /// `byte[128] name` (any length accepted; only the first 127 bytes up to a NUL are used).
    pub name: Vec<u8>,
    /// `int width`.
    pub width: i32,
    /// `int height`.
    pub height: i32,
    /// `int layerCount`.
    pub layer_count: i32,
    /// `PixelFormat format`.
    pub format: i32,
    /// `BufferUsage usage`.
    pub usage: i64,
    /// `long reservedSize`.
    pub reserved_size: i64,
    /// `ExtendableType[] additionalOptions` as (name, value).
    pub additional_options: Vec<(String, i64)>,
}

/// A request that passed validation: every field is in range and understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Debug name (for dma-buf names and dumps).
    pub name: String,
    /// Width in pixels (bytes for BLOB).
    pub width: u32,
    /// Height in rows (1 for BLOB).
    pub height: u32,
    /// Layers, at least 1.
    pub layer_count: u32,
    /// The requested format, found in the format table.
    pub format: PixelFormat,
    /// Usage, with no unknown bits.
    pub usage: Usage,
    /// Client bytes to reserve in the metadata region.
    pub reserved_size: u64,
    /// The dataspace hint, if given.
    pub dataspace: Option<i32>,
}

/// Why a descriptor was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DescriptorError {
    /// Width is zero or negative.
    InvalidWidth(i32),
    /// Height is zero or negative.
    InvalidHeight(i32),
    /// Layer count is zero or negative.
    InvalidLayerCount(i32),
    /// BLOB buffers are one row of bytes.
    BlobHeight(i32),
    /// `UNSPECIFIED` is not a format one can allocate.
    UnspecifiedFormat,
    /// A format value this allocator does not know.
    UnknownFormat(i32),
    /// Usage bits that are reserved, removed or vendor-defined.
    UnknownUsage(u64),
    /// A CPU read/write field with an undefined value.
    InvalidCpuUsage(u64),
    /// Protected buffers cannot be mapped by the CPU.
    ProtectedCpuAccess,
    /// `reservedSize` below zero.
    NegativeReservedSize(i64),
    /// `reservedSize` above [`MAX_RESERVED_SIZE`].
    ReservedSizeTooLarge(u64),
    /// An option name this allocator does not know.
    UnknownOption(String),
    /// A known option with a value this allocator does not support.
    UnsupportedOption(String, i64),
}

impl DescriptorError {
    /// The wire outcome (see the rules in [`crate::error`]).
    pub fn code(&self) -> ErrorCode {
        use DescriptorError::*;
        match self {
            InvalidWidth(_)
            | InvalidHeight(_)
            | InvalidLayerCount(_)
            | BlobHeight(_)
            | UnspecifiedFormat
            | NegativeReservedSize(_) => ErrorCode::BadDescriptor,
            UnknownFormat(_)
            | UnknownUsage(_)
            | InvalidCpuUsage(_)
            | ProtectedCpuAccess
            | ReservedSizeTooLarge(_)
            | UnknownOption(_)
            | UnsupportedOption(..) => ErrorCode::Unsupported,
        }
    }
}

impl fmt::Display for DescriptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DescriptorError::*;
        match self {
            InvalidWidth(w) => write!(f, "width {w} is not positive"),
            InvalidHeight(h) => write!(f, "height {h} is not positive"),
            InvalidLayerCount(n) => write!(f, "layerCount {n} is not positive"),
            BlobHeight(h) => write!(f, "BLOB buffers have height 1, not {h}"),
            UnspecifiedFormat => write!(f, "format is UNSPECIFIED"),
            UnknownFormat(v) => write!(f, "unknown pixel format 0x{v:x}"),
            UnknownUsage(bits) => write!(f, "unknown or reserved usage bits 0x{bits:x}"),
            InvalidCpuUsage(bits) => write!(f, "undefined CPU usage value 0x{bits:x}"),
            ProtectedCpuAccess => write!(f, "PROTECTED buffers cannot have CPU usage"),
            NegativeReservedSize(n) => write!(f, "reservedSize {n} is negative"),
            ReservedSizeTooLarge(n) => {
                write!(
                    f,
                    "reservedSize {n} exceeds the limit of {MAX_RESERVED_SIZE} bytes"
                )
            }
            UnknownOption(name) => {
                write!(
                    f,
                    "unknown option `{}`",
                    escaped(name).within(OPTION_NAME_SHOWN)
                )
            }
            UnsupportedOption(name, v) => write!(
                f,
                "option `{}` = {v} is not supported",
                escaped(name).within(OPTION_NAME_SHOWN)
            ),
        }
    }
}

impl std::error::Error for DescriptorError {}

impl Descriptor {
    /// Validates the wire fields. Never panics, whatever the input.
    pub fn from_info(info: &DescriptorInfo) -> Result<Descriptor, DescriptorError> {
        use DescriptorError::*;
        // name[127] is treated as 0 so the name always terminates inside the array.
        let name_bytes = &info.name[..info.name.len().min(NAME_LEN - 1)];
        let name_bytes = match name_bytes.iter().position(|&b| b == 0) {
            Some(end) => &name_bytes[..end],
            None => name_bytes,
        };
        let name = String::from_utf8_lossy(name_bytes).into_owned();

        let width = u32::try_from(info.width)
            .ok()
            .filter(|&w| w > 0)
            .ok_or(InvalidWidth(info.width))?;
        let height = u32::try_from(info.height)
            .ok()
            .filter(|&h| h > 0)
            .ok_or(InvalidHeight(info.height))?;
        let layer_count = u32::try_from(info.layer_count)
            .ok()
            .filter(|&n| n > 0)
            .ok_or(InvalidLayerCount(info.layer_count))?;

        let format = PixelFormat(info.format);
        if format == PixelFormat::UNSPECIFIED {
            return Err(UnspecifiedFormat);
        }
        let format_info = format.info().ok_or(UnknownFormat(info.format))?;
        if format_info.kind == FormatKind::Blob && height != 1 {
            return Err(BlobHeight(info.height));
        }

        let usage = Usage(info.usage as u64);
        if usage.unknown_bits() != 0 {
            return Err(UnknownUsage(usage.unknown_bits()));
        }
        if usage.cpu_read().is_none() || usage.cpu_write().is_none() {
            return Err(InvalidCpuUsage(
                usage.bits() & (Usage::CPU_READ_MASK | Usage::CPU_WRITE_MASK),
            ));
        }
        if usage.protected() && usage.cpu_access() {
            return Err(ProtectedCpuAccess);
        }

        let reserved_size = u64::try_from(info.reserved_size)
            .map_err(|_| NegativeReservedSize(info.reserved_size))?;
        if reserved_size > MAX_RESERVED_SIZE {
            return Err(ReservedSizeTooLarge(reserved_size));
        }

        let mut dataspace = None;
        for (option, value) in &info.additional_options {
            match option.as_str() {
                OPTION_DATASPACE => {
                    dataspace = Some(
                        i32::try_from(*value)
                            .map_err(|_| UnsupportedOption(option.clone(), *value))?,
                    )
                }
                // Compression NONE is what we do anyway; any real compression scheme is not.
                OPTION_COMPRESSION if *value == 0 => {}
                OPTION_COMPRESSION => return Err(UnsupportedOption(option.clone(), *value)),
                _ => return Err(UnknownOption(option.clone())),
            }
        }

        Ok(Descriptor {
            name,
            width,
            height,
            layer_count,
            format,
            usage,
            reserved_size,
            dataspace,
        })
    }

    /// A descriptor from the common fields (one layer, no reserved bytes, no options).
    pub fn simple(
        name: &str,
        width: u32,
        height: u32,
        format: PixelFormat,
        usage: Usage,
    ) -> Result<Descriptor, DescriptorError> {
        Descriptor::from_info(&DescriptorInfo {
            name: name.as_bytes().to_vec(),
            width: i32::try_from(width).unwrap_or(-1),
            height: i32::try_from(height).unwrap_or(-1),
            layer_count: 1,
            format: format.0,
            usage: usage.bits() as i64,
            reserved_size: 0,
            additional_options: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> DescriptorInfo {
        DescriptorInfo {
            name: b"test".to_vec(),
            width: 64,
            height: 64,
            layer_count: 1,
            format: PixelFormat::RGBA_8888.0,
            usage: (Usage::CPU_READ_OFTEN | Usage::CPU_WRITE_OFTEN).bits() as i64,
            reserved_size: 0,
            additional_options: vec![],
        }
    }

    type Mutation = Box<dyn FnOnce(&mut DescriptorInfo)>;

    fn err(f: impl FnOnce(&mut DescriptorInfo)) -> (DescriptorError, ErrorCode) {
        let mut i = info();
        f(&mut i);
        let e = Descriptor::from_info(&i).unwrap_err();
        let code = e.code();
        (e, code)
    }

    #[test]
    fn valid() {
        let d = Descriptor::from_info(&info()).unwrap();
        assert_eq!(
            (d.width, d.height, d.layer_count, d.name.as_str()),
            (64, 64, 1, "test")
        );
    }

    #[test]
    fn name_is_cut_at_nul_and_at_127() {
        let mut i = info();
        i.name = vec![b'a'; 128];
        assert_eq!(Descriptor::from_info(&i).unwrap().name.len(), 127);
        i.name = b"cam\0junk".to_vec();
        assert_eq!(Descriptor::from_info(&i).unwrap().name, "cam");
        i.name = vec![0xff; 300];
        assert!(Descriptor::from_info(&i).is_ok());
    }

    #[test]
    fn invalid_inputs_map_to_codes() {
        use DescriptorError::*;
        use ErrorCode::*;
        let cases: Vec<(Mutation, ErrorCode)> = vec![
            (Box::new(|i| i.width = 0), BadDescriptor),
            (Box::new(|i| i.width = -5), BadDescriptor),
            (Box::new(|i| i.height = i32::MIN), BadDescriptor),
            (Box::new(|i| i.layer_count = 0), BadDescriptor),
            (Box::new(|i| i.layer_count = -1), BadDescriptor),
            (Box::new(|i| i.format = 0), BadDescriptor),
            (Box::new(|i| i.format = 0x7fff_0000), Unsupported),
            (Box::new(|i| i.usage |= 1 << 33), Unsupported),
            (Box::new(|i| i.usage |= 1 << 19), Unsupported),
            (Box::new(|i| i.usage |= 1 << 28), Unsupported),
            (Box::new(|i| i.usage = -1), Unsupported),
            (Box::new(|i| i.usage = 1), Unsupported),
            (
                Box::new(|i| i.usage = (Usage::PROTECTED | Usage::CPU_READ_RARELY).bits() as i64),
                Unsupported,
            ),
            (Box::new(|i| i.reserved_size = -1), BadDescriptor),
            (Box::new(|i| i.reserved_size = i64::MAX), Unsupported),
            (
                Box::new(|i| {
                    i.additional_options =
                        vec![("android.hardware.graphics.common.NotARealOption".into(), 0)]
                }),
                Unsupported,
            ),
            (
                Box::new(|i| i.additional_options = vec![(OPTION_COMPRESSION.into(), 1)]),
                Unsupported,
            ),
            (
                Box::new(|i| {
                    i.format = PixelFormat::BLOB.0;
                    i.height = 2
                }),
                BadDescriptor,
            ),
        ];
        for (n, (mutate, code)) in cases.into_iter().enumerate() {
            let (e, got) = err(mutate);
            assert_eq!(got, code, "case {n}: {e}");
        }
        assert_eq!(err(|i| i.usage |= 1 << 33).0, UnknownUsage(1 << 33));
    }

    #[test]
    fn known_options_accepted() {
        let mut i = info();
        i.additional_options = vec![
            (OPTION_DATASPACE.into(), 143_261_696),
            (OPTION_COMPRESSION.into(), 0),
        ];
        assert_eq!(
            Descriptor::from_info(&i).unwrap().dataspace,
            Some(143_261_696)
        );
        // Legacy bits 10 and 13 pass through, as the framework sends them.
        i.usage |= 1 << 10;
        assert!(Descriptor::from_info(&i).is_ok());
    }
}
