"""A job's spec: the defaults the installed plugins declare for what it leaves unset, the
check of every field before anything is stored, and what it asks of the data (the shape
trained on, its labels as indices, whether trials are ranked by their worst class).

Nothing here names an architecture or a metric: the defaults are what the plugins declare
(``default_space``, ``in_default_search``, ``default_updates``, a metric's ``pass_threshold``),
sized for the data the job trains on (``data_shape``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import msgspec

from synthts_core import job_form, missing, privacy
from synthts_core.domain import DataShape, JobSpec, TrainingJob, check_name
from synthts_core.errors import BadInputError
from synthts_core.interfaces import family_of
from synthts_core.schema import Param

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime


def data_shape(rt: Runtime, spec: JobSpec) -> DataShape:
    """The shape of what the job trains on: the labels it keeps, when it names some, without
    the held-out series (counted from the metadata alone, so a submit reads no values: with a
    held-out split and a label subset, the split's share is taken as even across labels)."""
    meta = rt.storage.get_dataset_meta(spec.dataset)
    n_series, n_classes = meta.n_series, len(meta.label_names)
    if spec.labels is not None and meta.label_names:
        keep = [i for i, name in enumerate(meta.label_names) if name in spec.labels]
        counts = meta.label_counts or [0] * n_classes
        n_series, n_classes = sum(counts[i] for i in keep), len(keep)
    if meta.n_holdout and meta.n_series:
        n_series = round(n_series * (1 - meta.n_holdout / meta.n_series))
    return DataShape(n_series=n_series, n_channels=meta.n_channels, length=meta.length,
                     n_classes=n_classes, ragged=meta.min_length is not None)


def default_spaces(registries: Any, shape: DataShape) -> dict[str, dict[str, Any]]:
    """The architectures a job that names none trains, each with the search space it declares
    for data of this ``shape`` (``default_space``; an architecture without one but with
    ``in_default_search`` gets its plain defaults), by name. (For a job that asks for
    differential privacy, ``shape.private``, ``resolve_defaults`` keeps those that support
    it.)"""
    spaces: dict[str, dict[str, Any]] = {}
    for arch in registries.architectures:
        declare = getattr(arch, "default_space", None)
        if callable(declare):
            space = declare(shape)
        else:
            space = {} if getattr(arch, "in_default_search", False) else None
        if space is not None:
            spaces[arch.name] = dict(space)
    return spaces


UPDATES_PER_TRIAL = 2000  # what a job that names no epochs gives each trial, about
EPOCH_BOUNDS = (10, 1000)


def default_epochs(shape: DataShape, updates: int = UPDATES_PER_TRIAL) -> int:
    """Epochs for about ``updates`` updates at the batch sizes the default spaces choose (a
    quarter of the set, 8 to 64 series): 65 on 2000 series, 500 on 50 for the default 2000;
    never fewer than 10 or more than 1000."""
    batch = min(64, max(8, shape.n_series // 4))
    steps = max(1, shape.n_series // batch)
    low, high = EPOCH_BOUNDS
    return int(min(high, max(low, math.ceil(updates / steps))))


def declared_epochs(registries: Any, names: list[str], shape: DataShape) -> dict[str, int]:
    """Epochs for the architectures in ``names`` that declare their own ``default_updates``
    (a family that needs more updates than ``UPDATES_PER_TRIAL`` to learn real data: the
    built-in diffusion), by name."""
    out: dict[str, int] = {}
    for name in names:
        if name not in registries.architectures:
            continue  # validate_spec names it
        updates = getattr(registries.architectures.get(name), "default_updates", None)
        if updates:
            out[name] = default_epochs(shape, int(updates))
    return out


def default_select_metric(registries: Any) -> str | None:
    """The metric a job that names none is ranked by: the first installed metric (by name)
    that gives the verdict (states a ``pass_threshold``); None when none does."""
    return next((m.name for m in registries.metrics
                 if getattr(m, "pass_threshold", None) is not None), None)


def resolve_defaults(rt: Runtime, spec: JobSpec) -> JobSpec:
    """The spec with the defaults the installed plugins declare for what it leaves unset
    (``None``): ``architectures`` with their spaces for this data (``default_spaces``),
    ``epochs`` (``default_epochs``; per architecture where one declares ``default_updates``)
    and ``select_metric`` (``default_select_metric``). What is still unset after that fails
    ``validate_spec``. A job that asks for differential privacy and names no architectures
    trains those of the default search that support it (``privacy.default_search``), each
    with the space it declares for a private job (``DataShape.private``); one on a dataset
    with missing points or unequal lengths, those that can learn from it
    (``supports_missing``)."""
    changes: dict[str, Any] = {}
    shape = data_shape(rt, spec) if spec.architectures is None or spec.epochs is None else None
    if spec.architectures is None:
        dp_field = privacy.requested(spec)
        private = msgspec.structs.replace(shape, private=dp_field is not None)
        spaces = default_spaces(rt.registries, private)
        if dp_field is not None:
            spaces = privacy.default_search(rt.registries, spaces, dp_field)
        meta = rt.storage.get_dataset_meta(spec.dataset)
        if meta.n_missing or meta.min_length is not None:  # those that learn gaps and padding
            spaces = {a: space for a, space in spaces.items()
                      if getattr(rt.registries.architectures.get(a), "supports_missing", False)}
        changes["architectures"] = list(spaces)
        changes["architecture_spaces"] = {**spaces, **spec.architecture_spaces}
    if spec.epochs is None:
        changes["epochs"] = default_epochs(shape)
        names = changes.get("architectures", spec.architectures) or []
        declared = declared_epochs(rt.registries, list(names), shape)
        if declared:  # what the job names per architecture stays
            changes["architecture_epochs"] = {**declared, **spec.architecture_epochs}
    if spec.select_metric is None and (metric := default_select_metric(rt.registries)):
        changes["select_metric"] = metric
    return msgspec.structs.replace(spec, **changes) if changes else spec


def model_name_of(rt: Runtime, spec: JobSpec) -> str:
    """The name a job registers its model under: ``model_name``, or DATASET-FAMILY when every
    architecture of the job is of one family (``h-gan``, ``h-diffusion``), else DATASET-model."""
    if spec.model_name is not None:
        return spec.model_name
    registry = rt.registries.architectures
    families = {family_of(registry.get(a)) for a in spec.architectures or () if a in registry}
    return f"{spec.dataset}-{families.pop() if len(families) == 1 else 'model'}"


def validate_spec(rt: Runtime, spec: JobSpec) -> None:
    """Every field checked before anything is stored; errors name the field."""
    meta = rt.storage.get_dataset_meta(spec.dataset)  # NotFoundError names the dataset
    if spec.labels is not None:
        unknown = [lab for lab in spec.labels if lab not in meta.label_names]
        if unknown or not spec.labels:
            raise BadInputError("labels", f"unknown label(s) {unknown}" if unknown else
                                "is empty", allowed=", ".join(meta.label_names) or "no labels")
    if not spec.architectures:
        raise BadInputError("architectures", "is empty" if spec.architectures is not None else
                            "names none and no installed architecture is a default",
                            allowed=", ".join(rt.registries.architectures.names()))
    for i, name in enumerate(spec.architectures):
        rt.registries.architectures.require(name, f"architectures[{i}]")
    registry = rt.registries.architectures
    missing.require_support([registry.get(a) for a in spec.architectures], meta.n_missing,
                            spec.dataset, meta.min_length is not None,
                            [a.name for a in registry if getattr(a, "supports_missing", False)])
    privacy.check_request(rt.registries, spec)  # a DP field for a family without DP: refused
    for p in job_form.JOB_FORM:  # the bounds the API, CLI and TUI forms derive from too
        job_form.check(p.name, getattr(spec, p.name))
    rt.registries.metrics.require(spec.select_metric, "select_metric")
    if spec.model_name is not None:
        check_name(spec.model_name, "model_name")
    else:
        check_name(model_name_of(rt, spec), "dataset")
    for arch_name, value in spec.architecture_epochs.items():
        if arch_name not in spec.architectures:
            raise BadInputError(f"architecture_epochs.{arch_name}", "is not an architecture "
                                "of the job", allowed=", ".join(spec.architectures))
        if value is None:  # the epochs field may be empty; an entry here may not
            raise BadInputError(f"architecture_epochs.{arch_name}", "is empty",
                                allowed="an integer number of epochs")
        job_form.check("epochs", value, field=f"architecture_epochs.{arch_name}")
    for arch_name, entries in spec.architecture_spaces.items():
        space = rt.registries.architectures.require(arch_name, "architecture_spaces").space
        for key, value in entries.items():
            if key not in space.names:
                raise BadInputError(f"architecture_spaces.{arch_name}.{key}", "is not a "
                                    f"parameter of {arch_name}", allowed=", ".join(space.names))
            _check_choices(space[key], value, f"architecture_spaces.{arch_name}.{key}")
    spaces = [rt.registries.architectures.get(a).space for a in spec.architectures]
    for key, value in spec.search_space.items():
        params = [s[key] for s in spaces if key in s.names]
        if not params:
            allowed = sorted({n for s in spaces for n in s.names})
            raise BadInputError(f"search_space.{key}", "is not a parameter of "
                                f"{', '.join(spec.architectures)}", allowed=", ".join(allowed))
        for p in params:
            _check_choices(p, value, f"search_space.{key}")


def _check_choices(p: Param, value: Any, field: str) -> None:
    if isinstance(value, dict):
        if set(value) != {"low", "high"} or p.kind not in ("int", "float"):
            raise BadInputError(field, f"got {value!r}", allowed='a value, a list of values, or '
                                '{"low": a, "high": b} for a number' if p.kind in ("int", "float")
                                else f"a value or a list of values, each {p.allowed()}")
        low, high = (_validate_as(p, value[k], f"{field}.{k}") for k in ("low", "high"))
        if low > high:
            raise BadInputError(field, f"low {low} > high {high}", allowed="low <= high")
        if p.log and low <= 0:
            raise BadInputError(field, f"low {low} on a log scale", allowed="low > 0")
        return
    items = value if isinstance(value, list) else [value]
    if not items:
        raise BadInputError(field, "is an empty list", allowed=p.allowed())
    for item in items:
        _validate_as(p, item, field)


def _validate_as(p: Param, value: Any, field: str) -> Any:
    try:
        return p.validate(value)
    except BadInputError as exc:
        raise BadInputError(field, f"got {value!r}", allowed=exc.allowed) from None


def per_class_score(rt: Runtime, spec: JobSpec) -> bool:
    """Trials are ranked by their worst class only when every one of them can be (a labelled
    dataset, conditional architectures only); otherwise all are scored on the pooled sets, so
    an unconditional trial never wins by being judged more leniently."""
    labelled = len(rt.storage.get_dataset_meta(spec.dataset).label_names) > 1
    return labelled and all(rt.registries.architectures.get(a).conditional
                            for a in spec.architectures)


def job_label_indices(rt: Runtime, job: TrainingJob) -> list[int] | None:
    """The job's labels as indices (None: every label); a label the dataset lacks is bad input
    in ``labels``."""
    from synthts_core.services.datasets import label_indices

    if job.spec.labels is None:
        return None
    names = rt.storage.get_dataset_meta(job.spec.dataset).label_names
    return label_indices(names, job.spec.labels, field="labels")
