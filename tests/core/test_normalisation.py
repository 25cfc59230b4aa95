"""The one module of per-channel normalisation arithmetic (``synthts_core.normalisation``): its
numbers are pinned bit for bit, since model versions and datasets record them and a trial must
scale its series exactly as the trials before it did."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from synthts_core.domain import Normalisation
from synthts_core.errors import BadInputError
from synthts_core.normalisation import (
    affine,
    apply_scaling,
    check_recorded,
    fit_scaling,
    scaling_affine,
    to_normalised,
    to_real,
)
from synthts_core.services.importing.normalising import fit_normalisation
from synthts_core.services.training_trial import training_normalisation


def _gappy() -> np.ndarray:
    """float32, three missing points, channel 1 constant."""
    rng = np.random.default_rng(26)
    x = rng.normal(0.5, 3.0, (6, 3, 5)).astype(np.float32)
    x[:, 1, :] = np.float32(2.5)
    x[0, 0, 1] = x[3, 2, 4] = x[5, 0, 0] = np.nan
    return x


def _hex(numbers: list[float]) -> list[str]:
    return [float(v).hex() for v in numbers]


# Written by the code before the module existed (issue 26): the training scaling's float64
# statistics and the import normalisation's. ``standard`` and ``zscore`` differ in the last
# bits of the scale: with missing points the training one takes deviations in float32 (NumPy's
# nanstd on the stored values), the import one in float64.
PINNED = {
    "minmax": (["0x1.e223500000000p-1", "0x1.4000000000000p+1", "0x1.27b7fc0000000p+0"],
               ["0x1.a5125a0000000p+2", "0x1.0000000000000p+0", "0x1.b1d9a70000000p+2"]),
    "standard": (["0x1.ff1cc24924925p-7", "0x1.4000000000000p+1", "0x1.19e8da4b08d3ep+0"],
                 ["0x1.c7221db749065p+1", "0x1.0000000000000p+0", "0x1.a6844e2c70bc9p+1"]),
}
PINNED_IMPORT = {
    "zscore": (["0x1.ff1cc24924925p-7", "0x1.4000000000000p+1", "0x1.19e8da4b08d3ep+0"],
               ["0x1.c7221db25db3cp+1", "0x1.0000000000000p+0", "0x1.a6844dbc6b62bp+1"]),
    "minmax": (["-0x1.68cdf00000000p+2", "0x1.4000000000000p+1", "-0x1.67eba80000000p+2"],
               ["0x1.a5125a0000000p+3", "0x1.0000000000000p+0", "0x1.b1d9a70000000p+3"]),
}


@pytest.mark.parametrize("scaling", sorted(PINNED))
def test_the_training_scaling_is_pinned_bit_for_bit(scaling) -> None:
    norm = training_normalisation(SimpleNamespace(name="a", scaling=scaling), _gappy())
    assert (_hex(norm["offset"]), _hex(norm["scale"])) == PINNED[scaling]
    assert norm == fit_scaling(_gappy(), scaling)


@pytest.mark.parametrize("method", sorted(PINNED_IMPORT))
def test_the_import_normalisation_is_pinned_bit_for_bit(method) -> None:
    norm = fit_normalisation(_gappy(), method)
    assert (_hex(norm.offset), _hex(norm.scale)) == PINNED_IMPORT[method]


def test_the_minmax_scaling_is_the_observed_centre_and_half_range_per_channel() -> None:
    """Complete, gappy and float64 input against a channel-by-channel count of its own."""
    rng = np.random.default_rng(4)
    for x in (_gappy(), np.nan_to_num(_gappy(), nan=1.0), rng.normal(size=(4, 2, 7))):
        norm = fit_scaling(x, "minmax")
        for c in range(x.shape[1]):
            seen = x[:, c][~np.isnan(x[:, c])].astype(np.float64)
            half = (seen.max() - seen.min()) / 2.0
            assert norm["offset"][c] == (seen.max() + seen.min()) / 2.0
            assert norm["scale"][c] == (half if half > 0 else 1.0)


def test_applying_a_scaling_is_the_float32_affine_map_and_its_inverse() -> None:
    x = _gappy()
    norm = fit_scaling(x, "minmax")
    offset = np.float32(norm["offset"])[None, :, None]
    scale = np.float32(norm["scale"])[None, :, None]
    scaled = apply_scaling(x, norm)
    assert scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled, (x - offset) / scale)  # NaN stays NaN
    assert np.nanmin(scaled) == -1.0 and np.nanmax(scaled) == 1.0
    np.testing.assert_array_equal(apply_scaling(scaled, norm, inverse=True),
                                  scaled * scale + offset)
    assert (scaled[:, 1] == 0).all()  # the constant channel


def test_import_units_map_in_float64_then_round_to_float32() -> None:
    x = _gappy()
    norm = fit_normalisation(x, "zscore")
    offset = np.asarray(norm.offset)[None, :, None]
    scale = np.asarray(norm.scale)[None, :, None]
    np.testing.assert_array_equal(to_normalised(x, norm),
                                  ((x - offset) / scale).astype(np.float32))
    np.testing.assert_array_equal(to_real(x, norm), (x * scale + offset).astype(np.float32))
    np.testing.assert_array_equal(to_normalised(x[:, [2]], norm, channels=[2], n_channels=3),
                                  to_normalised(x, norm)[:, [2]])
    assert to_real(x, Normalisation()) is x  # the identity: float32 as it is


@pytest.mark.parametrize(("offset", "scale", "field", "says"), [
    ([0.0, 1.0], [1.0, 1.0, 1.0], "model.offset", "has 2 values"),
    ([0.0], [1.0, float("inf"), 1.0], "model.scale", "non-finite"),
])
def test_a_map_that_does_not_fit_the_channels_is_refused_naming_the_field(
        offset, scale, field, says) -> None:
    with pytest.raises(BadInputError, match=says) as err:
        affine(offset, scale, 3, field="model")
    assert err.value.field == field
    # one number stands for every channel; none is the identity
    o, s = affine([2.0], [], 3)
    assert o.ravel().tolist() == [2.0] * 3 and s.ravel().tolist() == [1.0] * 3
    o, s = affine(2.0, 0.5, 3)  # a bare number too (a config may record one)
    assert o.ravel().tolist() == [2.0] * 3 and s.ravel().tolist() == [0.5] * 3
    o, s = scaling_affine({"method": "none"}, 2)
    assert o.dtype == np.float32 and o.ravel().tolist() == [0, 0] and s.ravel().tolist() == [1, 1]


@pytest.mark.parametrize(("norm", "field"), [
    (Normalisation(method="zscore", offset=[0.0, float("nan")], scale=[1.0, 1.0]),
     "normalisation.offset[1]"),
    (Normalisation(method="zscore", offset=[0.0], scale=[0.0]), "normalisation.scale[0]"),
])
def test_a_recorded_normalisation_must_be_finite_with_non_zero_scales(norm, field) -> None:
    with pytest.raises(BadInputError) as err:
        check_recorded(norm)
    assert err.value.field == field
    check_recorded(Normalisation(method="zscore", offset=[0.0], scale=[2.0]))
