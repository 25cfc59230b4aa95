"""The MLflow model of a synthts version, written as code (MLflow's "models from code").

MLflow copies this file into every logged model and runs it on ``mlflow.pyfunc.load_model``:
nothing is unpickled. ``load_context`` reads the version's ``config.json`` and
``weights.safetensors`` (artifacts of the logged model), rebuilds the model through the
architecture plugin the config names, and loads the weights, exactly as ``synthts sample`` does.

``predict`` takes a DataFrame (or a dict, or a list of dicts) with the columns

* ``label``: a label name or index (conditional models; omit for unconditional ones),
* ``count``: series of that label (default 1),
* ``seed``: one seed for the whole request (optional; the same seed gives the same series),
* ``length``: points per series for the whole request (optional; default the trained length,
  longer only from a family that paints longer series, as ``synthts sample --length``),
* ``missing``: ``none`` (complete series, the default) or ``learned`` (NaN where the pattern of
  missing points the model learnt draws a gap, as ``synthts sample --missing learned``),

and returns one row per generated series: ``label`` (name), ``label_index`` and ``values``
(channels x points, real units; a model that learnt series of unequal lengths gives each
series its own length, drawn from those of its class). Rows in the order given, so
``[{"label": "a", "count": 2}, {"label": "b", "count": 2}]`` is what ``synthts sample --n 2``
makes for a two-label model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow.pyfunc import PythonModel

CONFIG_ARTIFACT = "config"
WEIGHTS_ARTIFACT = "weights"
COLUMNS = ("label", "count", "seed", "length", "missing")


def _rows(model_input: Any) -> list[dict[str, Any]]:
    """Request rows as plain dicts from a DataFrame, a dict (of scalars or of lists) or a list."""
    import pandas as pd

    if isinstance(model_input, pd.DataFrame):
        frame = model_input
    elif isinstance(model_input, Mapping):
        data = dict(model_input)
        if "labels" in data and "label" not in data:
            data["label"] = data.pop("labels")
        if "counts" in data and isinstance(data["counts"], Mapping):
            counts = data.pop("counts")
            data["label"], data["count"] = list(counts), list(counts.values())
        scalar = all(not isinstance(v, list | tuple) for v in data.values())
        frame = pd.DataFrame([data]) if scalar else pd.DataFrame(
            {k: v if isinstance(v, list | tuple) else [v] * max(
                len(x) for x in data.values() if isinstance(x, list | tuple))
             for k, v in data.items()})
    elif isinstance(model_input, list):
        frame = pd.DataFrame(model_input)
    else:
        raise TypeError(f"model_input: got {type(model_input).__name__}; allowed: a DataFrame, "
                        "a dict or a list of dicts with columns label, count, seed, length, "
                        "missing")
    unknown = sorted(set(map(str, frame.columns)) - set(COLUMNS))
    if unknown:
        raise ValueError(f"model_input: unknown column(s) {unknown}; "
                         f"allowed: {', '.join(COLUMNS)}")
    rows = []
    for record in frame.to_dict(orient="records"):
        rows.append({k: (None if _missing(v) else v) for k, v in record.items()})
    return rows


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(value != value)  # NaN / NaT / pd.NA
    except (TypeError, ValueError):
        return False


def _one(rows: list[dict[str, Any]], column: str) -> int | None:
    """The one value of ``column`` for the whole request (None when no row gives it)."""
    values = {int(r[column]) for r in rows if r.get(column) is not None}
    if len(values) > 1:
        raise ValueError(f"{column}: got {sorted(values)}; allowed: one {column} per request")
    return values.pop() if values else None


def _missing_mode(rows: list[dict[str, Any]]) -> str:
    """The one ``missing`` mode of the request (``none`` when no row gives it)."""
    modes = {r["missing"] for r in rows if r.get("missing") is not None}
    if any(not isinstance(m, str) for m in modes):
        raise ValueError(f"missing: got {sorted(map(repr, modes))}; allowed: none, learned")
    if len(modes) > 1:
        raise ValueError(f"missing: got {sorted(modes)}; allowed: one mode per request")
    return modes.pop() if modes else "none"


def _plan(rows: list[dict[str, Any]]) -> tuple[dict[str, int] | None, int | None, int | None]:
    """(counts by label or None, n for an unconditional model, seed)."""
    seed = _one(rows, "seed")
    labelled = [r for r in rows if r.get("label") is not None]
    if labelled and len(labelled) != len(rows):
        raise ValueError("label: give a label on every row or on none")
    if not labelled:
        return None, sum(int(r.get("count") or 1) for r in rows) or 1, seed
    counts: dict[str, int] = {}
    for r in labelled:
        label = r["label"]
        key = str(int(label)) if isinstance(label, float) and label.is_integer() else str(label)
        counts[key] = counts.get(key, 0) + int(r.get("count") or 1)
    return counts, None, seed


class SynthtsGenerator(PythonModel):
    """A registered synthts model (any family) as an MLflow pyfunc model."""

    def load_context(self, context: Any) -> None:
        from synthts_core.devices import resolve_device
        from synthts_core.domain import ModelVersionRef
        from synthts_core.errors import BadInputError
        from synthts_core.loaded_model import LoadedModel
        from synthts_core.plugins import make_plugin_manager
        from synthts_core.settings import Settings

        config = json.loads(Path(context.artifacts[CONFIG_ARTIFACT]).read_text())
        weights = Path(context.artifacts[WEIGHTS_ARTIFACT]).read_bytes()
        settings = Settings()
        registry = make_plugin_manager(disabled=settings.disable_plugins).registries.architectures
        name = config.get("architecture")
        if not isinstance(name, str) or name not in registry:
            raise BadInputError("architecture", f"{name!r} is not installed; install the "
                                "plugin that provides it",
                                allowed=", ".join(registry.names()) or "none installed")
        device = resolve_device(settings.device)
        trainer = registry.get(name).build(config, device)
        trainer.load_weights(weights)
        ref = ModelVersionRef(name=str(config.get("registered_model") or name),
                              version=str(config.get("registered_version") or "mlflow"),
                              architecture=name)
        self.model = LoadedModel(ref, config, trainer, device)
        self.max_values = settings.max_generate_values

    # no annotations: MLflow would read them as a (list-typed) signature of their own
    def predict(self, context, model_input, params=None):
        import pandas as pd
        from mlflow.exceptions import MlflowException

        from synthts_core.errors import SynthtsError

        model = self.model
        try:
            rows = _rows(model_input)
            counts, n, seed = _plan(rows)
            if not model.conditional and counts is not None:
                raise ValueError("label: this model is unconditional; allowed: no labels")
            length, missing = _one(rows, "length"), _missing_mode(rows)
            model.gaps_pattern(missing, length)  # refused before any work
            values, labels = model.generate(n=n, counts=counts, seed=seed,
                                            max_values=self.max_values, length=length)
            values, lengths = model.finish(values, labels, seed, missing, length)
        except (ValueError, TypeError, SynthtsError) as exc:  # bad input: 400, not 500
            text = exc.message if isinstance(exc, SynthtsError) else str(exc)
            raise MlflowException.invalid_parameter_value(text) from exc
        names = model.label_names
        label_col = ["" if labels is None else
                     (names[i] if i < len(names) else str(i)) for i in
                     (labels.tolist() if labels is not None else [0] * len(values))]
        index_col = [-1] * len(values) if labels is None else [int(i) for i in labels]
        return pd.DataFrame({"label": label_col, "label_index": index_col,
                             "values": [_rows_of(v, n) for v, n in zip(
                                 values, lengths if lengths is not None else [None] * len(values),
                                 strict=True)]})


def _rows_of(series: Any, length: int | None) -> list[list[float | None]]:
    """One series' channels up to its length, a missing point as None: JSON ``null`` when
    served (a NaN would be written as a token strict JSON parsers refuse)."""
    return [[None if x != x else x for x in channel]
            for channel in series[:, :length].tolist()]


mlflow.models.set_model(SynthtsGenerator())
