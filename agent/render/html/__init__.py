"""The HTML views: one self-contained page per batch (`tracr-agent view`) or per episode (`export --format html`).

pictures.py draws parsed tool results (heatmaps, coloured tables, before/after), episode.py renders an
episode's blocks as a timeline, overview.py the batch heatmap and breakdowns, page.py assembles the
file (inline CSS and a little vanilla JS, no network), sources.py reads what `view` is pointed at.
"""
