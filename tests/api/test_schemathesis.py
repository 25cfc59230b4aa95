"""Property-based run of schemathesis against the app's own OpenAPI schema (in-process ASGI).

Every operation is exercised with generated valid and invalid requests; each answer must be
below 500, use a documented status and content type, and match its documented schema. Only
``submitJob`` is left out: a valid body starts a Ray Tune search, which is the flow test's job.
Request count and bounds are asserted at the end of the module.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from synthts_core.api import create_app
from tests.api.conftest import api_settings

DATA_DIR = Path(tempfile.mkdtemp(prefix="synthts-schemathesis-"))
SETTINGS = api_settings(DATA_DIR, max_generate_values=200_000, max_request_bytes=256 * 1024)
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", APP).exclude(
    operation_id="submitJob")

EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
REQUESTS: dict[str, int] = {}
STATUSES: dict[int, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _seeded_data():
    """A real dataset named like the schema's examples, so reads of it hit success paths.
    Stored through the services with a runtime of its own: schemathesis drives the app's
    lifespan itself."""
    from synthts_core.runtime import Runtime
    from synthts_core.services import datasets, generation

    with Runtime(SETTINGS) as rt:
        spec = generation.resolve_preset(rt.registries, "harmonics10", name="harmonics",
                                         count=5, length=32)
        datasets.store(rt, generation.build_dataset(rt.registries, spec))
    yield
    shutil.rmtree(DATA_DIR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    response = case.call()
    REQUESTS[case.operation.label] = REQUESTS.get(case.operation.label, 0) + 1
    STATUSES[response.status_code] = STATUSES.get(response.status_code, 0) + 1
    case.validate_response(response, checks=CHECKS)


def test_enough_requests_were_generated():
    total = sum(REQUESTS.values())
    print(f"schemathesis: {total} requests over {len(REQUESTS)} operations, "
          f"statuses {dict(sorted(STATUSES.items()))}")
    assert total >= 500, REQUESTS
    assert len(REQUESTS) == len(list(schema.get_all_operations()))
    assert sum(n for code, n in STATUSES.items() if code < 300) >= 50  # not only rejections
