"""Driving a page in a real headless Chromium: its DOM after its scripts ran (`chromium_dom`), or a script run
in the page once it loaded, whose result comes back as JSON (`in_page`) — keys pressed, hashes followed,
pictures counted — all within one browser start. Not a test module."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert exe, "these tests need Chromium: apt-get install chromium"
    return exe


def chromium_dom(page: Path, fragment: str = "", budget_ms: int = 0, size: str = "1200,900") -> str:
    """The DOM after the page's scripts ran, from a real headless Chromium with a window of `size` pixels."""
    # a profile of its own: Chromium instances sharing one profile (parallel test workers) refuse to start
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        p = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync", "--no-first-run",
                            f"--user-data-dir={profile}", f"--window-size={size}",
                            *([f"--virtual-time-budget={budget_ms}"] if budget_ms else []),
                            "--dump-dom", page.resolve().as_uri() + fragment], capture_output=True, text=True,
                           timeout=300)
    assert p.returncode == 0 and "<html" in p.stdout, p.stderr[-2000:]
    return p.stdout


HARNESS = """
<script>
(async function () {
  var wait = function (ms) { return new Promise(function (r) { setTimeout(r, ms); }); };
  var until = async function (f) { for (var i = 0; i < 400; i++) { if (f()) return true; await wait(25); } return false; };
  var go = async function (hash) {
    var changed = new Promise(function (r) { window.addEventListener('hashchange', r, {once: true}); });
    location.hash = hash; await changed; await wait(10);
  };
  var key = async function (k) {
    var before = location.hash;
    document.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true}));
    await until(function () { return location.hash !== before; }); await wait(10);
  };
  var drawn = function (id) { return until(function () {
    var b = document.querySelector('#' + id + ' .body'); return b && b.hasAttribute('data-drawn'); }); };
  var out = {};
  try { %s } catch (e) { out.error = String(e && e.stack || e); }
  document.body.setAttribute('data-result', JSON.stringify(out));
})();
</script>
"""


def in_page(page: Path, body: str, fragment: str = "", budget_ms: int = 20000, size: str = "1200,900") -> dict:
    """Runs `body` (JavaScript, inside an async function with `wait`, `until`, `go(hash)`, `key(k)`,
    `drawn(id)` at hand, filling `out`) in PAGE once it loaded, in a copy beside it (so files it loads
    from its folder load); returns `out`."""
    copy = page.with_name(f".harness-{uuid.uuid4().hex[:8]}.html")
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", HARNESS % body + "</body>"), encoding="utf-8")
    try:
        dom = chromium_dom(copy, fragment, budget_ms, size)
    finally:
        copy.unlink()
    m = re.search(r'<body[^>]*data-result="([^"]*)"', dom)
    assert m, "the page's script never finished: " + dom[-1500:]
    from html import unescape

    out = json.loads(unescape(m.group(1)))
    assert "error" not in out, out["error"]
    return out
