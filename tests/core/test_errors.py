"""The core's errors survive pickling: Ray sends a trial's exception to the driver pickled,
and a subclass whose ``__init__`` takes other arguments than the message used to arrive as a
``TypeError`` instead of the error it was (the job then reported the wrong cause)."""

from __future__ import annotations

import pickle

import pytest

from synthts_core import errors

CASES = [
    errors.SynthtsError("plain", detail=1),
    errors.BadInputError("epochs", "got 0", allowed="1..100000", value=0),
    errors.NotFoundError("dataset", "nope", hint="see synthts datasets list"),
    errors.ConflictError("job finished"),
    errors.LimitExceededError("values", 20, 10, "SYNTHTS_MAX_GENERATE_VALUES"),
    errors.BackendUnavailableError("Ray", "refused", hint="check SYNTHTS_RAY_ADDRESS"),
    errors.CorruptDataError("checksum"),
    errors.PluginError("bad plugin"),
    errors.DuplicateNameError("metric", "mmd", "a", "b"),
]


@pytest.mark.parametrize("error", CASES, ids=lambda e: type(e).__name__)
def test_an_error_pickles_to_the_same_error(error: errors.SynthtsError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error) and back.args == error.args
    assert back.__dict__ == error.__dict__
    assert isinstance(back, ValueError) == isinstance(error, ValueError)
