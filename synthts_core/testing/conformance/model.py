"""Conformance suite for model architectures of any family (``register_model_architectures``).

Provide an ``architecture`` fixture. The suite shrinks the model with the architecture's own
``conformance_params`` (its small values; no family's keys are written here), or override
``small_config`` (or the ``tiny_config`` fixture). Each check trains on a few dozen short series,
so the suite takes seconds. What ``build`` returns must keep the ``GenerativeModel`` contract
(``synthts_core.interfaces``): the training service checkpoints and resumes it, the model
service loads weights into a fresh build and samples it, the API relies on seeds, labels and
label weights meaning what they say; each check says which promise broke.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from synthts_core.errors import BadInputError
from synthts_core.interfaces import DEFAULT_FAMILY, BatchableModel, GenerativeModel
from synthts_core.schema import ParamSchema

MODEL_MEMBERS = tuple(n for n in vars(GenerativeModel) if not n.startswith("_"))


class ModelArchitectureConformance:
    n = 24
    n_channels = 2
    length = 32
    n_classes = 3
    overrides: dict[str, Any] = {}  # e.g. {"backbone": "conv"} to run the suite on another net

    @pytest.fixture
    def tiny_config(self, architecture) -> dict[str, Any]:
        return self.small_config(architecture)

    def small_config(self, architecture) -> dict[str, Any]:
        """Defaults shrunk by the architecture's ``conformance_params``."""
        config = architecture.space.defaults()
        small = getattr(architecture, "conformance_params", None) or {}
        config.update({k: v for k, v in small.items() if k in config})
        config.update(length=self.length, n_channels=self.n_channels,
                      n_classes=self.n_classes if architecture.conditional else 0,
                      label_names=[f"c{i}" for i in range(self.n_classes)], seed=5)
        config.update(self.overrides)
        return config

    def _data(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(0)
        labels = np.arange(self.n) % self.n_classes
        t = np.arange(self.length) / self.length
        phase = rng.uniform(0, 2 * np.pi, (self.n, self.n_channels, 1))
        values = np.sin(2 * np.pi * (labels[:, None, None] + 1) * t + phase)
        return values.astype(np.float32), labels.astype(np.int64)

    def _labels(self, architecture, n: int) -> np.ndarray | None:
        return np.arange(n) % self.n_classes if architecture.conditional else None

    def test_declares_itself(self, architecture) -> None:
        assert isinstance(architecture.name, str) and architecture.name
        assert isinstance(architecture.description, str) and architecture.description
        assert isinstance(architecture.conditional, bool)
        assert isinstance(architecture.space, ParamSchema)
        for p in architecture.space:
            assert p.help, f"parameter {p.name!r} needs help text"

    def test_space_defaults_validate(self, architecture) -> None:
        defaults = architecture.space.defaults()
        assert architecture.space.validate(defaults) == defaults

    def test_out_of_range_value_is_rejected_by_name(self, architecture) -> None:
        numeric = [p for p in architecture.space if p.kind in ("int", "float") and p.low is not None]
        assert numeric, "a space should bound its numeric parameters"
        p = numeric[0]
        with pytest.raises(BadInputError, match=p.name):
            architecture.space.validate({p.name: p.low - 1})

    def test_train_one_epoch_and_generate_shapes(self, architecture, tiny_config) -> None:
        values, labels = self._data()
        trainer = architecture.build(tiny_config, "cpu")
        losses = trainer.train_epoch(values, labels if architecture.conditional else None)
        assert losses and all(np.isfinite(v) for v in losses.values())
        out = trainer.generate(5, labels=self._labels(architecture, 5), seed=1)
        assert out.shape == (5, self.n_channels, self.length)
        assert out.dtype == np.float32 and np.isfinite(out).all()
        assert np.abs(out).max() <= 1.0 + 1e-6
        assert isinstance(trainer.latent_dim, int) and trainer.latent_dim > 0
        z = np.zeros((3, trainer.latent_dim), np.float32)
        assert trainer.generate(3, labels=self._labels(architecture, 3), z=z).shape[0] == 3

    def test_same_seed_same_output_on_cpu(self, architecture, tiny_config) -> None:
        values, labels = self._data()
        outs = []
        for _ in range(2):
            trainer = architecture.build(tiny_config, "cpu")
            trainer.train_epoch(values, labels if architecture.conditional else None)
            outs.append(trainer.generate(4, labels=self._labels(architecture, 4), seed=9))
        np.testing.assert_array_equal(outs[0], outs[1])
        other = architecture.build({**tiny_config, "seed": 6}, "cpu")
        assert not np.array_equal(outs[0], other.generate(
            4, labels=self._labels(architecture, 4), seed=9))

    def test_weights_round_trip_through_safetensors(self, architecture, tiny_config) -> None:
        values, labels = self._data()
        trained = architecture.build(tiny_config, "cpu")
        trained.train_epoch(values, labels if architecture.conditional else None)
        blob = trained.weights()
        assert isinstance(blob, bytes) and blob[8:9] == b"{"  # safetensors header
        fresh = architecture.build(tiny_config, "cpu")
        lab = self._labels(architecture, 6)
        assert not np.array_equal(fresh.generate(6, labels=lab, seed=2),
                                  trained.generate(6, labels=lab, seed=2))
        fresh.load_weights(blob)
        np.testing.assert_array_equal(fresh.generate(6, labels=lab, seed=2),
                                      trained.generate(6, labels=lab, seed=2))

    def test_missing_points_train_to_complete_series(self, architecture, tiny_config) -> None:
        """``supports_missing``: a fifth of the points NaN, and whole series missing one
        channel, train to finite losses and weights; the output is complete."""
        if not getattr(architecture, "supports_missing", False):
            pytest.skip(f"{architecture.name} does not declare supports_missing")
        values, labels = self._data()
        values[np.random.default_rng(3).random(values.shape) < 0.2] = np.nan
        values[::5, 0] = np.nan
        model = architecture.build(tiny_config, "cpu")
        for _ in range(2):
            losses = model.train_epoch(values, labels if architecture.conditional else None)
            assert losses and all(np.isfinite(v) for v in losses.values()), losses
        fresh = architecture.build(tiny_config, "cpu")
        fresh.load_weights(model.weights())
        out = fresh.generate(6, labels=self._labels(architecture, 6), seed=2)
        assert out.shape == (6, self.n_channels, self.length) and np.isfinite(out).all()

    def _trained(self, architecture, tiny_config, epochs: int = 2) -> Any:
        values, labels = self._data()
        model = architecture.build(tiny_config, "cpu")
        for _ in range(epochs):
            model.train_epoch(values, labels if architecture.conditional else None)
        return model

    def test_the_seed_picks_the_series(self, architecture, tiny_config) -> None:
        """Another seed gives other series (a family that ignores the seed would hand every
        request the same set), and the seeded series are not all alike."""
        model = self._trained(architecture, tiny_config)
        lab = self._labels(architecture, 4)
        a, b = model.generate(4, labels=lab, seed=1), model.generate(4, labels=lab, seed=2)
        assert not np.allclose(a, b, atol=1e-6), "seeds 1 and 2 gave the same series"
        np.testing.assert_array_equal(a, model.generate(4, labels=lab, seed=1))
        assert not np.allclose(a[0], a[1], atol=1e-6) or not np.allclose(a[1], a[2], atol=1e-6), \
            "one seed gave the same series four times: the latents are ignored"

    def test_the_label_picks_the_class(self, architecture, tiny_config) -> None:
        """For the same latents, another label gives another series (a family that ignores the
        labels would answer every label with the same draw)."""
        if not architecture.conditional:
            pytest.skip("unconditional architecture")
        model = self._trained(architecture, tiny_config)
        z = np.random.default_rng(1).standard_normal((3, model.latent_dim)).astype(np.float32)
        outs = [model.generate(3, labels=np.full(3, k), z=z) for k in range(self.n_classes)]
        for k in range(1, self.n_classes):
            assert not np.allclose(outs[0], outs[k], atol=1e-6), \
                f"labels 0 and {k} gave the same series for the same z: labels are ignored"

    def test_mixed_label_weights_give_a_mixture(self, architecture, tiny_config) -> None:
        """A half-and-half row is neither class's series (a family that reads only the
        largest weight, or none, would return one of them)."""
        if not architecture.conditional:
            pytest.skip("unconditional architecture")
        model = self._trained(architecture, tiny_config)
        z = np.random.default_rng(2).standard_normal((2, model.latent_dim)).astype(np.float32)
        eye = np.eye(self.n_classes, dtype=np.float32)
        mix = np.repeat(0.5 * (eye[[0]] + eye[[1]]), 2, axis=0)
        mixed = model.generate(2, label_weights=mix, z=z)
        for k in (0, 1):
            pure = model.generate(2, label_weights=np.repeat(eye[[k]], 2, axis=0), z=z)
            assert not np.allclose(mixed, pure, atol=1e-6), \
                f"a 50/50 mix of classes 0 and 1 gave class {k}'s series: weights are ignored"

    def test_declarations_are_valid(self, architecture, tiny_config) -> None:
        """What the family declares is what the core can use."""
        assert getattr(architecture, "scaling", "minmax") in ("minmax", "standard")
        assert isinstance(getattr(architecture, "family", DEFAULT_FAMILY), str)
        params = getattr(architecture, "conformance_params", {}) or {}
        unknown = sorted(set(params) - set(architecture.space.names))
        assert not unknown, f"conformance_params names no parameter of the space: {unknown}"
        model = architecture.build(tiny_config, "cpu")
        cost = getattr(model, "sample_cost", 1.0)
        assert isinstance(cost, int | float) and cost > 0, "sample_cost must be > 0"
        assert getattr(model, "latent_kind", "latent") in ("latent", "initial_noise")

    def test_label_weights_mix_classes(self, architecture, tiny_config) -> None:
        if not architecture.conditional:
            pytest.skip("unconditional architecture")
        trainer = architecture.build(tiny_config, "cpu")
        onehot = np.eye(self.n_classes, dtype=np.float32)[[0, 1]]
        z = np.random.default_rng(0).standard_normal((2, trainer.latent_dim)).astype(np.float32)
        hard = trainer.generate(2, labels=np.array([0, 1]), z=z)
        soft = trainer.generate(2, label_weights=onehot, z=z)
        np.testing.assert_allclose(hard, soft, atol=1e-5)

    def test_build_returns_a_generative_model(self, architecture, tiny_config) -> None:
        model = architecture.build(tiny_config, "cpu")
        missing = [m for m in MODEL_MEMBERS if not hasattr(model, m)]
        assert not missing, f"build() must return a GenerativeModel; it lacks {missing}"
        assert model.conditional == architecture.conditional, \
            "the model's conditional must be its architecture's"
        assert isinstance(model.latent_dim, int) and model.latent_dim > 0

    def test_checkpoint_resumes_the_same_model(self, architecture, tiny_config) -> None:
        """What a resumed trial relies on: a checkpoint loaded into a fresh build gives the same
        series for the same noise and labels, and training goes on as it would have."""
        values, labels = self._data()
        feed = labels if architecture.conditional else None
        trained = architecture.build(tiny_config, "cpu")
        trained.train_epoch(values, feed)
        blob = trained.checkpoint()
        assert isinstance(blob, bytes) and blob[8:9] == b"{", "checkpoint() must be safetensors"
        lab = self._labels(architecture, 6)
        z = np.random.default_rng(3).standard_normal((6, trained.latent_dim)).astype(np.float32)
        fresh = architecture.build(tiny_config, "cpu")
        assert not np.array_equal(fresh.generate(6, labels=lab, z=z),
                                  trained.generate(6, labels=lab, z=z)), \
            "one epoch of training should change what the model generates"
        fresh.load_checkpoint(blob)
        np.testing.assert_array_equal(
            fresh.generate(6, labels=lab, z=z), trained.generate(6, labels=lab, z=z),
            err_msg="after load_checkpoint a fresh build must generate what the checkpointed "
                    "model generated (same z, same labels)")
        np.testing.assert_array_equal(
            fresh.generate(6, labels=lab, seed=4), trained.generate(6, labels=lab, seed=4),
            err_msg="after load_checkpoint the same seed must give the same series")
        ahead = trained.train_epoch(values, feed)
        resumed = fresh.train_epoch(values, feed)
        assert resumed.keys() == ahead.keys()
        np.testing.assert_allclose([resumed[k] for k in ahead], list(ahead.values()),
                                   rtol=1e-5, atol=1e-6, err_msg="a resumed model must train on "
                                   "as the checkpointed one (optimiser state and RNG included)")
        np.testing.assert_allclose(
            fresh.generate(6, labels=lab, z=z), trained.generate(6, labels=lab, z=z),
            rtol=1e-5, atol=1e-6, err_msg="a resumed model must train on as the checkpointed one")

    def test_bad_arguments_are_refused_by_name(self, architecture, tiny_config) -> None:
        model = architecture.build(tiny_config, "cpu")
        bad: list[tuple[str, dict[str, Any]]] = [
            ("z", {"labels": self._labels(architecture, 2),
                   "z": np.zeros((2, model.latent_dim + 1), np.float32)})]
        if architecture.conditional:
            bad += [("labels", {"labels": np.array([0, self.n_classes])}),
                    ("label_weights", {"label_weights": np.ones((2, self.n_classes + 1),
                                                                np.float32)})]
        else:
            bad += [("labels", {"labels": np.array([0, 1])})]
        for field, kwargs in bad:
            try:
                model.generate(2, **kwargs)
            except BadInputError as exc:
                assert exc.field == field, \
                    f"a bad {field} must raise BadInputError({field!r}, ...), not {exc.field!r}"
            except Exception as exc:
                pytest.fail(f"a bad {field} must raise BadInputError({field!r}, ...) (the API "
                            f"answers 422), not {type(exc).__name__}: {exc}")
            else:
                pytest.fail(f"a bad {field} was accepted: {kwargs}")

    def test_draws_made_ahead_give_the_same_series(self, architecture, tiny_config) -> None:
        """A ``BatchableModel`` (optional) hands out the latents and noise a seeded call
        draws, so the API can serve several requests in one pass without changing any."""
        values, labels = self._data()
        model = architecture.build(tiny_config, "cpu")
        if not isinstance(model, BatchableModel):
            pytest.skip("not a BatchableModel (optional)")
        model.train_epoch(values, labels if architecture.conditional else None)
        lab = self._labels(architecture, 5)
        alone = model.generate(5, labels=lab, seed=12)
        z = model.sampling_latents(5, seed=12)
        assert z.shape == (5, model.latent_dim)
        ahead = model.generate(5, labels=lab, z=z, noise=model.sampling_noise(5, seed=12))
        np.testing.assert_allclose(ahead, alone, rtol=1e-5, atol=1e-6,
                                   err_msg="sampling_latents/sampling_noise must be what "
                                           "generate(n, seed=seed) draws")
