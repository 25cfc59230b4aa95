"""``synthts sample`` in real units, with per-label counts, and labels matched by name first
(an index only as ``#3``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from synthts_core.cli import cli
from synthts_core.domain import ModelBundle
from synthts_core.services.importing import ImportOptions, import_data
from tests.tracking.conftest import TinyTrainer, tiny_config

MEAN, STD = np.array([2.55, -300.0]), np.array([7.07, 0.25])


def invoke(rt: Any, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), obj=rt, catch_exceptions=False)


@pytest.fixture
def units_model(embedded_runtime: Any, register_plugin: Any) -> Any:
    """An imported two-channel dataset (real mean 2.55 / std 7.07 and -300 / 0.25) and a model
    whose output, in the dataset's stored units (as imported), has that mean and std per
    channel, as a model that learned it would: its raw output tanh(W z) with rows of W of norm
    0.1 is ~N(0, 0.1^2), and the training normalisation scales that by 10 std and adds the
    mean."""
    import synthts_sqlite.plugin
    import torch

    register_plugin(synthts_sqlite.plugin, name="sqlite")
    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 2, 16)) * STD[None, :, None] + MEAN[None, :, None]
    doc = {"values": real.tolist(), "labels": ["1", "2"] * 30}
    import json

    dataset = import_data(json.dumps(doc).encode(),
                          ImportOptions(name="plant", format="json")).dataset
    meta = embedded_runtime.storage.create_dataset(dataset)
    config = tiny_config(label_names=["1", "2"], offset=MEAN.tolist(),
                         scale=(10.0 * STD).tolist())
    config["latent_dim"] = 16
    config["dataset"] = {"name": meta.name, "checksum": meta.checksum}
    trainer = TinyTrainer(config)
    with torch.no_grad():
        w = torch.randn(trainer.gen.weight.shape, generator=torch.Generator().manual_seed(1))
        w[:, 16:] = 0.0  # the label does not move the mean
        w[:, :16] *= 0.1 / w[:, :16].norm(dim=1, keepdim=True)
        trainer.gen.weight.copy_(w)
    bundle = ModelBundle(config=config, weights=trainer.weights(), metrics={"mmd": 0.1})
    embedded_runtime.tracker.register_model("units-gan", bundle, aliases=["best"])
    return real


def test_sample_returns_the_units_imported(embedded_runtime: Any, units_model: np.ndarray,
                                           tmp_path: Path) -> None:
    out = tmp_path / "s.npy"
    result = invoke(embedded_runtime, "sample", "units-gan", "--counts", "1=600,2=600",
                    "--seed", "3", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "(real units)" in result.output
    values = np.load(out)
    assert values.shape == (1200, 2, 16)
    for c in range(2):  # per channel: the real data's mean and std (within 5% of a std)
        assert values[:, c].mean() == pytest.approx(MEAN[c], abs=0.05 * STD[c])
        assert values[:, c].std() == pytest.approx(STD[c], rel=0.05)
    stored = tmp_path / "n.npy"
    assert invoke(embedded_runtime, "sample", "units-gan", "--counts", "1=600,2=600",
                  "--seed", "3", "--units", "normalised", "-o", str(stored)).exit_code == 0
    normalised = np.load(stored)
    assert abs(normalised.mean()) < 0.05 and normalised.std() == pytest.approx(1.0, rel=0.05)
    # --store keeps the synthetic set like its training set: real units, same normalisation
    sampled = tmp_path / "stored.npy"
    assert invoke(embedded_runtime, "sample", "units-gan", "--count", "2=4", "--seed", "5",
                  "-o", str(sampled), "--store", "synth").exit_code == 0
    synth = embedded_runtime.storage.read_dataset("synth")
    plant = embedded_runtime.storage.get_dataset_meta("plant")
    assert synth.meta.normalisation == plant.normalisation
    np.testing.assert_array_equal(synth.values, np.load(sampled))  # what was sampled, exactly
    assert synth.meta.label_names == ["1", "2"] and synth.labels.tolist() == [1] * 4


def test_counts_and_labels_by_name_first(embedded_runtime: Any, units_model: np.ndarray,
                                         tmp_path: Path) -> None:
    out = tmp_path / "c.npy"
    ok = invoke(embedded_runtime, "sample", "units-gan", "--counts", "1=24,2=26", "-o", str(out))
    assert ok.exit_code == 0, ok.output
    assert np.bincount(np.load(tmp_path / "c.labels.npy")).tolist() == [24, 26]
    assert "  1: 24" in ok.output and "  2: 26" in ok.output
    repeated = invoke(embedded_runtime, "sample", "units-gan", "--count", "2=3", "--count",
                      "#0=2", "-o", str(out))
    assert repeated.exit_code == 0, repeated.output
    assert np.load(tmp_path / "c.labels.npy").tolist() == [1, 1, 1, 0, 0]
    # "0" is not a class name here: refused, never read as the index of class "1"
    bad = invoke(embedded_runtime, "sample", "units-gan", "--label", "0")
    assert bad.exit_code == 2 and "unknown label '0'" in bad.output and "#0..#1" in bad.output
    by_index = invoke(embedded_runtime, "sample", "units-gan", "--label", "#0", "-o", str(out))
    assert by_index.exit_code == 0 and np.load(tmp_path / "c.labels.npy").tolist() == [0]
    by_name = invoke(embedded_runtime, "sample", "units-gan", "--label", "2", "-o", str(out))
    assert by_name.exit_code == 0 and np.load(tmp_path / "c.labels.npy").tolist() == [1]
    for args, text in [(("--counts", "1=2", "--n", "3"), "give --counts/--count alone"),
                       (("--counts", "1"), "'1' is not LABEL=N"),
                       (("--counts", "1=2,1=3"), "given twice")]:
        res = invoke(embedded_runtime, "sample", "units-gan", *args)
        assert res.exit_code == 2 and text in res.output, res.output


def test_registration_records_the_units_so_deleting_the_dataset_keeps_them(
        embedded_runtime: Any, units_model: np.ndarray, tmp_path: Path) -> None:
    import msgspec

    from synthts_core.loaded_model import LoadedModel
    from synthts_core.services.model_loading import load_model

    plant = embedded_runtime.storage.get_dataset_meta("plant")
    assert plant.normalisation.method == "zscore"  # units that differ from the real ones
    ref = embedded_runtime.tracker.get_version("units-gan", "1")
    config = dict(embedded_runtime.tracker.load_bundle("units-gan", "1").config)
    assert "units" not in config
    # what training (``training_trial``) writes into the config at registration
    config["units"] = {**msgspec.to_builtins(plant.normalisation), "generates": "real"}
    bundle = embedded_runtime.tracker.load_bundle("units-gan", "1")
    embedded_runtime.tracker.register_model(
        "units-gan", ModelBundle(config=config, weights=bundle.weights, metrics={"mmd": 0.1}))
    embedded_runtime.storage.delete_dataset("plant")
    recorded = load_model(embedded_runtime, embedded_runtime.tracker.get_version("units-gan", "2"))
    assert recorded.data_normalisation.scale == plant.normalisation.scale
    assert recorded.output_units == "real"
    # built directly from the bundle (as the MLflow pyfunc model does), no storage asked
    direct = LoadedModel(recorded.ref, config, recorded.trainer, recorded.device)
    assert direct.data_normalisation.scale == plant.normalisation.scale
    assert direct.data_normalisation.method == "zscore" and direct.output_units == "real"
    lost = load_model(embedded_runtime, ref)  # no record, no dataset: the stored units remain
    assert lost.data_normalisation.method == "none"
