"""The GAN conformance suite fails a third-party architecture that breaks the model contract,
and says which promise broke: a plugin author learns it from a failing test, not a failed job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from synthts_gan.plugin import builtin_architectures

from synthts_core.testing.conformance.model import ModelArchitectureConformance

CWGAN = {a.name: a for a in builtin_architectures()}["cwgan_gp"]


class _Wrapped:
    """A built-in model with one deliberate bug (set by the subclass)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _DropsALayerOnLoad(_Wrapped):
    """``load_checkpoint`` restores everything but the generator's last layer, which keeps the
    weights it was built with: a hand-written loader that missed one layer."""

    def load_checkpoint(self, data: bytes) -> None:
        gen = self.inner.gen
        last = [k for k in gen.state_dict() if k.endswith((".weight", ".bias"))][-2:]
        built = {k: gen.state_dict()[k].clone() for k in last}
        self.inner.load_checkpoint(data)
        gen.load_state_dict({**gen.state_dict(), **built})


class _LabelsAsValueError(_Wrapped):
    """Raises a bare ``ValueError`` for bad labels (an HTTP 500 in the API) instead of the
    core's ``BadInputError`` naming the argument."""

    def generate(self, n: int, labels: Any = None, **kwargs: Any) -> np.ndarray:
        if labels is not None and np.max(labels) >= self.inner.n_classes:
            raise ValueError("label out of range")
        return self.inner.generate(n, labels=labels, **kwargs)


class _IgnoresTheSeed(_Wrapped):
    """Draws every request's latents from one fixed seed."""

    def generate(self, n: int, labels: Any = None, z: Any = None, seed: Any = None,
                 **kwargs: Any) -> np.ndarray:
        return self.inner.generate(n, labels=labels, z=z, seed=0 if z is None else None,
                                   **kwargs)


class _IgnoresTheLabels(_Wrapped):
    """Answers every label with class 0's series."""

    def generate(self, n: int, labels: Any = None, **kwargs: Any) -> np.ndarray:
        if labels is not None:
            labels = np.zeros_like(np.asarray(labels))
        return self.inner.generate(n, labels=labels, **kwargs)


class _ReadsOnlyTheLargestWeight(_Wrapped):
    """Turns soft label weights into the hard label of their largest entry."""

    def generate(self, n: int, label_weights: Any = None, **kwargs: Any) -> np.ndarray:
        if label_weights is not None:
            kwargs["labels"] = np.asarray(label_weights).argmax(axis=1)
        return self.inner.generate(n, **kwargs)


class _Broken:
    """The built-in conditional WGAN-GP, building models with ``bug``."""

    def __init__(self, bug: type[_Wrapped]) -> None:
        self.bug = bug
        self.name, self.description = "broken", CWGAN.description
        self.conditional, self.space = CWGAN.conditional, CWGAN.space
        self.conformance_params = CWGAN.conformance_params

    def build(self, config: Mapping[str, Any], device: str = "cpu") -> Any:
        return self.bug(CWGAN.build(config, device))


SUITE = ModelArchitectureConformance()


def test_the_unbroken_architecture_passes() -> None:
    """The checks below fail because of the bug, not because of the wrapper."""
    arch = _Broken(_Wrapped)
    SUITE.test_checkpoint_resumes_the_same_model(arch, SUITE.small_config(arch))
    SUITE.test_bad_arguments_are_refused_by_name(arch, SUITE.small_config(arch))
    SUITE.test_the_seed_picks_the_series(arch, SUITE.small_config(arch))
    SUITE.test_the_label_picks_the_class(arch, SUITE.small_config(arch))
    SUITE.test_mixed_label_weights_give_a_mixture(arch, SUITE.small_config(arch))


@pytest.mark.parametrize(("bug", "check", "says"), [
    (_IgnoresTheSeed, "test_the_seed_picks_the_series", "seeds 1 and 2 gave the same series"),
    (_IgnoresTheLabels, "test_the_label_picks_the_class", "labels are ignored"),
    (_ReadsOnlyTheLargestWeight, "test_mixed_label_weights_give_a_mixture",
     "weights are ignored"),
])
def test_a_family_that_ignores_an_input_fails(bug: type[_Wrapped], check: str, says: str
                                              ) -> None:
    """A family that ignores the seed, the labels or the label weights fails the suite."""
    arch = _Broken(bug)
    with pytest.raises(AssertionError, match=says):
        getattr(SUITE, check)(arch, SUITE.small_config(arch))


def test_a_checkpoint_that_drops_a_layer_fails_the_round_trip() -> None:
    arch = _Broken(_DropsALayerOnLoad)
    with pytest.raises(AssertionError, match="after load_checkpoint a fresh build must generate"):
        SUITE.test_checkpoint_resumes_the_same_model(arch, SUITE.small_config(arch))


def test_a_bare_value_error_for_bad_labels_fails() -> None:
    arch = _Broken(_LabelsAsValueError)
    with pytest.raises(pytest.fail.Exception, match=r"must raise BadInputError.*not ValueError"):
        SUITE.test_bad_arguments_are_refused_by_name(arch, SUITE.small_config(arch))
