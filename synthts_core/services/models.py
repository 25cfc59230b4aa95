"""Registered models: browse the registry, load versions safely, and generate from them.

``ModelService`` (``runtime.services.models``) is the way in for the API and the CLI.
Loading never unpickles: the module is rebuilt by the architecture plugin named in the
version's config and gets its safetensors weights. ``ModelCache`` keeps a few loaded versions
so the API answers repeated generation requests without reloading, and loads each version once
even when many requests for it arrive together. Torch is imported only when a model is loaded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from synthts_core.devices import resolve_device
from synthts_core.domain import Dataset, ModelVersionRef, RegisteredModel, check_name
from synthts_core.errors import BadInputError, LimitExceededError, NotFoundError

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime

DEFAULT_VERSION = "latest"
GAPS_STREAM = 0x67617073  # the stream a seeded request's gaps come from (``finish``)
LENGTHS_STREAM = 0x6C656E73  # ... and its series' lengths


def parse_model_ref(text: str) -> tuple[str, str]:
    """``name``, ``name@3``, ``name@best`` -> (name, version or alias); no suffix means latest."""
    if not isinstance(text, str) or not text.strip():
        raise BadInputError("model", f"got {text!r}", allowed="NAME or NAME@VERSION|ALIAS")
    name, sep, version = text.strip().partition("@")
    check_name(name, "model")
    if sep and not version:
        raise BadInputError("model", f"{text!r} has nothing after '@'",
                            allowed="NAME@3, NAME@best or NAME@latest")
    return name, version or DEFAULT_VERSION


def version_privacy(config: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    """A version's differential-privacy record (None: trained without DP) and the one line
    ``models show``, the API, the TUI and the report print (``synthts_core.privacy``)."""
    from synthts_core import privacy

    return privacy.of_config(config), privacy.summary(config)


def version_gaps(config: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    """A version's config with its pattern of missing points summarised (its encoded rates
    replaced by their size: ``--json`` shows them) and the one line ``models show`` prints
    about that pattern (``synthts_core.missing``)."""
    from synthts_core.missing import describe_pattern

    config = dict(config or {})
    pattern = config.get("missing")
    if isinstance(pattern, Mapping) and pattern.get("rates_u8"):
        config["missing"] = {**pattern, "rates_u8": f"({len(pattern['rates_u8'])} characters)"}
    return config, describe_pattern(pattern if isinstance(pattern, Mapping) else None)


def check_volume(n_series: int, n_channels: int, length: int, max_values: int,
                 what: str = "requested series x channels x length") -> None:
    """Refuse to generate more than ``max_values`` values (SYNTHTS_MAX_GENERATE_VALUES)."""
    total = int(n_series) * int(n_channels) * int(length)
    if total > max_values:
        raise LimitExceededError(what, total, max_values, "SYNTHTS_MAX_GENERATE_VALUES")


class LoadedModel:
    """A registered version rebuilt from its plugin, ready to generate in real units."""

    def __init__(self, ref: ModelVersionRef, config: Mapping[str, Any], trainer: Any,
                 device: str, metrics: Mapping[str, float] | None = None) -> None:
        self.ref = ref
        self.config = dict(config)
        self.trainer = trainer
        self.device = device
        self.metrics = dict(metrics or {})
        self.label_names: list[str] = [str(x) for x in self.config.get("label_names") or []]
        conditional = getattr(trainer, "conditional", None)
        self.conditional = bool(conditional if conditional is not None
                                else int(self.config.get("n_classes") or 0) > 0)
        self.n_channels = int(self.config.get("n_channels", 1))
        self.length = int(self.config.get("length", 0))
        self._offset, self._scale = _normalisation(self.config, self.n_channels)
        from synthts_core.interfaces import BatchableModel

        self.batchable = isinstance(trainer, BatchableModel)
        """The trainer draws a request's latents and noise ahead (the API batches it); checked
        once here, because a runtime protocol check inspects every member."""
        # the import normalisation of the training set (units="normalised"), and the units
        # generate() answers in: "real" for a model that learned values as imported,
        # "normalised" for one that learned a dataset an earlier synthts stored normalised
        self.data_normalisation, self.output_units = _recorded_data_units(self.config)
        self.extends_length = bool(getattr(trainer, "extends_length", False))
        self._lock = threading.Lock()

    def check_length(self, length: int | None) -> int:
        """The length to generate: the trained one, or (a model whose family paints longer
        series, ``extends_length``) any the model allows; anything else is refused naming
        ``length``."""
        if length is None or (isinstance(length, int) and not isinstance(length, bool)
                              and length == self.length):
            return self.length
        if self.config.get("lengths") and isinstance(length, int) and \
                not isinstance(length, bool) and 1 <= length < self.length:
            return int(length)  # one that learnt unequal lengths: cut at any of them
        if not self.extends_length:
            family = self.config.get("architecture", "its architecture")
            raise BadInputError("length", f"model {self.ref.name!r} ({family}) generates "
                                f"only the length it was trained on", allowed=str(self.length))
        self.trainer.latent_size(length)  # the family's own bounds (BadInputError naming length)
        return int(length)

    def label_index(self, label: str | int) -> int:
        """A label by name; by index only as ``#3`` (or a Python int). A digit string that is
        not a name is refused, never read as an index: with classes named "1" and "2", "0"
        is not a label."""
        names = self.label_names
        n_classes = len(names) or int(self.config.get("n_classes") or 0)
        if isinstance(label, str) and label in names:
            return names.index(label)
        index = -1
        if isinstance(label, int | np.integer) and not isinstance(label, bool):
            index = int(label)
        elif isinstance(label, str) and label.startswith("#") and label[1:].isdigit():
            index = int(label[1:])
        elif not names and isinstance(label, str) and label.isdigit():
            index = int(label)  # a model without label names: its classes are 0..k-1
        if 0 <= index < n_classes:
            return index
        allowed = (", ".join(names) + f" (or by index #0..#{n_classes - 1})") if names \
            else f"0..{n_classes - 1}"
        raise BadInputError("labels", f"unknown label {label!r}", allowed=allowed)

    def in_units(self, values: np.ndarray, units: str = "real") -> np.ndarray:
        """``generate``'s output (in ``output_units``) in ``units``; the training set's
        recorded normalisation maps between real and normalised units."""
        from synthts_core.services.units import check_units, to_normalised, to_real

        if check_units(units) == self.output_units:
            return np.asarray(values, np.float32)
        if units == "real":
            return to_real(values, self.data_normalisation)
        return to_normalised(values, self.data_normalisation)

    def gaps_pattern(self, missing: str = "none", length: int | None = None
                     ) -> Mapping[str, Any] | None:
        """What ``finish`` draws gaps from for ``missing`` at ``length`` (None: complete
        series), checked before any work: a DP model, whose pattern was withheld, and a series
        longer than the trained length are refused naming ``missing``."""
        from synthts_core.missing import check_mode

        if check_mode(missing) == "none":
            return None
        pattern = self.config.get("missing")
        if not isinstance(pattern, Mapping):
            return None  # it learnt complete series: they stay complete
        if pattern.get("withheld"):
            raise BadInputError("missing", f"model {self.ref.name!r} does not keep the pattern "
                                f"of missing points: {pattern['withheld']}", allowed="none")
        if length is not None and length > self.length:
            raise BadInputError("missing", f"the pattern was learnt on {self.length} points, "
                                f"the request asks for {length}",
                                allowed=f"none, or learned up to the trained length "
                                        f"{self.length}")
        return pattern

    def generation_length(self, length: int | None) -> int:
        """The length the network paints for a request of ``length``: longer series as asked
        (a family that extends them), anything else at the trained length, then cut."""
        return int(length) if length is not None and length > self.length else self.length

    def finish(self, values: np.ndarray, labels: np.ndarray | None, seed: int | None,
               missing: str = "none", length: int | None = None
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """What a request gets from the generated ``values``: cut at the requested ``length``
        when shorter than the trained one; a model that learnt unequal lengths, asked for none,
        cuts each series at a length drawn from its class's training lengths (NaN past it;
        ``synthts_core.lengths``); then, with ``missing="learned"``, NaN where the pattern of
        missing points it learnt draws a gap (``synthts_core.missing``). Each draw comes from
        ``seed`` on its own stream: the same request and seed give the same series, batched
        or not. Returns (values, each series' length or None when all are as long)."""
        from synthts_core import lengths as spans
        from synthts_core.missing import draw_missing

        pattern = self.gaps_pattern(missing, values.shape[2])
        learnt = self.config.get("lengths")
        lengths = None
        if length is not None and length < values.shape[2]:
            values = np.ascontiguousarray(values[:, :, :length])
        elif length is None and isinstance(learnt, Mapping) and learnt.get("by_class"):
            rng = np.random.default_rng(None if seed is None else [seed, LENGTHS_STREAM])
            lengths = spans.draw_lengths(learnt, labels if self.conditional else None,
                                         len(values), rng)
            values = spans.cut(values, lengths)
        if pattern is not None:  # (a shorter request draws the pattern's first points)
            rng = np.random.default_rng(None if seed is None else [seed, GAPS_STREAM])
            values = draw_missing(values, pattern, labels, rng)
        return values, lengths

    def plan(self, n: int | None = None, labels: Sequence[str | int] | None = None,
             counts: Mapping[str, int] | None = None) -> np.ndarray | None:
        """Label index per series to generate (None for an unconditional model).

        ``counts`` gives any number per label; ``labels`` gives ``n`` series of each listed
        label; neither gives ``n`` series of every label (conditional) or ``n`` in all."""
        if counts is not None and (labels is not None or n is not None):
            raise BadInputError("counts", "give counts alone, or n with labels",
                                allowed="counts, or n and labels")
        if not self.conditional:
            if labels or counts:
                raise BadInputError("labels", f"model {self.ref.name!r} is unconditional",
                                    allowed="no labels")
            return None
        if counts is not None:
            if not isinstance(counts, Mapping) or not counts:
                raise BadInputError("counts", f"got {counts!r}", allowed="{label: count, ...}")
            parts = [np.full(_count(c, f"counts.{k}", low=0), self.label_index(k), np.int64)
                     for k, c in counts.items()]
            return np.concatenate(parts)
        per_label = _count(1 if n is None else n, "n")
        chosen = labels if labels else range(len(self.label_names)
                                             or int(self.config.get("n_classes") or 0))
        return np.repeat(np.array([self.label_index(x) for x in chosen], np.int64), per_label)

    def plan_request(self, n: int | None = None, labels: Sequence[str | int] | None = None,
                     counts: Mapping[str, int] | None = None, max_values: int | None = None,
                     length: int | None = None) -> tuple[np.ndarray | None, int]:
        """``plan`` and the number of series, checked before any work: bad labels or length
        are a ``BadInputError``, more than ``max_values`` values a ``LimitExceededError``."""
        label_idx = self.plan(n, labels, counts)
        total = len(label_idx) if label_idx is not None else _count(1 if n is None else n, "n")
        length = self.check_length(length)
        if max_values is not None:
            check_volume(total, self.n_channels, length, max_values,
                         "generated values (series x channels x length)")
        return label_idx, total

    def generate(self, n: int | None = None, labels: Sequence[str | int] | None = None,
                 counts: Mapping[str, int] | None = None, seed: int | None = None,
                 max_values: int | None = None, z: np.ndarray | None = None,
                 noise: np.ndarray | None = None, length: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray | None]:
        """(values float32 (n, c, length) in ``output_units``, which ``in_units`` converts,
        label index per series or None); ``z`` fixes the latents and ``noise`` a noise-input
        generator's per-point noise (the API's batching draws both per request); ``length``
        (default the trained length) longer series from a family that paints them."""
        label_idx, total = self.plan_request(n, labels, counts, max_values, length)
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise BadInputError("seed", f"got {seed!r}", allowed="an integer >= 0")
        # only a longer series passes length on: every family's generate takes the default
        # (a shorter one is cut from it by ``finish``)
        paint = self.generation_length(length)
        extra = {} if paint == self.length else {"length": paint}
        with self._lock:  # torch modules are not safe to run from several threads at once
            if z is None:
                raw = self.trainer.generate(total, labels=label_idx, seed=seed, **extra)
            elif noise is None:
                raw = self.trainer.generate(total, labels=label_idx, z=z, **extra)
            else:
                raw = self.trainer.generate(total, labels=label_idx, z=z, noise=noise, **extra)
        values = np.asarray(_to_numpy(raw), dtype=np.float32)
        values = values * self._scale + self._offset
        return values.astype(np.float32, copy=False), label_idx


def load_model(rt: Runtime, ref: ModelVersionRef) -> LoadedModel:
    """Download the bundle, rebuild the module through its plugin, load the weights."""
    return rt.services.models.load_version(ref)


class ModelCache:
    """Bounded LRU of loaded versions, keyed by (name, version number), thread-safe.

    Aliases are resolved on every ``get`` (``best`` may have moved); numeric versions already
    loaded are served without asking the registry."""

    def __init__(self, rt: Runtime, size: int | None = None) -> None:
        self.rt = rt
        self.size = max(1, int(size if size is not None else rt.settings.model_cache_size))
        self._models: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        self.loads = 0
        self.hits = 0

    def _cached(self, key: tuple[str, str]) -> LoadedModel | None:
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                self.hits += 1
            return model

    def get(self, name: str, version_or_alias: str = DEFAULT_VERSION) -> LoadedModel:
        version = str(version_or_alias)
        if version.isdigit() and (hit := self._cached((name, version))) is not None:
            return hit
        ref = self.rt.services.models.version(name, version)
        key = (ref.name, ref.version)
        if (hit := self._cached(key)) is not None:
            return hit
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:  # one loader per version; the others wait and then hit the cache
            if (hit := self._cached(key)) is not None:
                return hit
            model = self.rt.services.models.load_version(ref)
            with self._lock:
                self.loads += 1
                self._models[key] = model
                while len(self._models) > self.size:
                    self._models.popitem(last=False)
                self._loading.pop(key, None)
            return model

    def keys(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._models)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


@dataclass
class Sample:
    """Generated series in real units with the model that made them."""

    values: np.ndarray
    labels: np.ndarray | None
    label_names: list[str]
    ref: ModelVersionRef
    seed: int | None = None
    units: str = "real"
    normalisation: Any = None  # the training set's import normalisation
    lengths: np.ndarray | None = None  # each series' length (NaN past it); None: all as long

    def to_dataset(self, name: str, config: Mapping[str, Any] | None = None) -> Dataset:
        """A synthetic dataset (``source="synthetic"``) recording which version made it,
        stored like its training set: real units, with the same normalisation recorded."""
        from synthts_core.services.units import as_normalisation, to_real

        spec = {"model": self.ref.name, "version": self.ref.version, "seed": self.seed,
                "dataset": (config or {}).get("dataset")}
        norm = as_normalisation(self.normalisation)
        values = to_real(self.values, norm) if self.units == "normalised" else self.values
        return Dataset.build(
            name, values, self.labels, self.label_names if self.labels is not None else None,
            lengths=self.lengths, source="synthetic", spec=spec, tags=["synthetic"], normalisation=norm,
            description=f"sampled from {self.ref.name}@{self.ref.version}")


def sample(rt: Runtime, ref_text: str, n: int | None = None,
           labels: Sequence[str | int] | None = None, seed: int | None = None,
           counts: Mapping[str, int] | None = None, units: str = "real") -> Sample:
    """``ModelService.sample`` (kept for the callers of the module function)."""
    return rt.services.models.sample(ref_text, n, labels=labels, seed=seed, counts=counts,
                                     units=units)


class ModelService:
    """Registered models: browse the registry, load versions, generate from them."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    # ------------------------------------------------------------------------- the registry

    def list(self) -> list[RegisteredModel]:
        """Every registered model with its latest version and aliases."""
        return self.rt.tracker.list_models()

    def get(self, name: str) -> RegisteredModel:
        """One registered model by name."""
        check_name(name, "name")
        for model in self.list():
            if model.name == name:
                return model
        raise NotFoundError("model", name, hint="GET /api/v1/models lists registered models")

    def versions(self, name: str) -> list[ModelVersionRef]:
        return self.rt.tracker.list_versions(check_name(name, "model"))

    def version(self, name: str, version_or_alias: str = DEFAULT_VERSION) -> ModelVersionRef:
        """One version by number or alias (``latest``, ``best``, ...)."""
        return self.rt.tracker.get_version(check_name(name, "model"), version_or_alias)

    def show(self, ref_text: str) -> ModelVersionRef:
        """``NAME[@version|alias]`` with its whole config (read from the version's files when
        it was too large for a tag)."""
        name, version = parse_model_ref(ref_text)
        ref = self.version(name, version)
        if not ref.config:
            ref.config = self.rt.tracker.load_bundle(name, ref.version).config
        return ref

    # ------------------------------------------------------------------------- loading

    def load(self, name: str, version_or_alias: str = DEFAULT_VERSION) -> LoadedModel:
        """A version loaded afresh (no cache; the API keeps its own ``cache()``)."""
        return self.load_version(self.version(name, version_or_alias))

    def load_version(self, ref: ModelVersionRef) -> LoadedModel:
        """Download the bundle, rebuild the module through its plugin, load the weights."""
        rt = self.rt
        bundle = rt.tracker.load_bundle(ref.name, ref.version)
        arch_name = bundle.config.get("architecture")
        if not isinstance(arch_name, str) or arch_name not in rt.registries.architectures:
            raise NotFoundError("model architecture", str(arch_name),
                                hint=f"model {ref.name}@{ref.version} needs it; installed: "
                                f"{', '.join(rt.registries.architectures.names()) or 'none'}")
        device = resolve_device(rt.settings.device)
        trainer = rt.registries.architectures.get(arch_name).build(bundle.config, device)
        trainer.load_weights(bundle.weights)
        model = LoadedModel(ref, bundle.config, trainer, device, bundle.metrics)
        if model.data_normalisation is None:
            model.data_normalisation, model.output_units = _dataset_units(rt, bundle.config)
        return model

    def cache(self, size: int | None = None) -> ModelCache:
        """A bounded cache of loaded versions (``SYNTHTS_MODEL_CACHE_SIZE`` by default)."""
        return ModelCache(self.rt, size)

    # ------------------------------------------------------------------------- generation

    def sample(self, ref_text: str, n: int | None = None,
               labels: Sequence[str | int] | None = None, seed: int | None = None,
               counts: Mapping[str, int] | None = None, units: str = "real",
               length: int | None = None, missing: str = "none") -> Sample:
        """Load ``NAME[@version|alias]`` and generate from it (one-shot, no cache), in the
        units the training data was imported in unless ``units="normalised"``; ``length``
        longer than the trained one from a family that paints longer series; ``missing``
        ``learned`` for the learnt pattern of missing points (``LoadedModel.with_gaps``)."""
        from synthts_core.missing import check_mode
        from synthts_core.services.units import check_units

        check_units(units)
        check_mode(missing)
        name, version = parse_model_ref(ref_text)
        model = self.load(name, version)
        model.gaps_pattern(missing, length)  # refused before any work
        values, label_idx = model.generate(n, labels=labels, counts=counts, seed=seed,
                                           max_values=self.rt.settings.max_generate_values,
                                           length=length)
        values, lengths = model.finish(values, label_idx, seed, missing, length)
        return Sample(model.in_units(values, units), label_idx, model.label_names, model.ref,
                      seed, units=units, normalisation=model.data_normalisation,
                      lengths=lengths)

    def real_series(self, dataset: str, label_names: Sequence[str], per_label: int,
                    units: str = "real") -> tuple[np.ndarray, np.ndarray | None]:
        """The first ``per_label`` series of ``dataset`` per label the model knows, in
        ``units``, their labels re-indexed to the model's ``label_names`` (to plot beside
        generated series)."""
        from synthts_core.services.evaluation import first_per_label, label_map
        from synthts_core.services.units import in_units

        datasets = self.rt.services.datasets
        meta = datasets.get(dataset)
        all_labels = datasets.labels_of(dataset, meta)
        if all_labels is None or not label_names:
            values = datasets.read(dataset, series=slice(0, per_label)).values
            return in_units(values, meta.normalisation, units), None  # type: ignore[arg-type]
        to_model = label_map(meta.label_names, label_names)
        index = first_per_label(all_labels, np.flatnonzero(to_model >= 0), per_label)
        if not len(index):
            raise BadInputError("dataset", f"{dataset!r} shares no label with the model",
                                allowed=", ".join(label_names))
        real = datasets.read(dataset, series=index.tolist())
        return (in_units(real.values, meta.normalisation, units),  # type: ignore[arg-type]
                to_model[np.asarray(real.labels)].astype(np.int64))

    def samples_figure(self, model: LoadedModel, values: np.ndarray,
                       labels: np.ndarray | None, *, dataset: str | None = None,
                       per_label: int = 3, units: str = "real") -> Any:
        """A plotly figure of ``model``'s generated ``values`` (as ``generate`` returns them)
        per label in ``units``, beside the first ``per_label`` real series of ``dataset`` per
        label when given."""
        from synthts_core import figures

        values = model.in_units(values, units)
        if dataset is None:
            return figures.dataset_figure(values, labels, model.label_names, per_label=per_label)
        real, real_labels = self.real_series(dataset, model.label_names, per_label, units)
        return figures.real_vs_synthetic_figure(real, real_labels, values, labels,
                                                model.label_names, per_label=per_label)

    @staticmethod
    def check_walk(start_label: str | None, end_label: str | None) -> None:
        """A label walk names both ends (checked before the model is loaded)."""
        if end_label is not None and start_label is None:
            raise BadInputError("start_label", "is required with end_label",
                                allowed="both labels for a label walk")

    def walk(self, model: LoadedModel, *, steps: int, seed: int,
             start_label: str | None = None, end_label: str | None = None,
             start: Any = None, end: Any = None) -> Callable[[], Any]:
        """A latent walk of ``model``, checked now and returned as a call that runs it
        (blocking: the caller runs it where its forward passes run): between two labels at
        one latent point when ``end_label`` is given, else between two latent points (vectors
        or seeds; ``seed`` and ``seed + 1`` by default) holding ``start_label``."""
        from functools import partial

        from synthts_core.services import interpolation

        self.check_walk(start_label, end_label)
        check_volume(steps, model.n_channels, model.length, self.rt.settings.max_generate_values)
        first = start if start is not None else seed
        if end_label is not None:
            return partial(interpolation.between_labels, model, start_label, end_label, steps,
                           first)
        last = end if end is not None else seed + 1
        return partial(interpolation.between_latents, model, first, last, steps, start_label)


def _count(value: Any, field: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise BadInputError(field, f"got {value!r}", allowed=f"an integer >= {low}")
    return int(value)


def _normalisation(config: Mapping[str, Any], n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (offset, scale) shaped (1, c, 1): ``real = value * scale + offset``."""
    norm = config.get("normalisation") or {}
    method = norm.get("method", "none") if isinstance(norm, Mapping) else "none"
    if method == "none":
        return np.zeros((1, n_channels, 1), np.float32), np.ones((1, n_channels, 1), np.float32)
    offset = np.asarray(norm.get("offset") or [0.0], np.float32).reshape(-1)
    scale = np.asarray(norm.get("scale") or [1.0], np.float32).reshape(-1)
    for field, arr in (("offset", offset), ("scale", scale)):
        if arr.size not in (1, n_channels):
            raise BadInputError(f"config.normalisation.{field}", f"has {arr.size} values",
                                allowed=f"1 or {n_channels} (one per channel)")
    return (np.broadcast_to(offset, (n_channels,)).reshape(1, -1, 1).copy(),
            np.broadcast_to(scale, (n_channels,)).reshape(1, -1, 1).copy())


def _to_numpy(raw: Any) -> np.ndarray:
    if hasattr(raw, "detach"):
        return raw.detach().float().cpu().numpy()
    return np.asarray(raw)


def _recorded_data_units(config: Mapping[str, Any]) -> tuple[Any, str]:
    """(the training set's import normalisation, the units ``generate`` answers in) when the
    bundle records them (``units``, or ``dataset.normalisation``), else (None, "real") and
    ``load_model`` asks storage. A record without ``generates`` was written when datasets were
    stored normalised: such a model answers in normalised units."""
    from synthts_core.services.units import as_normalisation

    dataset = config.get("dataset")
    recorded = config.get("units") or (dataset.get("normalisation")
                                       if isinstance(dataset, Mapping) else None)
    if not isinstance(recorded, Mapping):
        return None, "real"
    generates = recorded.get("generates", "normalised")
    return as_normalisation(recorded), "real" if generates == "real" else "normalised"


def record_data_normalisation(rt: Runtime, config: dict[str, Any]) -> None:
    """Write the training set's import normalisation and the units the model answers in into
    a bundle's config (``units``), so the registered version keeps both even after the
    dataset is deleted."""
    import msgspec

    if "units" not in config:
        norm, generates = _dataset_units(rt, config)
        config["units"] = {**msgspec.to_builtins(norm), "generates": generates}


def _dataset_units(rt: Runtime, config: Mapping[str, Any]) -> tuple[Any, str]:
    """(the import normalisation, the units ``generate`` answers in) of the stored training
    set the config names. A model learned the values stored under the checksum it records:
    the current ones are real units; the checksum a dataset had before its values were
    migrated means normalised ones. Identity and real units when the dataset is gone or was
    replaced."""
    from synthts_core.domain import Normalisation

    dataset = config.get("dataset")
    if not isinstance(dataset, Mapping) or not isinstance(dataset.get("name"), str):
        return Normalisation(), "real"
    try:
        meta = rt.storage.get_dataset_meta(dataset["name"])
    except Exception:  # gone, unreadable or no storage: the model's units are all there is
        return Normalisation(), "real"
    learned = dataset.get("checksum")
    if meta.migrated is not None and learned == meta.migrated.previous_checksum:
        return meta.normalisation, "normalised"
    if learned and meta.checksum != learned:
        return Normalisation(), "real"
    return meta.normalisation, "real"
