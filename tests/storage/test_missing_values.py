"""Missing points (issue 24 part 3) in both storage backends: NaN values are stored and read
back bit for bit by every read (whole, series slices crossing chunk boundaries, labels,
channels) and every export format written from that read, ``n_missing`` is stored and recomputed for a slice, an infinity is refused naming
the point, and a record written before ``n_missing`` existed reads as 0. Series of different
lengths (#24 part 2) likewise: NaN padding past each length, the lengths given back by every
read and export, ``n_missing`` never counting padding; a record written before lengths existed
reads as equal lengths (None)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthts_core.domain import Dataset, DatasetQuery, checksum
from synthts_core.errors import BadInputError
from synthts_core.services.datasets import export_bytes
from synthts_core.services.importing import ImportOptions, import_data
from synthts_core.testing.conformance.storage import make_dataset
from tests.api.test_exact_round_trips import EXPORTS, parse_export
from tests.storage.test_values_migration import Backend


@pytest.fixture(params=["sqlite", pytest.param("mongo", marks=pytest.mark.mongo)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    uri = request.getfixturevalue("sqlite_uri" if request.param == "sqlite"
                                  else "fresh_mongo_uri")
    yield Backend(request.param, uri)


@pytest.fixture
def store(backend: Backend) -> Iterator[Any]:
    opened = backend.open()
    yield opened
    opened.close()


def bits(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, np.float32).view(np.uint32)


def holed(name: str, mask: np.ndarray, lengths: np.ndarray | None = None,
          **kwargs: Any) -> Dataset:
    """``make_dataset`` with NaN where ``mask`` is True (and past each of ``lengths``)."""
    base = make_dataset(name, n=mask.shape[0], channels=mask.shape[1], length=mask.shape[2],
                        **kwargs)
    if lengths is not None:
        mask = mask | (np.arange(mask.shape[2])[None, None, :] >= lengths[:, None, None])
    values = np.where(mask, np.float32(np.nan), base.values)
    return Dataset.build(name, values, base.labels, base.meta.label_names, base.times,
                         lengths=lengths)


def _lengths(seed: int | None) -> np.ndarray | None:
    """None (equal lengths), or 23 lengths 1..17 with the longest 17."""
    if seed is None:
        return None
    lengths = np.random.default_rng(seed).integers(1, 18, 23)
    lengths[seed % 23] = 17
    return lengths


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mask=st.integers(0, 2**32 - 1).map(
    lambda seed: np.random.default_rng(seed).random((23, 2, 17)) < 0.3),
    picked=st.lists(st.integers(0, 22), min_size=1, max_size=8),
    ragged=st.none() | st.integers(0, 2**32 - 1))
def test_nan_at_random_points_round_trips_bit_for_bit(store, mask: np.ndarray,
                                                      picked: list[int],
                                                      ragged: int | None) -> None:
    name = f"holes-{abs(hash((mask.tobytes(), tuple(picked), ragged))) % 10**12}"
    lengths = _lengths(ragged)
    mask[:, 0, 0] = False  # every series keeps a point (an import refuses one without)
    ds = holed(name, mask, lengths)
    own = np.ones(mask.shape, bool) if lengths is None else \
        np.arange(17)[None, None, :] < lengths[:, None, None]
    mask &= own  # missing points: never the padding
    try:
        meta = store.create_dataset(ds)
        assert meta.n_missing == int(mask.sum()) and meta.checksum == ds.meta.checksum
        assert meta.min_length == (None if lengths is None else int(lengths.min()))
        assert store.get_dataset_meta(name).n_missing == int(mask.sum())
        whole = store.read_dataset(name)  # the checksum is over the NaN as stored
        assert (bits(whole.values) == bits(ds.values)).all() and whole.meta == meta
        np.testing.assert_array_equal(whole.observed(), ~mask & own)
        np.testing.assert_array_equal(whole.series_lengths(), ds.series_lengths())
        part = store.read_dataset(name, series=picked, channels=[1])  # crosses chunks
        assert (bits(part.values) == bits(ds.values[picked][:, [1]])).all()
        assert part.meta.n_missing == int(mask[picked][:, [1]].sum())
        np.testing.assert_array_equal(part.series_lengths(), ds.series_lengths()[picked])
        by_label = store.read_dataset(name, labels=[2])
        assert (bits(by_label.values) == bits(ds.values[ds.labels == 2])).all()
        assert by_label.meta.n_missing == int(mask[ds.labels == 2].sum())
        np.testing.assert_array_equal(by_label.series_lengths(),
                                      ds.series_lengths()[ds.labels == 2])
        for fmt, layout in EXPORTS:  # every export format of what this backend read
            data = export_bytes(whole, fmt, layout=layout)  # type: ignore[arg-type]
            got, _ = parse_export(data, fmt, layout, ds.values.shape, lengths)
            assert (bits(got) == bits(ds.values)).all(), f"{fmt} {layout}"
            if fmt == "npy" and lengths is not None:
                continue  # NaN-padded values: a .npy says nothing of lengths
            again = import_data(data, ImportOptions(name="again", format=fmt)).dataset
            assert (bits(again.values) == bits(ds.values)).all(), f"{fmt} {layout} again"
            assert again.meta.n_missing == meta.n_missing
            np.testing.assert_array_equal(again.series_lengths(), ds.series_lengths())
    finally:
        store.delete_dataset(name)


def test_an_infinity_is_refused_naming_the_point_and_nothing_is_stored(store) -> None:
    ds = make_dataset("inf", n=4, length=6)
    ds.values[2, 0, 3] = np.inf
    ds.meta = msgspec.structs.replace(ds.meta, checksum="")
    with pytest.raises(BadInputError, match="series 2, channel 0, point 3 is infinite") as info:
        store.create_dataset(ds)
    assert info.value.field == "values"
    assert store.list_datasets(DatasetQuery()).total == 0


def test_n_missing_is_derived_not_taken_from_the_record(store) -> None:
    """A dataset whose meta miscounts its missing points is stored with the right count."""
    mask = np.zeros((6, 1, 8), bool)
    mask[1, 0, 2:5] = True
    ds = holed("counted", mask)
    ds.meta = msgspec.structs.replace(ds.meta, n_missing=0)
    assert store.create_dataset(ds).n_missing == 3
    assert store.get_dataset_meta("counted").n_missing == 3


def test_a_record_written_before_n_missing_and_lengths_reads_as_0_and_equal(backend
                                                                            ) -> None:
    store = backend.open()
    store.create_dataset(make_dataset("old", n=5, length=7))
    meta = store.get_dataset_meta("old")
    store.close()
    if backend.kind == "sqlite":  # the metadata JSON as an earlier synthts wrote it
        path = Path(backend.uri.removeprefix("sqlite:///"))
        with sqlite3.connect(path) as conn:
            raw = msgspec.json.decode(conn.execute("SELECT meta FROM datasets").fetchone()[0])
            assert raw.pop("n_missing") == 0
            assert raw.pop("min_length") is None
            conn.execute("UPDATE datasets SET meta = ?", (msgspec.json.encode(raw),))
    else:
        from synthts_mongo.documents import DATASETS

        result = backend.db()[DATASETS].update_many(
            {}, {"$unset": {"metadata.n_missing": "", "metadata.min_length": ""}})
        assert result.modified_count == 1
    store = backend.open()
    try:
        again = store.get_dataset_meta("old")
        assert again.n_missing == 0 and again.checksum == meta.checksum
        assert again.min_length is None
        read = store.read_dataset("old")  # no lengths array stored: equal lengths
        assert read.meta.n_missing == 0 and read.lengths is None
        assert store.read_dataset("old", series=[1, 3]).lengths is None
        assert store.list_datasets(DatasetQuery()
                                   ).items[0].n_missing == 0
    finally:
        store.close()


def test_a_dataset_missing_a_whole_channel_of_one_series_is_stored(store) -> None:
    """A channel may be missing entirely within one series (the series has other points)."""
    mask = np.zeros((4, 2, 5), bool)
    mask[3, 1] = True
    ds = holed("channel-gap", mask)
    store.create_dataset(ds)
    back = store.read_dataset("channel-gap", series=[3])
    assert np.isnan(back.values[0, 1]).all() and not np.isnan(back.values[0, 0]).any()
    assert back.meta.checksum == checksum(back.values, back.labels)
