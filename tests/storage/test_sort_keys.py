"""The dataset sort keys are declared once (``domain.DATASET_SORTS``); every storage backend
maps each of them to an ordering of its own. A key added to the declaration and forgotten in
a backend's map fails here, on that backend, not as a 500 on the first list that asks for it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from synthts_core.domain import DATASET_SORTS, DatasetQuery
from synthts_core.testing.conformance.storage import T0, make_dataset

ROWS = [("b-mid", 12, 2), ("a-big", 30, 0), ("c-small", 3, 1), ("d-mid", 12, 3)]
"""(name, series, day created): two rows share n_series so its tie-break is exercised too."""


def _expected(key: str) -> list[str]:
    field = key.removeprefix("-")
    descending = key.startswith("-")
    by = {"name": lambda r: r[0], "created_at": lambda r: r[2], "n_series": lambda r: r[1]}
    rows = sorted(ROWS, key=by[field], reverse=descending)
    if field == "n_series":  # ties by name ascending, whichever the direction
        rows = sorted(rows, key=lambda r: (-r[1] if descending else r[1], r[0]))
    return [r[0] for r in rows]


def _sorts_every_declared_key(storage) -> None:
    for name, n, day in ROWS:
        storage.create_dataset(make_dataset(name, n=n, length=4,
                                            created_at=T0 + timedelta(days=day)))
    for key in DATASET_SORTS:
        listed = [m.name for m in storage.list_datasets(DatasetQuery(sort=key)).items]
        assert listed == _expected(key), key


def test_every_declared_sort_key_sorts_on_sqlite(sqlite_storage) -> None:
    _sorts_every_declared_key(sqlite_storage)


@pytest.mark.mongo
def test_every_declared_sort_key_sorts_on_mongo(mongo_storage) -> None:
    _sorts_every_declared_key(mongo_storage)


def test_the_backends_map_exactly_the_declared_keys() -> None:
    from synthts_mongo.datasets import SORT_FIELDS
    from synthts_sqlite.backend import SORT_SQL

    assert set(SORT_SQL) == set(DATASET_SORTS)
    assert set(SORT_FIELDS) == set(DATASET_SORTS)
