//! `ExtendableType`: a vendor-extensible option (name, value).

/// One option.
#[derive(Debug, Default)]
pub struct ExtendableType {
    /// The option's name.
    pub r#name: String,
    /// Its value.
    pub r#value: i64,
}
