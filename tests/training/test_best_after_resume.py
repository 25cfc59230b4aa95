"""``best`` stays on the better version when a resumed job registers a worse one (issue #14):
the resume goes through the real path (a failed job run again with ``resume=True`` on Ray)."""

from __future__ import annotations

import pytest

from synthts_core.domain import ModelBundle
from synthts_core.services import training
from synthts_core.services.selection import rescore_bundle
from tests.training.test_selection import _version


@pytest.mark.slow
def test_best_stays_on_the_better_version_after_a_resumed_job(rt, dataset, tiny_spec) -> None:
    good = _version(rt, dataset, epochs=60)
    score = rescore_bundle(rt, good.config, good.weights, dataset, "mmd", 0)
    v1 = rt.tracker.register_model("tiny-gan", ModelBundle(good.config, good.weights,
                                                           {"mmd": score}), aliases=["best"])
    spec = tiny_spec(architectures=["cwgan_gp"], num_trials=1, epochs=1, select_metric="mmd",
                     model_name="tiny-gan", max_concurrent=1)
    job = training.submit_job(rt, spec)
    # what an interrupted job looks like once marked failed (synthts jobs fail): resumable
    rt.storage.update_job(job.id, status="failed", error="interrupted")
    final = training.run_job(rt, job.id, resume=True)
    assert final.status == "succeeded", final.errors
    assert final.model is not None and final.model.version != v1.version
    assert final.trials[0].selection_score is not None
    assert final.trials[0].selection_score > score  # one epoch: clearly worse than v1
    assert rt.tracker.get_version("tiny-gan", "best").version == v1.version
    assert "best" not in rt.tracker.get_version("tiny-gan", final.model.version).aliases
