"""A model version as an MLflow 3 logged model: ``MLmodel`` + the pyfunc flavour from code.

The logged model (it has a ``model_id``) holds the version's files as pyfunc artifacts
(``artifacts/config.json``, ``artifacts/weights.safetensors``, ``artifacts/metrics.json``), the
model code (``pyfunc_model.py``, copied by MLflow), a signature, an input example and the
requirements. It is linked to the run that trained it (a run output) and the registered
version points at it (source ``models:/<model_id>``, as MLflow's own ``log_model`` does), so ``mlflow.pyfunc.load_model``,
``mlflow.models.get_model_info`` and ``mlflow models serve`` work on any version.

Requirements are given, never inferred: MLflow's inference imports and runs the model in a
subprocess (seconds per version).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from importlib import metadata
from pathlib import Path
from typing import Any

from synthts_core.domain import ModelBundle

CODE_FILE = Path(__file__).with_name("pyfunc_model.py")
MODEL_NAME = "model"  # the logged model's name (MLflow's "artifact path" before 3.0)
MODEL_TYPE = "synthts-gan"
ARTIFACTS = "artifacts"  # folder of the pyfunc artifacts inside the model
FILES = {"config": "config.json", "weights": "weights.safetensors", "metrics": "metrics.json"}
REQUIREMENTS = ("synthts", "mlflow", "torch", "safetensors", "numpy", "pandas")
EXAMPLE_LABELS = 3  # labels shown in the input example


def requirements() -> list[str]:
    """Pinned to what is installed here (the process that registers the model)."""
    out = []
    for dist in REQUIREMENTS:
        try:
            out.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(dist)
    return out


def signature() -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    inputs = Schema([ColSpec("string", "label", required=False),
                     ColSpec("long", "count", required=False),
                     ColSpec("long", "seed", required=False),
                     ColSpec("long", "length", required=False),
                     ColSpec("string", "missing", required=False)])
    outputs = Schema([ColSpec("string", "label"), ColSpec("long", "label_index"),
                      ColSpec(Array(Array("float")), "values")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(config: Mapping[str, Any]) -> Any:
    import pandas as pd

    names = [str(n) for n in config.get("label_names") or []]
    if int(config.get("n_classes") or 0) > 0 and names:
        return pd.DataFrame({"label": names[:EXAMPLE_LABELS],
                             "count": [2] * len(names[:EXAMPLE_LABELS]),
                             "seed": [0] * len(names[:EXAMPLE_LABELS])})
    return pd.DataFrame({"count": [2], "seed": [0]})


def model_params(config: Mapping[str, Any]) -> dict[str, str]:
    """Scalar config entries (hyper-parameters, shape) as logged-model params."""
    return {str(k): str(v) for k, v in config.items()
            if isinstance(v, str | int | float | bool) and len(str(v)) <= 500}


def log_version_model(tracker: Any, run_id: str, bundle: ModelBundle, *,
                      tags: Mapping[str, str]) -> Any:
    """Create, fill and finalise a logged model for ``bundle`` as an output of ``run_id``;
    returns the ``LoggedModel``."""
    import mlflow.pyfunc
    from mlflow.entities import LoggedModelOutput
    from mlflow.models import Model

    client, call = tracker.client, tracker._call
    run = call(client.get_run, run_id)
    config = dict(bundle.config)
    model = call(client.create_logged_model, run.info.experiment_id, name=MODEL_NAME,
                 source_run_id=run_id, tags=dict(tags), params=model_params(config),
                 model_type=MODEL_TYPE)
    try:
        with tempfile.TemporaryDirectory(prefix="synthts-mlmodel-") as tmp:
            files = Path(tmp) / "files"
            files.mkdir()
            (files / FILES["config"]).write_text(json.dumps(config, sort_keys=True, default=str))
            (files / FILES["weights"]).write_bytes(bytes(bundle.weights))
            (files / FILES["metrics"]).write_text(json.dumps(
                {str(k): float(v) for k, v in bundle.metrics.items()}, sort_keys=True))
            local = Path(tmp) / "model"
            mlflow_model = Model(artifact_path=model.artifact_location, run_id=run_id,
                                 model_uuid=model.model_id, model_id=model.model_id)
            # "add type hints to predict": the signature is given. MLflow re-enables its
            # UserWarnings inside save_model, so only a silent showwarning keeps them out
            pyfunc_log = logging.getLogger("mlflow.pyfunc")  # "validating input example"
            level = pyfunc_log.level
            with warnings.catch_warnings():
                warnings.showwarning = lambda *args, **kwargs: None
                pyfunc_log.setLevel(logging.WARNING)
                try:
                    mlflow.pyfunc.save_model(
                        path=str(local), python_model=str(CODE_FILE), mlflow_model=mlflow_model,
                        artifacts={k: str(files / v) for k, v in FILES.items()},
                        signature=signature(), input_example=input_example(config),
                        pip_requirements=requirements())
                finally:
                    pyfunc_log.setLevel(level)
            call(client.log_model_artifacts, model.model_id, str(local))
        step = int(bundle.metrics.get("epoch", 0) or 0)
        call(client.log_outputs, run_id, [LoggedModelOutput(model.model_id, step=step)])
        return call(client.finalize_logged_model, model.model_id, "READY")
    except BaseException:
        with suppress(Exception):  # the original error matters more
            call(client.finalize_logged_model, model.model_id, "FAILED")
        raise


def model_id_of(source: str | None) -> str | None:
    """``models:/m-...`` (a logged model) -> its id; None for other sources."""
    if source and source.startswith("models:/"):
        rest = source[len("models:/"):].strip("/")
        if rest.startswith("m-") and "/" not in rest:
            return rest
    return None


LOCATION = re.compile(r"/models/m-[0-9a-f]+/artifacts/?$")


def is_logged_model_location(source: str) -> bool:
    """True for a logged model's artifact location (``.../models/m-<id>/artifacts``)."""
    return bool(LOCATION.search(source))


_global_uri_lock = threading.Lock()


@contextmanager
def registry_scope(tracking_uri: str, remote: bool) -> Iterator[None]:
    """MLflow's SQL registry store resolves a ``models:/<model_id>`` source through the
    process-wide tracking URI, not its own; for the embedded store that URI is set to ours for
    the one call (and restored), under a lock. A server resolves it itself."""
    if remote:
        yield
        return
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _global_uri_lock, _use_tracking_uri(tracking_uri):
        yield
