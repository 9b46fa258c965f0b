//! Byte encoding of the standard metadata types (filled in by the codec work).
