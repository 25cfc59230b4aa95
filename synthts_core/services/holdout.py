"""Real series a model never saw: the held-out split of a dataset, or a fresh draw of a
generated dataset's spec.

A split is metadata (``DatasetMeta.holdout``): every read returns every series, training drops
the held-out ones (``training_part``), and evaluations score TSTR and the memorisation guard
against them (``unseen_real``). A generated dataset needs no split: the same spec drawn with
another seed (``holdout_seed``, derived from the spec's) is as unseen as real data gets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from synthts_core.domain import (
    Dataset,
    DatasetMeta,
    checksum,
    count_missing,
    min_length,
    n_points,
)
from synthts_core.errors import BadInputError

if TYPE_CHECKING:
    from synthts_core.registry import Registries

MAX_FRESH_PER_CLASS = 500  # series per class of a fresh draw (the guard and TSTR subsample)


def stratified_holdout(labels: np.ndarray | None, n_series: int, fraction: float,
                       seed: int) -> list[int]:
    """Sorted indices of ``round(fraction * count)`` series of each class (of all series when
    unlabelled), drawn with ``seed``; a class keeps at least one series for training."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or \
            not 0.0 < float(fraction) < 1.0:
        raise BadInputError("holdout", f"got {fraction!r}", allowed="a fraction in (0, 1)")
    rng = np.random.default_rng([int(seed), 0x401D])
    groups = [np.arange(n_series)] if labels is None else \
        [np.flatnonzero(labels == k) for k in np.unique(labels)]
    picks = []
    for idx in groups:
        k = min(round(fraction * len(idx)), len(idx) - 1)
        if k > 0:
            picks.append(rng.choice(idx, size=k, replace=False))
    return sorted(int(i) for i in np.concatenate(picks)) if picks else []


def subset(dataset: Dataset, keep: np.ndarray) -> Dataset:
    """The series ``keep`` selects (bool mask), on the dataset's own grid (its length, times,
    lengths and normalisation kept), with metadata that matches them."""
    values = dataset.values[keep]
    labels = None if dataset.labels is None else dataset.labels[keep]
    times = None if dataset.times is None else dataset.times[keep]
    lengths = None if dataset.lengths is None else dataset.lengths[keep]
    counts = (np.bincount(labels, minlength=len(dataset.meta.label_names)).tolist()
              if labels is not None else [])
    meta = msgspec.structs.replace(dataset.meta, n_series=len(values), label_counts=counts,
                                   checksum=checksum(values, labels, times, lengths),
                                   holdout=None, n_missing=count_missing(values, lengths),
                                   min_length=min_length(lengths), n_points=n_points(lengths))
    return Dataset(meta, values, labels, times, lengths)


def training_part(dataset: Dataset) -> Dataset:
    """The series a model may learn: all but the held-out ones (the dataset itself when it has
    no split)."""
    if not dataset.meta.n_holdout:
        return dataset
    keep = np.ones(len(dataset.values), bool)
    keep[dataset.meta.holdout.series] = False  # type: ignore[union-attr]
    return subset(dataset, keep)


def held_out_part(dataset: Dataset) -> Dataset | None:
    """The held-out series (None when the dataset has no split)."""
    if not dataset.meta.n_holdout:
        return None
    keep = np.zeros(len(dataset.values), bool)
    keep[dataset.meta.holdout.series] = True  # type: ignore[union-attr]
    return subset(dataset, keep)


def holdout_seed(seed: int) -> int:
    """The seed of a generated dataset's fresh draw: derived from (never equal to) the spec's,
    the same every time."""
    state = np.random.SeedSequence([int(seed), 0x401D]).generate_state(2, np.uint64)
    return int(state[0] >> np.uint64(1))


def trained_on(dataset: Dataset, trained: Dataset) -> dict[str, Any]:
    """What a model config records about its training series (``model_config["trained_on"]``)."""
    split = dataset.meta.holdout
    return {"series": len(trained.values), "held_out": dataset.meta.n_holdout,
            "split": split.describe() if split is not None else "none"}


def split_text(meta: DatasetMeta) -> str:
    """How many series train and how many are held out (``datasets show``, the TUI)."""
    if meta.holdout is not None:
        return (f"{meta.n_series - meta.n_holdout} training + {meta.n_holdout} held out "
                f"({meta.holdout.describe()})")
    if meta.source == "generated" and meta.spec is not None:
        return (f"{meta.n_series} training series; evaluations draw unseen ones afresh from "
                "the spec")
    return f"{meta.n_series} training series, none held out"


def unseen_real(registries: Registries, dataset: Dataset) -> tuple[Dataset | None, str]:
    """(real series the model never saw, where they come from): the held-out split when the
    dataset has one, else for a generated dataset with its spec a fresh draw (at most
    ``MAX_FRESH_PER_CLASS`` per class, seed ``holdout_seed(spec.seed)``), else (None, why)."""
    held = held_out_part(dataset)
    if held is not None:
        return held, (f"{len(held.values)} held-out series the generator never saw "
                      f"({dataset.meta.holdout.describe()})")  # type: ignore[union-attr]
    meta = dataset.meta
    if meta.source == "generated" and meta.spec:
        from synthts_core.domain import DatasetSpec, from_builtins
        from synthts_core.services.generation import build_dataset

        spec = from_builtins(dict(meta.spec), DatasetSpec)
        seed = holdout_seed(spec.seed)
        classes = [msgspec.structs.replace(c, count=min(c.count, MAX_FRESH_PER_CLASS))
                   for c in spec.classes]
        fresh = build_dataset(registries, msgspec.structs.replace(spec, seed=seed,
                                                                  classes=classes))
        return fresh, (f"{len(fresh.values)} freshly drawn series the generator never saw "
                       f"(the dataset's spec with seed {seed})")
    return None, ("the dataset has no held-out series (import with --holdout FRACTION or "
                  "--holdout-file) and is not generated from a spec")
