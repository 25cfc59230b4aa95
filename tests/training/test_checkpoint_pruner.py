"""The trial's checkpoint pruning keeps what a resume or the final registration may need."""

from __future__ import annotations

from synthts_core.services import training_trial
from synthts_core.services.training_trial import CheckpointPruner


def _write(trial_dir, i):
    (trial_dir / f"checkpoint_{i:06d}").mkdir()


def test_keeps_best_recent_and_young_checkpoints_and_never_older_ones(tmp_path, monkeypatch):
    _write(tmp_path, 0)  # written before this process started (a resumed trial)
    pruner = CheckpointPruner(str(tmp_path), higher_is_better=False)
    monkeypatch.setattr(training_trial, "KEEP_SECONDS", 0.0)  # age alone keeps nothing here
    scores = [0.5, 0.1, 0.4, 0.3, 0.6, 0.7, 0.8]
    for i, score in enumerate(scores, start=1):
        _write(tmp_path, i)
        pruner.after_report(score)
    left = sorted(p.name for p in tmp_path.iterdir())
    # 0: unknown to this process; 2: best (0.1); 5, 6, 7: the three newest
    assert left == ["checkpoint_000000", "checkpoint_000002", "checkpoint_000005",
                    "checkpoint_000006", "checkpoint_000007"]


def test_young_checkpoints_survive_while_state_may_point_at_them(tmp_path):
    pruner = CheckpointPruner(str(tmp_path), higher_is_better=True)
    for i in range(1, 9):
        _write(tmp_path, i)
        pruner.after_report(float(i))
    assert len(list(tmp_path.iterdir())) == 8  # all younger than KEEP_SECONDS


def test_no_local_trial_folder_is_left_alone():
    pruner = CheckpointPruner(None, higher_is_better=False)
    pruner.after_report(0.1)  # nothing to do, no error
