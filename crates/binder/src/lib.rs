//! Host-build facade: rsbinder under the names AOSP's `binder` crate uses.
