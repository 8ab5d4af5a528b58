"""The tool-output cap: the one default every caller shares (tool suite, CLI options, lab,
interactive sessions, transcript header). Import-free on purpose so the CLI can use it in option
defaults without slowing `tracr-agent --help`."""

DEFAULT_CAP_TOKENS = 1500
CHARS_PER_TOKEN = 4
