"""LLM backends: chat models chosen by a spec string, and chat models that answer from a list."""
