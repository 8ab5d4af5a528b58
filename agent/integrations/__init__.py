"""Integrations with other evaluation platforms: the benchmark as an Inspect AI task (inspect_task.py,
its tools, its log read back) and the hooks those platforms load (inspect_registry.py)."""
