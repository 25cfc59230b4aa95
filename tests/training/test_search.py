"""A Ray Tune search of 4 trials over C-GAN and WGAN-GP (each for its own epochs), started
from the CLI on the embedded defaults (SQLite storage, MLflow store in the data folder, local
Ray): every trial is an MLflow run, the best by sample quality is registered, and
``synthts sample`` generates from it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from synthts_core.cli import cli
from synthts_core.services.model_loading import load_model

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_cli_search_registers_the_best_trial_by_quality(rt, dataset, tmp_path) -> None:
    job_file = tmp_path / "job.toml"
    job_file.write_text('dataset = "tiny"\narchitectures = ["cgan", "wgan_gp"]\n'
                        "num_trials = 4\nepochs = 2\nmax_concurrent = 2\n"
                        'select_metric = "mmd"\n[search_space]\n'
                        "batch_size = 16\nlatent_dim = 8\n"
                        # one family's trials may train longer than another's (the main job's
                        # diffusion trials train fewer epochs than its GAN's)
                        "[architecture_epochs]\nwgan_gp = 3\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--job", str(job_file), "--model-name", "tiny-gan",
                                 "--set", "n_critic=2", "--set", "lr=[0.0002, 0.0005]"],
                           obj=rt, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "registered tiny-gan version 1" in result.output
    assert all(t in result.output for t in ("t00", "t01", "t02", "t03"))  # the live table

    listing = json.loads(runner.invoke(cli, ["jobs", "list", "--json"], obj=rt).output)
    assert listing["total"] == 1
    done = rt.storage.get_job(listing["items"][0]["id"])
    assert done.status == "succeeded", done.errors
    assert {t.architecture for t in done.trials} == {"cgan", "wgan_gp"}
    assert all(t.config["lr"] in (0.0002, 0.0005) for t in done.trials)
    epochs = {"cgan": 2, "wgan_gp": 3}
    assert all(t.status == "succeeded" and t.epoch == t.epochs == epochs[t.architecture]
               for t in done.trials)
    assert all(len(t.history) == t.epochs and "mmd" in t.metrics and t.run_id
               for t in done.trials)
    # the registered version is picked by quality (never by a loss), and by a fresh estimate:
    # every trial's best checkpoint is scored again on new samples, and the best of those wins
    # and is the registered score (the minimum of many noisy per-epoch values is biased low)
    assert all(t.selection_score is not None for t in done.trials)
    best_score = min(t.selection_score for t in done.trials)
    assert done.model is not None and done.model.name == "tiny-gan"
    assert "best" in done.model.aliases
    assert done.model.metrics["mmd"] == pytest.approx(best_score)
    best = next(t for t in done.trials if t.trial_id == done.best_trial)
    assert best.selection_score == pytest.approx(best_score)
    # every trial is an MLflow run with per-epoch metrics
    for t in done.trials:
        steps = [step for step, _ in rt.tracker.run_history(t.run_id)["mmd"]]
        assert steps == list(range(1, epochs[t.architecture] + 1))
    # on disk, a finished job keeps each trial's best scored checkpoint and nothing else
    # (counted in the real Tune storage folder, where Ray wrote them)
    from pathlib import Path

    folders = sorted(Path(done.experiment_path).glob("*/checkpoint_*"))
    assert folders and len(folders) <= len(done.trials), folders
    assert all((f / "weights.safetensors").is_file() for f in folders)
    shown = runner.invoke(cli, ["jobs", "show", done.id], obj=rt)
    assert shown.exit_code == 0 and "tiny-gan" in shown.output

    # the version loads through its plugin (nothing unpickled) and samples in real units
    model = load_model(rt, rt.tracker.get_version("tiny-gan", "best"))
    assert model.config["dataset"] == {"name": "tiny", "checksum": dataset.meta.checksum}
    assert model.config["normalisation"]["method"] == "minmax"
    # the version records the dataset's import normalisation and that it answers in real units
    stored_norm = rt.storage.get_dataset_meta("tiny").normalisation
    assert model.config["units"] == {"method": stored_norm.method, "offset": stored_norm.offset,
                                     "scale": stored_norm.scale, "generates": "real"}
    assert model.output_units == "real"
    assert model.config["normalisation"]["offset"] == pytest.approx([5.0, 5.0], abs=0.1)
    out = tmp_path / "sample.npy"
    sampled = runner.invoke(cli, ["sample", "tiny-gan@best", "--n", "5", "--seed", "1",
                                  "-o", str(out)], obj=rt)
    assert sampled.exit_code == 0, sampled.output
    values = np.load(out)
    assert values.shape[1:] == (2, 32) and values.shape[0] >= 5 and np.isfinite(values).all()
    assert 2.0 < values.mean() < 8.0  # real units: tiny is 5 + 3 sin(...)
