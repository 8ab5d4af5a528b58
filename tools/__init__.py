"""The subject side of tracr-agent: the task zoo, compiling RASP with tracr,
converting to TransformerLens, and the tools an investigator calls.

Heavy libraries (torch, JAX, tracr, TransformerLens) are imported lazily inside
the functions that need them, so importing this package is instant.
"""
