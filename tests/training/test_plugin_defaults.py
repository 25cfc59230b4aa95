"""Defaults live in the plugins: the architectures a job trains when it names none, the main
job's architecture and search space, the selection metric and the per-epoch quality curve are
what the installed plugins declare (optional attributes), never names in the core. No Ray run:
jobs are submitted to the real SQLite storage and their drawn trials read back."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec
import pytest

from synthts_core import hookimpl
from synthts_core.domain import Dataset, DataShape, HoldoutSplit, JobSpec, TrainingJob
from synthts_core.errors import BadInputError, NotFoundError
from synthts_core.plugins import make_plugin_manager
from synthts_core.runtime import Runtime
from synthts_core.schema import ParamSchema, float_param
from synthts_core.services import main_job, training
from synthts_core.services.evaluation import higher_is_better
from synthts_core.services.training.spec import job_label_indices
from synthts_core.services.training_trial import curve_metric, curve_tiebreak
from synthts_core.settings import Settings

from .conftest import tiny_dataset


class ThirdPartyArchitecture:
    """A GAN family from another package, as a plugin author writes it: only the protocol's
    attributes plus the optional defaults. Never built here (submitting draws trials only)."""

    description = "an architecture from another package"
    conditional = False

    def __init__(self, name: str, *, in_default_search: bool = False,
                 main_job_space: dict[str, Any] | None = None) -> None:
        self.name = name
        self.space = ParamSchema((float_param("lr", 1e-3, 1e-6, 1.0, log=True),))
        self.in_default_search = in_default_search
        self.main_job_space = main_job_space

    def build(self, config: Mapping[str, Any], device: str = "cpu") -> Any:
        raise AssertionError("submitting a job builds no model")


class ThirdPartyPlugin:
    def __init__(self, *archs: ThirdPartyArchitecture) -> None:
        self.archs = archs

    @hookimpl
    def register_gan_architectures(self, registry: Any) -> None:
        for arch in self.archs:
            registry.add(arch)


def _runtime(settings: Settings, *archs: ThirdPartyArchitecture) -> Runtime:
    pm = make_plugin_manager()
    if archs:
        pm.register(ThirdPartyPlugin(*archs), name="third-party")
    return Runtime(settings, plugin_manager=pm)


@pytest.fixture
def rt(synthts_settings: Settings) -> Iterator[Runtime]:
    runtime = _runtime(synthts_settings)
    runtime.storage.create_dataset(tiny_dataset())
    yield runtime
    runtime.close()


def test_a_third_party_default_architecture_is_trained_when_a_job_names_none(
        synthts_settings: Settings) -> None:
    runtime = _runtime(synthts_settings, ThirdPartyArchitecture("ext_default",
                                                                in_default_search=True),
                       ThirdPartyArchitecture("ext_optional"))
    try:
        runtime.storage.create_dataset(tiny_dataset())
        job = runtime.services.jobs.submit(JobSpec(dataset="tiny", num_trials=6))
        assert job.spec.architectures == ["cwgan_gp", "diffusion", "ext_default"]
        assert {t.architecture for t in job.trials} == {"cwgan_gp", "diffusion", "ext_default"}
        assert runtime.storage.get_job(job.id).spec.architectures == job.spec.architectures
        named = runtime.services.jobs.submit(JobSpec(dataset="tiny", architectures=["cgan"]))
        assert {t.architecture for t in named.trials} == {"cgan"}
    finally:
        runtime.close()


def test_the_builtin_defaults_are_the_ones_the_plugins_declare(rt: Runtime) -> None:
    job = rt.services.jobs.submit(JobSpec(dataset="tiny"))
    # a labelled set: the conditional families only, each with the space it declares for the
    # data (48 series of 32 points: batches of 8 for the GAN's 2 critic steps, 12 for diffusion)
    assert job.spec.architectures == ["cwgan_gp", "diffusion"]
    assert job.spec.select_metric == "detector"
    assert [t.architecture for t in job.trials] == ["cwgan_gp", "diffusion"] * 2
    gan, diffusion = job.trials[0].config, job.trials[1].config
    assert gan["noise_inputs"] and gan["mean_correction"] and gan["batch_size"] == 8
    assert gan["conditioning"] == "projection" and gan["moment_weight"] == 0.0
    assert diffusion["batch_size"] == 12 and diffusion["lr"] in (2e-3, 1e-3)
    assert job.spec.architecture_spaces["cwgan_gp"]["backbone"] == ["mlp", "conv"]
    # epochs sized for the data: 48 series in batches of 12 are 4 updates an epoch, so 500
    # epochs give a GAN trial its 2000 updates; diffusion declares 5000 updates (1250 epochs,
    # held to the 1000 at most); a job that names its epochs keeps them, for every family
    assert job.spec.epochs == 500 and job.spec.architecture_epochs == {"diffusion": 1000}
    assert {t.architecture: t.epochs for t in job.trials} == {"cwgan_gp": 500, "diffusion": 1000}
    assert training.default_epochs(training.data_shape(rt, job.spec)) == 500
    named = rt.services.jobs.submit(JobSpec(dataset="tiny", epochs=3))
    assert named.spec.epochs == 3 and {t.epochs for t in named.trials} == {3}
    own = rt.services.jobs.submit(JobSpec(dataset="tiny", architectures=["diffusion"],
                                          architecture_epochs={"diffusion": 7}))
    assert {t.epochs for t in own.trials} == {7}  # what the job names per family stays
    both = rt.services.jobs.submit(JobSpec(dataset="tiny", architectures=["cwgan_gp", "diffusion"]))
    assert {t.architecture: t.epochs for t in both.trials} == {"cwgan_gp": 500, "diffusion": 1000}
    # an empty list is still refused (it names nothing); only a missing one means the defaults
    with pytest.raises(BadInputError, match="architectures: is empty"):
        rt.services.jobs.submit(JobSpec(dataset="tiny", architectures=[]))
    assert curve_metric(rt.registries).name == "mmd"
    assert curve_tiebreak(curve_metric(rt.registries), {"mmd": 0.25}) == 0.25
    gan, diff = main_job.main_job_architectures(rt.registries)
    assert (gan.name, diff.name) == ("cwgan_gp", "diffusion")
    cpu = {"noise_inputs": True, "conditioning": "projection", "moment_weight": 10.0,
           "lr_schedule": "cosine", "batch_size": 64, "n_critic": 2, "beta2": 0.9,
           "lr": [0.0003, 0.0005], "ema_decay": [0.99, 0.995], "backbone": "mlp",
           "mean_correction": True}
    assert main_job.demo_search_space(gan, "cpu") == cpu
    assert main_job.demo_search_space(gan, "cuda:0") == {
        **cpu, "backbone": ["mlp", "conv"], "conv_width": 32}
    opts = main_job.MainJobOptions()
    assert main_job.main_job_metric(rt, opts) == "detector"
    # the main job's report lists the metrics that declare a report_order, in that order
    assert main_job.report_metrics(rt.registries) == [
        "detector", "memorisation", "mia", "nnaa", "tstr", "mmd", "feature_cosine", "spectrum",
        "autocorrelation", "marginal", "discriminative", "context_fid"]
    # both families, each with its own space (the GAN's lr never reaches diffusion) and its
    # own epochs (a diffusion epoch costs about three of the GAN's)
    spec = main_job.main_job_spec(rt, opts, "tiny")
    assert spec.architectures == ["cwgan_gp", "diffusion"] and spec.search_space == {}
    assert spec.architecture_spaces == {"cwgan_gp": cpu,
                                        "diffusion": {"batch_size": 64, "lr": [3e-3, 2e-3]}}
    assert (spec.epochs, spec.architecture_epochs) == (250, {"diffusion": 60})
    job = rt.services.jobs.submit(spec)
    assert [(t.architecture, t.epochs) for t in job.trials] == [
        ("cwgan_gp", 250), ("diffusion", 60)] * 2
    assert {t.config["lr"] for t in job.trials if t.architecture == "diffusion"} == {3e-3, 2e-3}
    assert {t.config["lr"] for t in job.trials if t.architecture == "cwgan_gp"} <= {3e-4, 5e-4}
    # --epochs sets every family's; --arch picks; an architecture without a main-job space
    # gets its family's (the parameters it has), as before
    assert main_job.main_job_spec(rt, main_job.MainJobOptions(epochs=7), "tiny"
                                  ).architecture_epochs == {}
    only = main_job.main_job_spec(rt, main_job.MainJobOptions(architectures=("wgan_gp",)), "tiny")
    assert only.architectures == ["wgan_gp"]
    assert only.architecture_spaces["wgan_gp"] == cpu
    # a GAN named beside diffusion gets the GAN family's space, never diffusion's lr
    mixed = main_job.main_job_spec(
        rt, main_job.MainJobOptions(architectures=("wgan_gp", "diffusion")), "tiny")
    assert mixed.architecture_spaces["wgan_gp"] == cpu
    assert mixed.architecture_spaces["diffusion"]["lr"] == [3e-3, 2e-3]
    with pytest.raises(BadInputError, match="arch: unknown"):
        main_job.main_job_spec(rt, main_job.MainJobOptions(architectures=("nope",)), "tiny")


def test_architecture_epochs_are_checked_before_the_job_is_stored(rt: Runtime) -> None:
    with pytest.raises(BadInputError, match=r"architecture_epochs.diffusion: is not an "
                                            r"architecture of the job.*allowed: cwgan_gp"):
        rt.services.jobs.submit(JobSpec(dataset="tiny", architectures=["cwgan_gp"], epochs=3,
                                        architecture_epochs={"diffusion": 2}))
    with pytest.raises(BadInputError, match=r"architecture_epochs.cwgan_gp: got 0.*"
                                            r"allowed: an integer in \[1, 100000\]"):
        rt.services.jobs.submit(JobSpec(dataset="tiny", architectures=["cwgan_gp"], epochs=3,
                                        architecture_epochs={"cwgan_gp": 0}))
    assert rt.storage.list_jobs().total == 0


def test_every_architecture_that_declares_a_main_job_space_is_searched(
        synthts_settings: Settings) -> None:
    several = _runtime(synthts_settings, ThirdPartyArchitecture("ext_main",
                                                                main_job_space={"lr": 0.01}))
    try:
        names = [a.name for a in main_job.main_job_architectures(several.registries)]
        assert names == ["cwgan_gp", "diffusion", "ext_main"]
        ext = several.registries.architectures.get("ext_main")
        assert main_job.demo_search_space(ext, "cuda") == {"lr": 0.01}
        assert main_job.main_job_epochs(ext) == main_job.MAIN_JOB_EPOCHS
    finally:
        several.close()
    pm = make_plugin_manager()
    pm.unregister(name="gan")
    pm.unregister(name="diffusion")
    none = Runtime(synthts_settings, plugin_manager=pm)
    try:
        with pytest.raises(BadInputError, match="arch: no installed architecture declares"):
            main_job.main_job_architectures(none.registries)
    finally:
        none.close()


def test_higher_is_better_is_one_rule_strict_where_it_ranks_trials(rt: Runtime) -> None:
    assert higher_is_better(rt.registries, "tstr") is True
    assert higher_is_better(rt.registries, "mmd") is False
    with pytest.raises(NotFoundError, match="nope"):
        higher_is_better(rt.registries, "nope")
    assert higher_is_better(rt.registries, "nope", strict=False) is False
    assert rt.services.jobs.higher_is_better("tstr") is True
    assert rt.services.jobs.higher_is_better("nope") is False


def test_a_label_the_dataset_lacks_is_bad_input_naming_labels(rt: Runtime) -> None:
    # a stored record whose labels no longer match its dataset (validation passed earlier)
    job = rt.storage.create_job(TrainingJob(id="job-labels", spec=JobSpec(
        dataset="tiny", labels=["fast", "medium"], architectures=["cgan"])))
    with pytest.raises(BadInputError, match=r"labels: 'medium' is not a label.*slow, fast"):
        job_label_indices(rt, job)
    ok = rt.storage.create_job(TrainingJob(id="job-labels-ok", spec=JobSpec(
        dataset="tiny", labels=["fast"], architectures=["cgan"])))
    assert job_label_indices(rt, ok) == [1]


def test_default_spaces_follow_the_data(rt: Runtime) -> None:
    """An unlabelled set gets the unconditional GAN, never a labelled one; series too short
    for the conv backbone search the MLP only; what the user names wins over the defaults."""
    rt.storage.create_dataset(Dataset.build("plain", tiny_dataset(length=24).values))
    job = rt.services.jobs.submit(JobSpec(dataset="plain", num_trials=2))
    assert job.spec.architectures == ["diffusion", "wgan_gp"]
    assert job.spec.epochs == 500  # 48 series, as above; 2000 would get 65 (31 updates each)
    shape = msgspec.convert({"n_series": 2000, "n_channels": 1, "length": 256}, DataShape)
    assert training.default_epochs(shape) == 65
    assert training.declared_epochs(rt.registries, ["wgan_gp", "diffusion"], shape) == {
        "diffusion": 162}  # 5000 updates of 31 an epoch, rounded up
    assert job.spec.architecture_spaces["wgan_gp"]["backbone"] == "mlp"
    assert {t.config["backbone"] for t in job.trials if t.architecture == "wgan_gp"} == {"mlp"}
    named = rt.services.jobs.submit(JobSpec(dataset="plain", num_trials=2,
                                            search_space={"lr": 0.002}))
    assert {t.config["lr"] for t in named.trials} == {0.002}
    # held-out series are not trained on, so they size nothing: 24 of 48 left, batches of 8
    base = tiny_dataset()
    rt.storage.create_dataset(Dataset.build(
        "split", base.values, base.labels, ["slow", "fast"],
        holdout=HoldoutSplit(series=list(range(0, 48, 2)), how="fraction", fraction=0.5,
                             seed=0)))
    shape = training.data_shape(rt, JobSpec(dataset="split"))
    assert shape.n_series == 24 and shape.n_classes == 2
    split = rt.services.jobs.submit(JobSpec(dataset="split"))
    assert split.spec.epochs == 667  # 3 updates an epoch at batch 8
    assert split.spec.architecture_spaces["diffusion"]["batch_size"] == 8


def test_a_combination_that_cannot_run_is_refused_before_the_job_is_stored(
        rt: Runtime) -> None:
    short = tiny_dataset("short", length=24)
    rt.storage.create_dataset(short)
    before = rt.storage.list_jobs().total
    with pytest.raises(BadInputError, match=r"search_space\.conv_layers.*24 points"):
        rt.services.jobs.submit(JobSpec(dataset="short", architectures=["cwgan_gp"],
                                        search_space={"backbone": "conv"}))
    with pytest.raises(BadInputError, match=r"search_space\.heads"):
        rt.services.jobs.submit(JobSpec(dataset="short", architectures=["diffusion"],
                                        search_space={"heads": 3}))
    assert rt.storage.list_jobs().total == before
