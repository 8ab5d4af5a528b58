"""The `decompiler` investigator: reconstructs a Tracr model's program from its internals, layer by layer."""
