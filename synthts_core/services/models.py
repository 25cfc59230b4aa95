"""Registered models: browse the registry, show a version, and generate from one.

``ModelService`` (``runtime.services.models``) is the way in for the API and the CLI. What it
stands on has rooms of its own: a loaded version (``synthts_core.loaded_model``), loading one
(``model_loading``), the API's cache, batching and inference thread
(``model_cache``, ``batching``, ``serving``) and latent walks (``interpolation``). Torch is
imported only when a model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from synthts_core.domain import Dataset, ModelVersionRef, RegisteredModel, check_name
from synthts_core.errors import BadInputError, NotFoundError
from synthts_core.limits import check_volume
from synthts_core.loaded_model import LoadedModel
from synthts_core.services.model_loading import load_model

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime

DEFAULT_VERSION = "latest"


def parse_model_ref(text: str) -> tuple[str, str]:
    """``name``, ``name@3``, ``name@best`` -> (name, version or alias); no suffix means latest."""
    if not isinstance(text, str) or not text.strip():
        raise BadInputError("model", f"got {text!r}", allowed="NAME or NAME@VERSION|ALIAS")
    name, sep, version = text.strip().partition("@")
    check_name(name, "model")
    if sep and not version:
        raise BadInputError("model", f"{text!r} has nothing after '@'",
                            allowed="NAME@3, NAME@best or NAME@latest")
    return name, version or DEFAULT_VERSION


def version_privacy(config: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    """A version's differential-privacy record (None: trained without DP) and the one line
    ``models show``, the API, the TUI and the report print (``synthts_core.privacy``)."""
    from synthts_core import privacy

    return privacy.of_config(config), privacy.summary(config)


def version_gaps(config: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    """A version's config with its pattern of missing points summarised (its encoded rates
    replaced by their size: ``--json`` shows them) and the one line ``models show`` prints
    about that pattern (``synthts_core.missing``)."""
    from synthts_core.missing import describe_pattern

    config = dict(config or {})
    pattern = config.get("missing")
    if isinstance(pattern, Mapping) and pattern.get("rates_u8"):
        config["missing"] = {**pattern, "rates_u8": f"({len(pattern['rates_u8'])} characters)"}
    return config, describe_pattern(pattern if isinstance(pattern, Mapping) else None)


@dataclass
class Sample:
    """Generated series in real units with the model that made them."""

    values: np.ndarray
    labels: np.ndarray | None
    label_names: list[str]
    ref: ModelVersionRef
    seed: int | None = None
    units: str = "real"
    normalisation: Any = None  # the training set's import normalisation
    lengths: np.ndarray | None = None  # each series' length (NaN past it); None: all as long

    def to_dataset(self, name: str, config: Mapping[str, Any] | None = None) -> Dataset:
        """A synthetic dataset (``source="synthetic"``) recording which version made it,
        stored like its training set: real units, with the same normalisation recorded."""
        from synthts_core.normalisation import as_normalisation, to_real

        spec = {"model": self.ref.name, "version": self.ref.version, "seed": self.seed,
                "dataset": (config or {}).get("dataset")}
        norm = as_normalisation(self.normalisation)
        values = to_real(self.values, norm) if self.units == "normalised" else self.values
        return Dataset.build(
            name, values, self.labels, self.label_names if self.labels is not None else None,
            lengths=self.lengths, source="synthetic", spec=spec, tags=["synthetic"],
            normalisation=norm, description=f"sampled from {self.ref.name}@{self.ref.version}")


class ModelService:
    """Registered models: browse the registry, load versions, generate from them."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    # ------------------------------------------------------------------------- the registry

    def list(self) -> list[RegisteredModel]:
        """Every registered model with its latest version and aliases."""
        return self.rt.tracker.list_models()

    def get(self, name: str) -> RegisteredModel:
        """One registered model by name."""
        check_name(name, "name")
        for model in self.list():
            if model.name == name:
                return model
        raise NotFoundError("model", name, hint="GET /api/v1/models lists registered models")

    def versions(self, name: str) -> list[ModelVersionRef]:
        return self.rt.tracker.list_versions(check_name(name, "model"))

    def version(self, name: str, version_or_alias: str = DEFAULT_VERSION) -> ModelVersionRef:
        """One version by number or alias (``latest``, ``best``, ...)."""
        return self.rt.tracker.get_version(check_name(name, "model"), version_or_alias)

    def show(self, ref_text: str) -> ModelVersionRef:
        """``NAME[@version|alias]`` with its whole config (read from the version's files when
        it was too large for a tag)."""
        name, version = parse_model_ref(ref_text)
        ref = self.version(name, version)
        if not ref.config:
            ref.config = self.rt.tracker.load_bundle(name, ref.version).config
        return ref

    # ------------------------------------------------------------------------- loading

    def load(self, name: str, version_or_alias: str = DEFAULT_VERSION) -> LoadedModel:
        """A version loaded afresh: the bundle downloaded, the module rebuilt through its plugin,
        the weights loaded (no cache; the API's ``ServingService`` keeps one)."""
        return load_model(self.rt, self.version(name, version_or_alias))

    # ------------------------------------------------------------------------- generation

    def sample(self, ref_text: str, n: int | None = None,
               labels: Sequence[str | int] | None = None, seed: int | None = None,
               counts: Mapping[str, int] | None = None, units: str = "real",
               length: int | None = None, missing: str = "none") -> Sample:
        """Load ``NAME[@version|alias]`` and generate from it (one-shot, no cache), in the
        units the training data was imported in unless ``units="normalised"``; ``length``
        longer than the trained one from a family that paints longer series; ``missing``
        ``learned`` for the learnt pattern of missing points (``LoadedModel.with_gaps``)."""
        from synthts_core.missing import check_mode
        from synthts_core.normalisation import check_units

        check_units(units)
        check_mode(missing)
        name, version = parse_model_ref(ref_text)
        model = self.load(name, version)
        model.gaps_pattern(missing, length)  # refused before any work
        values, label_idx = model.generate(n, labels=labels, counts=counts, seed=seed,
                                           max_values=self.rt.settings.max_generate_values,
                                           length=length)
        values, lengths = model.finish(values, label_idx, seed, missing, length)
        return Sample(model.in_units(values, units), label_idx, model.label_names, model.ref,
                      seed, units=units, normalisation=model.data_normalisation,
                      lengths=lengths)

    @staticmethod
    def check_walk(start_label: str | None, end_label: str | None) -> None:
        """A label walk names both ends (checked before the model is loaded)."""
        if end_label is not None and start_label is None:
            raise BadInputError("start_label", "is required with end_label",
                                allowed="both labels for a label walk")

    def walk(self, model: LoadedModel, *, steps: int, seed: int,
             start_label: str | None = None, end_label: str | None = None,
             start: Any = None, end: Any = None) -> Callable[[], Any]:
        """A latent walk of ``model``, checked now and returned as a call that runs it
        (blocking: the caller runs it where its forward passes run): between two labels at
        one latent point when ``end_label`` is given, else between two latent points (vectors
        or seeds; ``seed`` and ``seed + 1`` by default) holding ``start_label``."""
        from functools import partial

        from synthts_core.services import interpolation

        self.check_walk(start_label, end_label)
        check_volume(steps, model.n_channels, model.length, self.rt.settings.max_generate_values)
        first = start if start is not None else seed
        if end_label is not None:
            return partial(interpolation.between_labels, model, start_label, end_label, steps,
                           first)
        last = end if end is not None else seed + 1
        return partial(interpolation.between_latents, model, first, last, steps, start_label)
