"""Entry point of the built-in metrics plugin (filled in by its issue)."""

from __future__ import annotations
