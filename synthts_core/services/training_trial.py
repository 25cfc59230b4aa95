"""What runs inside a Ray worker for one trial of a training job.

The worker rebuilds its own ``Runtime`` from the settings it is handed (storage and tracker are
opened here, never pickled from the driver), reads the dataset, scales each channel to [-1, 1],
and trains epoch by epoch. After every epoch it scores sample quality with the job's metric (in
real units, on fixed subsamples, so epochs and trials compare fairly), logs to the tracker, and
reports to Tune with a checkpoint holding the full training state. Resumed from a checkpoint it
continues at the next epoch with the same tracker run.

A model trained with differential privacy (``synthts_core.privacy``) has its plan logged as run
params (``dp.*``), the ε spent so far as the metric ``dp_epsilon_spent`` every epoch, and its
record in each checkpoint's config (``privacy``), so the registered version carries what its
checkpoint spent; the trial stops when the budget is spent (its last epoch is scored).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from synthts_core.missing import comparable, fit_pattern
from synthts_core.normalisation import SCALINGS, apply_scaling, fit_scaling, to_normalised

log = logging.getLogger("synthts.training")

STATE_FILE = "state.safetensors"  # weights + optimiser + RNG: resumes the trial exactly
WEIGHTS_FILE = "weights.safetensors"  # what a model version holds
CONFIG_FILE = "config.json"  # the model config (architecture, hyper-parameters, data, scale)
PROGRESS_FILE = "trial.json"  # epoch, history and tracker run id of the trial
STAGING = "staging"  # folder of the data folder where trials write checkpoints (``staging_dir``)
EVAL_PER_CLASS = 200  # real series per class (at most) for the quality score
N_SCORES = 5  # epochs per trial scored with the job's (strong, costly) metric
CURVE_SERIES = 256  # series the cheap quality curve (``curve_metric``) compares every epoch
CURVE_PASSES = 4  # a costlier sampler (``sample_cost`` passes a series) draws the curve every
# ceil(sample_cost / CURVE_PASSES) epochs: a 20-step diffusion model every 5th epoch
KEEP_RECENT = 3  # checkpoints always kept besides the best ...
KEEP_SECONDS = 10.0  # ... and every one younger than this (Tune saves its state every 2 s)


class CheckpointPruner:
    """Deletes a trial's superseded checkpoints, keeping the best by the job's metric, the
    newest few, and every one written in the last ``KEEP_SECONDS``.

    Tune's own ``num_to_keep`` deletes a checkpoint as soon as a newer one outranks it, while
    the experiment state on disk (saved every few seconds) may still point at it: a job killed
    in that window could not be resumed. Keeping everything recent covers that lag. Only
    checkpoints this process wrote are considered, so a resumed trial never deletes older ones
    it knows nothing about. ``trial_dir`` must be where Tune *stores* the trial's checkpoints
    (its storage path), not the trial's local staging folder; a remote storage (no local
    folder) is left alone.
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

    def after_report(self, score: float, tiebreak: float = float("nan")) -> None:
        import time

        known = {f for f, _, _, _ in self.seen} | self.before
        new = sorted(self._folders() - known)
        if not new:
            return
        now = time.time()
        self.seen.append((new[-1], score, now, tiebreak))
        finite = [(f, s, t) for f, s, _, t in self.seen if np.isfinite(s)]
        best = (max if self.higher else min)(
            finite, key=lambda x: selection_key(x[1], x[2], self.higher))[0] if finite else None
        recent = {f for f, _, _, _ in self.seen[-KEEP_RECENT:]}
        keep, dropped = [], []
        for entry in self.seen:
            folder, _, written, _ = entry
            if folder == best or folder in recent or now - written < KEEP_SECONDS:
                keep.append(entry)
            else:
                dropped.append(folder)
        for folder in dropped:
            shutil.rmtree(folder, ignore_errors=True)
        self.seen = keep


def curve_metric(registries: Any) -> Any | None:
    """The cheap quality curve logged every epoch: the first registered metric (by name) that
    declares ``per_epoch``; None when none does (then no curve is logged)."""
    return next((m for m in registries.metrics if getattr(m, "per_epoch", False)), None)


def curve_tiebreak(curve: Any | None, metrics: Mapping[str, Any]) -> float:
    """The curve's value in ``metrics`` oriented so lower is better (NaN when absent): the
    tiebreak ``selection_key`` takes."""
    value = metrics.get(curve.name) if curve is not None else None
    if not isinstance(value, int | float):
        return float("nan")
    return -float(value) if curve.higher_is_better else float(value)


def selection_key(score: float, tiebreak: float, higher: bool) -> tuple[float, float]:
    """Order candidates by the job's score, ties broken by the cheap quality curve
    (``curve_tiebreak``, lower is better): when a strong detector tells every checkpoint apart
    (all 1.0), the one closest to the data still wins, not the first scored. Use with ``max``
    when ``higher``."""
    tb = tiebreak if np.isfinite(tiebreak) else np.inf
    return (score, -tb) if higher else (score, tb)


def scored_epochs(epochs: int, n_scores: int = N_SCORES) -> set[int]:
    """The epochs whose samples are scored with the job's metric: evenly spread over the second
    half of training, always including the last. Scoring a strong metric every epoch would cost
    more than training, and early epochs are never the best. (Every epoch is checkpointed, so a
    killed job resumes where it was; only scored checkpoints can be registered.)"""
    start = max(1, epochs // 2)
    span = epochs - start
    picks = {epochs - round(i * span / n_scores) for i in range(n_scores)}
    return {e for e in picks if 1 <= e <= epochs} | {epochs}


def quality_score(metric: Any, real: np.ndarray, real_labels: np.ndarray | None,
                  synthetic: np.ndarray, synthetic_labels: np.ndarray | None,
                  rng_seed: Any, classes: tuple[Any, Any] | None = None
                  ) -> tuple[float, dict[str, Any]]:
    """The selection score: for a per-class metric on labelled data the *worst* class's value
    (a mean would hide one broken class), else the pooled value. Returns (score, {"worst":
    label index or None, "inconclusive": how many groups the metric could not vouch for}); the
    evaluation's verdict, not this number, says whether a model passes. Real series with
    missing points are compared as ``missing.comparable`` makes them, each synthetic series
    given the gaps of a real one of its class: ``classes`` (real, synthetic) labels when known
    though not scored per class (default: the labels scored by)."""
    from synthts_core.measured import split_result

    real, synthetic = comparable(real, synthetic,
                                 np.random.default_rng([*np.atleast_1d(rng_seed).tolist(), 7]),
                                 *(classes or (real_labels, synthetic_labels)))
    higher = bool(metric.higher_is_better)
    worst_possible = -np.inf if higher else np.inf
    per_class = (real_labels is not None and synthetic_labels is not None
                 and getattr(metric, "per_class_by_default", True)
                 and not getattr(metric, "needs_labels", False))
    groups: list[tuple[int | None, np.ndarray, np.ndarray]] = []
    if per_class:
        for k in np.unique(real_labels):
            r, s = real[real_labels == k], synthetic[synthetic_labels == k]
            if len(r) >= 2 and len(s) >= 2:
                groups.append((int(k), r, s))
    if not groups:
        groups = [(None, real, synthetic)]
    values, unsure = [], 0
    for i, (k, r, s) in enumerate(groups):
        rng = np.random.default_rng([*np.atleast_1d(rng_seed).tolist(), i])
        if getattr(metric, "needs_labels", False):
            out = metric.compute(r, s, rng, real_labels=real_labels,
                                 synthetic_labels=synthetic_labels)
        else:
            out = metric.compute(r, s, rng)
        value, _, details = split_result(out)
        if details.get("inconclusive") or not np.isfinite(value):
            unsure += 1
        if np.isfinite(value):
            values.append((value, k))
    if not values:
        return float(worst_possible), {"worst": None, "inconclusive": unsure}
    value, worst = (min if higher else max)(values, key=lambda v: v[0])
    return float(value), {"worst": worst, "inconclusive": unsure}


def training_normalisation(arch: Any, values: np.ndarray) -> dict[str, Any]:
    """The scaling ``arch`` declares (``scaling``, default ``minmax``) fitted to ``values``.
    A channel with no observed point in the series a job trains on is refused, naming it: the
    model could learn nothing of it."""
    from synthts_core.errors import BadInputError

    scaling = getattr(arch, "scaling", "minmax")
    if scaling not in SCALINGS:
        raise ValueError(f"architecture {arch.name!r} declares scaling {scaling!r}; "
                         f"the core knows {', '.join(SCALINGS)}")
    unseen = np.isnan(values).all(axis=(0, 2))
    if unseen.any():
        raise BadInputError("dataset", f"channel {int(np.flatnonzero(unseen)[0])} has no "
                            f"observed point in the {len(values)} series this job trains on",
                            allowed="channels observed in some of them (train on other labels, "
                                    "or import without that channel)")
    return fit_scaling(values, scaling)


WITHHELD = ("it was trained with differential privacy, and this is counted from the training "
            "series without noise")


def learnt_shape(values: np.ndarray, labels: np.ndarray | None, n_classes: int,
                 lengths: np.ndarray | None, private: bool) -> dict[str, Any]:
    """What a model records of where its training series have points: ``missing``, the
    pattern of missing points (``missing.fit_pattern``), and ``lengths``, the training lengths
    per class (``lengths.fit_lengths``); each None for complete, equal-length data. A DP
    model withholds both (``{"withheld": why}``): they are counted without noise, so they
    would tell which training series had which points."""
    from synthts_core.lengths import fit_lengths

    out = {"missing": fit_pattern(values, labels, n_classes, lengths),
           "lengths": fit_lengths(lengths, labels, n_classes)}
    if private:
        out = {k: None if v is None else {"rate": None, "withheld": WITHHELD} if k == "missing"
               else {"withheld": WITHHELD} for k, v in out.items()}
    return out


def curve_every(model: Any) -> int:
    """Epochs between two draws of the quality curve for ``model``'s sample cost."""
    cost = float(getattr(model, "sample_cost", 1.0) or 1.0)
    return max(1, int(np.ceil(cost / CURVE_PASSES)))


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

    def log_dataset(self, meta: Any, shape: tuple[int, ...]) -> None:
        """The training set as the run's input."""
        if self.run_id is None:
            return
        try:
            self.rt.tracker.log_dataset_input(self.run_id, name=meta.name, checksum=meta.checksum,
                                              shape=shape)
        except Exception as exc:
            _warn("log_dataset_input", exc)

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


def eval_subset(labels: np.ndarray | None, n: int, seed: int) -> np.ndarray:
    """Indices of the real series the quality score compares with: up to ``EVAL_PER_CLASS``
    per class (all of a small class), drawn once per trial from its seed."""
    rng = np.random.default_rng([seed, 3])
    if labels is None:
        return np.sort(rng.choice(n, size=min(n, EVAL_PER_CLASS * 2), replace=False))
    picks = []
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        picks.append(rng.choice(idx, size=min(len(idx), EVAL_PER_CLASS), replace=False))
    return np.sort(np.concatenate(picks))


def staging_dir(data_dir: Path, job_id: str, index: int) -> Path:
    """Where trial ``index`` of ``job_id`` writes an epoch's checkpoint before Tune copies it
    into the job's storage: one folder per trial under the data folder, emptied after each
    report. Never a fresh temporary folder: a trial killed mid-write would leave one behind
    in /tmp each time (about 15 MB for a diffusion model); this one is reused when the trial
    runs again and removed with its job (``training.sweep_staging``)."""
    return Path(data_dir) / STAGING / job_id / f"t{int(index):02d}"


def _trial_storage_dir(tune: Any) -> str | None:
    """Where Tune writes this trial's checkpoints, when that is a local folder. (The context's
    ``get_trial_dir()`` is a staging folder: pruning there finds nothing.)"""
    try:
        from ray.train._internal.session import get_storage

        storage = get_storage()
        fs = storage.storage_filesystem
        if getattr(fs, "type_name", "local") != "local":
            return None
        return storage.trial_fs_path
    except Exception as exc:
        log.warning("checkpoint pruning off: trial storage folder unknown (%s)", exc)
        return None


def _run(tune: Any, rt: Any, trial: dict[str, Any], ctx: dict[str, Any]) -> None:
    arch = rt.registries.architectures.get(trial["architecture"])
    metric = rt.registries.metrics.get(ctx["select_metric"])
    from synthts_core.services.holdout import trained_on, training_part

    stored = rt.storage.read_dataset(ctx["dataset"], labels=ctx.get("label_indices"))
    dataset = training_part(stored)  # held-out series never train
    values, labels = dataset.values, dataset.labels
    label_names = list(dataset.meta.label_names)
    norm = training_normalisation(arch, values)
    scaled = apply_scaling(values, norm)
    seed = int(ctx["seed"]) + int(trial["index"])
    epochs = int(trial.get("epochs") or ctx["epochs"])  # per trial (JobSpec.architecture_epochs)
    model_config = {
        **trial["params"], "architecture": arch.name,
        "plugin": rt.registries.architectures.plugin_of(arch.name),
        "length": int(values.shape[2]), "n_channels": int(values.shape[1]),
        "n_classes": len(label_names) if arch.conditional else 0,
        "label_names": label_names, "normalisation": norm, "seed": seed,
        "dataset": {"name": dataset.meta.name, "checksum": stored.meta.checksum},
        "trained_on": trained_on(stored, dataset),
        "select_metric": metric.name, "total_epochs": epochs,
        # where its training series have points (missing ones, unequal lengths): what
        # generation draws lengths and ``missing="learned"`` gaps from
        **learnt_shape(values, labels if arch.conditional else None,
                       len(label_names) if arch.conditional else 0,
                       dataset.lengths,
                       private=trial["params"].get("dp_epsilon") is not None),
        # the dataset's import normalisation (``units=normalised`` reads) and the units the
        # model answers in, recorded with it so a version keeps them whatever becomes of the
        # dataset (and when the job learned some of its labels only)
        "units": {**msgspec.to_builtins(stored.meta.normalisation), "generates": "real"},
    }
    from synthts_core.devices import resolve_device

    trainer = arch.build(model_config, resolve_device(rt.settings.device))

    progress: dict[str, Any] = {"epoch": 0, "history": [], "run_id": None}
    resumed_from = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            trainer.load_checkpoint((Path(d) / STATE_FILE).read_bytes())
            progress = json.loads((Path(d) / PROGRESS_FILE).read_text())
        resumed_from = int(progress["epoch"])

    from synthts_core import privacy

    n_series = int(values.shape[0])
    plan = privacy.record_of(trainer, n_series)  # None: trained without DP
    run = _TrackerRun(rt, progress.get("run_id"))
    fresh_run = run.run_id is None
    run.start(ctx["experiment"], f"{ctx['job_id']}-t{trial['index']:02d}-{arch.name}",
              {**trial["params"], "architecture": arch.name, "dataset": dataset.meta.name,
               "epochs": epochs, "seed": seed, "n_series": n_series,
               **(plan.run_params() if plan is not None else {})},
              {"synthts.job": ctx["job_id"], "synthts.trial": str(trial["index"]),
               **({"synthts.dp": "on"} if plan is not None else {})})
    if fresh_run:
        run.log_dataset(dataset.meta, tuple(int(x) for x in values.shape))

    pruner = CheckpointPruner(_trial_storage_dir(tune), bool(metric.higher_is_better))
    eval_idx = eval_subset(labels if arch.conditional else None, len(values), seed)
    # scores compare in the dataset's normalised units (the per-channel normalisation recorded
    # at import), as evaluations do: every channel counts alike whatever its units
    def in_metric_units(x: np.ndarray) -> np.ndarray:
        return to_normalised(x, stored.meta.normalisation)

    real_eval = in_metric_units(values[eval_idx])  # may hold NaN: see ``comparable`` below
    eval_labels = None if labels is None or not arch.conditional else labels[eval_idx]
    curve = np.sort(np.random.default_rng([seed, 5]).choice(
        len(values), size=min(CURVE_SERIES, len(values)), replace=False))
    real_curve = in_metric_units(values[curve])
    curve_by = curve_metric(rt.registries)  # ``curve``: the series it compares
    scored = scored_epochs(epochs)
    every = curve_every(trainer)
    stage = staging_dir(rt.settings.data_dir, ctx["job_id"], int(trial["index"]))
    try:
        for epoch in range(resumed_from + 1, epochs + 1):
            if privacy.exhausted(trainer):
                log.info("trial %s: privacy budget spent before epoch %d; stopping",
                         trial["index"], epoch)
                break
            losses = trainer.train_epoch(scaled, labels if arch.conditional else None)
            metrics = {k: float(v) for k, v in losses.items() if k != "samples"}
            record = privacy.record_of(trainer, n_series) if plan is not None else None
            if record is not None:
                metrics["dp_epsilon_spent"] = record.epsilon
            last = epoch == epochs or privacy.exhausted(trainer)
            if curve_by is not None and curve_by is not metric and (
                    epoch % every == 0 or epoch in scored or last):
                # a cheap quality curve (the strong score is too dear for every epoch)
                fake = apply_scaling(trainer.generate(
                    len(curve), labels=None if labels is None or not arch.conditional
                    else labels[curve], seed=seed), norm, inverse=True)
                rng = np.random.default_rng([seed, epoch])
                known = None if labels is None or not arch.conditional else labels[curve]
                metrics[curve_by.name] = float(curve_by.compute(
                    *comparable(real_curve, in_metric_units(fake), rng, known, known), rng))
            score = float("nan")
            if epoch in scored or last:
                synth = in_metric_units(apply_scaling(trainer.generate(
                    len(real_eval), labels=eval_labels, seed=seed), norm, inverse=True))
                by = eval_labels if ctx.get("per_class_score", True) else None
                score, info = quality_score(metric, real_eval, by, synth, by, [seed, epoch],
                                            classes=(eval_labels, eval_labels))
                metrics[metric.name] = score
                if info["inconclusive"]:
                    metrics[f"{metric.name}_inconclusive"] = float(info["inconclusive"])
            run.log(metrics, epoch)
            progress["epoch"] = epoch
            progress["history"].append({"epoch": epoch, **metrics})
            progress["run_id"] = run.run_id
            shutil.rmtree(stage, ignore_errors=True)  # what a killed run of this trial left
            stage.mkdir(parents=True)
            try:
                (stage / STATE_FILE).write_bytes(trainer.checkpoint())
                (stage / WEIGHTS_FILE).write_bytes(trainer.weights())
                config_out = {**model_config, "epoch": epoch}
                if record is not None:
                    config_out["privacy"] = msgspec.to_builtins(record)
                (stage / CONFIG_FILE).write_text(json.dumps(config_out))
                (stage / PROGRESS_FILE).write_text(json.dumps(progress))
                # Tune copies the folder into the job's storage before ``report`` returns
                tune.report({**metrics, "epoch": epoch, "trial_index": int(trial["index"]),
                             "resumed_from_epoch": resumed_from, "run_id": run.run_id or ""},
                            checkpoint=tune.Checkpoint.from_directory(str(stage)))
            finally:
                shutil.rmtree(stage, ignore_errors=True)
            pruner.after_report(score, curve_tiebreak(curve_by, metrics))
    except BaseException:
        run.end("FAILED")
        raise
    run.end("FINISHED")
