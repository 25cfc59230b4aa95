"""Entry point of the built-in mlflow plugin (filled in by its issue)."""

from __future__ import annotations
