"""Quickstart: the whole flow from Python, on the embedded defaults.

    .venv/bin/python examples/quickstart.py

Generates a small labelled harmonic dataset, stores it, runs a 2-trial Ray Tune search,
registers the best C-GAN in MLflow, samples from it and scores the samples. Everything lands in
the data folder (`synthts config` shows where; set SYNTHTS_DATA_DIR to move it).
"""

from __future__ import annotations

import contextlib

from synthts_core.domain import JobSpec
from synthts_core.errors import NotFoundError
from synthts_core.runtime import Runtime

NAME = "quickstart-harmonics"

with Runtime() as rt:  # settings from SYNTHTS_* / .env
    services = rt.services  # one service per resource, as the API and the CLI use them

    # 1. a dataset from a preset: the full 10-class preset at a small size (see examples/specs/
    #    for spec files)
    spec = services.datasets.spec_from_preset("harmonics10", name=NAME, count=60, length=128)
    with contextlib.suppress(NotFoundError):
        services.datasets.delete(NAME)  # start over on a re-run
    meta = services.datasets.create(spec)
    print(f"stored {meta.name}: {meta.n_series} series x {meta.length} points, "
          f"labels {meta.label_names}")

    # 2. a small search, tracked in MLflow; the best trial is registered as NAME-gan
    job = services.jobs.submit(JobSpec(dataset=NAME, architectures=["cgan"], num_trials=2,
                                       epochs=40, model_name=f"{NAME}-gan"))
    job = services.jobs.run(job.id)
    assert job.model is not None, job.errors
    ref = f"{job.model.name}@{job.model.version}"
    print(f"registered {ref} ({job.model.architecture})")

    # 3. five new series of two classes, reproducible by seed
    sample = services.models.sample(ref, n=5, labels=["2Hz", "7Hz"], seed=42)
    print(f"sampled {sample.values.shape} with labels {sorted(set(sample.labels.tolist()))}")

    # 4. how good are they? (stored with the model version in MLflow)
    report = services.evaluations.run(ref, metrics=["detector", "mmd", "feature_cosine"]).report
    for m in report.metrics:
        print(f"{m.name:>15}: {m.value:.4f}")
