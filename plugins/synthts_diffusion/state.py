"""Weights and training state as safetensors bytes: named tensors, nothing pickled.

Keys: ``denoiser.<param>`` (the network that samples: the weight average when EMA is on); a
checkpoint adds ``live.<param>`` (the network being trained), ``adam.<i>.<moment>`` and ``rng``,
with the epoch and update counts in the metadata.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import torch

from synthts_diffusion._errors import BadInputError

if TYPE_CHECKING:
    from synthts_diffusion.model import DiffusionModel

FORMAT = "synthts-diffusion/1"


def _tensors_of(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().cpu().contiguous().clone()
            for k, v in module.state_dict().items()}


def save_state(model: DiffusionModel, *, with_training_state: bool) -> bytes:
    from safetensors.torch import save

    tensors = _tensors_of("denoiser", model.sampling_net)
    meta = {"format": FORMAT, "architecture": model.config.architecture}
    if with_training_state:
        tensors.update(_tensors_of("live", model.net))
        for idx, state in model.opt.state_dict()["state"].items():
            for name, value in state.items():
                tensors[f"adam.{idx}.{name}"] = torch.as_tensor(value).detach().cpu().clone()
        tensors["rng"] = model.rng.get_state().clone()
        meta.update(epochs_done=str(model.epochs_done), updates=str(model.updates))
    return save(tensors, metadata=meta)


def _fill(prefix: str, module: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    got = {k.removeprefix(prefix + "."): v for k, v in tensors.items()
           if k.startswith(prefix + ".")}
    expected = module.state_dict()
    wrong = sorted(k for k in expected.keys() | got.keys()
                   if k not in got or k not in expected or got[k].shape != expected[k].shape)
    if wrong:
        raise BadInputError("weights", f"do not fit this network ({', '.join(wrong[:3])}): "
                            "built with other hyper-parameters?",
                            allowed="weights of a model with this config")
    module.load_state_dict(got)


def load_state(model: DiffusionModel, data: bytes, *, with_training_state: bool) -> None:
    from safetensors.torch import load

    try:
        tensors = load(data)
        size = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8:8 + size]).get("__metadata__") or {}
    except Exception as exc:
        raise BadInputError("weights", f"are not safetensors bytes ({exc})",
                            allowed="bytes from weights() or checkpoint()") from exc
    if meta.get("format") != FORMAT:
        raise BadInputError("weights", f"hold format {meta.get('format')!r}",
                            allowed=f"{FORMAT} (a diffusion model's weights)")
    if not with_training_state:
        _fill("denoiser", model.net, tensors)
        if model.ema is not None:
            model.ema.load_state_dict(model.net.state_dict())
        return
    if "rng" not in tensors:
        raise BadInputError("checkpoint", "these bytes hold weights only, not a training "
                            "checkpoint", allowed="bytes from checkpoint()")
    _fill("live", model.net, tensors)
    if model.ema is not None:
        _fill("denoiser", model.ema, tensors)
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("adam."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    saved = model.opt.state_dict()
    saved["state"] = state
    model.opt.load_state_dict(saved)
    model.rng.set_state(tensors["rng"])
    model.epochs_done = int(meta.get("epochs_done", "0"))
    model.updates = int(meta.get("updates", "0"))
