"""Entry point of the built-in sqlite plugin (filled in by its issue)."""

from __future__ import annotations
