"""``synthts train`` / ``synthts jobs`` argument checks (the full run is in test_search.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from synthts_core.cli import cli

pytestmark = [pytest.mark.ray]


def test_train_flags_are_checked_before_anything_runs(rt, dataset) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--dataset", "tiny", "--set", "latent_dim=0"],
                           obj=rt)
    assert result.exit_code == 2 and "search_space.latent_dim" in result.output
    result = runner.invoke(cli, ["train", "--set", "lr=1e-4"], obj=rt)
    assert result.exit_code == 2 and "--dataset" in result.output
    cancel = runner.invoke(cli, ["jobs", "cancel", "job-nope"], obj=rt)
    assert cancel.exit_code == 1 and "job-nope" in cancel.output
    assert rt.storage.list_jobs().total == 0


def test_training_modules_import_without_heavy_libraries() -> None:
    import subprocess
    import sys

    code = ("import sys, synthts_core.services.training, synthts_core.cli.commands.train, "
            "synthts_core.cli.commands.jobs, synthts_core.services.training_trial\n"
            "heavy = {'ray', 'torch', 'mlflow'} & set(sys.modules)\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
