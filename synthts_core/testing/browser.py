"""Headless Chromium (Debian's package) to check that an HTML report draws its figures."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=20000",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def rendered_dom(html_file: Path, timeout_s: float = 120) -> str:
    """The page's DOM after its scripts ran (plotly draws into it)."""
    chromium = find_chromium()
    if chromium is None:
        raise FileNotFoundError("chromium not found (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
             html_file.resolve().as_uri()],
            capture_output=True, text=True, timeout=timeout_s, check=False)
    if out.returncode != 0 or "<html" not in out.stdout:
        raise RuntimeError(f"chromium failed ({out.returncode}): {out.stderr[-2000:]}")
    return out.stdout


VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                 "source", "track", "wbr"}


class _FigureScan(HTMLParser):
    """Collects every plotly figure div and whether plotly drew an SVG inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, object]] = []
        self._stack: list[int | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div" and "plotly-graph-div" in classes:
            self.figures.append({"id": dict(attrs).get("id"), "drawn": "js-plotly-plot" in classes,
                                 "svgs": 0})
            self._stack.append(len(self.figures) - 1)
        else:
            self._stack.append(None)
        if tag == "svg" and "main-svg" in classes:
            for idx in reversed(self._stack):
                if idx is not None:
                    self.figures[idx]["svgs"] = int(self.figures[idx]["svgs"]) + 1
                    break
        if tag in VOID_ELEMENTS:
            self._stack.pop()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if self._stack:
            self._stack.pop()


def plotly_figures(dom: str) -> list[dict[str, object]]:
    """[{id, drawn, svgs}] for each plotly figure in a rendered DOM."""
    scan = _FigureScan()
    scan.feed(dom)
    return scan.figures
