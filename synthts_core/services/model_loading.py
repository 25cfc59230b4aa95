"""Loading a registered version.

Loading never unpickles: the module is rebuilt by the architecture plugin named in the
version's config and gets its safetensors weights (``LoadedModel`` in the core, which reads the
units its output is in from the config). A version whose config does not record them (one
registered before training wrote ``units``) gets them from the stored training set it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synthts_core.devices import resolve_device
from synthts_core.domain import ModelVersionRef
from synthts_core.errors import NotFoundError
from synthts_core.loaded_model import LoadedModel

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime


def load_model(rt: Runtime, ref: ModelVersionRef) -> LoadedModel:
    """Download the bundle, rebuild the module through its plugin, load the weights."""
    bundle = rt.tracker.load_bundle(ref.name, ref.version)
    arch_name = bundle.config.get("architecture")
    if not isinstance(arch_name, str) or arch_name not in rt.registries.architectures:
        raise NotFoundError("model architecture", str(arch_name),
                            hint=f"model {ref.name}@{ref.version} needs it; installed: "
                            f"{', '.join(rt.registries.architectures.names()) or 'none'}")
    device = resolve_device(rt.settings.device)
    trainer = rt.registries.architectures.get(arch_name).build(bundle.config, device)
    trainer.load_weights(bundle.weights)
    model = LoadedModel(ref, bundle.config, trainer, device, bundle.metrics)
    if model.data_normalisation is None:  # the config does not record them: ask storage
        model.data_normalisation, model.output_units = dataset_units(rt, bundle.config)
    return model


def dataset_units(rt: Runtime, config: Mapping[str, Any]) -> tuple[Any, str]:
    """(the import normalisation, the units ``generate`` answers in) of the stored training
    set the config names. A model learned the values stored under the checksum it records:
    the current ones are real units; the checksum a dataset had before its values were
    migrated means normalised ones. Identity and real units when the dataset is gone or was
    replaced."""
    from synthts_core.domain import Normalisation

    dataset = config.get("dataset")
    if not isinstance(dataset, Mapping) or not isinstance(dataset.get("name"), str):
        return Normalisation(), "real"
    try:
        meta = rt.storage.get_dataset_meta(dataset["name"])
    except Exception:  # gone, unreadable or no storage: the model's units are all there is
        return Normalisation(), "real"
    learned = dataset.get("checksum")
    if meta.migrated is not None and learned == meta.migrated.previous_checksum:
        return meta.normalisation, "normalised"
    if learned and meta.checksum != learned:
        return Normalisation(), "real"
    return meta.normalisation, "real"
