"""Differentially private training: the fields a job asks for it with, the contract a model
family implements, the accountant, and the record a model version carries.

A job asks for DP with hyper-parameters of its architectures' spaces, the same three for every
family (``dp_params``): ``dp_epsilon`` (the target ε; empty: no DP, the default), ``dp_delta``
(empty: 1/N for N training series) and ``dp_max_grad_norm`` (the per-example clipping norm C).
They are fixed values, never searched: the search would pick among private trials by a score on
real data, which no accountant covers.

The contract. An architecture supports DP when it sets ``supports_dp = True`` and its space
holds ``dp_params()``. The model it builds, given ``dp_epsilon``, must

- clip each example's gradient to C and add Gaussian noise of std ``noise_multiplier * C`` on
  every update whose loss touches a real series (nothing else reads the real data in training);
- draw each such update's batch by Poisson sampling at rate ``q`` (every series in with
  probability q, independently), which is what the accountant's subsampling analysis assumes;
- draw those masks and that noise (and whatever else the update draws in numbers that follow
  the batch) from a generator that is neither seeded from the trial's seed (a logged run
  param) nor saved in a checkpoint: replayed, the noise can be subtracted and the batches read
  off (the GAN family's ``secret_generator``). A DP trial is therefore not reproducible;
- set the noise multiplier with ``calibrate`` for the steps it plans, count the steps it takes,
  and take no step past the plan (``privacy_exhausted``);
- answer ``privacy_record(n_series)`` with ``PrivacyRecord`` (None when DP is off), and keep
  its step count in its checkpoints, so a resumed trial goes on counting.

The core does the rest: a job that asks for DP and names no architectures trains the default
search's architectures that support DP (``default_search``; their ``default_space`` sees
``DataShape.private``, so it leaves out what DP refuses); ``check_request`` refuses a DP
request for an architecture that does not support it before any trial starts; the trial
(``services.training_trial``) logs the plan as run params, ε spent as a metric every epoch and
the record in the model version's config; ``summary`` is the line ``models show``, the API,
the TUI and the report print.

The accountant is Opacus's RDP accountant (Mironov 2017; Mironov, Talwar & Zhang 2019 for the
subsampled Gaussian): maintained, deterministic, and a tight enough bound for the few thousand
steps a trial takes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from synthts_core.errors import BadInputError
from synthts_core.schema import Param, float_param

DP_FIELDS = ("dp_epsilon", "dp_delta", "dp_max_grad_norm")
ACCOUNTANT = "rdp"
EPSILON_RANGE = (0.01, 100.0)
log = logging.getLogger("synthts.training")

NOT_COVERED = (
    "class labels and their counts (the label set, and how many series each label has, are "
    "treated as public)",
    "the normalisation's per-channel offsets and scales (fitted to the real min and max)",
    "the number of training series N (delta = 1/N by default)",
    "trial and checkpoint selection by a quality score on real series, and the training "
    "curves (losses, quality) logged to the tracker",
)
"""What a DP model's guarantee does not cover: statistics of the real data the core takes
outside the private updates. (The GAN family refuses the mean correction and the moment loss
with DP: both feed real statistics into every sample or generator update.)"""


def dp_params() -> tuple[Param, ...]:
    """The DP hyper-parameters, declared alike by every family that supports DP."""
    low, high = EPSILON_RANGE
    return (
        Param("dp_epsilon", "float", None, "Differential privacy: the target epsilon of the "
              "whole trial (empty: no differential privacy). Per-example clipping and Gaussian "
              "noise on every update that reads real series, Poisson-sampled batches, RDP "
              "accounting; the noise is set so the planned epochs spend at most this (and "
              "within 1% of it).",
              low=low, high=high, nullable=True),
        Param("dp_delta", "float", None, "Differential privacy: delta (empty: 1/N for N "
              "training series).", low=0.0, high=0.1, low_exclusive=True, nullable=True),
        float_param("dp_max_grad_norm", 1.0, 1e-4, 1e4, log=True,
                    help="Differential privacy: each example's gradient is clipped to this "
                         "L2 norm before the noise is added."),
    )


class PrivacyRecord(msgspec.Struct, kw_only=True):
    """What a DP model spent and how: the plan (noise multiplier, sample rate, planned steps,
    delta, the clipping norm) and the steps taken so far with the ε they spent."""

    epsilon: float
    target_epsilon: float
    delta: float
    max_grad_norm: float
    noise_multiplier: float
    sample_rate: float
    steps: int
    planned_steps: int
    accountant: str
    mechanism: str
    sampling: str = "poisson"
    not_covered: list[str] = []

    def run_params(self) -> dict[str, Any]:
        """The plan as tracker run params (they never change during the trial)."""
        return {"dp.delta": self.delta, "dp.max_grad_norm": self.max_grad_norm,
                "dp.noise_multiplier": self.noise_multiplier, "dp.sample_rate": self.sample_rate,
                "dp.planned_steps": self.planned_steps, "dp.accountant": self.accountant,
                "dp.mechanism": self.mechanism, "dp.sampling": self.sampling}


def accountant_name() -> str:
    from importlib.metadata import version

    return f"opacus {ACCOUNTANT.upper()} {version('opacus')}"


EXTRA_ORDERS = (80, 96, 128, 160, 192, 256, 384, 512)
"""RDP orders beyond Opacus's defaults (up to 63): a short trial at little noise has its best
bound at a higher order (Opacus warns, and gives a looser ε, when the best is its largest)."""


def orders() -> list[float]:
    from opacus.accountants import RDPAccountant

    return [*RDPAccountant.DEFAULT_ALPHAS, *EXTRA_ORDERS]


def _accountant(noise_multiplier: float, sample_rate: float, steps: int) -> Any:
    from opacus.accountants import RDPAccountant

    acc = RDPAccountant()
    if steps > 0:
        acc.history = [(float(noise_multiplier), float(sample_rate), int(steps))]
    return acc


def epsilon_spent(noise_multiplier: float, sample_rate: float, steps: int, delta: float
                  ) -> float:
    """ε after ``steps`` Poisson-subsampled Gaussian steps at ``sample_rate`` and
    ``noise_multiplier``, for ``delta`` (0 before the first step)."""
    if steps <= 0:
        return 0.0
    return float(_accountant(noise_multiplier, sample_rate, steps).get_epsilon(
        delta=delta, alphas=orders()))


def calibrate(target_epsilon: float, delta: float, sample_rate: float, steps: int,
              field: str = "dp_epsilon") -> float:
    """The smallest noise multiplier (to 1 % of ε, never more than 0.01) whose ``steps`` steps
    spend at most ``target_epsilon``; a budget no noise can meet is a ``BadInputError`` naming
    ``field``. The tolerance is relative: Opacus's default (0.01 absolute) lets a target of
    0.01 stop at half of it, twice the noise the budget pays for."""
    from opacus.accountants.utils import get_noise_multiplier

    if steps <= 0:
        raise BadInputError(field, "needs the number of steps the trial plans",
                            allowed="a trial with at least one epoch")
    try:
        sigma = get_noise_multiplier(target_epsilon=float(target_epsilon),
                                     target_delta=float(delta), sample_rate=float(sample_rate),
                                     steps=int(steps), accountant=ACCOUNTANT,
                                     epsilon_tolerance=min(0.01, 0.01 * float(target_epsilon)),
                                     alphas=orders())
    except ValueError as exc:
        raise BadInputError(field, f"epsilon {target_epsilon:g} cannot be met in {steps} steps "
                            f"at sample rate {sample_rate:.3g} ({exc})",
                            allowed="a larger epsilon, fewer epochs or a smaller batch") from None
    return float(sigma)


def default_delta(n_series: int) -> float:
    """1/N: the issue's default. (Smaller is safer; a job may set ``dp_delta``.)"""
    return 1.0 / max(int(n_series), 1)


# ------------------------------------------------------------------------ the core's side


def supports_dp(arch: Any) -> bool:
    space = getattr(arch, "space", None)
    names = set(getattr(space, "names", ()) or ())
    return bool(getattr(arch, "supports_dp", False)) and set(DP_FIELDS) <= names


def _supporting(registries: Any) -> str:
    archs = [a for a in registries.architectures if supports_dp(a)]
    if not archs:
        return "no installed architecture supports differential privacy"
    by_family: dict[str, list[str]] = {}
    for a in archs:
        by_family.setdefault(str(getattr(a, "family", "?")), []).append(a.name)
    return "architectures of a family that supports it: " + "; ".join(
        f"{family} ({', '.join(names)})" for family, names in sorted(by_family.items()))


def check_request(registries: Any, spec: Any) -> None:
    """Refuse, before any trial is drawn, a DP request the job's architectures cannot honour:
    a DP field for an architecture whose family does not support DP (the error names the
    field and the families that do), a searched DP field (a list or a range), and a delta or
    clipping norm without an epsilon. Called by the training service's ``validate_spec``."""
    asked: list[tuple[str, str, Any, list[str]]] = []  # (field, key, value, architectures)
    for key, value in (spec.search_space or {}).items():
        if key in DP_FIELDS:
            asked.append((f"search_space.{key}", key, value, list(spec.architectures or [])))
    for arch_name, entries in (spec.architecture_spaces or {}).items():
        for key, value in entries.items():
            if key in DP_FIELDS:
                asked.append((f"architecture_spaces.{arch_name}.{key}", key, value, [arch_name]))
    for field, _, value, arch_names in asked:
        if isinstance(value, list | dict):
            raise BadInputError(field, f"is searched ({value!r}): a DP setting is one value "
                                "for every trial", allowed="one number")
        if value is None:
            continue
        for name in arch_names:
            if name not in registries.architectures:
                continue  # validate_spec names an unknown architecture itself
            arch = registries.architectures.get(name)
            if not supports_dp(arch):
                family = getattr(arch, "family", "?")
                raise BadInputError(field, f"architecture {name!r} (family {family}) cannot "
                                    "train with differential privacy",
                                    allowed=_supporting(registries))

    def epsilon_on(arch_name: str) -> bool:
        own = (spec.architecture_spaces or {}).get(arch_name, {})
        return own.get("dp_epsilon", (spec.search_space or {}).get("dp_epsilon")) is not None

    for field, key, value, arch_names in asked:
        if key != "dp_epsilon" and value is not None and not all(map(epsilon_on, arch_names)):
            raise BadInputError(field, "is set but dp_epsilon is not, so no differential "
                                "privacy would be applied", allowed="dp_epsilon beside it")
    _check_every_architecture_private(registries, spec, epsilon_on)


def _check_every_architecture_private(registries: Any, spec: Any,
                                      epsilon_on: Callable[[str], bool]) -> None:
    """A job that asks for DP is private as a whole or refused: a trial of an architecture
    without ``dp_epsilon`` would train without DP and could be the registered model."""
    field = requested(spec)
    if field is None:
        return
    for name in spec.architectures or []:
        if name not in registries.architectures:
            continue  # validate_spec names an unknown architecture itself
        arch = registries.architectures.get(name)
        if not supports_dp(arch):
            raise BadInputError("architectures", f"architecture {name!r} (family "
                                f"{getattr(arch, 'family', '?')}) cannot train with "
                                f"differential privacy, which {field} asks for: its trials "
                                "would not be private and one could be the registered model",
                                allowed=_supporting(registries))
        if not epsilon_on(name):
            raise BadInputError(f"architecture_spaces.{name}.dp_epsilon", "is not set while "
                                f"{field} asks for differential privacy: the {name!r} trials "
                                "would train without it and one could be the registered model",
                                allowed="dp_epsilon for every architecture of the job "
                                "(search_space.dp_epsilon sets it for all of them)")


def requested(spec: Any) -> str | None:
    """The field by which a job asks for DP (``search_space.dp_epsilon``, or an
    ``architecture_spaces`` entry's), None when it sets no ``dp_epsilon``."""
    if (spec.search_space or {}).get("dp_epsilon") is not None:
        return "search_space.dp_epsilon"
    for arch_name, entries in (spec.architecture_spaces or {}).items():
        if entries.get("dp_epsilon") is not None:
            return f"architecture_spaces.{arch_name}.dp_epsilon"
    return None


def default_search(registries: Any, spaces: Mapping[str, dict[str, Any]], field: str
                   ) -> dict[str, dict[str, Any]]:
    """The default search of a job that asks for DP (by ``field``) and names no
    architectures: those of ``spaces`` (the default search for the data) that support DP,
    the others left out and logged as such. Refused, naming ``field``, when none does: with
    the families installed, and the DP architectures to name where there are some outside the
    default search."""
    registry = registries.architectures
    kept = {name: space for name, space in spaces.items()
            if name in registry and supports_dp(registry.get(name))}
    if not kept and spaces:  # no default search at all: validate_spec says so
        families = sorted({f"{getattr(a, 'family', '?')} ({a.name})" for a in registry
                           if a.name in spaces})
        raise BadInputError(field, "asks for differential privacy, but no architecture of the "
                            "default search for this data supports it (families: "
                            f"{', '.join(families)})",
                            allowed="a job without dp_epsilon" + (
                                f", or one naming {_supporting(registries)}"
                                if any(supports_dp(a) for a in registry) else
                                " (no installed architecture supports differential privacy)"))
    left = [name for name in spaces if name not in kept]
    if left:
        log.warning("%s asks for differential privacy: the default search trains %s only "
                    "(the architectures that support it); left out: %s", field,
                    ", ".join(kept), ", ".join(
                        f"{n} (family {getattr(registry.get(n), 'family', '?')})" for n in left))
    return kept


def record_of(model: Any, n_series: int) -> PrivacyRecord | None:
    """The model's privacy record (None: a model trained without DP, or a family without
    it)."""
    fn = getattr(model, "privacy_record", None)
    return fn(n_series) if callable(fn) else None


def exhausted(model: Any) -> bool:
    """True once a DP model has taken every step its budget planned."""
    return bool(getattr(model, "privacy_exhausted", False))


def of_config(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The privacy record a model version's config holds (None: trained without DP)."""
    record = (config or {}).get("privacy")
    return dict(record) if isinstance(record, Mapping) else None


def summary(config: Mapping[str, Any] | None) -> str:
    """One line for ``models show``, the API, the TUI and the report."""
    record = of_config(config)
    if record is None:
        return "off: trained without differential privacy"
    try:
        eps, delta = float(record["epsilon"]), float(record["delta"])
        text = (f"epsilon {eps:.3g} spent of {float(record['target_epsilon']):.3g} "
                f"(delta {delta:.2g}, {int(record['steps'])}/{int(record['planned_steps'])} "
                f"steps, noise x{float(record['noise_multiplier']):.3g}, clip "
                f"{float(record['max_grad_norm']):.3g}, {record.get('sampling', '?')} rate "
                f"{float(record['sample_rate']):.3g}); {record['accountant']}")
    except (KeyError, TypeError, ValueError):
        return "unreadable privacy record"
    if not math.isfinite(eps):
        text = "no finite epsilon: " + text
    return text + "; not covered: labels and counts, normalisation, N, trial selection"
