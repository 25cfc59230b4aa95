"""The privacy plan and record of a GAN trained with differential privacy (``dp_epsilon``).

The plan, for a training set of N series: Poisson sampling at the rate of a non-private batch,
as many updates an epoch as a non-private epoch (N / batch critic updates), the steps planned
over ``total_epochs``, and the noise multiplier that spends ``dp_epsilon`` in them
(``synthts_core.privacy``). The record says what the steps taken so far spent. The mechanism
itself is ``synthts_gan.private``'s.
"""

from __future__ import annotations

from typing import Any

from synthts_gan._errors import BadInputError
from synthts_gan.config import GanConfig
from synthts_gan.epoch_data import fit_batch


def privacy_plan(config: GanConfig, n_series: int) -> dict[str, Any]:
    """Sample rate, batch, blocks an epoch, planned steps, delta and the noise multiplier for
    ``n_series``; refused without the trial's planned epochs."""
    from synthts_core.privacy import calibrate, default_delta

    assert config.dp_epsilon is not None
    if config.total_epochs <= 0:
        raise BadInputError("dp_epsilon", "needs the trial's planned epochs "
                            "(total_epochs) to set the noise", allowed="total_epochs >= 1")
    batch = fit_batch(n_series, config.batch_size, config.block)
    blocks = n_series // (batch * config.block)
    rate = batch / n_series
    planned = config.total_epochs * blocks * config.block
    delta = config.dp_delta if config.dp_delta is not None else default_delta(n_series)
    sigma = calibrate(config.dp_epsilon, delta, rate, planned)
    return {"n_series": n_series, "batch": batch, "blocks": blocks, "rate": rate,
            "planned": planned, "delta": delta, "sigma": sigma}


def privacy_record(config: GanConfig, plan: dict[str, Any], steps: int, masked: bool) -> Any:
    """``synthts_core.privacy.PrivacyRecord`` of ``steps`` DP steps taken under ``plan``;
    ``masked``: the training set had missing points (their pattern is not covered)."""
    from synthts_core.privacy import NOT_COVERED, PrivacyRecord, accountant_name, epsilon_spent
    from synthts_gan.private import MECHANISM, MISSING_NOT_COVERED

    eps = epsilon_spent(plan["sigma"], plan["rate"], steps, plan["delta"])
    not_covered = list(NOT_COVERED)
    if masked:
        not_covered.append(MISSING_NOT_COVERED)
    return PrivacyRecord(
        epsilon=eps, target_epsilon=float(config.dp_epsilon or 0.0),
        delta=plan["delta"], max_grad_norm=float(config.dp_max_grad_norm),
        noise_multiplier=plan["sigma"], sample_rate=plan["rate"], steps=steps,
        planned_steps=plan["planned"], accountant=accountant_name(), mechanism=MECHANISM,
        not_covered=not_covered)
