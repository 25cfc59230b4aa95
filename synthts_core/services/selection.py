"""Choosing what to register: candidates scored again on fresh samples, by the job's metric.

During training each trial scores a few epochs and keeps its best checkpoint; the minimum of
many noisy estimates is biased towards luck, so when the job ends every trial's candidate (and
the version ``best`` names today) is rebuilt from its config and weights and scored once more
with a new sample seed and a new draw of the real series. Those fresh numbers pick the winner,
are the score a version is registered with, and decide whether ``best`` moves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from synthts_core.domain import Dataset
    from synthts_core.runtime import Runtime

RESCORE_SEED = 7919  # offsets the sample and split seeds from anything training used


def rescore_checkpoint(rt: Runtime, checkpoint: Any, dataset: Dataset, metric: str,
                       seed: int, per_class: bool = True) -> float:
    from synthts_core.services.training_trial import CONFIG_FILE, WEIGHTS_FILE

    with checkpoint.as_directory() as d:
        folder = Path(d)
        config = json.loads((folder / CONFIG_FILE).read_text())
        weights = (folder / WEIGHTS_FILE).read_bytes()
    return rescore_bundle(rt, config, weights, dataset, metric, seed, per_class)


def rescore_bundle(rt: Runtime, config: dict[str, Any], weights: bytes, dataset: Dataset,
                   metric: str, seed: int, per_class: bool = True) -> float:
    """The selection score (the worst class for a per-class metric when ``per_class``, else
    pooled) of the generator in ``config`` + ``weights`` against ``dataset``, on fresh
    samples."""
    from synthts_core.devices import resolve_device
    from synthts_core.normalisation import apply_scaling, to_normalised
    from synthts_core.services.evaluation.preparation import relabel_for_model
    from synthts_core.services.training_trial import eval_subset, quality_score

    arch = rt.registries.architectures.get(config["architecture"])
    trainer = arch.build(config, resolve_device(rt.settings.device))
    trainer.load_weights(weights)
    if arch.conditional and config.get("label_names"):
        # label indices in the model's order (series of labels it does not know dropped)
        dataset = relabel_for_model(dataset, list(config["label_names"]))
    values = dataset.values
    labels = dataset.labels if arch.conditional else None
    idx = eval_subset(labels, len(values), seed + RESCORE_SEED)
    real = values[idx]
    real_labels = None if labels is None else labels[idx]
    raw = trainer.generate(len(real), labels=real_labels, seed=seed + RESCORE_SEED)
    synthetic = apply_scaling(np.asarray(raw, np.float32), config["normalisation"],
                              inverse=True)
    # compared in the dataset's normalised units, as the trial scored them (training_trial)
    norm = dataset.meta.normalisation
    by = real_labels if per_class else None
    score, _ = quality_score(rt.registries.metrics.get(metric), to_normalised(real, norm), by,
                             to_normalised(synthetic, norm), by, [seed, RESCORE_SEED],
                             classes=(real_labels, real_labels))
    return score
