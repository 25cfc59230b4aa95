"""synthts core: hook specifications, plugin manager, registries, domain types, settings.

A plugin needs only ``from synthts_core import hookimpl``. Importing this package loads none of
torch, ray, mlflow, mongoengine, litestar, textual or plotly.
"""

from synthts_core.hookspecs import hookimpl, hookspec

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl", "hookspec"]
