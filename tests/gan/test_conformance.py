"""Every built-in GAN architecture passes the conformance suite third parties get."""

from __future__ import annotations

import pytest
from synthts_gan.plugin import builtin_architectures

from synthts_core.testing.conformance.model import ModelArchitectureConformance

ARCHS = {a.name: a for a in builtin_architectures()}


class TestBuiltinArchitectures(ModelArchitectureConformance):
    @pytest.fixture(params=sorted(ARCHS))
    def architecture(self, request):
        return ARCHS[request.param]


class TestConvBackbone(ModelArchitectureConformance):
    @pytest.fixture(params=sorted(ARCHS))
    def architecture(self, request):
        return ARCHS[request.param]

    overrides = {"backbone": "conv"}


class TestQualityOptions(ModelArchitectureConformance):
    """The searchable quality options (noise inputs, projection critic, spectral norm, EMA
    sampling, class-conditional moment loss, cosine schedule, mean correction) keep every
    contract: seeding,
    weights round trip, label mixing, output range."""

    @pytest.fixture(params=sorted(ARCHS))
    def architecture(self, request):
        return ARCHS[request.param]

    overrides = {"noise_inputs": True, "conditioning": "projection", "spectral_norm": True,
                 "ema_decay": 0.9, "moment_weight": 1.0, "lr_schedule": "cosine",
                 "lr_d_ratio": 2.0, "total_epochs": 3, "mean_correction": True}


class TestQualityOptionsConv(TestQualityOptions):
    overrides = {**TestQualityOptions.overrides, "backbone": "conv"}
