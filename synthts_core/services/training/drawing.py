"""A job's trials, drawn up front from the job's seed, so a job is reproducible and its trial
list is known (and shown) before Ray starts:

* ``architectures`` are dealt round-robin, so every named architecture gets trials;
* a search-space value given as a list is a random choice among its items (``tune.choice``
  semantics), except that an architecture's trials do not repeat a combination while an
  untried one is left (4 trials over two 2-item lists try all 4); ``{"low": a, "high": b}``
  samples uniformly, log-uniformly when the parameter is declared ``log``; a plain value is
  fixed; parameters not named keep their defaults;
* a key applies to every chosen architecture that declares it.

The drawn configurations go to Tune as one ``grid_search`` (``experiment.fit``), so
``num_trials`` is exactly the number of trials.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from synthts_core.domain import JobSpec, TrialState
from synthts_core.schema import Param
from synthts_core.services.training.spec import data_shape

if TYPE_CHECKING:
    from synthts_core.runtime import Runtime


def draw_trials(rt: Runtime, spec: JobSpec) -> list[TrialState]:
    """The job's trials, drawn from ``spec.seed`` (see the module docstring for the rules)."""
    rng = np.random.default_rng(spec.seed)
    trials = []
    tried: dict[str, set[str]] = {}
    for index in range(spec.num_trials):
        arch_name = spec.architectures[index % len(spec.architectures)]
        space = rt.registries.architectures.get(arch_name).space
        searched = {k: v for k, v in {**spec.architecture_spaces.get(arch_name, {}),
                                      **spec.search_space}.items() if k in space.names}
        combinations = math.prod(len(v) if isinstance(v, list) else
                                 math.inf if isinstance(v, dict) else 1
                                 for v in searched.values())
        seen = tried.setdefault(arch_name, set())
        for _ in range(64):  # redraw a repeat while an untried combination is left
            params = space.defaults()
            for key, value in searched.items():
                params[key] = _draw(space[key], value, rng)
            combination = repr(sorted(params.items()))
            if combination not in seen or len(seen) >= combinations:
                break
        seen.add(combination)
        trials.append(TrialState(trial_id=f"t{index:02d}", architecture=arch_name,
                                 config=space.validate(params),
                                 epochs=spec.architecture_epochs.get(arch_name, spec.epochs)))
    return trials


def check_trials(rt: Runtime, spec: JobSpec, trials: list[TrialState]) -> None:
    """Ask each architecture whether each drawn configuration can run on the data (its
    optional ``check``), before the job is stored: a combination that cannot run is refused
    here, naming the parameter, not found by every trial failing at its start."""
    shape = data_shape(rt, spec)
    for trial in trials:
        check = getattr(rt.registries.architectures.get(trial.architecture), "check", None)
        if callable(check):
            check(dict(trial.config), shape)


def _draw(p: Param, value: Any, rng: np.random.Generator) -> Any:
    if isinstance(value, list):
        return value[int(rng.integers(len(value)))]
    if isinstance(value, dict):
        low, high = float(value["low"]), float(value["high"])
        x = math.exp(rng.uniform(math.log(low), math.log(high))) if p.log else \
            rng.uniform(low, high)
        return round(x) if p.kind == "int" else float(x)
    return value
