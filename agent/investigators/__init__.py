"""Investigators that need no LLM: the built-in baseline and the prior study's static dump."""
