"""Choosing what to register, without Ray: the selection score is the worst class, a version is
scored again on fresh samples, and ``best`` never moves to a worse version."""

from __future__ import annotations

import numpy as np
import pytest

from synthts_core.domain import JobSpec, ModelBundle, TrainingJob
from synthts_core.normalisation import fit_scaling
from synthts_core.runtime import Runtime
from synthts_core.services.selection import rescore_bundle
from synthts_core.services.training.best_trial import beats_current_best
from synthts_core.services.training_trial import quality_score, scored_epochs
from synthts_core.settings import Settings
from tests.training.conftest import tiny_dataset


def test_scored_epochs_spread_over_the_second_half_and_end_on_the_last():
    assert scored_epochs(200) == {120, 140, 160, 180, 200}
    assert scored_epochs(2) == {1, 2}
    assert scored_epochs(1) == {1}


def test_quality_score_is_the_worst_class_not_the_mean():
    from synthts_metrics.mmd import MMD

    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 1, 16)).astype(np.float32)
    labels = np.repeat([0, 1, 2], 20)
    fake = real + rng.normal(0, 0.05, real.shape).astype(np.float32)
    fake[labels == 1] += 3.0  # one broken class
    score, info = quality_score(MMD(), real, labels, fake, labels, 0)
    per_class = [MMD().compute(real[labels == k], fake[labels == k],
                               np.random.default_rng([0, k])) for k in range(3)]
    assert score == pytest.approx(max(per_class)) and info["worst"] == 1
    pooled, _ = quality_score(MMD(), real, None, fake, None, 0)
    assert score > pooled  # the pooled value hides the broken class


@pytest.fixture
def rt(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path / "data", _env_file=None, device="cpu"))
    yield runtime
    runtime.close()


def _version(rt: Runtime, dataset, *, epochs: int) -> ModelBundle:
    """A tiny cwgan_gp trained for ``epochs`` epochs (0 = untrained: a bad model)."""
    arch = rt.registries.architectures.get("cwgan_gp")
    norm = fit_scaling(dataset.values, "minmax")
    config = {"architecture": "cwgan_gp", "latent_dim": 8, "batch_size": 16, "n_critic": 2,
              "embed_dim": 4, "length": 32, "n_channels": 2, "n_classes": 2,
              "label_names": list(dataset.meta.label_names), "normalisation": norm, "seed": 1,
              "noise_inputs": True, "moment_weight": 10.0,
              "dataset": {"name": dataset.meta.name, "checksum": dataset.meta.checksum}}
    trainer = arch.build(config, "cpu")
    scaled = ((dataset.values - np.asarray(norm["offset"], np.float32)[None, :, None])
              / np.asarray(norm["scale"], np.float32)[None, :, None])
    for _ in range(epochs):
        trainer.train_epoch(scaled.astype(np.float32), dataset.labels)
    return ModelBundle(config=config, weights=trainer.weights(), metrics={})


@pytest.mark.slow
def test_best_never_moves_to_a_worse_version(rt):
    ds = tiny_dataset()
    rt.storage.create_dataset(ds)
    good = _version(rt, ds, epochs=60)
    bad = _version(rt, ds, epochs=0)
    good_score = rescore_bundle(rt, good.config, good.weights, ds, "mmd", 0)
    bad_score = rescore_bundle(rt, bad.config, bad.weights, ds, "mmd", 0)
    assert good_score < bad_score
    rt.tracker.register_model("tiny-gan", ModelBundle(good.config, good.weights,
                                                      {"mmd": good_score}), aliases=["best"])
    job = TrainingJob(id="job-x", spec=JobSpec(dataset="tiny", architectures=["cwgan_gp"],
                                               select_metric="mmd"))
    assert not beats_current_best(rt, job, "tiny-gan", bad_score)
    assert beats_current_best(rt, job, "tiny-gan", good_score * 0.5)


def test_ties_on_the_strong_score_go_to_the_checkpoint_closest_to_the_data(tmp_path):
    """When the detector tells every checkpoint apart (all 1.0), the cheap curve (mmd) picks,
    not the order in which they were scored; the pruner keeps that one."""
    from synthts_core.services.training_trial import CheckpointPruner, selection_key

    scored = [(1.0, 0.30), (1.0, 0.05), (1.0, 0.20)]
    assert min(scored, key=lambda p: selection_key(*p, False)) == (1.0, 0.05)
    assert min([(0.9, 0.5), (1.0, 0.01)], key=lambda p: selection_key(*p, False))[0] == 0.9
    assert max([(0.8, 0.3), (0.8, 0.1)], key=lambda p: selection_key(*p, True)) == (0.8, 0.1)

    import shutil

    from synthts_core.services import training_trial

    pruner = CheckpointPruner(str(tmp_path), higher_is_better=False)
    old_keep = training_trial.KEEP_SECONDS
    training_trial.KEEP_SECONDS = -1.0  # nothing is recent: only the best and the newest stay
    try:
        for i, (score, curve) in enumerate([(1.0, 0.3), (1.0, 0.05), (1.0, 0.2), (1.0, 0.4),
                                            (1.0, 0.5), (1.0, 0.6)]):
            (tmp_path / f"checkpoint_{i:06d}").mkdir()
            pruner.after_report(score, curve)
    finally:
        training_trial.KEEP_SECONDS = old_keep
    left = sorted(p.name for p in tmp_path.glob("checkpoint_*"))
    assert "checkpoint_000001" in left and "checkpoint_000000" not in left, left
    shutil.rmtree(tmp_path, ignore_errors=True)
