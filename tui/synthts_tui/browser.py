"""Open an HTML figure from the API in the user's browser.

Plotly figures need a real browser; the terminal shows its own plot and this gives the
interactive one. Files go to a per-user temp folder so they outlive the request.
"""

from __future__ import annotations

import os
import re
import tempfile
import webbrowser
from pathlib import Path


def figures_dir() -> Path:
    user = os.getuid() if hasattr(os, "getuid") else "user"
    folder = Path(tempfile.gettempdir()) / f"synthts-figures-{user}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_html(html: str, stem: str) -> str:
    """Write ``html`` to a temp file named after ``stem``, open it, return the path.

    ``SYNTHTS_TUI_NO_BROWSER`` set (tests, headless sessions) writes the file without opening.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80] or "figure"
    fd, name = tempfile.mkstemp(prefix=f"{safe}-", suffix=".html", dir=figures_dir())
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(html)
    if not os.environ.get("SYNTHTS_TUI_NO_BROWSER"):
        webbrowser.open(Path(name).as_uri())
    return name
