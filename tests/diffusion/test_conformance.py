"""The diffusion family passes the conformance suite every model architecture gets."""

from __future__ import annotations

import pytest
from synthts_diffusion.plugin import DiffusionArchitecture

from synthts_core.testing.conformance.model import ModelArchitectureConformance


class TestDiffusion(ModelArchitectureConformance):
    @pytest.fixture
    def architecture(self):
        return DiffusionArchitecture()


class TestGuidedDiffusion(TestDiffusion):
    """Classifier-free guidance (two passes a step), no weight averaging, explicit patches,
    no global heads: the same contract holds."""

    overrides = {"guidance_scale": 2.0, "ema_decay": 0.0, "patch_size": 4, "harmonics": 0,
                 "lr_schedule": "constant"}
