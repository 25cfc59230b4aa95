"""Every built-in signal and noise passes the conformance suite third-party plugins get."""

from __future__ import annotations

import pytest
from synthts_timesynth.plugin import builtin_generators

from synthts_core.testing.conformance.signals import SignalGeneratorConformance

GENERATORS = {g.name: g for g in builtin_generators()}
CHEAP = {"mackey_glass": {"burn_in": 50.0, "dt": 0.5}}  # the defaults integrate 500 time units


class TestBuiltinSignals(SignalGeneratorConformance):
    @pytest.fixture(params=sorted(GENERATORS))
    def generator(self, request):
        return GENERATORS[request.param]

    @pytest.fixture
    def params(self, generator):
        return {**generator.schema.defaults(), **CHEAP.get(generator.name, {})}


class TestEveryKernel(SignalGeneratorConformance):
    @pytest.fixture
    def generator(self):
        return GENERATORS["gaussian_process"]

    @pytest.fixture(params=["Constant", "Exponential", "SE", "RQ", "Linear", "Matern", "Periodic"])
    def params(self, request, generator):
        return {**generator.schema.defaults(), "kernel": request.param, "offset": 0.5}


def test_catalogue_lists_every_generator_with_its_schema(registries, synthts_pm, tmp_path):
    from synthts_core.runtime import Runtime
    from synthts_core.settings import Settings

    with Runtime(Settings(data_dir=tmp_path, _env_file=None), synthts_pm) as rt:
        entries = {e.name: e for e in rt.services.catalogue.signals()}
    assert set(GENERATORS) <= set(entries)
    gp = entries["gaussian_process"]
    assert gp.kind == "signal" and "timesynth" in gp.engines
    assert {p["name"] for p in gp.params} >= {"kernel", "lengthscale", "nu", "p"}
    assert entries["red_noise"].kind == "noise"
    assert entries["random_sinusoidal"].engines == ["vectorised"]
    assert entries["sinusoidal"].random is False
