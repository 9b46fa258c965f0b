//! Host checks of the Android packaging files (tests live in `tests/`).
