"""Entry point of the built-in mlflow plugin: the MLflow tracker and model registry.

Only the factory is registered here; MLflow itself is imported when a tracker is built, so
loading plugins (``synthts plugins``) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthts_core import hookimpl
from synthts_core.registry import TrackerInfo

if TYPE_CHECKING:
    from synthts_core.interfaces import Tracker
    from synthts_core.registry import TrackerRegistry
    from synthts_core.settings import Settings, SettingsRegistry


def make_tracker(settings: Settings) -> Tracker:
    """Build a tracker from the settings (also what Ray workers call to get their own)."""
    from synthts_mlflow.tracker import MlflowTracker

    return MlflowTracker(settings)


@hookimpl
def register_trackers(registry: TrackerRegistry) -> None:
    registry.add(TrackerInfo(
        "mlflow", make_tracker,
        "MLflow runs and model registry: embedded SQLite store + artifact folder in the data "
        "folder, or an MLflow server when SYNTHTS_MLFLOW_URI is set",
    ))


@hookimpl
def register_settings(registry: SettingsRegistry) -> None:
    from synthts_mlflow.settings import MlflowSettings

    registry.add(MlflowSettings)
