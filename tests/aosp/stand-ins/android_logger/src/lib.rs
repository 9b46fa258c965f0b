//! Stand-in for `android_logger` 0.13 (external/rust/crates/android_logger): `Config` and
//! `init_once` with that release's signatures; nothing is logged.

use log::LevelFilter;

/// Logger settings, built by chaining.
#[derive(Debug, Default)]
pub struct Config {
    tag: Option<Vec<u8>>,
    level: Option<LevelFilter>,
}

impl Config {
    /// The most verbose level that is logged.
    pub fn with_max_level(mut self, level: LevelFilter) -> Self {
        self.level = Some(level);
        self
    }

    /// The log tag.
    pub fn with_tag<S: Into<Vec<u8>>>(mut self, tag: S) -> Self {
        self.tag = Some(tag.into());
        self
    }
}

/// Installs the logger once; later calls do nothing.
pub fn init_once(_config: Config) {}
