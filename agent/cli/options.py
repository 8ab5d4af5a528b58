"""Options several command groups share, defined once (import-free beyond typer, so `--help` stays instant)."""

import typer

PlainOpt = typer.Option(False, "--plain", help="Tool results as the text the agent read (no shaded grids for "
                        "attention patterns and residual decodes).")
