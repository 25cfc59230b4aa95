"""Entry point of the built-in gan plugin (filled in by its issue)."""

from __future__ import annotations
