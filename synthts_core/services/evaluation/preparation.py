"""The real series as a model's evaluation sees them: in the model's label order, shifted the
way circular-shift augmentation taught it, in the dataset's normalised units."""

from __future__ import annotations

from typing import Any

import numpy as np

from synthts_core.domain import Dataset
from synthts_core.subsets import label_map


def circularly_shifted(real: Dataset, seed: int) -> Dataset:
    """Every series rolled by its own random offset (what circular-shift augmentation
    teaches a model)."""
    rng = np.random.default_rng([seed, 17])
    length = real.values.shape[2]
    shifts = rng.integers(0, length, size=len(real.values))
    idx = (np.arange(length)[None, :] - shifts[:, None]) % length
    values = np.take_along_axis(real.values, idx[:, None, :].repeat(real.values.shape[1], 1), 2)
    return Dataset.build(real.meta.name, values, real.labels, list(real.meta.label_names))


def normalised(dataset: Dataset, norm: Any) -> Dataset:
    """``dataset`` with its values in the normalised units of ``norm`` (what metrics see)."""
    from synthts_core.normalisation import to_normalised

    return Dataset(dataset.meta, to_normalised(dataset.values, norm), dataset.labels,
                   dataset.times, dataset.lengths)


def relabel_for_model(real: Dataset, model_labels: list[str]) -> Dataset:
    """The real set with label indices in the model's label order (series of labels the model
    does not know are dropped), so per-class comparison lines up."""
    if real.labels is None or not model_labels or real.meta.label_names == model_labels:
        return real
    new = label_map(real.meta.label_names, model_labels)[real.labels]
    keep = new >= 0
    import msgspec

    from synthts_core.domain import checksum
    from synthts_core.services.holdout import subset

    part = subset(real, keep)  # the same grid: lengths, times and normalisation kept
    labels = new[keep]
    meta = msgspec.structs.replace(
        part.meta, label_names=list(model_labels),
        label_counts=np.bincount(labels, minlength=len(model_labels)).tolist(),
        checksum=checksum(part.values, labels, part.times, part.lengths))
    return Dataset(meta, part.values, labels, part.times, part.lengths)
