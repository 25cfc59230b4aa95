"""A job's trials are drawn up front from its seed; list choices do not repeat a combination
while an untried one is left."""

from __future__ import annotations

import pytest

from synthts_core.domain import JobSpec
from synthts_core.runtime import Runtime
from synthts_core.services.training import draw_trials
from synthts_core.settings import Settings


@pytest.fixture
def runtime(tmp_path):
    with Runtime(Settings(data_dir=tmp_path / "data", _env_file=None)) as rt:
        yield rt


def _combos(trials):
    return [(t.config["lr"], t.config["ema_decay"]) for t in trials]


@pytest.mark.parametrize("seed", range(8))
def test_four_trials_over_a_two_by_two_grid_try_every_combination(runtime, seed) -> None:
    """The main job's case: 4 trials, lr and ema_decay with 2 choices each. Drawn
    independently, some seeds repeated a combination and left one untried (the demo ran
    lr=0.0003, ema_decay=0.99 twice)."""
    spec = JobSpec(dataset="d", architectures=["cwgan_gp"], num_trials=4, seed=seed,
                   search_space={"lr": [0.0003, 0.0005], "ema_decay": [0.99, 0.995],
                                 "n_critic": 2})
    combos = _combos(draw_trials(runtime, spec))
    assert len(set(combos)) == 4
    assert all(t.config["n_critic"] == 2 for t in draw_trials(runtime, spec))
    assert combos == _combos(draw_trials(runtime, spec))  # the seed still fixes the draw


def test_more_trials_than_combinations_cover_them_all_then_repeat(runtime) -> None:
    spec = JobSpec(dataset="d", architectures=["cwgan_gp"], num_trials=6, seed=3,
                   search_space={"lr": [0.0003, 0.0005], "ema_decay": [0.99, 0.995]})
    combos = _combos(draw_trials(runtime, spec))
    assert len(set(combos[:4])) == 4 and len(combos) == 6


def test_ranges_are_still_sampled_freely(runtime) -> None:
    spec = JobSpec(dataset="d", architectures=["cwgan_gp"], num_trials=5, seed=1,
                   search_space={"lr": {"low": 1e-4, "high": 1e-3}, "ema_decay": [0.99]})
    lrs = [t.config["lr"] for t in draw_trials(runtime, spec)]
    assert len(set(lrs)) == 5 and all(1e-4 <= x <= 1e-3 for x in lrs)
