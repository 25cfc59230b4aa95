"""Entry point of the built-in timesynth plugin (filled in by its issue)."""

from __future__ import annotations
