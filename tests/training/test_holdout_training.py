"""Held-out series never train (issue 22): one trial body (``training_trial._run``, the code a
Ray worker runs) on a dataset with a split, against the real SQLite storage and MLflow store;
only Ray Tune's reporting is replaced by a recorder, so no cluster is started."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec

from synthts_core.domain import HoldoutSplit
from synthts_core.runtime import Runtime
from synthts_core.services import training_trial
from synthts_core.services.holdout import training_part
from tests.training.conftest import TINY_SPACE, tiny_dataset


class RecordingTune:
    """What ``_run`` needs of ``ray.tune``: no checkpoint to resume, and a report that keeps
    each epoch's model config."""

    def __init__(self) -> None:
        self.configs: list[dict[str, Any]] = []
        self.Checkpoint = SimpleNamespace(from_directory=lambda d: d)

    def get_checkpoint(self) -> None:
        return None

    def report(self, metrics: dict[str, Any], checkpoint: str) -> None:
        self.configs.append(json.loads((Path(checkpoint) / training_trial.CONFIG_FILE)
                                       .read_text()))


def test_a_trial_trains_only_on_the_series_not_held_out(synthts_settings) -> None:
    ds = tiny_dataset()
    split = HoldoutSplit(series=list(range(0, 48, 4)), how="fraction", fraction=0.25, seed=0)
    ds.meta = msgspec.structs.replace(ds.meta, holdout=split)
    settings = synthts_settings.model_copy(update={"device": "cpu"})
    tune = RecordingTune()
    with Runtime(settings) as rt:
        rt.storage.create_dataset(ds)
        trained = training_part(rt.storage.read_dataset("tiny"))
        assert len(trained.values) == 36
        ctx = {"dataset": "tiny", "label_indices": None, "select_metric": "mmd", "seed": 0,
               "epochs": 1, "experiment": "synthts/tiny", "job_id": "job-holdout",
               "per_class_score": True}
        trial = {"index": 0, "architecture": "cgan", "params": dict(TINY_SPACE)}
        training_trial._run(tune, rt, trial, ctx)
    config = tune.configs[-1]
    assert config["trained_on"] == {"series": 36, "held_out": 12,
                                    "split": "a stratified random 0.25 of each class, seed 0"}
    # the stored dataset's checksum (its units are found by it), not the training part's
    assert config["dataset"] == {"name": "tiny", "checksum": ds.meta.checksum}
