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
    gap = tmp_path / "gap.csv"  # an empty cell is a missing point, not an error
    gap.write_text("label,a,b,c\nx,1,2,3\ny,4,,6\n")
    stored = import_data(gap, ImportOptions(name="x", label_column="label")).dataset
    assert stored.meta.n_missing == 1 and np.isnan(stored.values[1, 0, 1])
    stray = tmp_path / "stray.csv"  # a word in a time column: refused, never a dropped column
    stray.write_text("label,0,1,2\nx,1,?,3\ny,4,5,6\n")
    with pytest.raises(BadInputError, match=r"column '1' .* holds '\?' at row 0") as info:
        import_data(stray, ImportOptions(name="x", label_column="label"))
    assert info.value.field == "values"


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
    for body, match in [("1,2:c\n", "'c' is not declared"),
                        ("1,2,3:4,5:a\n", "channels of different lengths"),
                        ("1,x,3:a\n", "not a number")]:
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
    (tmp_path / "odd.ts").write_text(head + "1,2,3:4,5,6:1\n")
    (tmp_path / "long.ts").write_text(head + "1,2,3,4:1\n")
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
    longer = import_data([tmp_path / "gp_TRAIN.ts", tmp_path / "long.ts"],
                         ImportOptions(name="x")).dataset  # lengths differ: series as they are
    assert longer.lengths.tolist() == [3, 3, 4] and longer.meta.min_length == 3
    with pytest.raises(BadInputError, match="file 2 has series of 2 channel"):
        import_data([tmp_path / "gp_TRAIN.ts", tmp_path / "odd.ts"], ImportOptions(name="x"))


# ------------------------------------------------------------------------- missing points


def _holes(real: np.ndarray) -> np.ndarray:
    """``real`` with about a fifth of its points missing (NaN), a whole channel of series 1
    among them (allowed: the series keeps its other channel)."""
    holed = real.copy()
    holed[np.random.default_rng(7).random(real.shape) < 0.2] = np.nan
    holed[1, 0, :] = np.nan
    holed[:, :, 0] = real[:, :, 0]  # every series keeps an observed point
    holed[1, 0, 0] = np.nan
    return holed


def _table_text(holed: np.ndarray, path: Path, missing: str) -> Path:
    """One row per series and channel, written here: ``missing`` in the cell of a missing
    point (an empty cell, NA or NaN)."""
    lines = ["id,label,channel," + ",".join(f"p{j}" for j in range(L))]
    for i in range(N):
        for c in range(C):
            cells = [missing if np.isnan(v) else repr(float(v)) for v in holed[i, c]]
            lines.append(",".join([str(i), LABELS[i], "xy"[c], *cells]))
    path.write_text("\n".join(lines) + "\n")
    return path


def _ts_holed(holed: np.ndarray, path: Path) -> Path:
    _ts(holed, path)
    text = path.read_text().replace("@missing false", "@missing true")
    lines = text.splitlines()  # nan -> "?" in even series, "NaN" in odd ones
    data = lines.index("@data") + 1
    for i in range(N):
        lines[data + i] = lines[data + i].replace("nan", "?" if i % 2 == 0 else "NaN")
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_holed(fmt: str, holed: np.ndarray, path: Path) -> tuple[object, ImportOptions]:
    opts = ImportOptions(name="holes", label_column="label", series_column="id",
                         channel_column="channel")
    if fmt in ("csv-empty", "csv-NA", "csv-NaN"):
        return _table_text(holed, path.with_suffix(".csv"), fmt[4:].replace("empty", "")), opts
    if fmt == "csv-long":  # pyarrow writes NaN as it likes; its own reader reads it back
        return _long(holed, path.with_suffix(".csv")), ImportOptions(
            name="holes", label_column="label", series_column="recording", time_column="t",
            layout="long")
    if fmt == "ts":
        return _ts_holed(holed, path.with_suffix(".ts")), ImportOptions(name="holes")
    if fmt == "json":  # null at a missing point
        doc = {"values": np.where(np.isnan(holed), None, holed).tolist(), "labels": LABELS}
        return json.dumps(doc).encode(), ImportOptions(name="holes", format="json")
    buf = io.BytesIO()
    np.savez(buf, values=holed, labels=np.asarray(LABELS))
    return buf.getvalue(), ImportOptions(name="holes", format="npz")


@pytest.mark.parametrize("fmt", ["csv-empty", "csv-NA", "csv-NaN", "csv-long", "ts", "json",
                                 "npz"])
def test_missing_points_are_kept_where_they_were_in_every_format(
        tmp_path: Path, real: np.ndarray, fmt: str) -> None:
    """An empty cell, NA, NaN, ``?`` and null are missing points: stored as float32 NaN at
    the same places (never filled in), counted in ``n_missing``, left out of the normalisation
    and reported by the dry run."""
    holed = _holes(real)
    source, options = _write_holed(fmt, holed, tmp_path / "holes")
    result = import_data(source, options)
    ds = result.dataset
    expected = holed.astype(np.float32)
    np.testing.assert_array_equal(ds.observed(), ~np.isnan(holed))
    np.testing.assert_array_equal(ds.values.view(np.uint32), expected.view(np.uint32))
    assert ds.meta.n_missing == int(np.isnan(holed).sum()) > 0
    assert result.report.n_missing == ds.meta.n_missing
    assert "missing: " in "\n".join(result.report.lines())
    norm = ds.meta.normalisation  # the observed values only
    np.testing.assert_allclose(norm.offset, np.nanmean(expected, axis=(0, 2), dtype=np.float64),
                               rtol=1e-6)
    np.testing.assert_allclose(norm.scale, np.nanstd(expected, axis=(0, 2), dtype=np.float64),
                               rtol=1e-6)
    assert [ds.meta.label_names[i] for i in ds.labels] == LABELS


def test_a_missing_npy_point_and_any_nan_is_stored_as_the_one_quiet_nan(tmp_path) -> None:
    """A NaN's sign and payload mean nothing and no text format keeps them: an .npy's NaN
    (negative, with a payload) is stored as float32's quiet NaN, as a CSV's empty cell is."""
    odd = np.array([0xFFC00001, 0x7F800001], np.uint32).view(np.float32)  # -NaN, signalling
    values = np.array([[1.0, odd[0], 2.0], [odd[1], 3.0, 4.0]], np.float32)
    np.save(tmp_path / "odd.npy", values)
    ds = import_data(tmp_path / "odd.npy", ImportOptions(name="odd")).dataset
    quiet = np.array(np.nan, np.float32).view(np.uint32)
    assert (ds.values.view(np.uint32)[~ds.observed()] == quiet).all() and ds.meta.n_missing == 2


@pytest.mark.parametrize(("fmt", "body", "field", "match"), [
    ("csv", "label,a,b,c\nx,1,2,3\ny,,NaN,NA\n", "values", "series 1 has no observed point"),
    ("json", '{"values": [[1, 2], [null, null]]}', "values", "series 1 has no observed point"),
    ("ts", "@classLabel false\n@data\n1,2:3,4\n?,?:NaN,?\n", "values",
     "series 1 has no observed point"),
    ("csv", "label,a,b,c\nx,1,2,3\ny,4,inf,6\n", "columns", "'b' has an infinite value at row 1"),
    ("json", '{"values": [[1, 2], [3, 1e999]]}', "values", "series 1, channel 0, point 1 is "
     "infinite"),
    ("ts", "@classLabel false\n@data\n1,2\n3,-inf\n", "values",
     "series 1, channel 0, point 1 is infinite"),
    ("csv", "label,a,b,c\nx,1,2,3\n,4,5,6\n", "label_column", "'label' is empty at row 1"),
    ("json", '{"values": [[1, 2], [3, 4]], "labels": ["a", null]}', "labels", "null"),
    ("csv", "t,v,label\n0,1,x\n,2,x\n2,3,x\n", "time_column", "'t' is not numbers"),
    ("csv", "t,v,label\n0,1,x\n1,,x\n2,,x\n3,,x\n", "values",
     "window 1 has no observed point"),
    ("json", '{"values": [[1, 2, 3], [4]], "lengths": [3, 2]}', "lengths",
     "series 1 has 1 values, lengths says 2"),
    ("json", '{"values": [[1, 2, 3], [4, 5, 6]], "lengths": [3, 2]}', "lengths",
     "series 1 has a value past its length 2"),
    ("json", '{"values": [[1, 2, 3], [4, null, null]], "lengths": [3, 0]}', "lengths",
     "series 1 has length 0"),
    ("json", '{"values": [[[1, 2], [3, 4]], [[5], [6, 7]]]}', "values",
     "series 1 has channels of different lengths"),
    ("json", '{"values": [[1, 2], []]}', "values", "innermost array 1 is empty"),
    ("ts", "@classLabel false\n@data\n1,2,3:4,5\n", "source",
     "series 0 has channels of different lengths"),
])
def test_what_cannot_be_missing_is_refused_naming_it(fmt: str, body: str, field: str,
                                                    match: str) -> None:
    """A series with no observed point, an infinity, a missing label or time are refused
    naming the field (and the series, point, column or row)."""
    options = ImportOptions(name="x", format=fmt, label_column="label" if "label," in body
                            or ",label" in body else None,
                            time_column="t" if body.startswith("t,") else None,
                            window=2 if body.startswith("t,") else None)
    with pytest.raises(BadInputError, match=match) as info:
        import_data(body.encode(), options)
    assert info.value.field.split("[")[0] == field  # labels[1]: the entry at fault


def test_an_npy_series_with_no_observed_point_is_refused() -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([[1.0, np.nan], [np.nan, np.nan]]))
    with pytest.raises(BadInputError, match="series 1 has no observed point") as info:
        import_data(buf.getvalue(), ImportOptions(name="x", format="npy"))
    assert info.value.field == "values"


@pytest.mark.parametrize("bad", [b"[1, nul]", b"[1, nulll]", b"[1null]", b"[-null]",
                                 b"[nullnull]", b"[1, lunl]"])
def test_only_a_whole_null_is_a_missing_point(bad: bytes) -> None:
    from synthts_core.services.importing.jsonvalues import parse_number_array

    assert np.isnan(parse_number_array(b"[[1, null], [null ,2]]")).sum() == 2
    with pytest.raises(BadInputError, match="a missing point is written null"):
        parse_number_array(bad)


def test_cli_import_states_the_missing_points(tmp_path: Path) -> None:
    from synthts_core.cli import cli

    gap = tmp_path / "gap.csv"
    gap.write_text("label,a,b,c\nx,1,2,3\ny,4,,6\n")
    env = {"SYNTHTS_DATA_DIR": str(tmp_path / "data"), "SYNTHTS_STORAGE": ""}
    args = ["import", str(gap), "--name", "gap", "--label-column", "label"]
    dry = CliRunner().invoke(cli, [*args, "--dry-run"], env=env)
    assert "  missing: 16.7 % of points (1 value), kept as missing" in dry.output, dry.output
    stored = CliRunner().invoke(cli, args, env=env)
    assert stored.exit_code == 0, stored.output
    assert "missing: 16.7 % of points (1 value), kept as missing" in stored.output


# ---------------------------------------------------------------------- unequal lengths

RAGGED_TS = Path(__file__).parents[1] / "fixtures" / "ragged_waves.ts"
"""Made for issue 24 (part 2): 32 univariate series of 16..48 points in two classes whose
lengths differ, with a few missing points (``?``)."""


@pytest.fixture(scope="module")
def waves() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The fixture's series (NaN-padded float64 values, lengths, label per series), parsed
    here without synthts."""
    rows = RAGGED_TS.read_text().split("@data\n", 1)[1].splitlines()
    cells = [row.rsplit(":", 1) for row in rows]
    series = [[float("nan") if v == "?" else float(v) for v in c.split(",")] for c, _ in cells]
    lengths = np.array([len(x) for x in series])
    values = np.full((len(series), 1, lengths.max()), np.nan)
    for i, x in enumerate(series):
        values[i, 0, :len(x)] = x
    return values, lengths, [lab for _, lab in cells]


def _write_ragged(fmt: str, waves: tuple[np.ndarray, np.ndarray, list[str]], path: Path
                  ) -> tuple[object, ImportOptions]:
    """The fixture's series in ``fmt``, written here the way a user's file would hold them."""
    values, lengths, labels = waves
    opts = ImportOptions(name="waves", label_column="label")
    if fmt == "ts":
        return RAGGED_TS, ImportOptions(name="waves")
    if fmt == "long":  # a run per series, of its own length; rows shuffled
        rows = [(i, labels[i], 0.5 * t, values[i, 0, t]) for i in range(len(labels))
                for t in range(lengths[i])]
        rows = [rows[k] for k in np.random.default_rng(1).permutation(len(rows))]
        lines = ["run,label,t,value"] + [
            f"{i},{lab},{t},{'' if np.isnan(v) else repr(float(v))}" for i, lab, t, v in rows]
        path.with_suffix(".csv").write_text("\n".join(lines) + "\n")
        return path.with_suffix(".csv"), ImportOptions(
            name="waves", layout="long", series_column="run", label_column="label",
            time_column="t")
    if fmt == "wide":  # UCR: a shorter series' row ends in empty cells
        lines = ["label," + ",".join(f"p{j}" for j in range(values.shape[2]))]
        lines += [",".join([labels[i], *("" if np.isnan(v) else repr(float(v))
                                         for v in values[i, 0])]) for i in range(len(labels))]
        path.with_suffix(".csv").write_text("\n".join(lines) + "\n")
        return path.with_suffix(".csv"), opts
    if fmt == "json":  # ragged lists, null at a missing point
        doc = {"values": [[None if np.isnan(v) else v for v in values[i, 0, :k]]
                          for i, k in enumerate(lengths)], "labels": labels}
        return json.dumps(doc).encode(), ImportOptions(name="waves", format="json")
    buf = io.BytesIO()
    np.savez(buf, values=values, lengths=lengths, labels=np.asarray(labels))
    return buf.getvalue(), ImportOptions(name="waves", format="npz")


@pytest.mark.parametrize("fmt", ["ts", "long", "wide", "json", "npz"])
def test_series_of_different_lengths_import_as_they_are(tmp_path: Path, waves, fmt: str
                                                        ) -> None:
    """A .ts with @equalLength false, runs of different lengths in a long table, a wide
    table whose rows end in empty cells, ragged JSON and an .npz with lengths: the same
    series, padded with NaN to the longest, each with its length (no window cut), missing
    points within a length kept as missing and never counted with the padding."""
    values, lengths, labels = waves
    source, options = _write_ragged(fmt, waves, tmp_path / "waves")
    result = import_data(source, options)
    ds = result.dataset
    np.testing.assert_array_equal(ds.lengths, lengths)
    np.testing.assert_array_equal(ds.values.view(np.uint32),
                                  values.astype(np.float32).view(np.uint32))
    assert [ds.meta.label_names[i] for i in ds.labels] == labels
    own = np.arange(values.shape[2]) < lengths[:, None, None]
    assert ds.meta.n_missing == int((np.isnan(values) & own).sum()) > 0
    assert ds.meta.min_length == lengths.min() and ds.meta.length == lengths.max()
    assert ds.time_grid().shape == (values.shape[2],)  # one regular axis, shared
    median = float(np.median(lengths))
    assert f"  lengths {lengths.min()}\N{EN DASH}{lengths.max()} points, median {median:g}" in \
        result.report.lines()
    norm = ds.meta.normalisation  # observed points only: never the padding
    np.testing.assert_allclose(norm.offset, [np.nanmean(values.astype(np.float32),
                                                        dtype=np.float64)], rtol=1e-6)


def test_windows_of_series_of_different_lengths_come_from_their_own_points(waves) -> None:
    """``--window`` on ragged series cuts each series' windows from its own points only:
    never a padding point, a series shorter than the window dropped and counted."""
    values, lengths, _ = waves
    result = import_data(RAGGED_TS, ImportOptions(name="w", window=20, stride=7))
    ds = result.dataset
    per = np.where(lengths >= 20, (lengths - 20) // 7 + 1, 0)
    assert ds.lengths is None and ds.values.shape == (per.sum(), 1, 20)
    expected = np.concatenate([values[i, :, 7 * k:7 * k + 20][None] for i in range(len(per))
                               for k in range(per[i])])
    np.testing.assert_array_equal(ds.values.view(np.uint32),
                                  expected.astype(np.float32).view(np.uint32))
    short = lengths < 20
    assert (f"{short.sum()} series shorter than the window (20)", int(lengths[short].sum())) in \
        [(d.why, d.rows) for d in result.report.dropped]


def test_a_wide_row_ending_in_empty_cells_is_a_shorter_series(tmp_path: Path) -> None:
    """Trailing empty cells make a shorter series (UCR); an empty cell before the row's last
    number is a missing point; with a channel column the longer channel sets the length."""
    table = tmp_path / "t.csv"
    table.write_text("label,a,b,c,d\nx,1,,3,\ny,4,5,6,7\nx,8,,,\n")
    ds = import_data(table, ImportOptions(name="t", label_column="label")).dataset
    assert ds.lengths.tolist() == [3, 4, 1] and ds.meta.n_missing == 1
    table.write_text("id,ch,a,b,c\n0,u,1,2,\n0,v,3,,\n1,u,4,5,6\n1,v,7,8,9\n")
    ds = import_data(table, ImportOptions(name="t", series_column="id",
                                          channel_column="ch")).dataset
    assert ds.lengths.tolist() == [2, 3] and ds.meta.n_missing == 1  # channel v, point 1
