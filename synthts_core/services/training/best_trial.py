"""Scoring and registering the best trial. The best trial is picked by sample quality (the
job's ``select_metric``), never by a training loss: each trial's best checkpoint is scored
again on fresh samples, the winner is registered, and the alias ``best`` moves to it only when
it is at least as good as the version that holds it, both scored the same way.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from synthts_core.domain import ModelBundle, TrainingJob, TrialState
from synthts_core.errors import NotFoundError
from synthts_core.services.evaluation.comparison import higher_is_better
from synthts_core.services.training.checkpoints import still_there
from synthts_core.services.training.experiment import result_indices
from synthts_core.services.training.spec import job_label_indices, model_name_of, per_class_score

if TYPE_CHECKING:
    from synthts_core.domain import ModelVersionRef
    from synthts_core.runtime import Runtime

log = logging.getLogger("synthts.training")


Best = tuple[int, Any, float, dict[int, float], list[Any]]
"""(the winner's index, its checkpoint, its fresh score, every candidate's fresh score by
index, every candidate's checkpoint)."""


def best_checkpoint(rt: Runtime, job: TrainingJob, results: Any,
                    scoring: Callable[[], tuple[Any, bool]]) -> Best | None:
    """Each trial's best checkpoint by the score it was picked with, then every candidate
    scored again on fresh samples (another seed, another draw of the real series): the winner
    and the registered score come from that held-out estimate, not from the minimum of many
    noisy per-epoch values, which is biased towards luck."""
    from synthts_core.services.training_trial import curve_metric, curve_tiebreak, selection_key

    metric = job.spec.select_metric
    higher = higher_is_better(rt.registries, metric)
    curve = curve_metric(rt.registries)

    candidates: list[tuple[int, Any, float, float]] = []
    for index, result in result_indices(results):
        if result.error is not None or index is None:
            continue
        pairs = [(ck, m.get(metric), curve_tiebreak(curve, m))
                 for ck, m in (result.best_checkpoints or [])]
        pairs = [(ck, float(v), float(t)) for ck, v, t in pairs
                 if isinstance(v, int | float) and still_there(ck)]
        if not pairs:
            continue
        finite = [p for p in pairs if math.isfinite(p[1])] or pairs
        ck, score, tiebreak = (max if higher else min)(
            finite, key=lambda p: selection_key(p[1], p[2], higher))
        candidates.append((index, ck, score, tiebreak))
    if not candidates:
        return None
    from synthts_core.services.selection import rescore_checkpoint

    dataset, per_class = scoring()
    fresh = {i: rescore_checkpoint(rt, ck, dataset, metric, job.spec.seed, per_class)
             for i, ck, _, _ in candidates}
    worst = -math.inf if higher else math.inf
    key = {i: (v if math.isfinite(v) else worst) for i, v in fresh.items()}
    index, checkpoint, _, _ = (max if higher else min)(
        candidates, key=lambda c: selection_key(key[c[0]], c[3], higher))
    return index, checkpoint, fresh[index], fresh, [c[1] for c in candidates]


def scoring_data(rt: Runtime, job: TrainingJob) -> tuple[Any, bool]:
    """(the job's real training series, whether trials are ranked by their worst class);
    held-out series pick no model, as they train none."""
    from synthts_core.services.holdout import training_part

    return (training_part(rt.storage.read_dataset(job.spec.dataset,
                                                  labels=job_label_indices(rt, job))),
            per_class_score(rt, job.spec))


def beats_current_best(rt: Runtime, job: TrainingJob, name: str, score: float,
                        scoring: Callable[[], tuple[Any, bool]] | None = None) -> bool:
    """``best`` moves only to a version at least as good as the one it names, both scored the
    same way (the current best is scored again with this job's metric and data)."""
    from synthts_core.services.selection import rescore_bundle

    try:
        current = rt.tracker.get_version(name, "best")
    except NotFoundError:
        return True
    try:
        bundle = rt.tracker.load_bundle(name, current.version)
        dataset, per_class = (scoring or (lambda: scoring_data(rt, job)))()
        theirs = rescore_bundle(rt, bundle.config, bundle.weights, dataset,
                                job.spec.select_metric, job.spec.seed, per_class)
    except Exception as exc:  # a version that cannot be scored here cannot be defended
        log.warning("could not score %s@%s against the new version (%s): best moves",
                    name, current.version, exc)
        return True
    if not math.isfinite(theirs):
        return True
    if not math.isfinite(score):
        return False
    better = score >= theirs if higher_is_better(rt.registries, job.spec.select_metric) else \
        score <= theirs
    if not better:
        log.info("best stays on %s@%s (%s %.4f) over the new version (%.4f)", name,
                 current.version, job.spec.select_metric, theirs, score)
    return better


def checkpoint_bundle(checkpoint: Any, metric: str, score: float) -> ModelBundle:
    """What a checkpoint registers: its config and weights, and the metrics of its epoch with
    ``metric`` replaced by ``score`` (the fresh estimate that picked it)."""
    import json

    from synthts_core.services.training_trial import CONFIG_FILE, PROGRESS_FILE, WEIGHTS_FILE

    with checkpoint.as_directory() as d:
        folder = Path(d)
        config = json.loads((folder / CONFIG_FILE).read_text())
        weights = (folder / WEIGHTS_FILE).read_bytes()
        progress = json.loads((folder / PROGRESS_FILE).read_text())
    last = next((h for h in reversed(progress["history"]) if h["epoch"] == config["epoch"]), {})
    metrics = {k: float(v) for k, v in last.items() if k != "epoch"}
    metrics[metric] = score
    metrics["epoch"] = float(config["epoch"])
    return ModelBundle(config=config, weights=weights, metrics=metrics)


def register_best(rt: Runtime, job: TrainingJob, best: Best,
                  scoring: Callable[[], tuple[Any, bool]]
                  ) -> tuple[ModelVersionRef, str, list[TrialState], set[str]]:
    """Register the winner as a new version of the job's model (``model_name_of``), with the
    alias ``best`` when it is at least as good as the version holding it. Returns the version,
    the winning trial's id, the trials with their fresh scores, and the paths of the
    candidates' checkpoints (what a finished job keeps)."""
    index, checkpoint, score, scores, kept = best
    bundle = checkpoint_bundle(checkpoint, job.spec.select_metric, score)
    state = job.trials[index]
    name = model_name_of(rt, job.spec)
    aliases = ["best"] if beats_current_best(rt, job, name, score, scoring) else []
    ref = rt.tracker.register_model(name, bundle, run_id=state.run_id, aliases=aliases)
    trials = list(job.trials)
    for i, fresh in scores.items():
        trials[i] = msgspec.structs.replace(trials[i], selection_score=fresh)
    return ref, state.trial_id, trials, {str(ck.path) for ck in kept}
