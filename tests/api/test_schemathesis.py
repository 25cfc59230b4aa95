"""Property-based runs of schemathesis against the app's own OpenAPI schema (in-process ASGI).

Every operation, job submission included, is exercised with generated valid and invalid
requests; each answer must be below 500, use a documented status and content type, and match
its documented schema. A stateful run then follows the schema's OpenAPI links (a created
dataset into its reads, a model version into generation, a job into its status and cancel).

Job submission runs on a tiny budget: a generated job that would be accepted is cut to one
trial of one epoch and cancelled right after its 202, and the run waits until it has ended (a
local Ray starts and stops) before the next request. Request counts and statuses are asserted at
the end of the module.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import threading
import time
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
atexit.register(shutil.rmtree, DATA_DIR, True)  # also when the module is collected, not run
SETTINGS = api_settings(DATA_DIR, max_generate_values=200_000, max_request_bytes=256 * 1024,
                        ray_num_cpus=1)
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", APP)

EXAMPLES_PER_OPERATION = 25
JOB_EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
REQUESTS: dict[str, int] = {}
STATUSES: dict[int, int] = {}
SUBMITTED: list[str] = []
DATASET = "harmonics"


@pytest.fixture(scope="module", autouse=True)
def _seeded_data():
    """A real dataset named like the schema's examples and a registered model, so reads and
    generation hit success paths. Stored through the services with a runtime of its own:
    schemathesis drives the app's lifespan itself. At the end, waits for submitted jobs."""
    from synthts_core.runtime import Runtime
    from synthts_core.services import generation
    from tests.api.conftest import register_untrained

    with Runtime(SETTINGS) as rt:
        spec = generation.resolve_preset(rt.registries, "harmonics10", name=DATASET,
                                         count=5, length=32)
        meta = rt.services.datasets.store(generation.build_dataset(rt.registries, spec))
        register_untrained(rt, "harmonics-gan", meta, latent_dim=8)
    yield
    _wait_for_jobs()
    shutil.rmtree(DATA_DIR, ignore_errors=True)


def _tiny_job(case) -> None:
    """A job body that could be accepted trains one trial for one epoch at most."""
    if case.operation.definition.raw.get("operationId") == "submitJob" and isinstance(
            case.body, dict):
        case.body["num_trials"] = 1
        case.body["epochs"] = 1
        case.body.pop("max_concurrent", None)
        case.body.pop("architecture_epochs", None)


def _cancel_if_submitted(case, response) -> None:
    if case.operation.definition.raw.get("operationId") == "submitJob" and \
            response.status_code == 202:
        job_id = response.json()["id"]
        SUBMITTED.append(job_id)
        from synthts_core.services import training

        with contextlib.suppress(Exception):  # it may have ended already (Ray failed)
            training.cancel_job(APP.state.api.runtime, job_id)
        _wait_for_jobs()  # before the next draw


def _wait_for_jobs(timeout: float = 300.0) -> None:
    """Until every submitted job has ended and its background thread (which starts and stops
    Ray) is gone: the thread must not outlive the data folder, nor import while hypothesis
    draws (hypothesis walks ``sys.modules``)."""
    from synthts_core.domain import TERMINAL_STATUSES

    storage = APP.state.api.runtime.storage
    deadline = time.monotonic() + timeout
    for job_id in SUBMITTED:
        for thread in threading.enumerate():
            if thread.name == f"synthts-train-{job_id}":
                thread.join(max(0.0, deadline - time.monotonic()))
                assert not thread.is_alive(), f"job {job_id} did not end"
        assert storage.get_job(job_id).status in TERMINAL_STATUSES, job_id


def _record(case, response) -> None:
    REQUESTS[case.operation.label] = REQUESTS.get(case.operation.label, 0) + 1
    STATUSES[response.status_code] = STATUSES.get(response.status_code, 0) + 1


def test_an_accepted_job_conforms_and_links_to_its_status():
    """The fuzz rarely names the seeded dataset (and may delete it): this runs first and
    submits one job that must be accepted."""
    operation = schema.find_operation_by_id("submitJob")
    case = operation.Case(body={"dataset": DATASET, "architectures": ["cwgan_gp"],
                                "num_trials": 1, "epochs": 1},
                          headers={"Content-Type": "application/json"})
    response = case.call()
    _cancel_if_submitted(case, response)
    _record(case, response)
    assert response.status_code == 202, response.text
    case.validate_response(response, checks=CHECKS)
    links = schema.raw_schema["paths"]["/api/v1/jobs"]["post"]["responses"]["202"]["links"]
    assert {"getJob", "cancelJob", "streamJobEvents"} <= set(links)


@schema.exclude(operation_id="submitJob").parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    response = case.call()
    _record(case, response)
    case.validate_response(response, checks=CHECKS)


@schema.include(operation_id="submitJob").parametrize()
@settings(max_examples=JOB_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_job_submission_conforms_on_a_tiny_budget(case):
    _tiny_job(case)
    response = case.call()
    _cancel_if_submitted(case, response)
    _record(case, response)
    case.validate_response(response, checks=CHECKS)


class APIWorkflows(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences that follow the schema's links: create -> read/plot/export/delete,
    list -> get, model version -> generate/interpolate, submit -> get/cancel."""

    def before_call(self, case) -> None:
        _tiny_job(case)

    def after_call(self, response, case) -> None:
        super().after_call(response, case)
        _cancel_if_submitted(case, response)
        _record(case, response)

    def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
        case.validate_response(response, checks=CHECKS)


TestAPIWorkflows = APIWorkflows.TestCase
TestAPIWorkflows.settings = settings(max_examples=15, stateful_step_count=6, deadline=None,
                                     derandomize=True, suppress_health_check=list(HealthCheck))


def test_enough_requests_were_generated():
    total = sum(REQUESTS.values())
    print(f"schemathesis: {total} requests over {len(REQUESTS)} operations, "
          f"statuses {dict(sorted(STATUSES.items()))}, jobs submitted {len(SUBMITTED)}")
    assert total >= 500, REQUESTS
    assert len(REQUESTS) == len(list(schema.get_all_operations()))
    assert sum(n for code, n in STATUSES.items() if code < 300) >= 50  # not only rejections
    assert not [code for code in STATUSES if code >= 500]
    assert SUBMITTED  # job submission reached its success path
