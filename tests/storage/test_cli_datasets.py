"""``synthts datasets list|show|export|delete`` against a real SQLite file in a temp data folder."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from synthts_sqlite.backend import SqliteStorage

from synthts_core.cli import cli
from synthts_core.testing.conformance.storage import T0, make_dataset


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'synthts.db'}")
    store.open()
    store.create_dataset(make_dataset("harmonics", n=6, channels=2, length=5, tags=["seed"],
                                      generators=["sine"], created_at=T0,
                                      spec={"name": "harmonics", "seed": 7}))
    store.create_dataset(make_dataset("irregular", n=4, length=3, times=True, labels=False,
                                      generators=["gaussian"],
                                      created_at=T0 + timedelta(days=1)))
    store.close()
    return tmp_path


@pytest.fixture
def run(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(data_dir)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, ["datasets", *args], input=input,
                             env={"SYNTHTS_DATA_DIR": str(data_dir), "SYNTHTS_STORAGE": ""})

    return invoke


def _read_back(data_dir: Path, name: str):
    store = SqliteStorage(f"sqlite:///{data_dir / 'synthts.db'}")
    store.open()
    try:
        return store.read_dataset(name)
    finally:
        store.close()


def test_list_with_filters_sort_and_paging(run) -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].startswith("irregular") and lines[2].startswith("harmonics")
    assert "(1-2 of 2)" in result.output
    assert "harmonics" not in run("list", "--generator", "gaussian").output
    assert "irregular" not in run("list", "--tag", "seed").output
    assert "irregular" not in run("list", "--label", "square").output
    page = json.loads(run("list", "--sort", "name", "--limit", "1", "--offset", "1",
                          "--json").output)
    assert [m["name"] for m in page["items"]] == ["irregular"] and page["total"] == 2
    bad = run("list", "--limit", "0")
    assert bad.exit_code == 2 and "limit" in bad.output


def test_show_prints_spec_checksum_size_and_label_counts(run, data_dir) -> None:
    result = run("show", "harmonics")
    assert result.exit_code == 0, result.output
    checksum = _read_back(data_dir, "harmonics").meta.checksum
    assert checksum in result.output
    assert "6 series x 2 channels x 5 steps (60 values, 240 B)" in result.output
    assert "sine    2" in result.output and "noise   2" in result.output
    assert '"seed": 7' in result.output
    assert "missing:" not in result.output  # a complete dataset says nothing about it
    assert "lengths:" not in result.output  # nor one of equal lengths about lengths
    missing = run("show", "nope")
    assert missing.exit_code == 1 and "dataset 'nope' not found" in missing.output


def test_show_states_the_share_of_missing_points(run, data_dir) -> None:
    from synthts_core.domain import Dataset

    base = make_dataset("holes", n=4, length=10)
    values = base.values.copy()
    values[0, 0, :3] = np.nan  # 3 of 40 points
    store = SqliteStorage(f"sqlite:///{data_dir / 'synthts.db'}")
    store.open()
    store.create_dataset(Dataset.build("holes", values, base.labels, base.meta.label_names))
    store.close()
    result = run("show", "holes")
    assert result.exit_code == 0, result.output
    assert "missing:     7.5 % of points (3 values), kept as missing" in result.output
    shown = json.loads(run("show", "holes", "--json").output)
    assert shown["n_missing"] == 3 and shown["missing_share"] == 3 / 40
    lengths = np.array([10, 4, 7, 10])  # series of different lengths: padding is no gap
    ragged = np.where(np.arange(10) >= lengths[:, None, None], np.nan, values)
    store.open()
    store.create_dataset(Dataset.build("ragged", ragged, base.labels, base.meta.label_names,
                                       lengths=lengths))
    store.close()
    result = run("show", "ragged")
    assert "lengths:     4\N{EN DASH}10 points" in result.output
    assert "missing:     9.7 % of points (3 values), kept as missing" in result.output  # of 31
    shown = json.loads(run("show", "ragged", "--json").output)
    assert shown["min_length"] == 4 and shown["n_missing"] == 3


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_export_csv_and_parquet(run, data_dir, layout) -> None:
    ds = _read_back(data_dir, "harmonics")
    for fmt in ("csv", "parquet"):
        out = data_dir / f"h.{fmt}"
        result = run("export", "harmonics", "--format", fmt, "--layout", layout, "-o", str(out))
        assert result.exit_code == 0, result.output
        table = (pacsv.read_csv(out) if fmt == "csv" else pq.read_table(out)).to_pydict()
        if layout == "long":
            assert len(table["value"]) == ds.values.size
            first = [i for i, (s, c) in enumerate(zip(table["series"], table["channel"],
                                                       strict=True)) if s == 4 and c == 1]
            np.testing.assert_allclose([table["value"][i] for i in first], ds.values[4, 1])
            np.testing.assert_allclose([table["time"][i] for i in first], np.arange(5.0))
            assert {table["label"][i] for i in first} == {ds.meta.label_names[ds.labels[4]]}
        else:
            assert len(table["series"]) == 6 * 2
            np.testing.assert_allclose(table["3.0"][4 * 2 + 1], ds.values[4, 1, 3])


def test_export_npy_and_irregular_times(run, data_dir) -> None:
    out = data_dir / "v.npy"
    assert run("export", "irregular", "--format", "npy", "-o", str(out)).exit_code == 0
    ds = _read_back(data_dir, "irregular")
    np.testing.assert_array_equal(np.load(out), ds.values)
    result = run("export", "irregular", "--format", "csv", "-o", "-")
    table = pacsv.read_csv(io.BytesIO(result.stdout_bytes)).to_pydict()
    np.testing.assert_allclose(table["time"], ds.times.ravel())
    assert set(table["label"]) == {None}
    subset = run("export", "harmonics", "--format", "npy", "--label", "square", "-o", str(out))
    assert subset.exit_code == 0
    assert np.load(out).shape == (2, 2, 5)


def test_delete_asks_unless_yes(run, data_dir) -> None:
    declined = run("delete", "harmonics", input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert _read_back(data_dir, "harmonics").meta.n_series == 6
    confirmed = run("delete", "harmonics", input="y\n")
    assert confirmed.exit_code == 0 and "deleted harmonics" in confirmed.output
    assert run("delete", "irregular", "--yes").exit_code == 0
    assert "no datasets" in run("list").output
    assert run("delete", "irregular", "--yes").exit_code == 1


def test_the_installed_command_runs(data_dir: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "synthts_core.cli", "datasets", "list",
                             "--json"], capture_output=True, text=True, timeout=120,
                            cwd=data_dir, env={"SYNTHTS_DATA_DIR": str(data_dir),
                                               "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] == 2
