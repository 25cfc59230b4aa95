"""Every import layout gives the same dataset: long (with series-id and time columns, or a
channel column), wide (a channel column, or one file per channel), .npz, JSON and .ts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner

from synthts_core.errors import BadInputError
from synthts_core.services.importing import ImportOptions, import_data

N, C, L = 6, 2, 12
LABELS = ["2", "10", "2", "1", "10", "1"]  # natural order: 1, 2, 10


@pytest.fixture(scope="module")
def real() -> np.ndarray:
    rng = np.random.default_rng(3)
    base = rng.normal(size=(N, C, L))
    return base * np.array([7.0, 0.5])[None, :, None] + np.array([2.55, -40.0])[None, :, None]


def _csv(columns: dict[str, object], path: Path) -> Path:
    pacsv.write_csv(pa.table(columns), str(path))
    return path


def _long(real: np.ndarray, path: Path) -> Path:
    """One row per time point, channels as columns, rows of all recordings shuffled."""
    sid = np.repeat(np.arange(N), L)
    order = np.random.default_rng(0).permutation(N * L)
    cols = {"recording": (sid * 7 + 100)[order], "t": np.tile(np.arange(L) * 0.5, N)[order],
            "label": np.repeat(np.asarray(LABELS), L)[order]}
    for c in range(C):
        cols[f"ch{c}"] = real[:, c, :].reshape(-1)[order]
    return _csv(cols, path)


def _wide_channel_rows(real: np.ndarray, path: Path) -> Path:
    rows = np.arange(N * C)[::-1]  # rows in any order: the id and channel columns place them
    cols: dict[str, object] = {"id": rows // C, "label": np.asarray(LABELS)[rows // C],
                               "channel": np.asarray(["x", "y"])[rows % C]}
    for j in range(L):
        cols[f"p{j}"] = real[rows // C, rows % C, j]
    return _csv(cols, path)


def _wide_one_file(real: np.ndarray, c: int, path: Path) -> Path:
    cols: dict[str, object] = {"label": np.asarray(LABELS)}
    cols.update({f"p{j}": real[:, c, j] for j in range(L)})
    return _csv(cols, path)


def _ts(real: np.ndarray, path: Path) -> Path:
    lines = ["# a multivariate UEA-style file", "@problemName demo", "@timeStamps false",
             "@missing false", "@univariate false", "@dimensions 2", "@equalLength true",
             f"@seriesLength {L}", "@classLabel true 1 2 10", "@data"]
    for i in range(N):
        dims = [",".join(repr(float(v)) for v in real[i, c]) for c in range(C)]
        lines.append(":".join([*dims, LABELS[i]]))
    path.write_text("\n".join(lines) + "\n")
    return path


def _check(result, real: np.ndarray, *, times: bool = False) -> None:
    ds = result.dataset
    assert ds.values.shape == (N, C, L)
    assert ds.meta.label_names == ["1", "2", "10"]
    assert [ds.meta.label_names[i] for i in ds.labels] == LABELS
    np.testing.assert_array_equal(ds.values, real.astype(np.float32))  # stored as given
    norm = ds.meta.normalisation  # fitted to the stored float32 values
    assert norm.method == "zscore"
    np.testing.assert_allclose(norm.offset, real.mean(axis=(0, 2)), rtol=1e-6)
    np.testing.assert_allclose(norm.scale, real.std(axis=(0, 2)), rtol=1e-6)
    if times:
        assert ds.meta.time_axis.kind == "regular" and ds.meta.time_axis.step == 0.5


def test_every_layout_gives_the_same_dataset(tmp_path: Path, real: np.ndarray) -> None:
    opts = {"name": "same", "label_column": "label"}
    _check(import_data(_long(real, tmp_path / "long.csv"), ImportOptions(
        **opts, series_column="recording", time_column="t", layout="long")), real, times=True)
    _check(import_data(_wide_channel_rows(real, tmp_path / "wide.csv"), ImportOptions(
        **opts, series_column="id", channel_column="channel")), real)
    files = [_wide_one_file(real, c, tmp_path / f"ch{c}.csv") for c in range(C)]
    _check(import_data(files, ImportOptions(**opts)), real)
    _check(import_data(_ts(real, tmp_path / "demo.ts"), ImportOptions(name="same")), real)
    buf = io.BytesIO()
    np.savez(buf, values=real, labels=np.asarray(LABELS))
    _check(import_data(buf.getvalue(), ImportOptions(name="same", format="npz")), real)
    np.save(tmp_path / "plain.npy", real)  # a 3-D array, no labels: the values alone
    plain = import_data(tmp_path / "plain.npy", ImportOptions(name="same")).dataset
    np.testing.assert_array_equal(plain.values, real.astype(np.float32))
    doc = {"values": real.tolist(), "labels": LABELS}
    _check(import_data(json.dumps(doc).encode(), ImportOptions(name="same", format="json")),
           real)
    # a long table with a channel column and one value column (what `datasets export` writes)
    sid, ch, t = np.meshgrid(np.arange(N), np.arange(C), np.arange(L), indexing="ij")
    long_ch = _csv({"series": sid.ravel(), "label": np.asarray(LABELS)[sid.ravel()],
                    "channel": ch.ravel(), "time": t.ravel() * 0.5, "value": real.ravel()},
                   tmp_path / "export.csv")
    _check(import_data(long_ch, ImportOptions(name="same")), real, times=True)


def test_windows_never_span_recordings_and_short_runs_are_counted(tmp_path: Path) -> None:
    # recording a: 25 rows of label x; b: 7 rows (shorter than the window); c: 22 rows
    sid = np.repeat(["a", "b", "c"], [25, 7, 22])
    value = np.concatenate([np.full(25, 1.0), np.full(7, 2.0), np.full(22, 3.0)])
    path = _csv({"rec": sid, "v": value + np.arange(54) * 1e-3, "label": ["x"] * 54},
                tmp_path / "recs.csv")
    result = import_data(path, ImportOptions(name="w", series_column="rec", label_column="label",
                                             window=10, stride=5, normalise="none"))
    ds = result.dataset
    # a: starts 0,5,10,15 (4); b: none; c: 0,5,10 (3) - and no window mixes two recordings
    assert ds.values.shape == (7, 1, 10)
    for series in ds.values[:, 0]:
        assert len({int(v) for v in series}) == 1
    why = {d.why: d.rows for d in result.report.dropped}
    assert why["1 run(s) of one recording and label shorter than the window (10)"] == 7
    assert why["rows after the last full window of a run (stride 5)"] == 2  # c: rows 20, 21
    assert "dropped 7 rows" in "\n".join(result.report.lines())


def test_id_and_time_columns_never_become_channels(tmp_path: Path) -> None:
    path = _csv({"id": np.arange(20.0), "v": np.arange(20.0)}, tmp_path / "ids.csv")
    with pytest.raises(BadInputError, match="'id' looks like an id") as info:
        import_data(path, ImportOptions(name="x", window=5))
    assert info.value.field == "columns"
    ds = import_data(path, ImportOptions(name="x", window=5, columns=["v"])).dataset
    assert ds.values.shape == (4, 1, 5)


def test_wide_layout_errors_say_what_to_do(tmp_path: Path) -> None:
    long_table = _csv({"v": np.arange(30.0)}, tmp_path / "one.csv")
    with pytest.raises(BadInputError, match="--layout long") as info:
        import_data(long_table, ImportOptions(name="x"))  # no window: read as wide
    assert info.value.field == "layout"
    with pytest.raises(BadInputError, match="--layout wide if each row is one series"):
        import_data(long_table, ImportOptions(name="x", window=50))
    gap = tmp_path / "gap.csv"
    gap.write_text("label,a,b,c\nx,1,2,3\ny,4,,6\n")
    with pytest.raises(BadInputError, match="'b' has a missing or non-finite value at row 1"):
        import_data(gap, ImportOptions(name="x", label_column="label"))


def test_cli_imports_a_wide_table_in_one_command_with_a_dry_run(tmp_path: Path,
                                                                real: np.ndarray) -> None:
    from synthts_core.cli import cli

    path = _wide_one_file(real, 0, tmp_path / "ucr.csv")
    env = {"SYNTHTS_DATA_DIR": str(tmp_path / "data"), "SYNTHTS_STORAGE": ""}
    dry = CliRunner().invoke(cli, ["import", str(path), "--name", "ucr", "--label-column",
                                   "label", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "dry run, nothing stored" in dry.output
    assert "ucr: 6 series x 1 channels x 12 points (csv, wide layout" in dry.output
    assert "labels: 1 (2), 2 (2), 10 (2)" in dry.output
    as_json = CliRunner().invoke(cli, ["import", str(path), "--name", "ucr", "--label-column",
                                       "label", "--dry-run", "--json"], env=env)
    report = json.loads(as_json.output)
    assert report["n_series"] == 6 and report["layout"] == "wide"
    assert report["value_columns"][:2] == ["p0", "p1"]
    stored = CliRunner().invoke(cli, ["import", str(path), "--name", "ucr", "--label-column",
                                      "label"], env=env)
    assert stored.exit_code == 0, stored.output
    # progress of the two long steps (stderr; a spinner on a terminal)
    assert "reading ucr.csv" in stored.output and "storing ucr: 6 series" in stored.output
    assert "done in" in stored.output and "stored ucr: 6 x 1 x 12" in stored.output


def test_ts_files_refuse_what_they_cannot_hold(tmp_path: Path) -> None:
    head = "@problemName x\n@classLabel true a b\n@data\n"
    for body, match in [("1,2,?:a\n", "missing values"), ("1,2:c\n", "'c' is not declared"),
                        ("1,2,3:a\n1,2:b\n", "lengths differ"), ("1,x,3:a\n", "not a number")]:
        path = tmp_path / "bad.ts"
        path.write_text(head + body)
        with pytest.raises(BadInputError, match=match):
            import_data(path, ImportOptions(name="x"))


def test_cli_import_refuses_values_outside_float32(tmp_path: Path) -> None:
    """Values are stored as float32 exactly as given: one float32 cannot hold is refused,
    naming it, never stored as infinity."""
    from synthts_core.cli import cli

    path = tmp_path / "huge.csv"
    path.write_text("label,a,b,c\nx,1e300,-1e300,3\ny,1,2,3\n")
    env = {"SYNTHTS_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(cli, ["import", str(path), "--name", "huge", "--label-column",
                                      "label"], env=env)
    assert result.exit_code == 2
    assert "values: 1e+300 (series 0, channel 0, point 0) is outside float32's range" \
        in result.output


def test_cli_imports_an_archives_train_and_test_ts_files_as_one_dataset(tmp_path: Path) -> None:
    """UCR/UEA archives ship TRAIN and TEST .ts files: given both, their series are appended
    (not read as channels); files that cannot be one dataset are refused, naming the file."""
    from synthts_core.cli import cli

    head = "@problemName gp\n@univariate false\n@classLabel true 1 2\n@data\n"
    (tmp_path / "gp_TRAIN.ts").write_text(head + "1,2,3:1\n0,0,1:2\n")
    (tmp_path / "gp_TEST.ts").write_text(head + "4,5,6:2\n1,1,1:2\n2,2,2:1\n")
    (tmp_path / "odd.ts").write_text(head + "1,2,3,4:1\n")
    env = {"SYNTHTS_DATA_DIR": str(tmp_path / "data"), "SYNTHTS_STORAGE": ""}
    result = CliRunner().invoke(cli, ["import", str(tmp_path / "gp_TRAIN.ts"),
                                      str(tmp_path / "gp_TEST.ts"), "--name", "gp",
                                      "--normalise", "none", "--dry-run", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["n_series"], report["n_channels"], report["length"]) == (5, 1, 3)
    assert report["label_counts"] == [2, 3] and "2 files, series appended" in report["notes"]
    ds = import_data([tmp_path / "gp_TRAIN.ts", tmp_path / "gp_TEST.ts"],
                     ImportOptions(name="gp", normalise="none")).dataset
    np.testing.assert_array_equal(ds.values[:, 0, 0], [1, 0, 4, 1, 2])
    assert [ds.meta.label_names[i] for i in ds.labels] == ["1", "2", "2", "2", "1"]
    with pytest.raises(BadInputError, match="file 2 has series of 1 channel"):
        import_data([tmp_path / "gp_TRAIN.ts", tmp_path / "odd.ts"], ImportOptions(name="x"))
