"""Real data import: CSV, Parquet, JSON and .npy to windows, labels and recorded normalisation."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthts_core.errors import BadInputError
from synthts_core.normalisation import in_units
from synthts_core.services.importing import import_table

ROWS = 100


@pytest.fixture
def table() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(ROWS)
    return {
        "time": t.astype(np.float64),
        "temp": 20 + 5 * np.sin(t / 7) + rng.normal(0, 0.1, ROWS),
        "load": 100 + 10 * rng.normal(size=ROWS),
        "state": np.where(t < 60, "idle", "busy"),
    }


def _csv(table, path) -> None:
    lines = [",".join(table)] + [",".join(str(table[c][i]) for c in table) for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n")


def test_csv_windows_labels_and_normalisation(tmp_path, table) -> None:
    path = tmp_path / "plant.csv"
    _csv(table, path)
    ds = import_table(path, None, name="plant", columns=["temp", "load"],
                      label_column="state", window=20, stride=10)
    # idle rows 0..59 -> starts 0,10,20,30,40; busy rows 60..99 -> starts 60,70,80
    assert ds.values.shape == (8, 2, 20)
    assert ds.meta.label_names == ["busy", "idle"]
    assert ds.labels.tolist() == [1] * 5 + [0] * 3
    assert ds.meta.source == "imported"
    norm = ds.meta.normalisation
    assert norm.method == "zscore" and len(norm.offset) == 2
    # stored as given; the recorded zscore is what reads in normalised units apply
    np.testing.assert_array_equal(ds.values[0, 0], table["temp"][:20].astype(np.float32))
    np.testing.assert_array_equal(ds.values[5, 1], table["load"][60:80].astype(np.float32))
    flat = in_units(ds.values, norm, "normalised").transpose(1, 0, 2).reshape(2, -1)
    assert np.abs(flat.mean(axis=1)).max() < 1e-5 and flat.std(axis=1) == pytest.approx(1, 1e-5)


def test_parquet_minmax_and_default_columns(tmp_path, table) -> None:
    path = tmp_path / "plant.parquet"
    pq.write_table(pa.table({k: v for k, v in table.items()}), path)
    with pytest.raises(BadInputError, match="'time' looks like an id, time or label column"):
        import_table(path, None, name="plant-pq", window=25)  # never silently a channel
    ds = import_table(path, None, name="plant-pq", window=25, normalise="minmax",
                      time_column="time")
    assert ds.values.shape == (4, 2, 25)  # temp, load: every numeric column without a role
    assert ds.meta.time_axis.kind == "regular" and ds.meta.time_axis.step == 1.0
    assert ds.labels is None
    normalised = in_units(ds.values, ds.meta.normalisation, "normalised")
    assert normalised.min() >= 0.0 and normalised.max() <= 1.0
    np.testing.assert_array_equal(ds.values[0, 0], table["temp"][:25].astype(np.float32))


def test_parquet_bytes_and_csv_agree(tmp_path, table) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({k: table[k] for k in ("temp", "load")}), sink)
    from_bytes = import_table(sink.getvalue().to_pybytes(), "parquet", name="b", window=10)
    _csv({k: table[k] for k in ("temp", "load")}, tmp_path / "x.csv")
    from_csv = import_table(tmp_path / "x.csv", "csv", name="c", window=10)
    np.testing.assert_allclose(from_bytes.values, from_csv.values, rtol=1e-5)


def test_npy_and_json(tmp_path) -> None:
    arr = np.arange(60, dtype=np.float64).reshape(30, 2)
    np.save(tmp_path / "a.npy", arr)
    ds = import_table(tmp_path / "a.npy", None, name="npy", window=10, stride=5,
                      normalise="none", layout="long")  # a 2-D array read as (time, channels)
    assert ds.values.shape == (5, 2, 10)
    np.testing.assert_array_equal(ds.values[1, 0], arr[5:15, 0])
    records = [{"x": float(i), "label": (i % 2 and "odd") or "even"} for i in range(10)]
    (tmp_path / "r.json").write_text(json.dumps(records))
    ds = import_table(tmp_path / "r.json", None, name="js", window=2, normalise="none")
    assert ds.values.shape == (5, 1, 2)


@pytest.mark.parametrize("kwargs, field", [
    ({"columns": ["nope"]}, "columns"),
    ({"columns": ["state"]}, "columns"),
    ({"label_column": "nope"}, "label_column"),
    ({"window": 1}, "window"),
    ({"window": 500}, "window"),
    ({"stride": 0}, "stride"),
    ({"normalise": "log"}, "normalise"),
])
def test_bad_import_arguments(tmp_path, table, kwargs, field) -> None:
    path = tmp_path / "plant.csv"
    _csv(table, path)
    args = {"name": "x", "window": 10, "time_column": "time", **kwargs}
    with pytest.raises(BadInputError) as info:
        import_table(path, None, **args)
    assert info.value.field == field


def test_missing_values_and_unknown_format(tmp_path) -> None:
    (tmp_path / "gap.csv").write_text("a,b\n1,2\n3,\n5,6\n")  # a missing point is kept
    gap = import_table(tmp_path / "gap.csv", None, name="gap", window=3)
    assert gap.meta.n_missing == 1 and np.isnan(gap.values[0, 1, 1])
    with pytest.raises(BadInputError) as info:
        import_table(tmp_path / "data.xlsx", None, name="x", window=2)
    assert info.value.field == "format"


def test_overlapping_windows_are_capped_before_they_are_materialised():
    from synthts_core.errors import LimitExceededError
    from synthts_core.services.importing import import_table

    csv = "a\n" + "\n".join(str(i) for i in range(2000))
    with pytest.raises(LimitExceededError, match="SYNTHTS_MAX_GENERATE_VALUES"):
        import_table(csv.encode(), "csv", name="big", window=500, stride=1, max_values=100_000)
    small = import_table(csv.encode(), "csv", name="ok", window=500, stride=500,
                         max_values=100_000)
    assert small.values.shape == (4, 1, 500)
