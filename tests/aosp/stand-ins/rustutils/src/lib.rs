//! Stand-in for AOSP's `librustutils` (crate `rustutils`), `system_properties` part: the
//! signatures of system/librustutils, bodies that fail.

/// Reading and writing system properties.
pub mod system_properties {
    use std::fmt;

    /// Why a property call failed (a `thiserror` enum upstream: `Error + Send + Sync`).
    #[derive(Debug)]
    #[non_exhaustive]
    pub enum PropertyWatcherError {
        /// The property service is not there.
        ReadFailed,
    }

    impl fmt::Display for PropertyWatcherError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("system property read failed")
        }
    }

    impl std::error::Error for PropertyWatcherError {}

    /// The module's result.
    pub type Result<T> = std::result::Result<T, PropertyWatcherError>;

    /// The value of `name`, `None` if it is not set.
    pub fn read(_name: &str) -> Result<Option<String>> {
        Err(PropertyWatcherError::ReadFailed)
    }

    /// `name` as a boolean, `default_value` if unset.
    pub fn read_bool(_name: &str, _default_value: bool) -> Result<bool> {
        Err(PropertyWatcherError::ReadFailed)
    }

    /// Sets `name` to `value`.
    pub fn write(_name: &str, _value: &str) -> Result<()> {
        Err(PropertyWatcherError::ReadFailed)
    }
}
