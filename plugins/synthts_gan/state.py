"""Weights and training state as safetensors bytes: flat named tensors, nothing pickled.

Keys: ``generator.<param>``, ``critic.<param>``, and ``mean_gap`` when the mean correction is
on; with the training state also ``opt_g.<i>.<moment>``, ``opt_d.<i>.<moment>`` (Adam's step and
moments per parameter index), ``rng`` (the seeded torch.Generator's state as uint8) and
``real_class_mean``. A DP trainer's second generator, the one its masks and noise come from, is
never saved (``synthts_gan.private``): a checkpoint must not let anyone replay them. The epoch count (and the epoch the gap was measured at, and the DP steps
taken) rides in the metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from synthts_gan._errors import BadInputError

if TYPE_CHECKING:
    from synthts_gan.trainer import GanTrainer

FORMAT = "synthts-gan/1"


def _module_tensors(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().cpu().contiguous().clone()
            for k, v in module.state_dict().items()}


def _optim_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for idx, state in opt.state_dict()["state"].items():
        for name, value in state.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            out[f"{prefix}.{idx}.{name}"] = tensor.detach().cpu().contiguous().clone()
    return out


def save_state(trainer: GanTrainer, *, with_training_state: bool) -> bytes:
    from safetensors.torch import save as st_save  # here: the benchmark box may lack it

    # a model version's generator is the one that samples (the weight average when EMA is on);
    # a training checkpoint keeps the live generator and the average apart
    sampler = trainer.gen if with_training_state else trainer.sampler
    tensors = _module_tensors("generator", sampler)
    tensors.update(_module_tensors("critic", trainer.critic))
    if with_training_state and trainer.gen_ema is not None:
        tensors.update(_module_tensors("generator_ema", trainer.gen_ema))
    meta = {"format": FORMAT, "architecture": trainer.config.architecture,
            "backbone": trainer.config.backbone}
    if trainer.mean_gap is not None:
        tensors["mean_gap"] = trainer.mean_gap.detach().cpu().contiguous().clone()
        meta["gap_epoch"] = str(trainer._gap_epoch)
    if with_training_state:
        tensors.update(_optim_tensors("opt_g", trainer.opt_g))
        tensors.update(_optim_tensors("opt_d", trainer.opt_d))
        tensors["rng"] = trainer.rng.get_state().clone()
        meta["epochs_done"] = str(trainer.epochs_done)
        meta["dp_steps"] = str(trainer.dp_steps)  # a resumed DP trial goes on counting
        if trainer.real_class_mean is not None:
            tensors["real_class_mean"] = trainer.real_class_mean.detach().cpu().contiguous()
    return st_save(tensors, metadata=meta)


def _load_mean_correction(trainer: GanTrainer, tensors: dict[str, torch.Tensor],
                          meta: dict[str, str], with_training_state: bool) -> None:
    if not trainer.config.mean_correction:
        return
    dev = trainer.device
    if with_training_state and "real_class_mean" in tensors:
        trainer.real_class_mean = tensors["real_class_mean"].to(dev)
    if "mean_gap" in tensors:
        trainer.mean_gap = tensors["mean_gap"].to(dev)
        # weights only: the gap belongs to these weights as they are now
        trainer._gap_epoch = (int(meta.get("gap_epoch", "-1")) if with_training_state
                              else trainer.epochs_done)
    elif not with_training_state or trainer.real_class_mean is None:
        raise BadInputError("weights", "the model has mean_correction on, but these weights "
                            "carry no mean_gap (saved by a model without it?)",
                            allowed="weights of a model with this config")


def _load_module(prefix: str, module: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    expected = module.state_dict()
    got = {k.removeprefix(prefix + "."): v for k, v in tensors.items()
           if k.startswith(prefix + ".")}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    if missing or extra:
        raise BadInputError("weights", f"do not fit this {prefix}: missing {missing[:3]}, "
                            f"unexpected {extra[:3]} (built with other hyper-parameters?)",
                            allowed="weights of a model with this config")
    for key, value in expected.items():
        if value.shape != got[key].shape:
            raise BadInputError("weights", f"do not fit this {prefix}: {key} has shape "
                                f"{tuple(got[key].shape)}, expected {tuple(value.shape)}",
                                allowed="weights of a model with this config")
    # in-place copies keep tensor addresses, so a captured CUDA graph stays valid
    module.load_state_dict(got)


def _migrate(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights saved before the critic's last layer was named ``score`` kept it as the body's
    last ``Linear``: rename it so versions registered then still load."""
    if any(k.startswith("critic.score.") for k in tensors):
        return tensors
    indices = [int(k.split(".")[2]) for k in tensors
               if k.startswith("critic.body.") and k.split(".")[2].isdigit()]
    if not indices:
        return tensors
    last = f"critic.body.{max(indices)}."
    return {("critic.score." + k.removeprefix(last)) if k.startswith(last) else k: v
            for k, v in tensors.items()}


def _load_optim(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]
                ) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    sd = opt.state_dict()
    sd["state"] = state
    opt.load_state_dict(sd)


def load_state(trainer: GanTrainer, data: bytes, *, with_training_state: bool) -> None:
    from safetensors.torch import load as st_load

    tensors = _migrate(st_load(data))
    meta = _metadata(data)
    _load_module("generator", trainer.gen, tensors)
    _load_module("critic", trainer.critic, tensors)
    if trainer.gen_ema is not None:
        ema_prefix = "generator_ema" if with_training_state else "generator"
        _load_module(ema_prefix, trainer.gen_ema, tensors)
    if not with_training_state:
        _load_mean_correction(trainer, tensors, meta, False)
        return
    if "rng" not in tensors:
        raise BadInputError("checkpoint", "these bytes hold weights only, not a training "
                            "checkpoint", allowed="bytes from checkpoint()")
    _load_optim("opt_g", trainer.opt_g, tensors)
    _load_optim("opt_d", trainer.opt_d, tensors)
    trainer.rng.set_state(tensors["rng"])
    trainer.epochs_done = int(meta.get("epochs_done", "0"))
    trainer.dp_steps = int(meta.get("dp_steps", "0"))
    _load_mean_correction(trainer, tensors, meta, True)


def _metadata(data: bytes) -> dict[str, str]:
    """The safetensors header's ``__metadata__`` (JSON after an 8-byte little-endian size)."""
    import json

    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    return header.get("__metadata__", {}) or {}
