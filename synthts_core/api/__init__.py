"""The synthts HTTP API (Litestar). Importing this package imports Litestar; the core does not."""

from synthts_core.api.app import create_app

__all__ = ["create_app"]
