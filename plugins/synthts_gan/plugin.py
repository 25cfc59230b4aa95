"""Entry point of the built-in gan plugin: C-GAN, WGAN-GP and conditional WGAN-GP.

The hyper-parameter spaces are plain data (``ParamSchema``); the same data drives Ray Tune
search spaces, API schemas and TUI forms. torch is imported only when a model is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synthts_core import hookimpl
from synthts_core.errors import BadInputError
from synthts_core.privacy import dp_params
from synthts_core.schema import ParamSchema, bool_param, choice_param, float_param, int_param
from synthts_gan.config import GanConfig, check_private

if TYPE_CHECKING:
    from synthts_core.domain import DataShape
    from synthts_core.registry import ArchitectureRegistry
    from synthts_gan.trainer import GanTrainer

BACKBONE_HELP = ("Network family: 'mlp' = the seed's fully connected networks, 'conv' = 1-D "
                 "convolutional (weights independent of the length; better on long series).")

AUGMENT_HELP = ("Random circular shift of every series each epoch. It teaches the model that "
                "phase is random: only for data whose phase really is (evaluation then compares "
                "against shifted real series and says so).")
NOISE_HELP = ("Per-point noise inputs: the generator outputs a mean and a noise scale at every "
              "point, so it can make white noise of the right level (a conv stack alone is a "
              "smoother).")
EMA_HELP = ("Sample from an exponential moving average of the generator's weights with this "
            "decay per generator update (0 = off; 0.99-0.999 typical).")
MOMENT_HELP = ("Weight of the class-conditional moment loss (TimeGAN's, per class): generated "
               "series should match the real per-point mean and std of their class (0 = off).")
MEAN_HELP = ("Mean correction: every sample gets its class's per-point gap between the real "
             "mean and the generator's own mean (measured on a fixed draw after training) "
             "added. A GAN leaves each class's mean off by a little, and a strong detector "
             "sees that (harmonics: 1.5-2.5 standard errors, detector 0.60-0.72 per class; "
             "corrected: 0.47-0.61).")
CONDITIONING_HELP = ("How the critic sees the label: 'concat' = as extra input (the seed's), "
                     "'projection' = inner product of a class embedding with the critic's "
                     "features (Miyato & Koyama 2018).")


DEFAULTS = GanConfig()
"""Every default of the space is the config's own (``GanConfig``): one place for each."""


def _common() -> tuple:
    d = DEFAULTS
    return (
        choice_param("backbone", d.backbone, ("mlp", "conv"), help=BACKBONE_HELP),
        int_param("latent_dim", d.latent_dim, 2, 1024,
                  help="Size of the generator's noise vector."),
        float_param("lr", d.lr, 1e-6, 0.1, log=True,
                    help="Adam learning rate of the generator."),
        float_param("lr_d_ratio", d.lr_d_ratio, 0.05, 20.0, log=True,
                    help="Critic learning rate as a multiple of lr (two time-scale updates)."),
        float_param("beta1", d.beta1, 0.0, 1.0, high_exclusive=True, help="Adam beta1."),
        float_param("beta2", d.beta2, 0.0, 1.0, high_exclusive=True, help="Adam beta2."),
        int_param("batch_size", d.batch_size, 2, 8192,
                  help="Series per batch (shrunk for tiny sets)."),
        int_param("conv_width", d.conv_width, 4, 512,
                  help="conv backbone: channels of the widest-resolution layer."),
        int_param("conv_layers", d.conv_layers, 1, 8, help="conv backbone: number of 2x "
                  "down/upsampling layers; needs length >= 4 * 2**conv_layers."),
        choice_param("precision", d.precision, ("fp32", "bf16"),
                     help="bf16 autocast on CUDA (CPU always runs fp32)."),
        bool_param("cuda_graphs", d.cuda_graphs,
                   help="Capture the training step as a CUDA graph on GPU."),
        bool_param("augment", d.augment, help=AUGMENT_HELP),
        bool_param("noise_inputs", d.noise_inputs, help=NOISE_HELP),
        float_param("ema_decay", d.ema_decay, 0.0, 0.9999, help=EMA_HELP),
        choice_param("conditioning", d.conditioning, ("concat", "projection"),
                     help=CONDITIONING_HELP),
        bool_param("spectral_norm", d.spectral_norm,
                   help="Spectral normalisation of every critic layer."),
        float_param("moment_weight", d.moment_weight, 0.0, 100.0, help=MOMENT_HELP),
        bool_param("mean_correction", d.mean_correction, help=MEAN_HELP),
        choice_param("lr_schedule", d.lr_schedule, ("constant", "cosine"),
                     help="Learning-rate schedule: cosine decays both rates to lr/20 over the "
                          "job's epochs, so the generator settles instead of jittering."),
        *dp_params(),  # differential privacy (synthts_gan.private; off by default)
    )


def _embed() -> Any:
    return int_param("embed_dim", DEFAULTS.embed_dim, 1, 512, help="Size of the label embedding.")


def _wgan() -> tuple:
    return (
        int_param("n_critic", DEFAULTS.n_critic, 1, 50,
                  help="Critic updates per generator update."),
        float_param("gp_weight", DEFAULTS.gp_weight, 0.0, 1000.0, help="Gradient penalty weight."),
    )


# What the main job (``synthts demo``) searches over with the conditional WGAN-GP: the quality
# options measured in benchmarks/quality_harmonics.py (figures in docs/metrics.md), the learning
# rate left to the search. The conv backbone joins the search on a GPU; on a CPU it runs 5x
# slower per epoch than the MLP at this length and does not converge within the demo's budget
# (measured, see the quality issue's note).
MAIN_JOB_SPACE: dict[str, Any] = {
    "noise_inputs": True, "conditioning": "projection", "moment_weight": 10.0,
    "lr_schedule": "cosine", "batch_size": 64, "n_critic": 2, "beta2": 0.9,
    "lr": [0.0003, 0.0005], "ema_decay": [0.99, 0.995], "backbone": "mlp",
    "mean_correction": True,
}
MAIN_JOB_SPACE_GPU: dict[str, Any] = {"backbone": ["mlp", "conv"], "conv_width": 32}

# What a job that names no architectures searches, per data (``default_space``): the options
# measured to help, on the harmonics (benchmarks/quality_harmonics.py) and on real sets
# (benchmarks/quality_real.py: the conv backbone for smooth series, no moment loss there).
QUALITY_SPACE: dict[str, Any] = {
    "noise_inputs": True, "conditioning": "projection", "lr_schedule": "cosine",
    "n_critic": 2, "beta2": 0.9, "lr": [0.0003, 0.0005], "ema_decay": [0.99, 0.995],
    "mean_correction": True, "moment_weight": 0.0, "conv_width": 32,
}

# What a job that asks for differential privacy searches instead, laid over QUALITY_SPACE:
# benchmarks/privacy_harmonics.py's PRIVATE_BASE, measured there. Off what DP refuses
# (synthts_gan.config.check_private: the mean correction and the moment loss feed real
# per-class statistics outside the private critic); a small critic, since the noise lands on
# every one of its parameters (conv, width 8, the label as input channels: about 4k parameters
# against the MLP's 150k); one critic step a generator step (each critic step spends budget, a
# generator step none); gp_weight 0.1 (at epsilon 10, TSTR 0.2 at 10, 1.0 at 0.1); and, in
# default_space, Poisson batches of half the set (the noise on the mean gradient falls as
# 1/batch). At epsilon 10 on the harmonics (privacy_harmonics.py --full --epochs 65: 2000 x 256,
# the epochs a job naming none gets) this gave TSTR/TRTR 1.0, as non-private; with
# QUALITY_SPACE's own critic instead (MLP, 2 critic steps, batches of 64, gp_weight 10; 1000 x
# 128, 60 epochs) 0.086, below chance (0.1).
PRIVATE_SPACE: dict[str, Any] = {
    "mean_correction": False, "moment_weight": 0.0, "conditioning": "concat", "conv_width": 8,
    "n_critic": 1, "gp_weight": 0.1, "lr": 0.002,
}


def conv_fits(length: int, layers: int) -> bool:
    """The conv backbone halves the length ``layers`` times down to at least 4 points."""
    return length >= 4 * 2**layers


def fitting_layers(length: int, layers: int) -> int:
    """The most conv layers, up to ``layers``, that ``length`` points fit (0: none)."""
    return max((k for k in range(layers + 1) if conv_fits(length, k)), default=0)


def sized_batch(n_series: int, block: int) -> int:
    """A batch that gives a set of ``n_series`` at least 4 blocks of ``block`` updates an
    epoch, between 8 and 64 series."""
    return int(min(64, max(8, n_series // (4 * block))))


# Small networks for the conformance suite: its models train in seconds
CONFORMANCE_PARAMS: dict[str, Any] = {"latent_dim": 8, "batch_size": 8, "n_critic": 2,
                                      "conv_width": 8, "conv_layers": 2, "embed_dim": 4}


class GanArchitectureEntry:
    """One registered GAN architecture (a ``ModelArchitecture``): its space and a ``build``
    that returns a ``GanTrainer`` (a ``GenerativeModel``), plus the family's declarations and
    the optional defaults the protocol documents (``default_space``, ``check``,
    ``main_job_space``, ``main_job_space_gpu``)."""

    family = "gan"
    scaling = "minmax"  # the generator ends in tanh
    supports_dp = True  # synthts_core.privacy's contract: see synthts_gan.private
    # NaN in train_epoch's values = a missing point: the critic sees real and fake through the
    # same masks (AmbientGAN; synthts_gan.steps), so the generator learns complete series
    supports_missing = True

    def __init__(self, name: str, description: str, conditional: bool,
                 space: ParamSchema, *, main_job_space: dict[str, Any] | None = None,
                 main_job_space_gpu: dict[str, Any] | None = None) -> None:
        self.name = name
        self.description = description
        self.conditional = conditional
        self.space = space
        self.main_job_space = main_job_space
        self.main_job_space_gpu = main_job_space_gpu

    def default_space(self, shape: DataShape) -> dict[str, Any] | None:
        """The conditional WGAN-GP with the quality options for labelled data; the
        unconditional one (with the same options) for unlabelled data; the seed's C-GAN only
        when asked for. Both backbones where the series are long enough for the conv one. A
        job that asks for differential privacy (``shape.private``) gets ``PRIVATE_SPACE`` laid
        over it: a small conv critic (fewer layers on short series, the MLP only below 8
        points), batches of half the set, and nothing ``check`` refuses with DP."""
        labelled = shape.n_classes >= 2
        if self.name != ("cwgan_gp" if labelled else "wgan_gp"):
            return None
        space = {k: v for k, v in QUALITY_SPACE.items() if k in self.space.names}
        layers = int(self.space["conv_layers"].default)
        if getattr(shape, "private", False):
            space.update({k: v for k, v in PRIVATE_SPACE.items() if k in self.space.names})
            fit = fitting_layers(shape.length, layers)
            space["backbone"] = "conv" if fit else "mlp"
            if 0 < fit < layers:
                space["conv_layers"] = fit
            high = int(self.space["batch_size"].high)
            space["batch_size"] = int(min(high, max(2, shape.n_series // 2)))
            return space
        space["backbone"] = ["mlp", "conv"] if conv_fits(shape.length, layers) else "mlp"
        space["batch_size"] = sized_batch(shape.n_series, int(space.get("n_critic", 1)))
        return space

    def check(self, config: Mapping[str, Any], shape: DataShape) -> None:
        """Refuse what cannot run on the data before any trial starts."""
        block = int(config.get("n_critic", 1)) if "n_critic" in self.space.names else 1
        if shape.n_series < 2 * block:
            raise BadInputError("dataset", f"{shape.n_series} series cannot fill a batch of 2 "
                                f"for {block} critic step(s)",
                                allowed=f"at least {2 * block} series, or a smaller n_critic")
        if config.get("backbone") == "conv" and not conv_fits(shape.length,
                                                                 int(config["conv_layers"])):
            raise BadInputError("search_space.conv_layers", f"{config['conv_layers']} "
                                f"layers halve {shape.length} points below 4",
                                allowed=f"length >= 4 * 2**conv_layers (at most "
                                f"{max(0, (shape.length // 4).bit_length() - 1)} layers for "
                                f"{shape.length} points), or backbone mlp")
        if config.get("augment") and getattr(shape, "ragged", False):
            raise BadInputError("search_space.augment", "a circular shift would move the "
                                "padding of series of unequal lengths into them",
                                allowed="false on a dataset of unequal lengths")
        if config.get("dp_epsilon") is not None:
            check_private(GanConfig.from_mapping({**self.space.defaults(), **config,
                                                  "architecture": self.name}), "search_space.")

    @property
    def conformance_params(self) -> dict[str, Any]:
        return {k: v for k, v in CONFORMANCE_PARAMS.items() if k in self.space.names}

    def build(self, config: Mapping[str, Any], device: str = "cpu") -> GanTrainer:
        """``config``: one value per space parameter (missing ones take their default) plus
        ``length``, ``n_channels``, ``n_classes``, ``seed``; extra keys are ignored. ``device``
        as ``SYNTHTS_DEVICE`` takes it (``auto`` included)."""
        from synthts_core.devices import resolve_device
        from synthts_gan.trainer import GanTrainer

        cfg = GanConfig.from_mapping({**self.space.model_config(config),
                                      "architecture": self.name})
        return GanTrainer(cfg, resolve_device(device))


def builtin_architectures() -> list[GanArchitectureEntry]:
    return [
        GanArchitectureEntry(
            "cgan", "Conditional GAN (the seed's): label embedding, least-squares loss, "
            "dropout in the discriminator.", True,
            ParamSchema((*_common(), _embed(),
                         float_param("dropout", DEFAULTS.dropout, 0.0, 1.0, high_exclusive=True,
                                     help="Discriminator dropout."))),
            ),
        GanArchitectureEntry(
            "wgan_gp", "Wasserstein GAN with gradient penalty (unconditional, the seed's).",
            False, ParamSchema((*_common(), *_wgan()))),
        GanArchitectureEntry(
            "cwgan_gp", "Conditional WGAN-GP: the label embedding feeds generator and critic.",
            True, ParamSchema((*_common(), _embed(), *_wgan())),
            main_job_space=MAIN_JOB_SPACE, main_job_space_gpu=MAIN_JOB_SPACE_GPU),
    ]


@hookimpl
def register_model_architectures(registry: ArchitectureRegistry) -> None:
    for arch in builtin_architectures():
        registry.add(arch)
