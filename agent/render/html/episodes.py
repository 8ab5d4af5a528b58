"""The episodes of a viewer page: drawn into the page itself, or, for a large batch, one file each beside it.

Up to INLINE_EPISODES episodes, each one's HTML and pictures sit in the page as an inert
`<script type="application/json">` (`inline_sections`): the page stands alone. Beyond that, each episode is
a small script in a folder named after the page (`view-episodes/` for `view.html`; `episode_files`),
which the page loads when the episode is opened. A file's name carries its transcript's path digest, size
and modification time and VIEW_FORMAT, so it is kept while the transcript is unchanged and `view` draws
only new or changed episodes — `eval` draws each one as it finishes (`draw_episode`), so the view it writes
at the end, and any `view` after, draws nothing again. Episodes to draw are shared among worker processes
when there are many.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from html import escape
from pathlib import Path
from typing import Optional

from tracr_agent.agent.render.html.episode import episode_html
from tracr_agent.agent.render.html.pictures import Drawing
from tracr_agent.agent.render.html.sources import Batch, Episode
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.untrusted.files import write_atomic, write_error
from tracr_agent.tools.untrusted.text import shown

INLINE_EPISODES = 200
"""Up to this many episodes the page holds them all (one file); more are written beside it, one file each."""
VIEW_FORMAT = 1
"""The episode files' format: raised when what they hold changes, so older ones are drawn again."""
_EPISODE_FILE = re.compile(r"^[0-9a-f]{16}-[0-9a-z-]+-v\d+\.js$")
"""The names `_file_name` gives: the only files of the folder `view` removes."""
PARALLEL_FROM = 40
"""Episodes to draw from which worker processes share them (below, starting them costs more than it saves)."""


def inert(value) -> str:
    """A value as the text of a `<script type="application/json">`: JSON in which nothing can end the
    element early (`</` and `<!` are written with JSON escapes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/").replace("<!", "\\u003c!")


def write_text(path: Path, text: str) -> None:
    """An episode file, written through a temporary file and a rename (never through a symlink)."""
    write_atomic(path, text)


def episode_fragment(ep: Episode, notes: list[str]) -> Optional[dict]:
    """What the viewer draws when an episode is opened — its HTML and its pictures' descriptors — or None
    when its transcript cannot be read; a damaged or unreadable transcript adds a line to `notes`."""
    blocks, note = ep.read_blocks()
    if note:
        notes.append(note)
    if blocks is None:
        return None
    drawing = Drawing()
    html = episode_html(blocks, drawing, "h2")
    return {"html": html, "pictures": drawing.descriptors}


def _nav(ep: Episode, src: str = "") -> str:
    where = f'<span class="meta">{escape(ep.file)}</span>' if ep.file else ""
    loads = f' data-src="{escape(src)}"' if src else ""
    return (f'<section class="episode" id="{ep.id}"{loads}><nav class="epnav"><a class="back" href="#list">'
            f'← all episodes</a><a class="prev" href="#{ep.id}">‹ previous</a><span class="pos"></span> '
            f'<a class="next" href="#{ep.id}">next ›</a>{where}</nav><div class="body"></div></section>')


def inline_sections(batch: Batch) -> list[str]:
    """Each episode's place in the page: its navigation, and its HTML and pictures (drawn when opened)."""
    sections = []
    for ep in batch.episodes:
        fragment = episode_fragment(ep, batch.notes) if ep.has_episode else None
        if fragment is not None:
            sections.append(_nav(ep) + f'<script type="application/json" id="src-{ep.id}">{inert(fragment)}</script>')
    return sections


def episodes_folder(dest: Path) -> Path:
    """Where the episodes of a large batch go: beside the page, named after it (view.html: view-episodes/)."""
    return dest.with_name(dest.stem + "-episodes")


def episode_folder(dest: Path) -> Path:
    """`episodes_folder(dest)`, created; one UserError line when it is a symbolic link or not a folder (the
    viewer writes into it and removes its stale episode files: never somewhere a link leads)."""
    folder = episodes_folder(dest)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise UserError(f"refusing to write the viewer's episodes into {shown(folder, one_line=True)}: it is "
                        f"{'a symbolic link' if folder.is_symlink() else 'not a folder'}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(e, folder, "create") from None
    return folder


def _file_name(ep: Episode, source: Path) -> tuple[str, bool]:
    """(the episode's file name, whether it stays valid while its transcript is unchanged)."""
    if ep.path is None:  # given blocks (an Inspect log): drawn every time
        digest = hashlib.sha1(f"{Path(source).resolve()}#{ep.id}".encode()).hexdigest()[:16]
        return f"{digest}-given-{ep.id.replace('ep-', 'n')}-v{VIEW_FORMAT}.js", False
    st = ep.path.stat()
    digest = hashlib.sha1(str(ep.path.resolve()).encode()).hexdigest()[:16]
    return f"{digest}-{st.st_size:x}-{st.st_mtime_ns:x}-v{VIEW_FORMAT}.js", True


def _draw(job: tuple[Episode, Path, str]) -> tuple[Optional[str], list[str]]:
    """Draws one episode into its file: (the file's name, or None when its transcript cannot be read;
    notes). A damaged transcript's file is named so that it is drawn again, and its warning said again."""
    ep, folder, name = job
    notes: list[str] = []
    fragment = episode_fragment(ep, notes)
    if fragment is None:
        return None, notes
    if notes:
        name = name.replace(f"-v{VIEW_FORMAT}.js", f"-damaged-v{VIEW_FORMAT}.js")
    write_text(folder / name, f"tracrEpisode({inert(fragment)});\n")
    return name, notes


def _draw_all(jobs: list, workers: int) -> list[tuple[Optional[str], list[str]]]:
    if workers > 1 and len(jobs) >= PARALLEL_FROM and "fork" in multiprocessing.get_all_start_methods():
        # fork: the workers start with everything this process imported (no second start-up)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_draw, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
    return [_draw(job) for job in jobs]


def episode_files(batch: Batch, dest: Path, workers: int = 1) -> list[str]:
    """One script per episode in `episodes_folder(dest)`, drawn anew only when its transcript changed, by up
    to `workers` processes; the sections that load them. Files of episodes no longer in the batch (or of a
    transcript since changed) are removed."""
    folder = episode_folder(dest)
    existing = set(os.listdir(folder))
    named, jobs = {}, []
    for ep in batch.episodes:
        if not ep.has_episode:
            continue
        try:
            name, lasting = _file_name(ep, batch.source)
        except OSError as e:  # the transcript went away since the batch was listed
            batch.notes.append(f"{ep.get('key', ep.file)}: {e}")
            continue
        named[ep.id] = name
        if not (lasting and name in existing):
            jobs.append((ep, folder, name))
    for (ep, _, _), (name, notes) in zip(jobs, _draw_all(jobs, workers)):
        batch.notes += notes
        named[ep.id] = name
    sections = [_nav(ep, f"{folder.name}/{named[ep.id]}") for ep in batch.episodes if named.get(ep.id)]
    kept = set(named.values())
    for stale in existing - kept:
        if _EPISODE_FILE.match(stale):
            (folder / stale).unlink(missing_ok=True)
    return sections


def draw_episode(dest: Path, ep: Episode) -> list[str]:
    """Draws one episode into the folder beside `dest` now (an eval, as each episode finishes), so the page
    written later finds it; the notes of a transcript that could not be drawn."""
    folder = episode_folder(dest)
    name, lasting = _file_name(ep, dest)
    if lasting and (folder / name).is_file():
        return []
    return _draw((ep, folder, name))[1]
