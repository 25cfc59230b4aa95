"""The evaluation service: per-class comparison, trial scoring, embeddings, and end to end
(real GAN plugin, embedded SQLite storage, embedded MLflow tracker, the CLI's HTML report)."""

from __future__ import annotations

import numpy as np
import pytest

from synthts_core import projection, subsets
from synthts_core.domain import Dataset
from synthts_core.errors import BadInputError, NotFoundError
from synthts_core.services import evaluation
from synthts_core.testing.conformance.metrics import noise_set, sine_set


@pytest.fixture
def metric_registries(synthts_pm, register_plugin):
    from synthts_metrics import plugin

    register_plugin(plugin, name="metrics")
    return synthts_pm.registries


def _labelled(parts: list[np.ndarray], names: list[str], name: str = "real") -> Dataset:
    labels = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])
    return Dataset.build(name, np.concatenate(parts), labels, names)


def test_per_class_values_show_which_class_is_wrong(metric_registries):
    real = _labelled([sine_set(150, 1, 24, 1), sine_set(150, 1, 24, 2) * 0.5],
                     ["good", "bad"])
    synthetic = np.concatenate([sine_set(150, 1, 24, 3), noise_set(150, 1, 24, 4)])
    labels = np.repeat([0, 1], 150)
    results = evaluation.compare(metric_registries, real, synthetic, labels,
                                 ["mmd", "marginal", "feature_cosine", "cross_correlation"])
    by_name = {r.name: r for r in results}
    assert "cross_correlation" not in by_name  # one channel: skipped, not a fake number
    assert evaluation.skipped_metrics(metric_registries, ["cross_correlation"], 1)
    for name in ("mmd", "marginal"):
        per = by_name[name].per_class
        assert set(per) == {"good", "bad"}
        assert per["good"] < 0.1 < per["bad"], (name, per)
    cos = by_name["feature_cosine"].per_class
    assert cos["good"] > cos["bad"] and by_name["feature_cosine"].higher_is_better


def test_compare_is_deterministic_and_checks_shapes(metric_registries):
    real = _labelled([sine_set(60, 2, 24, 1)], ["only"])
    fake = sine_set(60, 2, 24, 2)
    first = evaluation.compare(metric_registries, real, fake, np.zeros(60, int), ["mmd"], seed=3)
    again = evaluation.compare(metric_registries, real, fake, np.zeros(60, int), ["mmd"], seed=3)
    assert first == again
    with pytest.raises(BadInputError, match="synthetic_values"):
        evaluation.compare(metric_registries, real, fake[:, :1], None, ["mmd"])
    with pytest.raises(BadInputError, match="metrics"):
        evaluation.compare(metric_registries, real, fake, None, ["no_such_metric"])


def test_score_ranks_a_good_trial_above_a_bad_one(metric_registries):
    """The score training ranks trials by (``quality_score``, pooled here) and the way it
    ranks them (``higher_is_better``, which refuses a metric that is not installed)."""
    from synthts_core.services.training_trial import quality_score

    real = sine_set(200, 2, 24, 1)
    mmd = metric_registries.metrics.get("mmd")
    good, _ = quality_score(mmd, real, None, sine_set(200, 2, 24, 2), None, 0)
    bad, _ = quality_score(mmd, real, None, noise_set(200, 2, 24, 3), None, 0)
    assert good < bad and not evaluation.higher_is_better(metric_registries, "mmd")
    with pytest.raises(NotFoundError, match="nope"):
        evaluation.higher_is_better(metric_registries, "nope")


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embeddings(method):
    real, fake = sine_set(80, 2, 24, 1), noise_set(90, 2, 24, 2)
    r, s = projection.embeddings(real, fake, method, max_points=60)
    assert r.shape == (60, 2) and s.shape == (60, 2)
    assert np.isfinite(r).all() and np.isfinite(s).all()
    with pytest.raises(BadInputError, match="method"):
        projection.embeddings(real, fake, "umap")


def test_series_choice_and_projection_helpers():
    """The one way series are picked, matched to a model's labels and projected (evaluation,
    figures, the API's real-beside-synthetic plot and the metric plugins share it)."""
    assert subsets.label_map(["b", "x", "a"], ["a", "b"]).tolist() == [1, -1, 0]
    labels = np.array([2, 0, 2, 1, 0, 2, 0])
    assert subsets.first_per_label(labels, [2, 0], 2).tolist() == [0, 1, 2, 4]
    assert subsets.first_per_label(labels, [], 2).tolist() == []
    drawn = subsets.subsample_index(50, 7, np.random.default_rng(3))
    assert drawn.tolist() == sorted(np.random.default_rng(3).choice(50, 7, replace=False))
    assert subsets.subsample_index(5, 7, np.random.default_rng(3)).tolist() == [0, 1, 2, 3, 4]
    real, fake = sine_set(40, 2, 24, 1), noise_set(30, 2, 24, 2)
    r, s = projection.pca_2d(real, fake)
    from sklearn.decomposition import PCA

    theirs = PCA(n_components=2).fit_transform(np.concatenate([real, fake]).reshape(70, -1))
    ours = np.concatenate([r, s])
    np.testing.assert_allclose(np.abs(ours), np.abs(theirs), atol=1e-5)  # theirs: float32
    with pytest.raises(BadInputError, match="synthetic"):
        projection.pca_2d(real, fake[:, :1])


@pytest.mark.slow
def test_evaluate_end_to_end_stores_report_and_cli_writes_html(tmp_path, monkeypatch):
    """A real C-GAN (gan plugin) trained briefly, registered in the embedded MLflow registry,
    evaluated against its training set in SQLite; then ``synthts evaluate`` on the same data."""
    from click.testing import CliRunner

    from synthts_core.cli.commands.evaluate import command
    from synthts_core.domain import ModelBundle
    from synthts_core.runtime import Runtime
    from synthts_core.settings import Settings

    monkeypatch.setenv("SYNTHTS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SYNTHTS_DEVICE", "cpu")
    settings = Settings(_env_file=None)
    real = _labelled([sine_set(40, 1, 32, 1), sine_set(40, 1, 32, 2) * 0.5 + 0.25],
                     ["full", "half"], name="two-sines")
    with Runtime(settings) as rt:
        rt.storage.create_dataset(real)
        arch = rt.registries.architectures.get("cgan")
        config = {"architecture": "cgan", "length": 32, "n_channels": 1, "n_classes": 2,
                  "seed": 0, "latent_dim": 8, "batch_size": 16, "augment": False,
                  "label_names": ["full", "half"],
                  "normalisation": {"method": "minmax", "offset": [0.5], "scale": [0.5]},
                  "dataset": {"name": "two-sines", "checksum": real.meta.checksum}}
        trainer = arch.build(config, "cpu")
        for _ in range(2):
            trainer.train_epoch(real.values * 2 - 1, real.labels)
        rt.tracker.register_model("eval-gan", ModelBundle(config, trainer.weights(), {}))
        report = rt.services.evaluations.run("eval-gan", metrics=["mmd", "marginal"], seed=1).report
        assert report.dataset == "two-sines" and report.n_synthetic == 80
        assert [m.name for m in report.metrics] == ["mmd", "marginal"]
        assert set(report.metrics[0].per_class) == {"full", "half"}
        stored = rt.tracker.get_version("eval-gan", "1").metrics
        assert any("mmd" in k for k in stored), stored

    out = tmp_path / "report.html"
    result = CliRunner().invoke(command, ["eval-gan@1", "--metrics", "mmd,spectrum",
                                          "--n-per-label", "20", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "spectrum" in result.output and "full" in result.output
    page = out.read_text()
    assert page.count('class="figure"') == 4  # metrics table, real vs synthetic, PCA, t-SNE
    assert '<script src="https://cdn.plot.ly' not in page and "Plotly.newPlot" in page
