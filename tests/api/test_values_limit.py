"""A JSON read of a dataset's values is held to SYNTHTS_MAX_GENERATE_VALUES (every value becomes
text); a ``.npy`` read of the same series is not. The datasets service applies the limit
(``DatasetService.read_selection(limited=...)``), the controller only says which answer it
writes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from litestar.testing import TestClient

from synthts_core.api import create_app
from synthts_core.domain import Dataset
from synthts_core.errors import LimitExceededError
from tests.api.conftest import api_settings, assert_problem

API = "/api/v1"


def test_a_json_read_is_held_to_the_limit_and_a_binary_read_is_not(tmp_path):
    app = create_app(api_settings(tmp_path / "limit", max_generate_values=100))
    runtime = app.state.api.runtime
    values = np.arange(3 * 2 * 40, dtype=np.float32).reshape(3, 2, 40)  # 240 values > 100
    with TestClient(app) as c:
        runtime.services.datasets.store(Dataset.build("wide", values))
        url = f"{API}/datasets/wide/values"
        problem = assert_problem(c.get(url, params={"format": "json"}), 413)
        assert problem["setting"] == "SYNTHTS_MAX_GENERATE_VALUES"
        assert "240" in problem["detail"]
        binary = c.get(url, params={"format": "npy"})
        assert binary.status_code == 200, binary.text
        np.testing.assert_array_equal(np.load(io.BytesIO(binary.content)), values)
        # 2 series x 1 channel x 40 points = 80 values: within the limit
        small = c.get(url, params={"format": "json", "limit": 2, "channel": [1]})
        assert small.status_code == 200, small.text
        np.testing.assert_array_equal(np.asarray(small.json()["values"], np.float32),
                                      values[:2, 1:2])
        datasets = runtime.services.datasets
        selection = datasets.select("wide")
        with pytest.raises(LimitExceededError):
            datasets.read_selection(selection, limited=True)
        assert datasets.read_selection(selection).values.shape == (3, 2, 40)
