"""The investigator side of tracr-agent: the loop, backends, investigators, episodes, scoring, evaluation, rendering, interactive use and the CLI."""
