"""``synthts generate`` and ``synthts import`` end to end into the real SQLite storage."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from synthts_core.cli import cli
from synthts_core.plugins import make_plugin_manager
from synthts_core.runtime import Runtime
from synthts_core.services.generation import build_dataset, resolve_preset
from synthts_core.settings import Settings


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"SYNTHTS_DATA_DIR": str(tmp_path / "data"), "SYNTHTS_STORAGE": "",
            "SYNTHTS_DISABLE_PLUGINS": ""}


@pytest.fixture
def sqlite_storage() -> None:
    if "sqlite" not in make_plugin_manager().registries.storage:
        pytest.skip("the sqlite storage plugin is not installed")


def _stored(env: dict[str, str], name: str):
    with Runtime(Settings(data_dir=env["SYNTHTS_DATA_DIR"], _env_file=None)) as rt:
        return rt.storage.read_dataset(name)


def test_generate_preset_stores_the_dataset(env, sqlite_storage) -> None:
    result = CliRunner().invoke(cli, ["generate", "--preset", "harmonics10", "--count", "4",
                                      "--length", "128", "--name", "h4", "--seed", "2"], env=env)
    assert result.exit_code == 0, result.output
    assert "stored h4: 40 x 1 x 128 (10 classes)" in result.output
    stored = _stored(env, "h4")
    regs = make_plugin_manager().registries
    expected = build_dataset(regs, resolve_preset(regs, "harmonics10", count=4, length=128,
                                                  name="h4", seed=2))
    assert stored.meta.checksum == expected.meta.checksum
    np.testing.assert_array_equal(stored.values, expected.values)
    assert stored.meta.label_names == expected.meta.label_names


def test_generate_spec_file_json_output(env, tmp_path, sqlite_storage) -> None:
    spec = tmp_path / "ar.toml"
    spec.write_text('name = "ar"\nlength = 64\n[sampling]\nkind = "irregular"\nkeep = 0.5\n'
                    '[[classes]]\nlabel = "ar"\ncount = 6\n'
                    '[classes.signal]\ngenerator = "autoregressive"\n'
                    '[classes.signal.params]\nar_param = [0.5, 0.2]\n')
    result = CliRunner().invoke(cli, ["generate", "--spec", str(spec), "--json"], env=env)
    assert result.exit_code == 0, result.output
    meta = json.loads(result.output)
    assert (meta["name"], meta["n_series"], meta["length"]) == ("ar", 6, 64)
    stored = _stored(env, "ar")
    assert stored.times is not None and stored.times.shape == (6, 64)


def test_generate_rejects_bad_input_before_storing(env, tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["generate", "--preset", "harmonics10", "--count", "0"], env=env)
    assert result.exit_code == 2 and "count" in result.output
    result = runner.invoke(cli, ["generate"], env=env)
    assert result.exit_code == 2 and "--preset/--spec" in result.output
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps({"name": "b", "length": 16, "classes": [
        {"label": "a", "count": 2, "signal": {"generator": "car", "params": {"ar_param": 1.2}}}]}))
    result = runner.invoke(cli, ["generate", "--spec", str(spec)], env=env)
    assert result.exit_code == 2
    assert "classes[0].signal.params.ar_param" in result.output


def test_import_csv(env, tmp_path, sqlite_storage) -> None:
    path = tmp_path / "m.csv"
    rows = ["a,b,label"] + [f"{i},{i * 2},{'x' if i < 30 else 'y'}" for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(cli, ["import", str(path), "--name", "m", "--window", "10",
                                      "--stride", "5", "--label-column", "label",
                                      "--normalise", "minmax"], env=env)
    assert result.exit_code == 0, result.output
    stored = _stored(env, "m")
    assert stored.values.shape == (10, 2, 10)
    assert stored.meta.label_names == ["x", "y"]
    assert stored.meta.normalisation.method == "minmax"


def test_generate_large_set_with_progress_bar(env, sqlite_storage) -> None:
    result = CliRunner().invoke(cli, ["generate", "--preset", "harmonics10", "--count", "200"],
                                env=env)
    assert result.exit_code == 0, result.output
    assert "stored harmonics10: 2000 x 1 x 1024" in result.output
    assert _stored(env, "harmonics10").meta.label_counts == [200] * 10


def test_import_keeps_a_test_file_or_a_fraction_out_of_training(env, tmp_path,
                                                                sqlite_storage) -> None:
    rng = np.random.default_rng(0)
    for part, n in (("TRAIN", 12), ("TEST", 8)):
        np.savez(tmp_path / f"{part}.npz", values=rng.normal(size=(n, 1, 16)),
                 labels=np.arange(n) % 2)
    runner = CliRunner()
    result = runner.invoke(cli, ["import", str(tmp_path / "TRAIN.npz"), "--holdout-file",
                                 str(tmp_path / "TEST.npz"), "--name", "split"], env=env)
    assert result.exit_code == 0, result.output
    assert "held out of training: 8 series (from TEST.npz)" in result.output
    stored = _stored(env, "split")
    assert stored.values.shape == (20, 1, 16)  # every read returns every series
    assert stored.meta.holdout.series == list(range(12, 20))
    shown = runner.invoke(cli, ["datasets", "show", "split"], env=env)
    assert "split:       12 training + 8 held out (from TEST.npz)" in shown.output

    result = runner.invoke(cli, ["import", str(tmp_path / "TRAIN.npz"), "--holdout", "0.25",
                                 "--holdout-seed", "3", "--name", "frac"], env=env)
    assert result.exit_code == 0, result.output
    split = _stored(env, "frac").meta.holdout
    assert (split.how, split.fraction, split.seed, len(split.series)) == ("fraction", 0.25, 3, 4)
    labels = _stored(env, "frac").labels
    assert np.bincount(labels[split.series]).tolist() == [2, 2]  # stratified
    result = runner.invoke(cli, ["import", str(tmp_path / "TRAIN.npz"), "--holdout", "0.25",
                                 "--holdout-file", str(tmp_path / "TEST.npz"), "--name", "x"],
                           env=env)
    assert result.exit_code != 0 and "holdout" in result.output
