"""Model registry half of the MLflow tracker.

A model version is an MLflow 3 logged model (see ``logged_model``): an ``MLmodel`` with a pyfunc
flavour written as code, whose artifacts are ``weights.safetensors``, ``config.json`` and
``metrics.json``; it is an output of the run that trained it and the version's source is
``models:/<model_id>``. Versions registered before that are the ``model/`` folder of a run and
still load. Version tags carry what listing needs without downloading anything (the
architecture, the dataset, the metrics, the config JSON); aliases (``best``) are MLflow
registered-model aliases. Loading reads bytes back; nothing is ever unpickled.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthts_core.domain import ModelBundle, ModelVersionRef, RegisteredModel, check_name
from synthts_core.errors import BadInputError, NotFoundError
from synthts_mlflow.logged_model import (
    ARTIFACTS,
    is_logged_model_location,
    log_version_model,
    model_id_of,
    registry_scope,
)

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

MODEL_FOLDER = "model"  # where versions registered before logged models keep their files
FILES = ("config.json", "weights.safetensors", "metrics.json")
CONFIG_TAG = "synthts.config"
METRIC_TAG = "metric."
EVAL_TAG = "eval."
ALIAS_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$")
MAX_TAG = 100_000
RUN_TAG = "synthts.run"  # "trial" (the version's run trained it) or why it could not be
log = logging.getLogger("synthts.tracker")


def dataset_of(config: Mapping[str, Any]) -> tuple[str, str]:
    """(name, checksum) of the dataset a config names: ``dataset`` as a name or as a mapping
    with ``name`` and ``checksum``; ``dataset_checksum`` beside a plain name."""
    dataset = config.get("dataset")
    if isinstance(dataset, Mapping):
        return str(dataset.get("name", "")), str(dataset.get("checksum", ""))
    return str(dataset or ""), str(config.get("dataset_checksum", ""))


class ModelRegistryMixin:
    """Registry methods of ``MlflowTracker`` (uses its client, ``_call`` and run helpers)."""

    # provided by MlflowTracker
    client: Any
    tracking_uri: str
    _call: Any
    start_run: Any
    log_metrics: Any
    end_run: Any
    log_artifact_files: Any
    log_dataset_input: Any

    # ------------------------------------------------------------------ write
    def register_model(self, name: str, bundle: ModelBundle, *, run_id: str | None = None,
                       aliases: list[str] | None = None) -> ModelVersionRef:
        """Upload the bundle as an output of the run that trained it (``run_id``: the trial's
        run, with its training history) and register it. Only when there is no such run (none
        given: a trial that trained while the tracker was unreachable; or the tracker lost it)
        is a run made for the version, in the dataset's experiment, holding the final metrics;
        the version's ``synthts.run`` tag, its description and the log say why."""
        from mlflow.exceptions import MlflowException

        check_name(name, "model_name")
        for alias in aliases or []:
            _check_alias(alias)
        config = dict(bundle.config)
        architecture = str(config.get("architecture", ""))
        ds_name, ds_checksum = dataset_of(config)
        metrics = {str(k): float(v) for k, v in bundle.metrics.items()}
        why = self._no_training_run(run_id)
        own_run = why is not None
        if own_run:
            log.warning("model %s: %s; its version gets a run of its own with the final "
                        "metrics only", name, why)
            run_id = self.start_run(ds_name or "registry", f"register-{name}",
                                    {"architecture": architecture, "dataset": ds_name},
                                    tags={"synthts.kind": "registration", RUN_TAG: why})
            if ds_name:
                self.log_dataset_input(run_id, name=ds_name, checksum=ds_checksum)
        assert run_id is not None
        config_text = json.dumps(config, sort_keys=True, default=str)
        logged = log_version_model(self, run_id, bundle, tags={
            "synthts.architecture": architecture, "synthts.dataset": ds_name,
            "synthts.dataset_checksum": ds_checksum, "synthts.registered_model": name})
        if own_run:
            if metrics:
                self.log_metrics(run_id, metrics, 0)
            self.end_run(run_id, "FINISHED")

        description = f"{architecture or 'a model'} trained on {ds_name or 'an unnamed dataset'}"
        version_note = f"; {why}: its run holds the final metrics only" if why else ""
        try:
            self._call(self.client.create_registered_model, name,
                       tags={"architecture": architecture, "dataset": ds_name},
                       description=description)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        tags = {"architecture": architecture, "dataset": ds_name,
                "dataset_checksum": ds_checksum, RUN_TAG: why or "trial"}
        tags.update({METRIC_TAG + k: repr(v) for k, v in metrics.items()})
        if len(config_text) <= MAX_TAG:
            tags[CONFIG_TAG] = config_text
        with registry_scope(self.tracking_uri, self.remote):
            version = self._call(self.client.create_model_version, name,
                                 source=f"models:/{logged.model_id}", run_id=run_id, tags=tags,
                                 description=f"{description} ({ds_checksum or 'no checksum'})"
                                 f"{version_note}",
                                 model_id=logged.model_id)
        for alias in aliases or []:
            self._call(self.client.set_registered_model_alias, name, alias, version.version)
        return self.get_version(name, str(version.version))

    def _no_training_run(self, run_id: str | None) -> str | None:
        """None when ``run_id`` names a run the tracker has; else why the version has none."""
        if run_id is None:
            return ("no training run was given (a trial that trained while the tracker was "
                    "unreachable has none)")
        try:
            self._call(self.client.get_run, run_id)
        except NotFoundError:
            return f"its training run {run_id} is missing from the tracker"
        return None

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` (e.g. ``best``) at a version; it moves off any earlier one."""
        _check_alias(alias)
        ref = self.get_version(name, version)
        self._call(self.client.set_registered_model_alias, name, alias, ref.version)

    def log_evaluation(self, name: str, version: str, report: Mapping[str, Any]) -> None:
        """Report JSON as an artifact of the version's run, headline metrics as version tags."""
        ref = self.get_version(name, version)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        text = json.dumps(dict(report), sort_keys=True, default=str)
        run_id = ref.run_id
        if run_id is None:
            run_id = self.start_run("registry", f"evaluate-{name}-{ref.version}", {})
            self.end_run(run_id, "FINISHED")
        self.log_artifact_files(run_id, {f"{stamp}.json": text.encode()}, "evaluations")
        for metric, value in headline_metrics(report).items():
            self._call(self.client.set_model_version_tag, name, ref.version,
                       EVAL_TAG + metric, repr(value))
        self._call(self.client.set_model_version_tag, name, ref.version, EVAL_TAG + "at", stamp)
        if report.get("dataset"):
            self._call(self.client.set_model_version_tag, name, ref.version,
                       EVAL_TAG + "dataset", str(report["dataset"]))

    # ------------------------------------------------------------------ read
    def list_models(self) -> list[RegisteredModel]:
        models: list[RegisteredModel] = []
        for rm in self._paged(self.client.search_registered_models):
            if rm.tags.get("mlflow.prompt.is_prompt"):
                continue
            versions = [str(v.version) for v in self._versions(rm.name)]
            models.append(RegisteredModel(
                name=rm.name, description=rm.description or "",
                latest_version=str(max(map(int, versions))) if versions else None,
                aliases={a: str(v) for a, v in (rm.aliases or {}).items()},
                n_versions=len(versions)))
        return sorted(models, key=lambda m: m.name)

    def list_versions(self, name: str) -> list[ModelVersionRef]:
        """Versions in ascending order; a model that does not exist is NotFoundError."""
        aliases = self._aliases(name)
        versions = sorted(self._versions(name), key=lambda v: int(v.version))
        return [_to_ref(v, aliases) for v in versions]

    def get_version(self, name: str, version_or_alias: str) -> ModelVersionRef:
        """By number ("3"), by alias ("best") or "latest"."""
        from mlflow.exceptions import MlflowException

        key = str(version_or_alias).strip()
        aliases = self._aliases(name)
        if key == "latest":
            versions = self._versions(name)
            if not versions:
                raise NotFoundError("model version", f"{name}@latest", hint="it has no versions")
            return _to_ref(max(versions, key=lambda v: int(v.version)), aliases)
        if key.isdigit():
            try:
                return _to_ref(self._call(self.client.get_model_version, name, key), aliases)
            except (MlflowException, NotFoundError):
                numbers = sorted((str(v.version) for v in self._versions(name)), key=int)
                known = ", ".join(numbers) or "none"
                raise NotFoundError("model version", f"{name}@{key}",
                                    hint=f"versions: {known}") from None
        _check_alias(key, field="version")
        if key not in aliases:
            named = ", ".join(sorted(aliases)) or "none"
            raise NotFoundError("model version", f"{name}@{key}",
                                hint=f"use a version number, 'latest' or an alias ({named})")
        return _to_ref(self._call(self.client.get_model_version_by_alias, name, key), aliases)

    def load_bundle(self, name: str, version: str) -> ModelBundle:
        """Download config, weights and metrics of a version (number or alias) as bytes."""
        from mlflow.artifacts import download_artifacts

        ref = self.get_version(name, version)
        if not ref.source:
            raise NotFoundError("model files", f"{name}@{ref.version}", hint="it has no source")
        source = ref.source
        model_id = model_id_of(source)
        if model_id is not None:
            source = self._call(self.client.get_logged_model, model_id).artifact_location
        if model_id is not None or is_logged_model_location(source):
            source = f"{source.rstrip('/')}/{ARTIFACTS}"  # the pyfunc artifacts folder
        with tempfile.TemporaryDirectory(prefix="synthts-bundle-") as tmp:
            local = Path(self._call(download_artifacts, artifact_uri=source, dst_path=tmp,
                                    tracking_uri=self.tracking_uri))
            missing = [f for f in FILES[:2] if not (local / f).is_file()]
            if missing:
                raise NotFoundError("model files", f"{name}@{ref.version}",
                                    hint=f"{', '.join(missing)} missing under {ref.source}")
            config = json.loads((local / "config.json").read_text())
            weights = (local / "weights.safetensors").read_bytes()
            metrics_file = local / "metrics.json"
            metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        return ModelBundle(config=config, weights=weights,
                           metrics={k: float(v) for k, v in metrics.items()})

    # ------------------------------------------------------------------ helpers
    def _paged(self, search: Any, *args: Any) -> list[Any]:
        items: list[Any] = []
        token = None
        while True:
            page = self._call(search, *args, max_results=1000, page_token=token)
            items.extend(page)
            token = getattr(page, "token", None)
            if not token:
                return items

    def _versions(self, name: str) -> list[ModelVersion]:
        check_name(name, "model")
        return self._paged(self.client.search_model_versions, f"name = '{name}'")

    def _aliases(self, name: str) -> dict[str, str]:
        """alias -> version of a registered model; a missing model is NotFoundError."""
        from mlflow.exceptions import MlflowException

        check_name(name, "model")
        try:
            rm = self._call(self.client.get_registered_model, name)
        except (MlflowException, NotFoundError):
            raise NotFoundError("model", name, hint="see `synthts models list`") from None
        return {a: str(v) for a, v in (rm.aliases or {}).items()}


def headline_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    """Numbers worth a tag: ``metrics`` as a list of {name, value} or a {name: value} map."""
    metrics = report.get("metrics")
    out: dict[str, float] = {}
    if isinstance(metrics, Mapping):
        items = metrics.items()
    elif isinstance(metrics, list):
        items = ((m.get("name"), m.get("value")) for m in metrics if isinstance(m, Mapping))
    else:
        items = ()
    for key, value in items:
        if isinstance(key, str) and isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def _check_alias(alias: Any, field: str = "alias") -> str:
    if not isinstance(alias, str) or not ALIAS_PATTERN.match(alias) or alias == "latest" \
            or re.fullmatch(r"v\d+", alias):
        raise BadInputError(field, f"got {alias!r}", allowed="a version number, 'latest' or an "
                            "alias: letters, digits, '_' or '-', starting with a letter or '_'")
    return alias


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _to_ref(mv: ModelVersion, aliases: Mapping[str, str]) -> ModelVersionRef:
    tags = dict(mv.tags or {})
    metrics = {k[len(METRIC_TAG):]: v for k, t in tags.items()
               if k.startswith(METRIC_TAG) and (v := _float(t)) is not None}
    metrics.update({k: v for k, t in tags.items()
                    if k.startswith(EVAL_TAG) and (v := _float(t)) is not None})
    try:
        config = json.loads(tags.get(CONFIG_TAG, "{}"))
    except json.JSONDecodeError:
        config = {}
    created = (datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC)
               if mv.creation_timestamp else None)
    return ModelVersionRef(
        name=mv.name, version=str(mv.version), architecture=tags.get("architecture", ""),
        aliases=sorted(a for a, v in aliases.items() if v == str(mv.version)),
        run_id=mv.run_id or None, metrics=metrics, config=config, created_at=created,
        source=mv.source)
