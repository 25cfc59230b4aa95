"""Every built-in GAN architecture passes the conformance suite third parties get."""

from __future__ import annotations

import pytest
from synthts_gan.plugin import builtin_architectures

from synthts_core.testing.conformance.gan import GanArchitectureConformance

ARCHS = {a.name: a for a in builtin_architectures()}


class TestBuiltinArchitectures(GanArchitectureConformance):
    @pytest.fixture(params=sorted(ARCHS))
    def architecture(self, request):
        return ARCHS[request.param]


class TestConvBackbone(GanArchitectureConformance):
    @pytest.fixture(params=sorted(ARCHS))
    def architecture(self, request):
        return ARCHS[request.param]

    overrides = {"backbone": "conv"}
