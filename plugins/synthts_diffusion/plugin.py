"""Entry point of the built-in diffusion plugin: the ``diffusion`` architecture.

Its hyper-parameter space is plain data (``ParamSchema``), like every family's: the same data
drives Ray Tune search spaces, API schemas and TUI forms. torch is imported only when a model is
built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synthts_core import hookimpl
from synthts_core.errors import BadInputError
from synthts_core.schema import ParamSchema, choice_param, float_param, int_param

if TYPE_CHECKING:
    from synthts_core.registry import ArchitectureRegistry
    from synthts_diffusion.model import DiffusionModel

SPACE = ParamSchema((
    int_param("d_model", 64, 8, 1024, help="Width of the denoising transformer's tokens."),
    int_param("layers", 4, 1, 24, help="Transformer blocks of the denoiser."),
    int_param("heads", 4, 1, 16, help="Attention heads per block (d_model must be a multiple)."),
    int_param("patch_size", 0, 0, 4096, help="Points per token (0 = automatic: the smallest "
              "patch that gives at most 32 tokens). Smaller patches see finer detail and cost "
              "more."),
    int_param("harmonics", 8, 0, 256, help="Whole-window Fourier frequencies of the global "
              "season head (0 = off), beside a cubic trend head (Diffusion-TS's decomposition)."),
    float_param("lr", 1e-3, 1e-6, 0.1, log=True, help="Adam learning rate."),
    int_param("batch_size", 64, 2, 8192, help="Series per batch (shrunk for tiny sets)."),
    float_param("ema_decay", 0.995, 0.0, 0.9999, help="Sample from an exponential moving "
                "average of the weights with this decay per update (0 = off)."),
    float_param("fft_weight", 0.2, 0.0, 100.0, help="Weight of the spectral loss: the L1 "
                "error of the predicted series' Fourier transform (Diffusion-TS)."),
    float_param("cond_drop", 0.1, 0.0, 1.0, high_exclusive=True, help="Chance a training "
                "series' class is hidden, so the network also learns the unconditional model "
                "classifier-free guidance needs."),
    float_param("guidance_scale", 1.0, 0.0, 20.0, help="Classifier-free guidance at sampling: "
                "1 = the conditional model alone (one pass per step); above 1 pushes series "
                "towards their class (two passes per step)."),
    int_param("sampling_steps", 20, 1, 1000, help="ODE steps per sample (deterministic: the "
              "initial noise fixes the series). Fewer is faster and rougher."),
    choice_param("sampler", "ddim", ("ddim", "dpmpp_2m"), help="ddim = DDIM (eta 0), first "
                 "order; dpmpp_2m = DPM-Solver++(2M), second order (on the harmonics it "
                 "overshot the noise level where DDIM came closer)."),
    choice_param("lr_schedule", "cosine", ("constant", "cosine"), help="Learning-rate "
                 "schedule: cosine decays to lr/20 over the job's epochs."),
))

CONFORMANCE_PARAMS: dict[str, Any] = {"d_model": 16, "layers": 1, "heads": 2, "batch_size": 8,
                                      "sampling_steps": 3, "harmonics": 2}


class DiffusionArchitecture:
    """The ``diffusion`` architecture (a ``ModelArchitecture``): class-conditional, with the
    family's declarations the core reads."""

    name = "diffusion"
    family = "diffusion"
    description = ("Conditional denoising diffusion: a patch transformer predicts the clean "
                   "series under a cosine noise schedule with a spectral loss, classifier-free "
                   "guidance, weight averaging and deterministic DDIM / DPM-Solver++ sampling.")
    conditional = True
    space = SPACE
    scaling = "minmax"
    conformance_params = CONFORMANCE_PARAMS
    in_default_search = False

    def build(self, config: Mapping[str, Any], device: str = "cpu") -> DiffusionModel:
        """``config``: one value per space parameter (missing ones take their default) plus
        ``length``, ``n_channels``, ``n_classes``, ``seed``; extra keys are ignored."""
        from synthts_core.devices import resolve_device
        from synthts_diffusion.model import DiffusionConfig, DiffusionModel

        values = self.space.defaults()
        values.update({k: v for k, v in config.items() if k in values})
        checked = self.space.validate(values)
        for key in ("length", "n_channels"):
            if int(config.get(key, 0)) < 1:
                raise BadInputError(key, f"got {config.get(key)!r}", allowed="an integer >= 1")
        if checked["d_model"] % checked["heads"]:
            raise BadInputError("d_model", f"{checked['d_model']} is not a multiple of heads "
                                f"({checked['heads']})", allowed="a multiple of heads")
        cfg = DiffusionConfig.from_mapping({
            **checked, "architecture": self.name, "length": int(config["length"]),
            "n_channels": int(config["n_channels"]), "conditional": self.conditional,
            "n_classes": int(config.get("n_classes") or 0), "seed": int(config.get("seed", 0)),
            "total_epochs": int(config.get("total_epochs") or 0),
        })
        return DiffusionModel(cfg, resolve_device(device))


@hookimpl
def register_model_architectures(registry: ArchitectureRegistry) -> None:
    registry.add(DiffusionArchitecture())
