"""The mlflow plugin's settings (``SYNTHTS_MLFLOW_*``), declared through ``register_settings``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from synthts_core.settings import PluginSettings, mask_uri


class MlflowSettings(PluginSettings):
    masked_uris = ("mlflow_uri",)

    mlflow_uri: str | None = Field(None, description="MLflow tracking server URI. Default: a "
                                   "SQLite store and artifact folder in the data folder.")
    mlflow_experiment: str = Field("synthts", description="MLflow experiment prefix.")
    mlflow_system_metrics: bool = Field(False, description="Log system metrics (CPU, memory, "
                                        "disk, network; GPU with nvidia-ml-py) to every run.")

    # the embedded default lives in the core's data folder (``of`` gives a model that has it)
    @property
    def mlflow_tracking_uri(self) -> str:
        return self.mlflow_uri or f"sqlite:///{self.data_dir / 'mlflow.db'}"  # type: ignore[attr-defined]

    @property
    def mlflow_artifact_dir(self) -> Path:
        return self.data_dir / "mlartifacts"  # type: ignore[attr-defined, no-any-return]

    def derived_values(self) -> dict[str, str]:
        return {"mlflow_tracking_uri (effective)": mask_uri(self.mlflow_tracking_uri)}
