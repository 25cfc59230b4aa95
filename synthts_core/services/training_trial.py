"""What runs inside a Ray worker for one trial of a training job.

The worker rebuilds its own ``Runtime`` from the settings it is handed (storage and tracker are
opened here, never pickled from the driver), reads the dataset, scales each channel to [-1, 1],
and trains epoch by epoch. After every epoch it scores sample quality with the job's metric (in
real units, on fixed subsamples, so epochs and trials compare fairly), logs to the tracker, and
reports to Tune with a checkpoint holding the full training state. Resumed from a checkpoint it
continues at the next epoch with the same tracker run.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("synthts.training")

STATE_FILE = "state.safetensors"  # weights + optimiser + RNG: resumes the trial exactly
WEIGHTS_FILE = "weights.safetensors"  # what a model version holds
CONFIG_FILE = "config.json"  # the model config (architecture, hyper-parameters, data, scale)
PROGRESS_FILE = "trial.json"  # epoch, history and tracker run id of the trial
EVAL_SERIES = 256  # series per side for the per-epoch quality score
KEEP_RECENT = 3  # checkpoints always kept besides the best ...
KEEP_SECONDS = 30.0  # ... and every one younger than this


class CheckpointPruner:
    """Deletes a trial's superseded checkpoints, keeping the best by the job's metric, the
    newest few, and every one written in the last ``KEEP_SECONDS``.

    Tune's own ``num_to_keep`` deletes a checkpoint as soon as a newer one outranks it, while
    the experiment state on disk (saved every few seconds) may still point at it: a job killed
    in that window could not be resumed. Keeping everything recent covers that lag. Only
    checkpoints this process wrote are considered, so a resumed trial never deletes older ones
    it knows nothing about; a remote storage (no local trial folder) is left alone.
    """

    def __init__(self, trial_dir: str | None, higher_is_better: bool) -> None:
        self.trial_dir = Path(trial_dir) if trial_dir else None
        self.higher = higher_is_better
        self.before = self._folders()
        self.seen: list[tuple[Path, float, float]] = []  # (folder, score, written at)

    def _folders(self) -> set[Path]:
        if self.trial_dir is None or not self.trial_dir.is_dir():
            return set()
        return {p for p in self.trial_dir.glob("checkpoint_*") if p.is_dir()}

    def after_report(self, score: float) -> None:
        import shutil
        import time

        known = {f for f, _, _ in self.seen} | self.before
        new = sorted(self._folders() - known)
        if not new:
            return
        now = time.time()
        self.seen.append((new[-1], score, now))
        finite = [(f, s) for f, s, _ in self.seen if np.isfinite(s)]
        best = (max if self.higher else min)(finite, key=lambda x: x[1])[0] if finite else None
        recent = {f for f, _, _ in self.seen[-KEEP_RECENT:]}
        keep, dropped = [], []
        for folder, s, written in self.seen:
            if folder == best or folder in recent or now - written < KEEP_SECONDS:
                keep.append((folder, s, written))
            else:
                dropped.append(folder)
        for folder in dropped:
            shutil.rmtree(folder, ignore_errors=True)
        self.seen = keep


def minmax_normalisation(values: np.ndarray) -> dict[str, Any]:
    """Per-channel map to [-1, 1]: ``real = normalised * scale + offset``."""
    lo = values.min(axis=(0, 2)).astype(np.float64)
    hi = values.max(axis=(0, 2)).astype(np.float64)
    scale = (hi - lo) / 2.0
    scale[scale <= 0] = 1.0  # a constant channel: any scale maps it to 0
    return {"method": "minmax", "offset": ((hi + lo) / 2.0).tolist(), "scale": scale.tolist()}


def _apply(values: np.ndarray, norm: dict[str, Any], inverse: bool = False) -> np.ndarray:
    offset = np.asarray(norm["offset"], np.float32)[None, :, None]
    scale = np.asarray(norm["scale"], np.float32)[None, :, None]
    out = values * scale + offset if inverse else (values - offset) / scale
    return out.astype(np.float32, copy=False)


def _warn(what: str, exc: Exception) -> None:
    log.warning("tracker %s failed (training goes on): %s: %s", what, type(exc).__name__, exc)


class _TrackerRun:
    """One tracker run per trial; a tracker failure is a warning, never a failed trial."""

    def __init__(self, rt: Any, run_id: str | None) -> None:
        self.rt, self.run_id = rt, run_id

    def start(self, experiment: str, name: str, params: dict[str, Any],
              tags: dict[str, str]) -> None:
        if self.run_id is not None:
            return
        try:
            self.run_id = self.rt.tracker.start_run(experiment, name, params, tags)
        except Exception as exc:
            _warn("start_run", exc)

    def log(self, metrics: dict[str, float], step: int) -> None:
        if self.run_id is None:
            return
        try:
            self.rt.tracker.log_metrics(self.run_id, metrics, step)
        except Exception as exc:
            _warn("log_metrics", exc)

    def end(self, status: str) -> None:
        if self.run_id is None:
            return
        try:
            self.rt.tracker.end_run(self.run_id, status)
        except Exception as exc:
            _warn("end_run", exc)


def train_trial(config: dict[str, Any], context: dict[str, Any]) -> None:
    """Tune function trainable. ``config`` = {"trial": {index, architecture, params}};
    ``context`` = job-wide plain data (settings, dataset, epochs, metric, seed, ...)."""
    from ray import tune

    from synthts_core.runtime import Runtime
    from synthts_core.settings import Settings

    trial = config["trial"]
    settings = Settings(_env_file=None, **context["settings"])
    rt = Runtime(settings)
    try:
        _run(tune, rt, trial, context)
    finally:
        rt.close()


def _trial_dir(tune: Any) -> str | None:
    try:
        return tune.get_context().get_trial_dir()
    except Exception:
        return None


def _run(tune: Any, rt: Any, trial: dict[str, Any], ctx: dict[str, Any]) -> None:
    arch = rt.registries.architectures.get(trial["architecture"])
    metric = rt.registries.metrics.get(ctx["select_metric"])
    dataset = rt.storage.read_dataset(ctx["dataset"], labels=ctx.get("label_indices"))
    values, labels = dataset.values, dataset.labels
    label_names = list(dataset.meta.label_names)
    norm = minmax_normalisation(values)
    scaled = _apply(values, norm)
    seed = int(ctx["seed"]) + int(trial["index"])
    model_config = {
        **trial["params"], "architecture": arch.name,
        "plugin": rt.registries.architectures.plugin_of(arch.name),
        "length": int(values.shape[2]), "n_channels": int(values.shape[1]),
        "n_classes": len(label_names) if arch.conditional else 0,
        "label_names": label_names, "normalisation": norm, "seed": seed,
        "dataset": {"name": dataset.meta.name, "checksum": dataset.meta.checksum},
        "select_metric": metric.name,
    }
    from synthts_core.services.models import resolve_device

    trainer = arch.build(model_config, resolve_device(rt.settings.device))

    progress: dict[str, Any] = {"epoch": 0, "history": [], "run_id": None}
    resumed_from = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            trainer.load_checkpoint((Path(d) / STATE_FILE).read_bytes())
            progress = json.loads((Path(d) / PROGRESS_FILE).read_text())
        resumed_from = int(progress["epoch"])

    run = _TrackerRun(rt, progress.get("run_id"))
    run.start(ctx["experiment"], f"{ctx['job_id']}-t{trial['index']:02d}-{arch.name}",
              {**trial["params"], "architecture": arch.name, "dataset": dataset.meta.name,
               "epochs": ctx["epochs"], "seed": seed, "n_series": int(values.shape[0])},
              {"synthts.job": ctx["job_id"], "synthts.trial": str(trial["index"])})

    pruner = CheckpointPruner(_trial_dir(tune), bool(metric.higher_is_better))
    eval_rng = np.random.default_rng(seed)
    pick = eval_rng.choice(len(values), size=min(EVAL_SERIES, len(values)), replace=False)
    real_eval = values[np.sort(pick)]
    eval_labels = None if labels is None or not arch.conditional else labels[np.sort(pick)]
    try:
        for epoch in range(resumed_from + 1, int(ctx["epochs"]) + 1):
            losses = trainer.train_epoch(scaled, labels if arch.conditional else None)
            synth = _apply(trainer.generate(len(real_eval), labels=eval_labels, seed=seed),
                           norm, inverse=True)
            score = metric.compute(real_eval, synth, np.random.default_rng(seed))
            score = float(score[0] if isinstance(score, tuple) else score)
            metrics = {k: float(v) for k, v in losses.items() if k != "samples"}
            metrics[metric.name] = score
            run.log(metrics, epoch)
            progress["epoch"] = epoch
            progress["history"].append({"epoch": epoch, **metrics})
            progress["run_id"] = run.run_id
            with tempfile.TemporaryDirectory() as d:
                folder = Path(d)
                (folder / STATE_FILE).write_bytes(trainer.checkpoint())
                (folder / WEIGHTS_FILE).write_bytes(trainer.weights())
                (folder / CONFIG_FILE).write_text(json.dumps({**model_config, "epoch": epoch}))
                (folder / PROGRESS_FILE).write_text(json.dumps(progress))
                tune.report({**metrics, "epoch": epoch, "trial_index": int(trial["index"]),
                             "resumed_from_epoch": resumed_from, "run_id": run.run_id or ""},
                            checkpoint=tune.Checkpoint.from_directory(d))
            pruner.after_report(score)
    except BaseException:
        run.end("FAILED")
        raise
    run.end("FINISHED")
