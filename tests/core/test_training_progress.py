"""Training progress people can watch: live bars per trial on a terminal, a few plain lines in
a pipe or with --quiet (not one per trial per epoch), and ``synthts generate`` telling how far a
large dataset has got."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from rich.console import Console

from synthts_core.cli.training_view import TrainingView, ViewLog
from synthts_core.domain import JobSpec, TrainingJob, TrialState
from synthts_core.services.main_job import _progress_printer
from synthts_core.services.progress import ProgressLines

EPOCHS = 100


def _job(*trials: tuple[str, int], error: str | None = None) -> TrainingJob:
    spec = JobSpec(dataset="d", architectures=["cgan"], num_trials=len(trials), epochs=EPOCHS,
                   select_metric="mmd")
    return TrainingJob(id="job-1", spec=spec, trials=[
        TrialState(trial_id=f"t{i:02d}", architecture="cgan", status=status, epoch=epoch,
                   epochs=EPOCHS, metrics={"mmd": 1.0 / (epoch + 1), "loss_d": 0.5},
                   error=error if status == "failed" else None)
        for i, (status, epoch) in enumerate(trials)])


def _updates() -> list[TrainingJob]:
    """What ``run_job`` reports: every epoch of two trials, the second failing at 40."""
    jobs = [_job(("running", e), ("running" if e < 40 else "failed", min(e, 40)),
                 error="RuntimeError: boom") for e in range(1, EPOCHS + 1)]
    jobs.append(_job(("succeeded", EPOCHS), ("failed", 40), error="RuntimeError: boom"))
    return jobs


def test_plain_lines_are_a_few_per_trial_not_one_per_epoch() -> None:
    lines: list[str] = []
    show = ProgressLines(lines.append)
    for job in _updates():
        show(job)
    assert len(lines) <= 2 * 5, lines  # start, 25/50/75 %, end: per trial
    assert lines[0] == "  trial t00 cgan     started (100 epochs)"
    assert "  trial t00 cgan     epoch 25/100 (25%) mmd=0.03846" in lines
    assert lines[-1] == "  trial t00 cgan     done: epoch 100/100 mmd=0.009901"
    assert "  trial t01 cgan     failed: RuntimeError: boom" in lines
    assert not [line for line in lines if "t01" in line and "75%" in line]
    with pytest.raises(ValueError, match="every"):
        ProgressLines(lines.append, every=0)


def test_live_bars_on_a_terminal_show_each_trial_and_its_metric() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with TrainingView(console=console) as view:
        assert view.live
        for job in _updates()[:50]:
            view(job)
            view.log("a log line")  # printed above the bars
        assert view._progress is not None
        view(_updates()[-1])
        assert view._progress is None  # every trial ended: the bars stop
    text = out.getvalue()
    assert "t00 cgan     succeeded" in text and "100/100" in text and "mmd=0.009901" in text
    assert "t01 cgan     failed" in text and "RuntimeError: boom" in text
    assert "a log line" in text and "200" in text  # the job's bar: epochs of all trials


def test_a_pipe_gets_plain_lines_and_services_choose_by_their_log() -> None:
    lines: list[str] = []
    view = TrainingView(console=Console(file=io.StringIO()), echo=lines.append)
    assert not view.live  # not a terminal
    for job in _updates():
        view(job)
    assert 0 < len(lines) <= 10
    assert isinstance(_progress_printer(lines.append), ProgressLines)
    assert _progress_printer(ViewLog(view)) is view


def test_generate_reports_progress_of_a_large_dataset(tmp_path, monkeypatch) -> None:
    from synthts_core.cli import cli
    from synthts_core.cli.commands import generate

    monkeypatch.setenv("SYNTHTS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(generate, "PROGRESS_THRESHOLD", 1000)  # "large" without the cost
    result = CliRunner().invoke(cli, ["generate", "--preset", "harmonics10", "--count", "8",
                                      "--length", "64", "--name", "big"])
    assert result.exit_code == 0, result.output
    assert "generating big: 100% (80/80 series)" in result.stderr
    assert "storing big ..." in result.stderr
    assert "stored big" in result.stdout and "generating" not in result.stdout
