"""A job that asks for differential privacy and names no architectures trains the default
search of the families that support DP (the others left out, and the log says so), each with
the space it declares for a private job (the GANs: no moment loss, no mean correction, a small
critic); it is refused, naming the field and the families, only when no architecture of the
default search supports DP. Submitting only (real SQLite storage, the installed plugins), then one real run
through ``synthts train`` (local Ray, a real ``mlflow server``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from synthts_core import hookimpl
from synthts_core.cli import cli
from synthts_core.domain import Dataset, DataShape, JobSpec
from synthts_core.errors import BadInputError
from synthts_core.plugins import make_plugin_manager
from synthts_core.privacy import dp_params
from synthts_core.runtime import Runtime
from synthts_core.schema import ParamSchema, float_param
from tests.api.conftest import api_settings
from tests.privacy.conftest import tiny_dataset

DP_WARNING = "asks for differential privacy: the default search trains"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    """The installed plugins (GAN and diffusion) on a temp SQLite store; no Ray."""
    rt = Runtime(api_settings(tmp_path / "data"))
    rt.storage.create_dataset(tiny_dataset())
    yield rt
    rt.close()


def test_a_dp_job_naming_no_architectures_trains_the_gan_default_search(
        runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="synthts.training"):
        job = runtime.services.jobs.submit(JobSpec(dataset="tiny", num_trials=2, epochs=2,
                                                   search_space={"dp_epsilon": 10}))
    assert job.spec.architectures == ["cwgan_gp"]  # diffusion has no DP
    assert set(job.spec.architecture_spaces) == {"cwgan_gp"}
    for t in job.trials:
        assert t.architecture == "cwgan_gp" and t.config["dp_epsilon"] == 10
        # what the default space turns on for a non-private job, and DP refuses, is off
        assert t.config["mean_correction"] is False and t.config["moment_weight"] == 0.0
        # the critic measured to suit DP (plugin.PRIVATE_SPACE): small, one step, Poisson
        # batches of half the 48 series; the rest of the quality options stay
        assert (t.config["backbone"], t.config["conv_width"], t.config["n_critic"],
                t.config["gp_weight"], t.config["batch_size"]) == ("conv", 8, 1, 0.1, 24)
        assert t.config["noise_inputs"] is True and t.config["lr_schedule"] == "cosine"
    said = [r.getMessage() for r in caplog.records if DP_WARNING in r.getMessage()]
    assert said == ["search_space.dp_epsilon asks for differential privacy: the default search "
                    "trains cwgan_gp only (the architectures that support it); left out: "
                    "diffusion (family diffusion)"]


def test_the_same_job_without_dp_keeps_the_whole_default_search(
        runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="synthts.training"):
        job = runtime.services.jobs.submit(JobSpec(dataset="tiny", num_trials=2, epochs=2))
    assert job.spec.architectures == ["cwgan_gp", "diffusion"]
    space = job.spec.architecture_spaces["cwgan_gp"]
    assert space["mean_correction"] is True and space["backbone"] == ["mlp", "conv"]
    assert space["n_critic"] == 2 and "gp_weight" not in space
    assert not [r for r in caplog.records if DP_WARNING in r.getMessage()]


def test_unlabelled_data_and_a_per_architecture_request(runtime: Runtime) -> None:
    runtime.storage.create_dataset(Dataset.build("plain", tiny_dataset().values))
    job = runtime.services.jobs.submit(JobSpec(dataset="plain", num_trials=1, epochs=2,
                                               search_space={"dp_epsilon": 5.0}))
    assert job.spec.architectures == ["wgan_gp"]
    assert job.trials[0].config["mean_correction"] is False
    assert job.trials[0].config["n_critic"] == 1
    # asked for through one architecture's entries: the default search is private too
    job = runtime.services.jobs.submit(JobSpec(
        dataset="tiny", num_trials=1, epochs=2,
        architecture_spaces={"cwgan_gp": {"dp_epsilon": 5.0}}))
    assert job.spec.architectures == ["cwgan_gp"]
    assert job.trials[0].config["dp_epsilon"] == 5.0
    assert job.trials[0].config["mean_correction"] is False
    # ... and a DP entry for a family without DP is still refused, naming it
    with pytest.raises(BadInputError) as err:
        runtime.services.jobs.submit(JobSpec(
            dataset="tiny", num_trials=1, epochs=2,
            architecture_spaces={"diffusion": {"dp_epsilon": 5.0}}))
    assert err.value.extra["field"] == "architecture_spaces.diffusion.dp_epsilon"


@pytest.mark.parametrize(("length", "backbone", "layers"), [
    (128, "conv", 3), (24, "conv", 2), (8, "conv", 1), (6, "mlp", 3)])
def test_the_private_critic_stays_small_on_short_series(length: int, backbone: str,
                                                        layers: int) -> None:
    """Fewer conv layers where the series are too short for the default 3, the MLP only
    where not even one fits; batches of half the set within the parameter's bounds."""
    from synthts_gan.plugin import builtin_architectures

    arch = next(a for a in builtin_architectures() if a.name == "cwgan_gp")
    space = arch.default_space(DataShape(n_series=20_000, n_channels=1, length=length,
                                         n_classes=3, private=True))
    assert space["backbone"] == backbone
    assert space.get("conv_layers", 3) == layers and space["batch_size"] == 8192


def test_what_the_user_sets_still_wins_and_is_still_refused(runtime: Runtime) -> None:
    """The private default space leaves the mean correction off; a job that turns it back on
    beside dp_epsilon is refused as before, naming the field."""
    before = runtime.storage.list_jobs().total
    with pytest.raises(BadInputError) as err:
        runtime.services.jobs.submit(JobSpec(
            dataset="tiny", num_trials=1, epochs=2,
            search_space={"dp_epsilon": 5.0, "mean_correction": True}))
    assert err.value.extra["field"] == "search_space.mean_correction"
    assert runtime.storage.list_jobs().total == before


class OldStyleArchitecture:
    """An architecture from another package, written before ``DataShape.private``: its
    ``default_space(shape)`` reads only the data's sizes. Never built (submitting draws
    trials only)."""

    description = "an architecture from another package"
    conditional = False
    family = "thirdparty"

    def __init__(self, name: str, *, dp: bool, in_default: bool) -> None:
        self.name = name
        self.supports_dp = dp
        self.in_default = in_default
        self.space = ParamSchema((float_param("lr", 1e-3, 1e-6, 1.0, log=True),
                                  *(dp_params() if dp else ())))

    def default_space(self, shape: DataShape) -> dict[str, Any] | None:
        return {"lr": 1e-3 if shape.n_series > 10 else 1e-2} if self.in_default else None

    def build(self, config: Mapping[str, Any], device: str = "cpu") -> Any:
        raise AssertionError("submitting a job builds no model")


class ThirdParty:
    def __init__(self, *archs: OldStyleArchitecture) -> None:
        self.archs = archs

    @hookimpl
    def register_model_architectures(self, registry: Any) -> None:
        for arch in self.archs:
            registry.add(arch)


def _without_gan(tmp_path: Path, *archs: OldStyleArchitecture) -> Runtime:
    pm = make_plugin_manager(disabled=["gan"])
    pm.register(ThirdParty(*archs), name="third-party")
    rt = Runtime(api_settings(tmp_path / "data"), plugin_manager=pm)
    rt.storage.create_dataset(tiny_dataset())
    return rt


def test_refused_naming_the_field_and_families_when_no_default_supports_dp(
        tmp_path: Path) -> None:
    rt = _without_gan(tmp_path, OldStyleArchitecture("plain_model", dp=False, in_default=True))
    try:
        with pytest.raises(BadInputError) as err:
            rt.services.jobs.submit(JobSpec(dataset="tiny", num_trials=1, epochs=2,
                                            search_space={"dp_epsilon": 5.0}))
        assert err.value.extra["field"] == "search_space.dp_epsilon"
        assert ("no architecture of the default search for this data supports it (families: "
                "diffusion (diffusion), thirdparty (plain_model))") in str(err.value)
        assert err.value.extra["allowed"] == ("a job without dp_epsilon (no installed "
                                              "architecture supports differential privacy)")
        assert rt.storage.list_jobs().total == 0
        # without dp_epsilon the same job is accepted
        assert rt.services.jobs.submit(JobSpec(dataset="tiny", num_trials=1, epochs=2))
    finally:
        rt.close()


def test_a_dp_family_outside_the_default_search_is_named(tmp_path: Path) -> None:
    rt = _without_gan(tmp_path, OldStyleArchitecture("dp_model", dp=True, in_default=False))
    try:
        with pytest.raises(BadInputError) as err:
            rt.services.jobs.submit(JobSpec(dataset="tiny", num_trials=1, epochs=2,
                                            search_space={"dp_epsilon": 5.0}))
        assert err.value.extra["allowed"] == (
            "a job without dp_epsilon, or one naming architectures of a family that supports "
            "it: thirdparty (dp_model)")
    finally:
        rt.close()


def test_an_old_style_default_space_with_dp_is_kept(tmp_path: Path) -> None:
    """A DP-capable architecture whose ``default_space`` predates ``DataShape.private`` is
    called as before and trains the private default search."""
    rt = _without_gan(tmp_path, OldStyleArchitecture("dp_model", dp=True, in_default=True))
    try:
        job = rt.services.jobs.submit(JobSpec(dataset="tiny", num_trials=1, epochs=2,
                                              search_space={"dp_epsilon": 5.0}))
        assert job.spec.architectures == ["dp_model"]
        assert job.trials[0].config == {"lr": 1e-3, "dp_epsilon": 5.0, "dp_delta": None,
                                        "dp_max_grad_norm": 1.0}
    finally:
        rt.close()


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.mlflow
def test_synthts_train_with_dp_epsilon_and_no_architecture_trains_a_private_model(
        rt_server: Runtime, server_dataset: Dataset) -> None:
    """What a new user types: ``synthts train --dataset X --set dp_epsilon=10``, no
    architecture and no search space (one trial of two epochs to keep the test cheap)."""
    name = f"dp-default-{uuid.uuid4().hex[:8]}"  # the server outlives this test
    result = CliRunner().invoke(cli, [
        "train", "--dataset", "tiny", "--set", "dp_epsilon=10", "--trials", "1",
        "--epochs", "2", "--model-name", name, "--quiet"], obj=rt_server)
    assert result.exit_code == 0, result.output
    assert f"registered {name} version 1" in result.output
    job = rt_server.storage.list_jobs().items[0]
    assert job.status == "succeeded" and job.spec.architectures == ["cwgan_gp"]
    trial = job.trials[0]
    assert trial.epoch == 2 and trial.config["mean_correction"] is False
    record = rt_server.tracker.get_version(name, "best").config["privacy"]
    assert record["target_epsilon"] == 10.0 and 0 < record["epsilon"] <= 10.0
    assert record["steps"] > 0
