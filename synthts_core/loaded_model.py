"""A registered model version rebuilt by its architecture plugin, ready to generate.

``LoadedModel`` is what every way of generating shares: the services (``ModelService``, the
API's ``ServingService``) and the MLflow pyfunc model, which runs in a process that has only
the core and the plugins, so it lives in the core. It plans a request (labels, counts, length,
the SYNTHTS_MAX_GENERATE_VALUES volume), runs the trainer's forward pass under a lock, maps the
output out of the training scaling the config records, converts it between real and normalised
units by the training set's import normalisation the config records, and finishes the series
(cut lengths, learnt gaps). Loading a version, and the units of one whose config does not
record them (read from the stored training set), are ``synthts_core.services.model_loading``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from synthts_core.domain import ModelVersionRef
from synthts_core.errors import BadInputError
from synthts_core.limits import check_volume
from synthts_core.normalisation import (
    as_normalisation,
    check_units,
    denormalise,
    scaling_affine,
    to_normalised,
    to_real,
)

GAPS_STREAM = 0x67617073  # the stream a seeded request's gaps come from (``finish``)
LENGTHS_STREAM = 0x6C656E73  # ... and its series' lengths


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
        self._scaling = scaling_affine(self.config.get("normalisation"), self.n_channels,
                                       field="config.normalisation")
        from synthts_core.interfaces import BatchableModel

        self.batchable = isinstance(trainer, BatchableModel)
        """The trainer draws a request's latents and noise ahead (the API batches it); checked
        once here, because a runtime protocol check inspects every member."""
        # the import normalisation of the training set (units="normalised"), and the units
        # generate() answers in: "real" for a model that learned values as imported,
        # "normalised" for one that learned a dataset an earlier synthts stored normalised;
        # None when the config does not record them (the loader then asks storage)
        self.data_normalisation, self.output_units = _recorded_units(self.config)
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
        return self.from_network(raw), label_idx

    def from_network(self, raw: Any) -> np.ndarray:
        """The trainer's raw output (a tensor or an array) as float32 numpy out of the config's
        normalisation: ``generate``'s values, in ``output_units``."""
        return denormalise(np.asarray(_to_numpy(raw), dtype=np.float32), self._scaling)


def _recorded_units(config: Mapping[str, Any]) -> tuple[Any, str]:
    """(the training set's import normalisation, the units ``generate`` answers in) when the
    config records them (``units``, or ``dataset.normalisation``), else (None, "real") and
    the loader asks storage. A record without ``generates`` was written when datasets were
    stored normalised: such a model answers in normalised units."""
    dataset = config.get("dataset")
    recorded = config.get("units") or (dataset.get("normalisation")
                                       if isinstance(dataset, Mapping) else None)
    if not isinstance(recorded, Mapping):
        return None, "real"
    generates = recorded.get("generates", "normalised")
    return as_normalisation(recorded), "real" if generates == "real" else "normalised"


def _count(value: Any, field: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise BadInputError(field, f"got {value!r}", allowed=f"an integer >= {low}")
    return int(value)


def _to_numpy(raw: Any) -> np.ndarray:
    if hasattr(raw, "detach"):
        return raw.detach().float().cpu().numpy()
    return np.asarray(raw)
