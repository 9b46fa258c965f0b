//! Memory layer: turns a placement into shareable memory (dma-heap, udmabuf, memfd).
