"""Training: submit, run, cancel and resume model searches as Ray Tune experiments.

A job is stored first (status ``queued``) and run later, by the CLI in the foreground or by the
API in a background thread; the jobs service (``services.jobs``) is what the front ends call.
One module a job:

* ``spec``: the defaults the installed plugins declare for what a spec leaves unset, and the
  check of every field before anything is stored;
* ``drawing``: the job's trials, drawn up front from its seed;
* ``control``: submit, cancel, resume, mark a stale job failed;
* ``runner`` and ``ownership``: the run loop under a lease with a heartbeat;
* ``process_signals``: SIGINT/SIGTERM and process exit cancel the jobs of this process;
* ``tracker_runs``: the trials' tracker runs, ended with the right status;
* ``experiment``: the job as a Tune experiment (Ray plumbing itself: ``services.training_ray``);
* ``best_trial`` and ``outcome``: scoring and registering the best trial, and what a finished
  run writes to the job's record; ``checkpoints``: the folders a job no longer needs.
"""

from synthts_core.services.training.checkpoints import sweep_staging
from synthts_core.services.training.control import (
    cancel_job,
    check_resumable,
    fail_job,
    new_job_id,
    resume_job,
    submit_job,
)
from synthts_core.services.training.drawing import check_trials, draw_trials
from synthts_core.services.training.experiment import check_tune_state
from synthts_core.services.training.ownership import lease_lost, take_lease
from synthts_core.services.training.process_signals import (
    JobInterrupted,
    install_server_signal_handler,
)
from synthts_core.services.training.runner import run_job, start_job_in_background
from synthts_core.services.training.spec import (
    data_shape,
    declared_epochs,
    default_epochs,
    default_select_metric,
    model_name_of,
    resolve_defaults,
    validate_spec,
)

__all__ = [
    "JobInterrupted",
    "cancel_job",
    "check_resumable",
    "check_trials",
    "check_tune_state",
    "data_shape",
    "declared_epochs",
    "default_epochs",
    "default_select_metric",
    "draw_trials",
    "fail_job",
    "install_server_signal_handler",
    "lease_lost",
    "model_name_of",
    "new_job_id",
    "resolve_defaults",
    "resume_job",
    "run_job",
    "start_job_in_background",
    "submit_job",
    "sweep_staging",
    "take_lease",
    "validate_spec",
]
