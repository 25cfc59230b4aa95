"""A DP request the job's architectures cannot honour is refused when the job is submitted,
before any trial is drawn or stored, naming the field and the families that support DP: by the
training service and by the API (a 422 problem naming the field)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from synthts_core.api import create_app
from synthts_core.domain import JobSpec
from synthts_core.errors import BadInputError
from synthts_core.runtime import Runtime
from synthts_core.services import training
from tests.api.conftest import api_settings, assert_problem
from tests.privacy.conftest import TINY_SPACE, tiny_dataset

API = "/api/v1"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    """The installed plugins (GAN and diffusion) on a temp SQLite store; no Ray: nothing here
    gets as far as running."""
    rt = Runtime(api_settings(tmp_path / "data"))
    rt.storage.create_dataset(tiny_dataset())
    yield rt
    rt.close()


def _refused(rt: Runtime, **fields) -> BadInputError:
    spec = JobSpec(dataset="tiny", num_trials=1, epochs=2, **fields)
    with pytest.raises(BadInputError) as err:
        training.submit_job(rt, spec)
    assert rt.storage.list_jobs().total == 0, "nothing is stored"
    return err.value


def test_dp_for_a_family_without_it_is_refused_naming_the_field(runtime: Runtime) -> None:
    err = _refused(runtime, architectures=["diffusion"], search_space={"dp_epsilon": 5.0})
    assert err.extra["field"] == "search_space.dp_epsilon"
    assert "'diffusion' (family diffusion) cannot train with differential privacy" in str(err)
    assert err.extra["allowed"] == ("architectures of a family that supports it: "
                                    "gan (cgan, cwgan_gp, wgan_gp)")


def test_a_mixed_job_is_refused_too_not_half_private(runtime: Runtime) -> None:
    """A GAN beside a diffusion model: the diffusion trials would train without DP and might
    be the registered winner, so the whole job is refused."""
    err = _refused(runtime, architectures=["cwgan_gp", "diffusion"],
                   search_space={**TINY_SPACE, "dp_epsilon": 5.0})
    assert err.extra["field"] == "search_space.dp_epsilon"
    err = _refused(runtime, architectures=["cwgan_gp", "diffusion"],
                   architecture_spaces={"diffusion": {"dp_epsilon": 5.0}})
    assert err.extra["field"] == "architecture_spaces.diffusion.dp_epsilon"
    # asked for through the GAN's own entries only: the diffusion trials are still not private
    err = _refused(runtime, architectures=["cwgan_gp", "diffusion"],
                   architecture_spaces={"cwgan_gp": {"dp_epsilon": 5.0}})
    assert err.extra["field"] == "architectures"
    assert "'diffusion' (family diffusion) cannot train with differential privacy" in str(err)
    assert "architecture_spaces.cwgan_gp.dp_epsilon asks for" in str(err)
    assert err.extra["allowed"] == ("architectures of a family that supports it: "
                                    "gan (cgan, cwgan_gp, wgan_gp)")
    # two GANs, one given an epsilon: the other's trials would train without DP
    err = _refused(runtime, architectures=["cwgan_gp", "wgan_gp"],
                   architecture_spaces={"cwgan_gp": {"dp_epsilon": 5.0}})
    assert err.extra["field"] == "architecture_spaces.wgan_gp.dp_epsilon"
    assert "'wgan_gp' trials would train without it" in str(err)
    assert "search_space.dp_epsilon sets it for all" in err.extra["allowed"]
    # a DP setting without epsilon for the other one is refused too (not private either)
    err = _refused(runtime, architectures=["cwgan_gp", "wgan_gp"],
                   architecture_spaces={"cwgan_gp": {"dp_epsilon": 5.0},
                                        "wgan_gp": {"dp_max_grad_norm": 0.5}})
    assert err.extra["field"] == "architecture_spaces.wgan_gp.dp_max_grad_norm"
    # ... and given an epsilon each, the same job is accepted
    job = training.submit_job(runtime, JobSpec(
        dataset="tiny", architectures=["cwgan_gp", "wgan_gp"], num_trials=2, epochs=2,
        architecture_spaces={"cwgan_gp": {"dp_epsilon": 5.0}, "wgan_gp": {"dp_epsilon": 2.0}}))
    assert sorted(t.config["dp_epsilon"] for t in job.trials) == [2.0, 5.0]


@pytest.mark.parametrize(("space", "field", "words"), [
    ({"dp_epsilon": [1.0, 5.0]}, "search_space.dp_epsilon", "is searched"),
    ({"dp_delta": 1e-3}, "search_space.dp_delta", "dp_epsilon is not"),
    ({"dp_epsilon": 5.0, "moment_weight": 10.0}, "search_space.moment_weight", "moment loss"),
    ({"dp_epsilon": 5.0, "mean_correction": True}, "search_space.mean_correction",
     "mean correction"),
    ({"dp_epsilon": 500.0}, "search_space.dp_epsilon", "got 500.0"),
    ({"dp_epsilon": 5.0, "dp_delta": 0.5}, "search_space.dp_delta", "got 0.5"),
])
def test_what_the_gan_family_cannot_make_private_is_refused(runtime: Runtime, space: dict,
                                                             field: str, words: str) -> None:
    err = _refused(runtime, architectures=["cwgan_gp"], search_space={**TINY_SPACE, **space})
    assert err.extra["field"] == field and words in str(err)


def test_a_dp_job_on_the_gan_family_is_accepted(runtime: Runtime) -> None:
    job = training.submit_job(runtime, JobSpec(
        dataset="tiny", architectures=["cgan", "cwgan_gp", "wgan_gp"], num_trials=3, epochs=2,
        search_space={**TINY_SPACE, "dp_epsilon": 5.0, "dp_max_grad_norm": 0.5}))
    assert all(t.config["dp_epsilon"] == 5.0 and t.config["dp_max_grad_norm"] == 0.5
               and t.config["dp_delta"] is None for t in job.trials)


def test_the_api_refuses_it_with_a_problem_naming_the_field(tmp_path: Path) -> None:
    app = create_app(api_settings(tmp_path / "api"))
    with TestClient(app) as c:
        r = c.post(f"{API}/datasets", json={"name": "h", "preset": "harmonics10",
                                            "overrides": {"count": 8, "length": 64}})
        assert r.status_code == 201, r.text
        r = c.post(f"{API}/jobs", json={"dataset": "h", "architectures": ["diffusion"],
                                        "epochs": 2, "search_space": {"dp_epsilon": 5}})
        body = assert_problem(r, 422, "search_space.dp_epsilon")
        assert "gan (cgan, cwgan_gp, wgan_gp)" in r.text
        assert c.get(f"{API}/jobs").json()["items"] == [], body
