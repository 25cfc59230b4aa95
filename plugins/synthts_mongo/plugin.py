"""Entry point of the built-in mongo plugin (filled in by its issue)."""

from __future__ import annotations
