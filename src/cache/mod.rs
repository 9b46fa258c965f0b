//! Cache-domain tracker: which domain owns a buffer, and the cache maintenance a handoff needs.
