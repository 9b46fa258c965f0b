//! Service adapter: the IAllocator implementation over the core and memory layers.
