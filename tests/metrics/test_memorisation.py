"""The memorisation guard and scores against real series the generator never saw.

Real computations on arrays: a "model" that hands back its training series with light jitter
must fail the guard (while the detector, fooled by real data, passes it), an independent draw
of the same process must pass, and without unseen series the guard says it could not measure.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthts_metrics.memorisation import MemorisationGuard

from synthts_core.domain import Dataset
from synthts_core.services import evaluation
from tests.metrics.memoriser import harmonics


@pytest.fixture
def metric_registries(synthts_pm, register_plugin):
    from synthts_metrics import plugin

    register_plugin(plugin, name="metrics")
    return synthts_pm.registries


def jittered_copies(train: Dataset, scale: float = 0.05, seed: int = 9) -> np.ndarray:
    """What a model that memorised its training set returns: the training series, lightly
    jittered (a quarter of the data's own noise)."""
    rng = np.random.default_rng(seed)
    return (train.values + scale * rng.standard_normal(train.values.shape)).astype(np.float32)


def guard_of(verdict):
    return next(g for g in verdict.guards if g.metric == "memorisation")


@pytest.mark.slow
def test_the_guard_fails_a_model_that_returns_jittered_training_series(metric_registries):
    train, unseen = harmonics(100, seed=1), harmonics(40, seed=2)
    results = evaluation.compare(metric_registries, train, jittered_copies(train),
                                 train.labels, ["detector", "memorisation"], holdout=unseen,
                                 holdout_text="80 held-out series the generator never saw")
    verdict = evaluation.verdict(metric_registries, results)
    by = {r.name: r for r in results}
    # the detector cannot tell copies of real series from real series: it would pass them
    assert all(c.passed for c in verdict.classes), verdict.classes
    guard = guard_of(verdict)
    assert guard.threshold == pytest.approx(0.01 / 2)  # alpha over two classes
    assert [c.passed for c in guard.classes] == [False, False]
    assert max(by["memorisation"].per_class.values()) < 1e-10
    details = by["memorisation"].details["per_class_details"]["2Hz"]
    assert details["closer_share"] > 0.99
    assert details["ratio_synthetic_median"] < 0.5 < details["ratio_unseen_median"]
    assert verdict.passed is False and "memorisation fails 2 class(es)" in verdict.summary
    assert by["memorisation"].details["scored_on"].startswith("80 held-out series")


def test_an_independent_draw_passes_the_guard_and_so_does_an_under_dispersed_one(
        metric_registries):
    train, unseen = harmonics(100, seed=1), harmonics(40, seed=2)
    for synthetic in (harmonics(100, seed=3), harmonics(100, seed=4, noise=0.1)):
        results = evaluation.compare(metric_registries, train, synthetic.values, train.labels,
                                     ["memorisation"], holdout=unseen)
        verdict = evaluation.verdict(metric_registries, results)
        assert verdict.metric == "memorisation"  # the only metric: its guard is the verdict
        assert [c.passed for c in verdict.classes] == [True, True], verdict.classes
        assert min(results[0].per_class.values()) > 0.01


def test_the_guard_catches_a_model_that_copies_a_fifth_of_the_time():
    guard = MemorisationGuard()
    train, unseen = harmonics(200, seed=1), harmonics(50, seed=2)
    first = train.labels == 0
    synthetic = harmonics(200, seed=3).values[first].copy()
    synthetic[:40] = jittered_copies(train)[first][:40]
    out = guard.compute(train.values[first], synthetic, np.random.default_rng(0),
                        holdout=unseen.values[unseen.labels == 0])
    assert float(out) < 0.01 / 10, (out, out.extra)  # fails even among ten classes


def test_without_unseen_series_the_guard_is_inconclusive_and_tstr_says_training(
        metric_registries):
    train = harmonics(60, seed=1)
    results = evaluation.compare(metric_registries, train, harmonics(60, seed=3).values,
                                 train.labels, ["detector", "memorisation", "tstr"])
    by = {r.name: r for r in results}
    verdict = evaluation.verdict(metric_registries, results)
    guard = guard_of(verdict)
    assert all(c.passed is None for c in guard.classes)
    assert "never saw" in guard.classes[0].reason
    assert "memorisation inconclusive" in verdict.summary
    assert by["tstr"].details["tested_on"] == "training"
    assert by["tstr"].details["scored_on"] == "the 120 training series (no held-out series)"
    assert by["tstr"].details["n_test"] == 120


def test_tstr_is_scored_on_the_held_out_series_when_there_are_some(metric_registries):
    train, unseen = harmonics(60, seed=1), harmonics(25, seed=2)
    results = evaluation.compare(metric_registries, train, harmonics(60, seed=3).values,
                                 train.labels, ["tstr"], holdout=unseen,
                                 holdout_text="50 held-out series the generator never saw")
    tstr = results[0]
    assert tstr.details["tested_on"] == "held-out" and tstr.details["n_test"] == 50
    assert tstr.details["scored_on"] == "50 held-out series the generator never saw"
    assert tstr.value == pytest.approx(1.0, abs=0.05)


@pytest.mark.slow
def test_a_briefly_trained_gan_passes_and_the_report_says_what_tstr_scored_on(
        tmp_path, monkeypatch):
    """End to end through the evaluation service: a real C-GAN (gan plugin) trained a few
    epochs on a generated harmonics set, registered in the embedded MLflow registry. Its
    unseen real series are a fresh draw of the dataset's spec; the guard does not flag it."""
    from synthts_core.domain import ModelBundle
    from synthts_core.runtime import Runtime
    from synthts_core.services.holdout import holdout_seed
    from synthts_core.settings import Settings

    monkeypatch.setenv("SYNTHTS_DATA_DIR", str(tmp_path / "data"))
    with Runtime(Settings(_env_file=None, device="cpu")) as rt:
        spec = rt.services.datasets.spec_from_preset("harmonics10", name="h10", count=30,
                                                     length=64)
        rt.services.datasets.create(spec)
        real = rt.storage.read_dataset("h10")
        arch = rt.registries.architectures.get("cgan")
        lo, hi = float(real.values.min()), float(real.values.max())
        config = {"architecture": "cgan", "length": 64, "n_channels": 1, "n_classes": 10,
                  "seed": 0, "latent_dim": 8, "batch_size": 32, "augment": False,
                  "label_names": real.meta.label_names,
                  "normalisation": {"method": "minmax", "offset": [(hi + lo) / 2],
                                    "scale": [(hi - lo) / 2]},
                  "dataset": {"name": "h10", "checksum": real.meta.checksum}}
        trainer = arch.build(config, "cpu")
        scaled = (real.values - (hi + lo) / 2) / ((hi - lo) / 2)
        for _ in range(5):
            trainer.train_epoch(scaled, real.labels)
        rt.tracker.register_model("h10-gan", ModelBundle(config, trainer.weights(), {}))
        report = rt.services.evaluations.run("h10-gan@1", metrics=["memorisation", "tstr"],
                                             seed=1, store=False).report
    assert report.unseen == (f"300 freshly drawn series the generator never saw (the "
                             f"dataset's spec with seed {holdout_seed(0)})")
    by = {m.name: m for m in report.metrics}
    assert by["tstr"].details["tested_on"] == "held-out"
    assert by["tstr"].details["scored_on"] == report.unseen
    guard = report.verdict
    assert guard.metric == "memorisation" and len(guard.classes) == 10
    assert all(c.passed for c in guard.classes), guard.classes
    assert any("tstr, memorisation scored on 300 freshly drawn" in n or
               "memorisation, tstr scored on 300 freshly drawn" in n for n in guard.notes)
