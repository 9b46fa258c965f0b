//! AIDL bindings for host builds, generated from the `aidl/` folder.
