"""The MLflow tracker: experiments and runs (the registry half is in ``model_registry``).

Everything goes through one ``MlflowClient`` bound to this tracker's URIs, never through
``mlflow.set_tracking_uri`` (that is process-global and Ray workers may host several
trackers). The embedded default is a SQLite store plus an artifact folder in the data folder;
``SYNTHTS_MLFLOW_URI`` points at a server instead. Experiments are named
``<SYNTHTS_MLFLOW_EXPERIMENT>/<name>`` (a dataset's trials: ``synthts/<dataset>``); runs of jobs
trained before that rule live in ``synthts/synthts-<dataset>`` and are still found.
"""

from __future__ import annotations

import json
import math
import tempfile
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from synthts_core.errors import BackendUnavailableError, BadInputError, SynthtsError
from synthts_core.settings import Settings, mask_uri
from synthts_mlflow import store_template
from synthts_mlflow.model_registry import ModelRegistryMixin
from synthts_mlflow.resilience import call_backend, http_limits, ping_http
from synthts_mlflow.settings import MlflowSettings

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlflow import MlflowClient

T = TypeVar("T")
RUN_STATUSES = ("FINISHED", "FAILED", "KILLED")
BATCH = 100  # MLflow's limit on params/tags per log_batch
# MLflow 3's UI opens an experiment in its GenAI view unless it is marked as model training
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
SYSTEM_METRICS_INTERVAL_S = 10.0  # MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL overrides it


class MlflowTracker(ModelRegistryMixin):
    """Tracker over MLflow; safe to share between threads, cheap to rebuild per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = MlflowSettings.of(settings)
        self.tracking_uri = self.config.mlflow_tracking_uri
        self.remote = self.tracking_uri.split("://", 1)[0] in ("http", "https")
        self.uri = mask_uri(self.tracking_uri)
        self._client: MlflowClient | None = None
        self._client_lock = threading.Lock()
        self._experiments: dict[str, str] = {}
        self._monitors: dict[str, Any] = {}  # run id -> SystemMetricsMonitor

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> MlflowClient:
        """Created on first use: opening the SQLite store runs MLflow's migrations (seconds)."""
        with self._client_lock:
            if self._client is None:
                if not self.remote:
                    self.settings.ensure_data_dir()
                    self.config.mlflow_artifact_dir.mkdir(parents=True, exist_ok=True)
                    self._call(self._create_embedded_store)
                from mlflow import MlflowClient

                self._client = self._call(MlflowClient, tracking_uri=self.tracking_uri,
                                          registry_uri=self.tracking_uri)
            return self._client

    def _create_embedded_store(self) -> None:
        """A new SQLite store gets its tables and the ``Default`` experiment (id 0) from the
        first store object opened on it, whose artifact root is ``./mlruns`` of the current
        folder unless given: create it here with the data folder's artifact root, so
        experiment 0 lives in ``<data_dir>/mlartifacts/0`` wherever the first command ran.
        Its tables come migrated from ``store_template`` (seconds saved per new data folder)."""
        path = sqlite_path(self.tracking_uri)
        if path is None or path.exists():
            return
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store_template.copy_template(path)  # False: MLflow migrates the new store in place
        store = SqlAlchemyStore(self.tracking_uri, self.config.mlflow_artifact_dir.as_uri())
        store.engine.dispose()

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        scope: AbstractContextManager[None] = http_limits() if self.remote else nullcontext()
        with scope:
            return call_backend(self.uri, fn, *args, **kwargs)

    def ping(self) -> None:
        """Fail fast with BackendUnavailableError when the store or server is unreachable."""
        if self.remote:
            ping_http(self.tracking_uri)
            return
        try:
            self._call(self.client.search_experiments, max_results=1)
        except SynthtsError:
            raise
        except Exception as exc:
            raise BackendUnavailableError("MLflow", f"{self.uri}: {exc}") from exc

    def close(self) -> None:
        """MLflow keeps no connection we own; drop the client so a later call reconnects.
        System-metric samplers of runs never ended here are stopped (their runs stay open)."""
        for run_id in list(self._monitors):
            monitor = self._monitors.pop(run_id, None)
            if monitor is not None:
                monitor.finish()
        with self._client_lock:
            self._client = None
            self._experiments.clear()

    # ------------------------------------------------------------------ experiments
    def experiment_name(self, experiment: str | None) -> str:
        """Experiments live under the configured prefix (``SYNTHTS_MLFLOW_EXPERIMENT``):
        ``sines`` -> ``synthts/sines``; a name given with the prefix already is kept."""
        prefix = self.config.mlflow_experiment
        if not experiment or experiment == prefix or experiment.startswith(prefix + "/"):
            return experiment or prefix
        return f"{prefix}/{experiment}"

    def experiment_names(self, experiment: str | None) -> list[str]:
        """``experiment_name`` and the name the same experiment had before: jobs trained by
        earlier versions logged a dataset's runs to ``synthts/synthts-<dataset>``. Accepts the
        experiment in either form (``sines`` or ``synthts-sines``)."""
        prefix = self.config.mlflow_experiment
        name = self.experiment_name(experiment)
        base = name.removeprefix(prefix + "/") if name != prefix else ""
        names = [name]
        if base:
            names.append(f"{prefix}/{prefix}-{base}")  # the old name of this experiment
            if base.startswith(prefix + "-"):  # given in the old form: the new name too
                names.append(f"{prefix}/{base.removeprefix(prefix + '-')}")
        return list(dict.fromkeys(names))

    def experiment_ids(self, experiment: str | None) -> list[str]:
        """Ids of the experiments ``experiment_names`` lists that exist (never creates one)."""
        ids = []
        for name in self.experiment_names(experiment):
            found = self._call(self.client.get_experiment_by_name, name)
            if found is not None:
                ids.append(found.experiment_id)
        return ids

    def experiment_id(self, experiment: str | None) -> str:
        name = self.experiment_name(experiment)
        cached = self._experiments.get(name)
        if cached is not None:
            return cached
        from mlflow.exceptions import MlflowException

        found = self._call(self.client.get_experiment_by_name, name)
        if found is None:
            location = None
            if not self.remote:
                safe = name.replace("/", "__")
                location = (self.config.mlflow_artifact_dir / safe).as_uri()
            try:
                exp_id = self._call(self.client.create_experiment, name,
                                    artifact_location=location,
                                    tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
            except MlflowException:
                # another process created it between our look-up and create
                found = self._call(self.client.get_experiment_by_name, name)
                if found is None:
                    raise
                exp_id = found.experiment_id
        else:
            exp_id = found.experiment_id
            if EXPERIMENT_KIND_TAG not in (found.tags or {}):  # made by an older synthts
                self._call(self.client.set_experiment_tag, exp_id, EXPERIMENT_KIND_TAG,
                           EXPERIMENT_KIND)
        self._experiments[name] = exp_id
        return exp_id

    # ------------------------------------------------------------------ runs
    def start_run(self, experiment: str, run_name: str, params: Mapping[str, Any],
                  tags: Mapping[str, str] | None = None) -> str:
        """Create a run and log its params in batches; returns the run id."""
        from mlflow.entities import Param

        exp_id = self.experiment_id(experiment)
        all_tags = standard_tags()
        all_tags.update({str(k): str(v) for k, v in (tags or {}).items()})
        run = self._call(self.client.create_run, exp_id, run_name=run_name, tags=all_tags)
        run_id = run.info.run_id
        entries = [Param(str(k), _param_text(v)) for k, v in params.items()]
        for start in range(0, len(entries), BATCH):
            self._call(self.client.log_batch, run_id, params=entries[start:start + BATCH])
        if self.config.mlflow_system_metrics:
            self._start_system_metrics(run_id)
        return run_id

    def _start_system_metrics(self, run_id: str) -> None:
        """MLflow's own sampler (a daemon thread) logging ``system/*`` metrics to this run;
        a missing psutil is a warning, never a failed run."""
        import logging

        try:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            monitor = SystemMetricsMonitor(run_id, sampling_interval=SYSTEM_METRICS_INTERVAL_S,
                                           tracking_uri=self.tracking_uri)
        except Exception as exc:  # psutil not installed, or no /proc
            logging.getLogger("synthts.tracker").warning(
                "system metrics are off for run %s: %s: %s", run_id, type(exc).__name__, exc)
            return
        monitor.start()
        self._monitors[run_id] = monitor

    def log_dataset_input(self, run_id: str, *, name: str, checksum: str,
                          source: str = "", shape: tuple[int, ...] | None = None,
                          context: str = "training") -> None:
        """The dataset a run learned, as an MLflow run input (its checksum is the digest)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        profile = json.dumps({"shape": list(shape)}) if shape else None
        digest = checksum.split(":", 1)[-1][:36] or "unknown"  # MLflow keeps 36 characters
        dataset = Dataset(name=name, digest=digest,
                          source_type="synthts", source=json.dumps(
                              {"uri": source or f"synthts:dataset/{name}", "checksum": checksum}),
                          profile=profile)
        tags = [InputTag("mlflow.data.context", context)]
        self._call(self.client.log_inputs, run_id,
                   datasets=[DatasetInput(dataset=dataset, tags=tags)])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        """One round trip for all metrics of a step."""
        from mlflow.entities import Metric

        if not metrics:
            return
        now = int(time.time() * 1000)
        entries = [Metric(str(k), _metric_value(k, v), now, int(step)) for k, v in metrics.items()]
        for start in range(0, len(entries), 1000):
            self._call(self.client.log_batch, run_id, metrics=entries[start:start + 1000])

    def log_artifact(self, run_id: str, name: str, data: bytes) -> None:
        """Store ``data`` as the run's artifact ``name`` (a relative path like ``figs/e1.html``)."""
        path = artifact_path(name)
        with tempfile.TemporaryDirectory(prefix="synthts-artifact-") as tmp:
            local = Path(tmp) / path.name
            local.write_bytes(data)
            parent = str(path.parent) if str(path.parent) != "." else None
            self._call(self.client.log_artifact, run_id, str(local), artifact_path=parent)

    def log_artifact_files(self, run_id: str, files: Mapping[str, bytes], folder: str) -> None:
        """Several artifacts under one folder in one upload (used for a model version)."""
        with tempfile.TemporaryDirectory(prefix="synthts-artifacts-") as tmp:
            for name, data in files.items():
                local = Path(tmp) / artifact_path(name)
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(data)
            self._call(self.client.log_artifacts, run_id, tmp,
                       artifact_path=str(artifact_path(folder)))

    def end_run(self, run_id: str, status: Literal["FINISHED", "FAILED", "KILLED"]) -> None:
        if status not in RUN_STATUSES:
            raise BadInputError("status", f"got {status!r}", allowed=", ".join(RUN_STATUSES))
        monitor = self._monitors.pop(run_id, None)
        if monitor is not None:
            monitor.finish()  # flushes the last samples while the run still accepts them
        self._call(self.client.set_terminated, run_id, status=status)

    def end_open_runs(self, experiment: str, tags: Mapping[str, str],
                      status: Literal["FINISHED", "FAILED", "KILLED"]) -> int:
        """End every RUNNING run of ``experiment`` carrying all of ``tags`` (the runs a killed
        process left open). Returns how many were ended."""
        if status not in RUN_STATUSES:
            raise BadInputError("status", f"got {status!r}", allowed=", ".join(RUN_STATUSES))
        found = self.experiment_ids(experiment)  # runs of older jobs: the old name too
        if not found:
            return 0
        terms = [f"tags.`{k}` = '{v}'" for k, v in tags.items() if "'" not in k + v]
        terms.append("attributes.status = 'RUNNING'")
        runs = self._call(self.client.search_runs, found,
                          filter_string=" and ".join(terms), max_results=1000)
        for run in runs:
            self.end_run(run.info.run_id, status)
        return len(runs)

    def run_history(self, run_id: str) -> dict[str, list[tuple[int, float]]]:
        """Every metric of the run as (step, value) pairs in step order."""
        run = self._call(self.client.get_run, run_id)
        history: dict[str, list[tuple[int, float]]] = {}
        for key in sorted(run.data.metrics):
            points = self._call(self.client.get_metric_history, run_id, key)
            history[key] = sorted((int(m.step), float(m.value)) for m in points)
        return history


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` store URI; None for other stores and in-memory SQLite."""
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri[len("sqlite:///"):].split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    return Path(rest)


def standard_tags() -> dict[str, str]:
    """MLflow's source and user tags, as its fluent ``start_run`` would set them."""
    import getpass
    from importlib import metadata

    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (some containers)
        user = "unknown"
    try:
        version = metadata.version("synthts")
    except metadata.PackageNotFoundError:
        version = "dev"
    return {"mlflow.user": user, "mlflow.source.type": "JOB",
            "mlflow.source.name": f"synthts {version}"}


def artifact_path(name: str) -> PurePosixPath:
    """A relative artifact path without ``..``; anything else is bad input."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name:
        raise BadInputError("name", f"artifact path {name!r} is not allowed",
                            allowed="a relative path without '..', e.g. 'figures/epoch_1.html'")
    return path


def _param_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _metric_value(key: Any, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInputError(f"metrics.{key}", f"got {value!r}", allowed="a number") from None
    return number if not math.isinf(number) else math.copysign(1.7976931348623157e308, number)
