"""The `tracr-agent` command line: main.py holds the app; eval.py, interactive.py and transcripts.py add command groups."""
