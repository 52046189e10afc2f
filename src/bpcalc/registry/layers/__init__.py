"""The layer kinds, one module each: dense, conv2d, the pools and flatten (registry entries, kinds.LayerKind)."""
