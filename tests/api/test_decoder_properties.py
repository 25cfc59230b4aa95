"""Property-based tests of the request decoders and the spec checks behind them: whatever JSON
arrives (non-finite numbers, huge integers, deep nesting, unicode, wrong types in every field),
decoding ends in a typed Struct or a client error (400/422), and a decoded spec ends in a valid
spec or a synthts error naming the field; never another exception (a 500)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from litestar.exceptions import ClientException, ValidationException

from synthts_core.api.problems import problem_kind
from synthts_core.api.requests import decode_strict
from synthts_core.api.schemas import (
    DatasetCreate,
    EvaluationCreate,
    GenerateCreate,
    InterpolateCreate,
    JobCreate,
    PreviewCreate,
)
from synthts_core.errors import SynthtsError

CLIENT_ERRORS = (ValidationException, ClientException)
REQUEST_TYPES = [DatasetCreate, JobCreate, GenerateCreate, PreviewCreate, InterpolateCreate,
                 EvaluationCreate]
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                             suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.data_too_large])

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
           | st.sampled_from(["5", "true", "1e999", "\u202e\u0000name", "nl\n", "-0"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)


def _dumps(value: object) -> bytes:
    """JSON text as a client might send it: ``NaN``/``Infinity`` tokens included."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode()


def _deep(depth: int, opener: str = "[") -> str:
    """``depth`` nested lists (``[[1]]``) or objects (``{"k":{"k":1}}``) around a 1."""
    if opener == "[":
        return "[" * depth + "1" + "]" * depth
    return '{"k":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("struct", REQUEST_TYPES, ids=lambda t: t.__name__)
@PROPERTY_SETTINGS
@given(value=json_values)
def test_any_json_decodes_or_is_a_client_error(struct, value):
    try:
        decoded = decode_strict(_dumps(value), struct)
    except CLIENT_ERRORS:
        return
    assert isinstance(decoded, struct)


def mostly(good: st.SearchStrategy, junk: st.SearchStrategy = json_values) -> st.SearchStrategy:
    """Well-typed values seven times in eight, anything else otherwise: deep enough into
    the checks to reach the services, hostile enough to test the refusals."""
    return st.one_of(*[good] * 7, junk)


signal_names = st.sampled_from(["sinusoidal", "mackey_glass", "gaussian_process", "ar",
                                "narma", "car", "pseudo_periodic", "gaussian", "red", "nope"])
param_values = mostly(st.floats(-1e3, 1e3) | st.integers(-5, 50) | st.floats(1e-3, 2.0))
params = st.dictionaries(st.sampled_from(["frequency", "amplitude", "tau", "beta", "gamma",
                                          "n", "kernel", "std", "order", "coefficients",
                                          "lengthscale", "burn_in", "dt", "zzz"]),
                         param_values, max_size=3)
component = st.fixed_dictionaries({"generator": signal_names, "params": params})
spec_shaped = st.fixed_dictionaries({
    "name": mostly(st.sampled_from(["ok", "ds-1.x"]),
                   st.sampled_from(["nl\n", "é", "a" * 200, "", "../x"])),
    "spec": st.fixed_dictionaries({
        "length": mostly(st.integers(2, 200)),
        "classes": st.lists(st.fixed_dictionaries(
            {"label": mostly(st.text(min_size=1, max_size=5)),
             "count": mostly(st.integers(1, 20)), "signal": component},
            optional={"noise": component}), min_size=1, max_size=3),
    }, optional={"n_channels": st.integers(0, 3), "seed": st.integers(-1, 2**64)}),
})


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory):
    from synthts_core.runtime import Runtime
    from tests.api.conftest import api_settings

    rt = Runtime(api_settings(Path(tmp_path_factory.mktemp("props"))))
    yield rt.registries
    rt.close()


@PROPERTY_SETTINGS
@given(body=spec_shaped)
def test_spec_shaped_bodies_end_in_a_spec_or_a_named_error(registries, body):
    from synthts_core.domain import DatasetSpec, from_builtins
    from synthts_core.services.generation import validate_spec

    try:
        create = decode_strict(_dumps(body), DatasetCreate)
    except CLIENT_ERRORS:
        event("refused while decoding")
        return
    raw = msgspec.to_builtins(create.spec)
    raw["name"] = create.name
    try:
        spec = validate_spec(registries, from_builtins(raw, DatasetSpec), max_values=100_000)
    except SynthtsError as exc:
        event("refused by the spec check")
        assert problem_kind(exc).status in (404, 413, 422), exc
        return
    event("valid spec")
    assert isinstance(spec, DatasetSpec)


@PROPERTY_SETTINGS
@given(comp=component, n=mostly(st.integers(1, 8)), length=mostly(st.integers(2, 300)))
def test_preview_parameters_end_in_values_or_a_named_error(registries, comp, n, length):
    import numpy as np

    from synthts_core.domain import ComponentSpec, SamplingSpec
    from synthts_core.services.signals import preview

    try:
        create = decode_strict(_dumps({"signal": comp, "n": n, "length": length}),
                               PreviewCreate)
    except CLIENT_ERRORS:
        return
    signal = msgspec.convert(msgspec.to_builtins(create.signal), ComponentSpec)
    try:
        _, values = preview(registries, signal, None, n=create.n, length=create.length,
                            sampling=SamplingSpec(), seed=0, max_values=100_000)
    except SynthtsError as exc:
        event("refused by the preview check")
        assert problem_kind(exc).status in (404, 413, 422), exc
        return
    event("previewed")
    assert np.isfinite(values).all()


@pytest.mark.parametrize("struct", [JobCreate, PreviewCreate], ids=lambda t: t.__name__)
@settings(max_examples=25, deadline=None, derandomize=True)
@given(depth=st.integers(1, 5000), opener=st.sampled_from(["[", "{"]))
def test_nesting_of_any_depth_is_bounded(struct, depth, opener):
    deep = _deep(depth, opener)
    field = ('{"dataset": "d", "search_space": {"x": %s}}' if struct is JobCreate else
             '{"signal": {"generator": "sinusoidal", "params": {"x": %s}}}') % deep
    try:
        decode_strict(field.encode(), struct)
    except CLIENT_ERRORS:
        assert depth >= 8  # the free-form bound: 8 levels of containers in the field
        return
    assert depth < 8
