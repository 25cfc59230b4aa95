"""Settings from ``SYNTHTS_*`` environment variables and a ``.env`` file.

Embedded defaults live in one data folder (SQLite file, MLflow store, Ray storage), per user
unless ``SYNTHTS_DATA_DIR`` says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "synthts"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNTHTS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default_factory=default_data_dir,
                           description="Folder for the embedded defaults (SQLite, MLflow, Ray).")
    storage: str | None = Field(None, description="Storage URI: sqlite:///path/file.db or "
                                "mongodb://host:port/db. Default: sqlite file in the data folder.")
    mongo_username: str | None = Field(None, description="MongoDB user (if not in the URI).")
    mongo_password: SecretStr | None = Field(None, description="MongoDB password.")
    mongo_auth_source: str = Field("admin", min_length=1, description="Database the MongoDB "
                                   "user is defined in (an authSource in the URI wins).")
    mongo_timeout_ms: int = Field(3000, description="MongoDB server selection timeout.")
    tracker: str = Field("mlflow", description="Tracker plugin name.")
    mlflow_uri: str | None = Field(None, description="MLflow tracking server URI. Default: a "
                                   "SQLite store and artifact folder in the data folder.")
    mlflow_experiment: str = Field("synthts", description="MLflow experiment prefix.")
    mlflow_system_metrics: bool = Field(False, description="Log system metrics (CPU, memory, "
                                        "disk, network; GPU with nvidia-ml-py) to every run.")
    ray_address: str | None = Field(None, description="Existing Ray cluster address; default "
                                    "starts a local Ray in-process.")
    ray_num_cpus: int | None = Field(None, description="CPUs for the local Ray (default: all).")
    ray_cpus_per_trial: float = Field(1.0, description="CPUs reserved by each trial (>= 0); "
                                      "more than any one node has fails the job at once.")
    ray_gpus_per_trial: float = Field(0.0, description="GPUs reserved by each trial (>= 0); "
                                      "more than any one node has fails the job at once.")
    ray_auth_mode: Literal["auto", "disabled", "token"] = Field(
        "auto", description="Ray token auth of the driver: token (send SYNTHTS_RAY_AUTH_TOKEN, "
        "SYNTHTS_RAY_AUTH_TOKEN_PATH, or Ray's own RAY_AUTH_TOKEN / ~/.ray/auth_token), "
        "disabled, or auto (token when a token or token path is set, else Ray's default).")
    ray_auth_token: SecretStr | None = Field(None, description="Token of a Ray cluster started "
                                             "with token auth (RAY_AUTH_MODE=token).")
    ray_auth_token_path: Path | None = Field(None, description="File holding the Ray cluster's "
                                             "token (instead of SYNTHTS_RAY_AUTH_TOKEN).")
    ray_storage: str | None = Field(None, description="Where Ray Tune writes experiments and "
                                    "checkpoints: a folder every Ray node mounts, or a URI Tune "
                                    "accepts (s3://bucket/path, gs://...). Default: the data "
                                    "folder's ray/ (enough for one machine).")
    min_free_bytes: int = Field(0, description="Free bytes a job must leave on the disk of a "
                                "local SYNTHTS_RAY_STORAGE beyond its estimated checkpoints; a "
                                "job that would not fit fails before it starts.")
    job_retention: int | None = Field(None, description="`synthts jobs prune` keeps the "
                                      "experiment folders of this many most recent finished "
                                      "jobs (unset: keep all; models in MLflow are never "
                                      "deleted).")
    job_heartbeat_s: float = Field(5.0, gt=0, le=3600, description="Seconds between the "
                                   "heartbeats a running job's owner process writes.")
    job_stale_after_s: float = Field(60.0, gt=0, le=86400, description="A running job whose "
                                     "heartbeat is older than this is shown as stale (its "
                                     "owner is gone): resume it or mark it failed.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="Torch device for training and generation.")
    api_host: str = Field("127.0.0.1", description="Address `synthts serve` binds.")
    api_port: int = Field(8000, description="Port `synthts serve` binds.")
    api_url: str | None = Field(None, description="API the TUI talks to (default: start one).")
    api_token: SecretStr | None = Field(None, description="Bearer token required for writes.")
    max_request_bytes: int = Field(64 * 1024 * 1024, description="Largest request body.")
    max_generate_values: int = Field(10_000_000, description="Largest series x channels x "
                                     "length one generation request may ask for or one "
                                     "upload may hold.")
    model_cache_size: int = Field(8, description="Loaded model versions kept in memory.")
    request_body_timeout_s: float = Field(30.0, gt=0, description="Longest wait for the next "
                                          "piece of a request body (a stalled body gets a 408).")
    max_concurrent_uploads: int = Field(4, ge=1, description="Dataset uploads handled at once; "
                                        "more get a 429 with Retry-After.")
    generate_batching: bool = Field(True, description="Run concurrent generation requests for "
                                    "one model version as one forward pass.")
    strict_plugins: bool = Field(False, description="Re-raise plugin import errors.")
    disable_plugins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Entry-point names "
                                       "not to load (comma-separated).")

    @field_validator("disable_plugins", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser().absolute()

    @model_validator(mode="after")
    def _lease_timing(self) -> Settings:
        # a heartbeat at least as slow as the stale limit makes every live job look stale
        if self.job_stale_after_s < 3 * self.job_heartbeat_s:
            raise ValueError(
                f"SYNTHTS_JOB_STALE_AFTER_S ({self.job_stale_after_s:g}) must be at least 3 x "
                f"SYNTHTS_JOB_HEARTBEAT_S ({self.job_heartbeat_s:g}), i.e. >= "
                f"{3 * self.job_heartbeat_s:g}")
        return self

    # derived locations of the embedded defaults
    @property
    def storage_uri(self) -> str:
        return self.storage or f"sqlite:///{self.data_dir / 'synthts.db'}"

    @property
    def mlflow_tracking_uri(self) -> str:
        return self.mlflow_uri or f"sqlite:///{self.data_dir / 'mlflow.db'}"

    @property
    def mlflow_artifact_dir(self) -> Path:
        return self.data_dir / "mlartifacts"

    @property
    def ray_storage_dir(self) -> Path:
        return self.data_dir / "ray"

    @property
    def ray_storage_uri(self) -> str:
        """Tune's storage path: SYNTHTS_RAY_STORAGE (a shared folder or a URI), or the data
        folder's ray/. A plain path (or a file:// one) is made absolute."""
        value = (self.ray_storage or "").strip()
        if not value:
            return str(self.ray_storage_dir)
        if "://" in value and not value.startswith("file://"):
            return value
        return str(Path(value.removeprefix("file://")).expanduser().absolute())

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def masked(self) -> dict[str, Any]:
        """Effective settings for display, secrets masked, with derived locations."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            elif name in ("storage", "mlflow_uri", "ray_address") and isinstance(value, str):
                value = mask_uri(value)
            out[name] = value
        out["storage_uri (effective)"] = mask_uri(self.storage_uri)
        out["mlflow_tracking_uri (effective)"] = mask_uri(self.mlflow_tracking_uri)
        return out


def mask_uri(uri: str) -> str:
    """Hide a password in ``scheme://user:password@host``."""
    if "://" not in uri or "@" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":********"
    return f"{scheme}://{creds}@{host}"


def describe_settings() -> list[dict[str, str]]:
    """Every setting with its environment variable, default and description (for docs)."""
    rows = []
    for name, f in Settings.model_fields.items():
        if name == "data_dir":
            default = "~/.local/share/synthts (or $XDG_DATA_HOME/synthts)"
        elif f.default_factory is not None:
            default = repr(f.default_factory())
        else:
            default = repr(f.default)
        rows.append({"env": f"SYNTHTS_{name.upper()}", "default": default,
                     "description": f.description or ""})
    return rows
