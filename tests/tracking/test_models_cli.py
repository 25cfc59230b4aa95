"""``synthts models list|show`` and ``synthts sample`` on a registry with a tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from synthts_core.cli import cli
from tests.tracking.conftest import tiny_bundle, tiny_config


def invoke(rt: Any, *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), obj=rt, catch_exceptions=False)
    return result


def test_models_list_and_show(embedded_runtime: Any) -> None:
    tracker = embedded_runtime.tracker
    tracker.register_model("harmonics-gan", tiny_bundle(mmd=0.2))
    tracker.register_model("harmonics-gan", tiny_bundle(tiny_config(seed=5), mmd=0.05),
                           aliases=["best"])
    listed = invoke(embedded_runtime, "models", "list")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if "harmonics-gan" in line)
    assert "│ 2 " in row and "best->v2" in row
    data = json.loads(invoke(embedded_runtime, "models", "list", "--json").output)
    assert data[0] | {"description": ""} == {"name": "harmonics-gan", "description": "",
                                              "latest_version": "2", "aliases": {"best": "2"},
                                              "n_versions": 2}
    shown = invoke(embedded_runtime, "models", "show", "harmonics-gan@best")
    assert shown.exit_code == 0, shown.output
    assert "harmonics-gan version 2  (tiny)" in shown.output
    assert "aliases:  best" in shown.output and "sha256:abab" in shown.output
    assert "mmd" in shown.output and '"label_names"' in shown.output
    as_json = json.loads(invoke(embedded_runtime, "models", "show", "harmonics-gan@1",
                                "--json").output)
    assert as_json["version"] == "1" and as_json["metrics"] == {"mmd": 0.2}
    assert as_json["dataset"]["name"] == "harmonics"
    missing = invoke(embedded_runtime, "models", "show", "harmonics-gan@9")
    assert missing.exit_code == 1 and "versions: 1, 2" in missing.output


def test_sample_writes_csv_npy_html_and_stores(runtime: Any, tmp_path: Path,
                                               register_plugin: Any) -> None:
    import synthts_sqlite.plugin

    register_plugin(synthts_sqlite.plugin, name="sqlite")
    runtime.tracker.register_model("tiny-gan", tiny_bundle(), aliases=["best"])
    csv_path = tmp_path / "out.csv"
    result = invoke(runtime, "sample", "tiny-gan@best", "--n", "2", "--label", "saw",
                    "--label", "sine", "--seed", "4", "-o", str(csv_path), "--store", "synth-1")
    assert result.exit_code == 0, result.output
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "series,label,channel,t,value"
    assert len(lines) == 1 + 4 * 2 * 16
    assert lines[1].startswith("0,saw,0,0,") and lines[-1].startswith("3,sine,1,15,")
    stored = runtime.storage.read_dataset("synth-1")
    assert stored.meta.source == "synthetic" and stored.meta.label_names == ["sine", "square", "saw"]
    assert stored.labels.tolist() == [2, 2, 0, 0]
    assert float(lines[1].split(",")[-1]) == pytest.approx(float(stored.values[0, 0, 0]), rel=1e-6)

    npy_path = tmp_path / "out.npy"
    assert invoke(runtime, "sample", "tiny-gan", "--n", "2", "--label", "saw", "--label", "sine",
                  "--seed", "4", "-o", str(npy_path)).exit_code == 0
    values = np.load(npy_path, allow_pickle=False)
    np.testing.assert_array_equal(values, stored.values)  # same seed, same series
    assert np.load(tmp_path / "out.labels.npy").tolist() == [2, 2, 0, 0]

    html_path = tmp_path / "out.html"
    assert invoke(runtime, "sample", "tiny-gan", "--n", "3", "-o", str(html_path)).exit_code == 0
    page = html_path.read_text()
    assert "label square" in page and "plotly" in page.lower()

    bad = invoke(runtime, "sample", "tiny-gan", "--label", "triangle")
    assert bad.exit_code == 2 and "labels: unknown label 'triangle'" in bad.output
    bad_type = invoke(runtime, "sample", "tiny-gan", "-o", str(tmp_path / "out.parquet"))
    assert bad_type.exit_code == 2 and ".csv, .npy, .html" in bad_type.output


@pytest.mark.slow
def test_installed_cli_lists_models_from_the_embedded_store(embedded_runtime: Any) -> None:
    embedded_runtime.tracker.register_model("from-cli", tiny_bundle())
    env = dict(os.environ, SYNTHTS_DATA_DIR=str(embedded_runtime.settings.data_dir))
    exe = Path(sys.executable).parent / "synthts"
    out = subprocess.run([str(exe), "models", "list", "--json"], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    assert [m["name"] for m in json.loads(out.stdout)] == ["from-cli"]
