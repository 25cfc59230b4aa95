"""Settings from ``SYNTHTS_*`` environment variables and a ``.env`` file.

Embedded defaults live in one data folder (SQLite file, MLflow store, Ray storage), per user
unless ``SYNTHTS_DATA_DIR`` says otherwise.

The core declares its own settings here (Ray's too: Ray is the core's trial runner, not a
plugin). A plugin declares its own as a ``PluginSettings`` model through the
``register_settings`` hook; ``Settings()`` is then the core's model composed with every
installed plugin's, validated at once from the same variables and ``.env`` file, so a bad
``SYNTHTS_MONGO_TIMEOUT_MS`` fails where a bad ``SYNTHTS_API_PORT`` does and
``Settings(mongo_username=...)`` works as before. A plugin reads its values through its own
model: ``MongoSettings.of(settings)``.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CONFIG = SettingsConfigDict(env_prefix="SYNTHTS_", env_file=".env", env_file_encoding="utf-8",
                            extra="ignore")
P = TypeVar("P", bound="PluginSettings")


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "synthts"


def _split_names(v: Any) -> Any:
    if isinstance(v, str):
        return [p.strip() for p in v.split(",") if p.strip()]
    return v


class PluginSettings(BaseSettings):
    """Base of a plugin's settings model: fields named ``<plugin>_<what>`` are read from
    ``SYNTHTS_<PLUGIN>_<WHAT>`` and the ``.env`` file, like the core's. Declare it with
    ``registry.add(MySettings)`` in ``register_settings`` and read it with
    ``MySettings.of(settings)``. Properties may use the core's fields (``self.data_dir``)."""

    model_config = CONFIG
    masked_uris: ClassVar[tuple[str, ...]] = ()  # fields shown with a URI's password hidden

    def derived_values(self) -> dict[str, str]:
        """Derived values ``synthts config`` shows after the settings (``name (effective)``)."""
        return {}

    @classmethod
    def of(cls: type[P], settings: Any = None) -> P:
        """This plugin's settings out of ``settings`` (a ``Settings``, which holds every
        installed plugin's); anything else (``None``, a plain object) is read again from the
        environment, with the values ``settings`` has for this model's and the core's fields."""
        if isinstance(settings, cls):
            return settings
        composed = settings_class(((cls, "<given>"),))
        values = {name: getattr(settings, name) for name in composed.model_fields
                  if settings is not None and hasattr(settings, name)}
        return composed(**values)  # type: ignore[return-value]


class _PluginSwitches(BaseSettings):
    """The two settings that decide which plugins load, read before the plugins are."""

    model_config = CONFIG
    strict_plugins: bool = False
    disable_plugins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    _split = field_validator("disable_plugins", mode="before")(_split_names)


class Settings(BaseSettings):
    """The core's settings; an instance also holds every installed plugin's (see the module's
    doc): ``type(settings).plugin_entries`` says which."""

    model_config = CONFIG
    plugin_entries: ClassVar[tuple[tuple[type[PluginSettings], str], ...]] = ()

    data_dir: Path = Field(default_factory=default_data_dir,
                           description="Folder for the embedded defaults (SQLite, MLflow, Ray).")
    storage: str | None = Field(None, description="Storage URI: sqlite:///path/file.db or "
                                "mongodb://host:port/db. Default: sqlite file in the data folder.")
    tracker: str = Field("mlflow", description="Tracker plugin name.")
    ray_address: str | None = Field(None, description="Existing Ray cluster address; default "
                                    "starts a local Ray in-process.")
    ray_num_cpus: int | None = Field(None, description="CPUs for the local Ray (default: all).")
    ray_cpus_per_trial: float = Field(1.0, description="CPUs reserved by each trial (>= 0); "
                                      "more than any one node has fails the job at once.")
    ray_gpus_per_trial: float = Field(0.0, description="GPUs reserved by each trial (>= 0); "
                                      "more than any one node has fails the job at once.")
    ray_worker_start_timeout_s: float = Field(
        300.0, gt=0, description="Seconds a trial's Ray worker may take to start once its "
        "resources are reserved; a worker still not started then (it dies at start: a broken "
        "environment on a node) fails the job, naming the trial and Ray's log of the worker.")
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
    inference_threads: int | None = Field(None, ge=1, description="Torch threads each "
                                          "generation forward pass uses (default: every core).")
    strict_plugins: bool = Field(False, description="Re-raise plugin import errors.")
    disable_plugins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Entry-point names "
                                       "not to load (comma-separated).")

    _split = field_validator("disable_plugins", mode="before")(_split_names)

    def __new__(cls, *args: Any, **values: Any) -> Settings:
        # ``Settings(...)`` builds the core's model composed with the installed plugins'
        if cls is Settings:
            cls = settings_class(installed_settings(**plugin_switches(values)))
        return super().__new__(cls)

    def __reduce__(self) -> Any:
        # a composed class is not importable by name: pickle which plugins' models it holds
        return _rebuild, (type(self).plugin_entries, self.__getstate__())

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
        """Effective settings for display (the core's, then each plugin's), secrets masked,
        with derived locations."""
        models = [model for model, _ in self.plugin_entries]
        uris = {"storage", "ray_address"}.union(*(m.masked_uris for m in models))
        out: dict[str, Any] = {}
        for name in [*Settings.model_fields, *(f for m in models for f in m.model_fields)]:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            elif name in uris and isinstance(value, str):
                value = mask_uri(value)
            out[name] = value
        out["storage_uri (effective)"] = mask_uri(self.storage_uri)
        for model in models:
            out.update(model.derived_values(self))  # type: ignore[arg-type]
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


def describe_settings(pm: Any = None) -> list[dict[str, str]]:
    """Every setting with its environment variable, default, description and declaring plugin
    (``""`` for the core's), for docs: the core's, then those of the plugins installed (or
    registered on ``pm``, a ``PluginManager``)."""
    entries = (installed_settings(**plugin_switches()) if pm is None
               else declared_settings(pm).declared())
    rows = []
    for model, plugin in ((Settings, ""), *entries):
        for name, f in model.model_fields.items():
            if name == "data_dir":
                default = "~/.local/share/synthts (or $XDG_DATA_HOME/synthts)"
            elif f.default_factory is not None:
                default = repr(f.default_factory())  # type: ignore[call-arg]
            else:
                default = repr(f.default)
            rows.append({"env": f"SYNTHTS_{name.upper()}", "default": default,
                         "description": f.description or "", "plugin": plugin})
    return rows


# ------------------------------------------------------------------ plugin-declared settings
class SettingsRegistry:
    """What ``register_settings`` receives: ``registry.add(MySettings)`` declares a plugin's
    settings model. A field (an environment variable) belongs to one model: a second one,
    the core's included, is an error naming both."""

    kind = "setting"

    def __init__(self) -> None:
        self.current_plugin = "<unknown>"
        self._declared: list[tuple[type[PluginSettings], str]] = []
        self._owner: dict[str, str] = dict.fromkeys(Settings.model_fields, "synthts core")

    def add(self, model: type[PluginSettings]) -> type[PluginSettings]:
        from synthts_core.errors import DuplicateNameError, PluginError

        if not (isinstance(model, type) and issubclass(model, PluginSettings)):
            raise PluginError(f"settings of plugin {self.current_plugin!r} must be a "
                              f"PluginSettings subclass (synthts_core.settings), not {model!r}")
        for name in model.model_fields:
            if name in self._owner:
                raise DuplicateNameError(self.kind, f"SYNTHTS_{name.upper()}", self._owner[name],
                                         self.current_plugin)
        for name in model.model_fields:
            self._owner[name] = self.current_plugin
        self._declared.append((model, self.current_plugin))
        return model

    def declared(self) -> tuple[tuple[type[PluginSettings], str], ...]:
        """(model, plugin) in the order the plugins were registered."""
        return tuple(self._declared)


def declared_settings(pm: Any) -> SettingsRegistry:
    """The settings models the plugins registered on ``pm`` declare. A hook that raises is
    logged and skipped (re-raised when the manager is strict), like the other hooks; a
    variable declared twice is always an error."""
    return pm.fill("register_settings", SettingsRegistry(), warn=True)


_discovering = threading.local()


def installed_settings(*, strict: bool = False, disabled: Iterable[str] = ()
                       ) -> tuple[tuple[type[PluginSettings], str], ...]:
    """(model, plugin) of every installed plugin (the ``synthts`` entry points) not disabled."""
    if getattr(_discovering, "active", False):  # a plugin building Settings while it loads
        return ()
    return _installed_settings(bool(strict), frozenset(disabled))


@functools.lru_cache(maxsize=8)
def _installed_settings(strict: bool, disabled: frozenset[str]
                        ) -> tuple[tuple[type[PluginSettings], str], ...]:
    from synthts_core.plugins import PluginManager

    _discovering.active = True
    try:
        pm = PluginManager(strict=strict, disabled=sorted(disabled))
        pm.load_entry_points()
        return declared_settings(pm).declared()
    finally:
        _discovering.active = False


def plugin_switches(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """``strict`` and ``disabled`` for a ``PluginManager``, from the given values, the
    environment and the ``.env`` file, without the plugins' settings (they are not known yet);
    a bad value is left to the full validation to report."""
    given = {k: v for k, v in (values or {}).items()
             if k in ("strict_plugins", "disable_plugins", "_env_file")}
    try:
        switches = _PluginSwitches(**given)
    except ValidationError:
        return {}
    return {"strict": switches.strict_plugins, "disabled": switches.disable_plugins}


def _rebuild(entries: tuple[tuple[type[PluginSettings], str], ...], state: Any) -> Settings:
    cls = settings_class(entries)
    obj = cls.__new__(cls)
    obj.__setstate__(state)
    return obj


@functools.cache
def settings_class(entries: tuple[tuple[type[PluginSettings], str], ...]) -> type[Settings]:
    """The core's model composed with the plugins' (one class per set of plugins)."""
    if not entries:
        return Settings
    bases = (Settings, *(model for model, _ in entries))
    return type(Settings)("Settings", bases, {  # type: ignore[return-value]
        "__module__": __name__, "__qualname__": "Settings", "__doc__": Settings.__doc__,
        "plugin_entries": entries})
