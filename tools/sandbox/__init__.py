"""The sandbox for untrusted Python: submitted implementations (scoring) and the expressions a `probe`
call names both run here, under OS-level isolation (runner.py: bubblewrap, seccomp, rlimits; worker.py
runs inside; reply.py validates what comes back; process.py ends every process). It imports nothing else
of the project, so both the probe suite and scoring can use it (the import-linter layers in pyproject.toml)."""
