"""Export -> import round-trips for every format and layout (property test): the values come
back bit for bit at float32, in the units that were imported."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from synthts_core.domain import Dataset
from synthts_core.services.datasets import export_bytes
from synthts_core.services.importing import ImportOptions, import_data
from synthts_core.services.importing.normalising import fit_normalisation, imported_values

CASES = [("csv", "long"), ("csv", "wide"), ("parquet", "long"), ("parquet", "wide"),
         ("npz", "long"), ("ts", "long"), ("npy", "long")]
NAMES = ["a", "b", "2", "10"]


@st.composite
def datasets(draw: st.DrawFn) -> tuple[Dataset, np.ndarray]:
    n = draw(st.integers(1, 5))
    c = draw(st.integers(1, 3))
    length = draw(st.integers(2, 9))
    real = draw(arrays(np.float64, (n, c, length),
                       elements=st.floats(-1e4, 1e4, allow_nan=False, width=32)))
    method = draw(st.sampled_from(["zscore", "minmax", "none"]))
    stored = imported_values(real)
    norm = fit_normalisation(stored, method)
    labels = names = None
    if draw(st.booleans()):
        used = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
        names = sorted(used, key=lambda x: (not x.isdigit(), int(x) if x.isdigit() else 0, x))
        labels = np.asarray(draw(st.lists(st.integers(0, len(names) - 1), min_size=n,
                                          max_size=n)))
        present = sorted(set(labels.tolist()))  # tables only carry labels that occur
        names = [names[i] for i in present]
        labels = np.searchsorted(present, labels)
    ds = Dataset.build("rt", stored, labels, names, source="imported", normalisation=norm)
    return ds, real


@pytest.mark.parametrize("fmt, layout", CASES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=datasets())
def test_export_then_import_gives_the_same_dataset(fmt: str, layout: str,
                                                   case: tuple[Dataset, np.ndarray]) -> None:
    ds, real = case
    data = export_bytes(ds, fmt, layout=layout)  # real units by default
    method = ds.meta.normalisation.method
    back = import_data(data, ImportOptions(name="back", format=fmt, normalise=method)).dataset
    assert back.values.shape == ds.values.shape
    # bit for bit (negative zero included): the stored values are the ones imported
    np.testing.assert_array_equal(back.values.view(np.uint32), ds.values.view(np.uint32))
    np.testing.assert_array_equal(back.values, real.astype(np.float32))
    assert back.meta.normalisation == ds.meta.normalisation
    if fmt == "npy":  # values only
        return
    assert back.meta.checksum == ds.meta.checksum
    if ds.labels is None:
        assert back.labels is None
    else:
        texts = [ds.meta.label_names[i] for i in ds.labels]
        assert [back.meta.label_names[i] for i in back.labels] == texts
        assert back.meta.label_names == ds.meta.label_names
    assert back.meta.time_axis == ds.meta.time_axis


def test_normalised_export_on_request() -> None:
    real = np.random.default_rng(1).normal(2.55, 7.07, size=(50, 2, 30))
    stored = imported_values(real)
    ds = Dataset.build("u", stored, normalisation=fit_normalisation(stored, "zscore"),
                       source="imported")
    in_real = np.load(__import__("io").BytesIO(export_bytes(ds, "npy")))
    normalised = np.load(__import__("io").BytesIO(export_bytes(ds, "npy", units="normalised")))
    np.testing.assert_array_equal(in_real, real.astype(np.float32))  # as imported, exactly
    for c in range(2):  # per channel: ~0 and ~1 through the recorded zscore
        assert abs(normalised[:, c].mean()) < 1e-5
        assert normalised[:, c].std() == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("method", ["zscore", "minmax"])
def test_a_spread_below_float32_resolution_is_stored_as_constant(method: str) -> None:
    """Found by the round-trip property: a channel of subnormal values (std 7e-46) had a scale
    that became 0 in float32, and the import refused it as an overflow."""
    real = np.array([[[1.4e-45, 0.0]]])
    stored = imported_values(real)
    norm = fit_normalisation(stored, method)
    assert norm.scale == [1.0]
    np.testing.assert_array_equal(stored, real.astype(np.float32))
