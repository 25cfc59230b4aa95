"""A DP job trained for real (local Ray, a real ``mlflow server`` on loopback) records what its
model spent: the plan as the trial run's params, ε spent as a metric every epoch, the record in
the registered version's config and metric tags; and ``synthts models show``, the API's
version read and the report's line show it."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from synthts_core.api import create_app
from synthts_core.cli import cli
from synthts_core.services import training
from tests.privacy.conftest import TINY_SPACE

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.mlflow]
API = "/api/v1"
N_SERIES = 48  # tiny_dataset's, none held out


def test_a_private_trial_records_and_shows_what_it_spent(rt_server, server_dataset,
                                                         tiny_spec) -> None:
    rt = rt_server
    name = f"dp-gan-{uuid.uuid4().hex[:8]}"  # the server outlives this test
    spec = tiny_spec(architectures=["cwgan_gp"], num_trials=1, epochs=3, model_name=name,
                     search_space={**TINY_SPACE, "dp_epsilon": 8.0, "dp_max_grad_norm": 0.5})
    job = training.submit_job(rt, spec)
    done = training.run_job(rt, job.id)
    assert done.status == "succeeded", done.errors
    trial = done.trials[0]
    assert trial.status == "succeeded" and trial.epoch == 3

    version = rt.tracker.get_version(name, "best")
    record = version.config["privacy"]
    chosen_epoch = int(version.config["epoch"])
    assert record["target_epsilon"] == 8.0 and record["max_grad_norm"] == 0.5
    assert record["delta"] == pytest.approx(1 / N_SERIES)
    assert record["accountant"].startswith("opacus RDP")
    assert "DP-SGD" in record["mechanism"] and "penalty included" in record["mechanism"]
    assert record["sampling"] == "poisson" and record["not_covered"]
    # 48 series, batches of 16, 2 critic steps a block: one block, 2 DP steps an epoch
    assert record["planned_steps"] == 6 and record["steps"] == 2 * chosen_epoch
    assert 0 < record["epsilon"] <= 8.0
    assert version.metrics["dp_epsilon_spent"] == pytest.approx(record["epsilon"])

    run = rt.tracker.client.get_run(version.run_id)
    params, tags = run.data.params, run.data.tags
    assert params["dp_epsilon"] == "8.0" and params["dp.accountant"] == record["accountant"]
    assert float(params["dp.noise_multiplier"]) == pytest.approx(record["noise_multiplier"])
    assert float(params["dp.sample_rate"]) == pytest.approx(16 / N_SERIES)
    assert params["dp.planned_steps"] == "6" and params["dp.mechanism"] == record["mechanism"]
    assert tags["synthts.dp"] == "on"
    spent = [v for _, v in sorted(rt.tracker.run_history(version.run_id)["dp_epsilon_spent"])]
    assert len(spent) == 3 and spent == sorted(spent) and spent[-1] <= 8.0
    assert spent[-1] == pytest.approx(8.0, abs=0.02)  # the noise was set to spend the target

    shown = CliRunner().invoke(cli, ["models", "show", f"{name}@best"], obj=rt)
    assert shown.exit_code == 0, shown.output
    line = next(x for x in shown.output.splitlines() if x.strip().startswith("privacy:"))
    assert f"epsilon {record['epsilon']:.3g} spent of 8" in line and "opacus RDP" in line
    assert "not covered: labels and counts, normalisation" in line
    as_json = json.loads(CliRunner().invoke(cli, ["models", "show", f"{name}@best", "--json"],
                                            obj=rt).output)
    assert as_json["privacy"] == record

    settings = rt.settings.model_copy(update={"api_token": None})
    with TestClient(create_app(settings)) as c:
        read = c.get(f"{API}/models/{name}/versions/best")
        assert read.status_code == 200, read.text
        body = read.json()
    assert body["privacy"]["epsilon"] == pytest.approx(record["epsilon"])
    assert body["privacy"]["accountant"] == record["accountant"]
    assert body["privacy_summary"] == line.split("privacy:", 1)[1].strip()

    from synthts_core.services.report import _privacy_line

    assert _privacy_line(version.config) == body["privacy_summary"]


def test_a_version_without_dp_says_so(rt_server, server_dataset, tiny_spec) -> None:
    rt = rt_server
    name = f"plain-gan-{uuid.uuid4().hex[:8]}"
    spec = tiny_spec(architectures=["cwgan_gp"], num_trials=1, epochs=1, model_name=name)
    done = training.run_job(rt, training.submit_job(rt, spec).id)
    assert done.status == "succeeded", done.errors
    version = rt.tracker.get_version(name, "best")
    assert "privacy" not in version.config and "dp_epsilon_spent" not in version.metrics
    assert "dp.accountant" not in rt.tracker.client.get_run(version.run_id).data.params
    shown = CliRunner().invoke(cli, ["models", "show", f"{name}@best"], obj=rt)
    assert "privacy:  off: trained without differential privacy" in shown.output
