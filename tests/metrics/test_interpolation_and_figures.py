"""Latent interpolation (endpoints, norms, label walks) with the real C-GAN plugin, and the
plotly figures (valid JSON with the expected traces and frames, self-contained HTML)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from synthts_core.domain import MetricResult, ModelVersionRef
from synthts_core.errors import BadInputError
from synthts_core.services import interpolation


@pytest.fixture(scope="module")
def cgan_model():
    """An (untrained, seeded) C-GAN from the gan plugin wrapped as a registry would load it."""
    from synthts_gan.plugin import builtin_architectures

    from synthts_core.loaded_model import LoadedModel

    arch = {a.name: a for a in builtin_architectures()}["cgan"]
    config = {"architecture": "cgan", "length": 32, "n_channels": 2, "n_classes": 3,
              "seed": 0, "latent_dim": 16, "label_names": ["a", "b", "c"],
              "normalisation": {"method": "minmax", "offset": [1.0, -2.0], "scale": [2.0, 0.5]}}
    trainer = arch.build(config, "cpu")
    return LoadedModel(ModelVersionRef(name="m", version="1"), config, trainer, "cpu")


def _real_units(model, raw):
    offset = np.array([1.0, -2.0], np.float32)[None, :, None]
    scale = np.array([2.0, 0.5], np.float32)[None, :, None]
    return raw * scale + offset


def test_slerp_keeps_endpoints_and_interpolates_norms():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(64), 2.0 * rng.standard_normal(64)
    path = interpolation.latent_path(a, b, 9)
    np.testing.assert_allclose(path[0], a, rtol=1e-6)
    np.testing.assert_allclose(path[-1], b, rtol=1e-6)
    norms = np.linalg.norm(path, axis=1)
    np.testing.assert_allclose(norms, np.linspace(np.linalg.norm(a), np.linalg.norm(b), 9),
                               rtol=1e-5)
    # equal norms stay on the sphere, whereas the straight line dips towards the origin
    c = b / np.linalg.norm(b) * np.linalg.norm(a)
    mid = interpolation.slerp(a, c, 0.5)
    assert np.linalg.norm(mid) == pytest.approx(np.linalg.norm(a), rel=1e-9)
    assert np.linalg.norm((a + c) / 2) < 0.9 * np.linalg.norm(a)


def test_nearly_parallel_points_fall_back_to_a_line():
    a = np.ones(8)
    b = a * 1.5 + 1e-6
    np.testing.assert_allclose(interpolation.slerp(a, b, 0.5), (a + b) / 2)


def test_latent_walk_endpoints_are_the_endpoints_generations(cgan_model):
    walk = interpolation.between_latents(cgan_model, 3, 4, steps=5, label="b")
    assert walk.values.shape == (5, 2, 32) and walk.label_weights is None
    trainer = cgan_model.trainer
    for row, z in ((0, walk.z[0]), (-1, walk.z[-1])):
        raw = trainer.generate(1, labels=np.array([1]), z=z[None, :])
        np.testing.assert_allclose(walk.values[row], _real_units(cgan_model, raw)[0], atol=1e-5)
    z3 = np.random.default_rng(3).standard_normal(16).astype(np.float32)
    np.testing.assert_allclose(walk.z[0], z3, rtol=1e-6)
    assert not np.allclose(walk.values[0], walk.values[-1])


def test_label_walk_moves_between_the_two_classes(cgan_model):
    walk = interpolation.between_labels(cgan_model, "a", "c", steps=4, z=7)
    np.testing.assert_allclose(walk.label_weights[0], [1, 0, 0])
    np.testing.assert_allclose(walk.label_weights[-1], [0, 0, 1])
    assert np.allclose(walk.z, walk.z[0])  # one latent point held
    for row, label in ((0, 0), (-1, 2)):
        raw = cgan_model.trainer.generate(1, labels=np.array([label]), z=walk.z[:1])
        np.testing.assert_allclose(walk.values[row], _real_units(cgan_model, raw)[0], atol=1e-5)


def test_interpolation_rejects_bad_input(cgan_model):
    with pytest.raises(BadInputError, match="steps"):
        interpolation.between_latents(cgan_model, 0, 1, steps=1)
    with pytest.raises(BadInputError, match="start"):
        interpolation.between_latents(cgan_model, [0.0, 1.0], 1)
    with pytest.raises(BadInputError, match="labels"):
        interpolation.between_labels(cgan_model, "a", "zzz")


# ----------------------------------------------------------------------------- figures


def _decode(node):
    """plotly 7 writes numeric arrays as typed-array objects {dtype, bdata[, shape]}."""
    if isinstance(node, dict):
        if set(node) >= {"dtype", "bdata"}:
            arr = np.frombuffer(base64.b64decode(node["bdata"]), dtype=node["dtype"])
            return arr.reshape(node["shape"]) if "shape" in node else arr
        return {k: _decode(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_decode(v) for v in node]
    return node


def _json(fig) -> dict:
    """The figure's plotly JSON, parsed back with typed arrays decoded."""
    parsed = json.loads(fig.to_json())
    assert set(parsed) >= {"data", "layout"}
    return _decode(parsed)


def test_dataset_and_real_vs_synthetic_figures():
    from synthts_core import figures

    rng = np.random.default_rng(0)
    values = rng.standard_normal((12, 2, 20)).astype(np.float32)
    labels = np.repeat([0, 1, 2], 4)
    data = _json(figures.dataset_figure(values, labels, ["x", "y", "z"], per_label=2))
    assert len(data["data"]) == 3 * 2 * 2  # labels x series x channels
    titles = [a["text"] for a in data["layout"]["annotations"]]
    assert titles == ["x", "y", "z"]
    both = _json(figures.real_vs_synthetic_figure(values, labels, values[::-1], labels[::-1],
                                                  ["x", "y", "z"], per_label=1))
    names = [t["name"] for t in both["data"]]
    assert sum(n.startswith("real") for n in names) == 3 * 2
    assert sum(n.startswith("synthetic") for n in names) == 3 * 2


def test_embedding_and_metrics_table_and_training_curves():
    from synthts_core import figures

    emb = _json(figures.embedding_figure(np.zeros((5, 2)), np.ones((7, 2)), "tsne"))
    assert [len(t["x"]) for t in emb["data"]] == [5, 7]
    assert "t-SNE" in emb["layout"]["title"]["text"]
    table = _json(figures.metrics_table_figure([
        MetricResult(name="mmd", value=0.01, per_class={"a": 0.02}),
        MetricResult(name="discriminative", value=0.1, std=0.02)]))
    cells = table["data"][0]["cells"]["values"]
    header = table["data"][0]["header"]["values"]
    assert header == ["metric", "better", "all", "± std", "a"]
    assert cells[0] == ["mmd", "discriminative"] and cells[3] == ["", "0.02"]
    assert cells[4] == ["0.02", ""]  # per-class column
    curves = _json(figures.training_curves_figure({
        "t1": [{"epoch": 1, "mmd": 0.3, "g_loss": 1.0}, {"epoch": 2, "mmd": 0.2, "g_loss": 0.9}],
        "t2": [{"epoch": 1, "mmd": 0.4}]}))
    assert {t["name"] for t in curves["data"]} == {"t1", "t2"}
    assert len(curves["data"]) == 3  # g_loss: t1; mmd: t1 and t2


def test_interpolation_animation_has_one_frame_per_step_and_a_play_button():
    from synthts_core import figures

    frames = np.random.default_rng(0).standard_normal((6, 2, 16))
    data = _json(figures.interpolation_animation(frames))
    assert len(data["frames"]) == 6
    assert all(len(f["data"]) == 2 for f in data["frames"])
    np.testing.assert_allclose(data["frames"][5]["data"][1]["y"], frames[5, 1])
    buttons = data["layout"]["updatemenus"][0]["buttons"]
    assert buttons[0]["label"] == "Play" and buttons[0]["method"] == "animate"
    assert len(data["layout"]["sliders"][0]["steps"]) == 6


def test_to_html_is_self_contained():
    from synthts_core import figures

    fig = figures.embedding_figure(np.zeros((3, 2)), np.ones((3, 2)))
    page = figures.to_html([fig, fig], "two <figures>")
    assert page.startswith("<!DOCTYPE html>") and "two &lt;figures&gt;" in page
    assert '<script src="https://cdn.plot.ly' not in page
    assert page.count("Plotly.newPlot") == 2 and len(page) > 1_000_000  # plotly.js inlined once
