"""A dataset with missing points through the whole service: stored as it is, trained on (real
Ray, real SQLite, embedded MLflow), sampled complete or with the learnt gaps, evaluated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from synthts_core import missing
from synthts_core.cli import cli
from synthts_core.domain import Dataset
from synthts_core.errors import BadInputError
from synthts_core.services import training
from tests.training.conftest import TINY_SPACE, tiny_dataset

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ragged_waves.ts"

pytestmark = [pytest.mark.ray]


@pytest.mark.slow
def test_a_job_learns_from_series_with_missing_points(rt, tiny_spec, tmp_path) -> None:
    base = tiny_dataset()
    values = base.values.copy()
    values[np.random.default_rng(1).random(values.shape) < 0.2] = np.nan
    values[base.labels == 1, 1, 24:] = np.nan  # "fast" loses the end of its second channel
    gappy = Dataset.build("gappy", values, base.labels, ["slow", "fast"])
    rt.storage.create_dataset(gappy)
    assert rt.storage.get_dataset_meta("gappy").n_missing == int(np.isnan(values).sum())

    space = {k: v for k, v in TINY_SPACE.items() if k != "n_critic"}
    job = training.submit_job(rt, tiny_spec(dataset="gappy", architectures=["cgan"],
                                            num_trials=1, epochs=2, search_space=space))
    done = training.run_job(rt, job.id)
    assert done.status == "succeeded", done.errors
    models = rt.services.models
    name = f"{done.model.name}@{done.model.version}"
    ref = models.show(name)
    pattern = ref.config["missing"]
    assert abs(pattern["rate"] - np.isnan(values).mean()) < 1e-4
    rates = missing.pattern_rates(pattern)
    assert rates.shape == (2, 2, 32) and (rates[1, 1, 24:] == 1.0).all()

    complete = models.sample(name, n=40, seed=3)
    assert np.isfinite(complete.values).all()
    learned = models.sample(name, n=40, seed=3, missing="learned")
    gaps = np.isnan(learned.values)
    fast = learned.labels == 1
    assert gaps[fast][:, 1, 24:].all() and 0.1 < gaps[~fast].mean() < 0.3
    np.testing.assert_array_equal(learned.values[~gaps], complete.values[~gaps])
    again = models.sample(name, n=40, seed=3, missing="learned")
    np.testing.assert_array_equal(np.isnan(again.values), gaps)
    with pytest.raises(BadInputError, match="missing"):
        models.sample(name, n=2, missing="all")
    shown = CliRunner().invoke(cli, ["models", "show", name], obj=rt)
    assert f"gaps:     {100 * pattern['rate']:.1f} % of points missing" in shown.output
    csv_file = tmp_path / "gaps.csv"
    written = CliRunner().invoke(cli, ["sample", name, "--n", "3", "--seed", "3", "--missing",
                                       "learned", "-o", str(csv_file)], obj=rt)
    assert written.exit_code == 0, written.output
    cells = [line.rsplit(",", 1)[1] for line in csv_file.read_text().splitlines()[1:]]
    assert "" in cells and "nan" not in cells  # a missing point is an empty cell

    report = rt.services.evaluations.run(name, metrics=["mmd"], store=False).report
    assert report.metrics[0].details["missing_points"].startswith("real series (trained on")
    assert np.isfinite(report.metrics[0].value)
    # the store still holds the gaps as they came: nothing imputed
    stored = rt.storage.read_dataset("gappy")
    np.testing.assert_array_equal(np.isnan(stored.values), np.isnan(values))
    assert stored.meta.checksum == gappy.meta.checksum


def test_a_family_that_cannot_learn_gaps_is_refused_when_the_job_is_submitted(
        rt, tiny_spec, monkeypatch) -> None:
    base = tiny_dataset("holes")
    values = base.values.copy()
    values[0, 0, 3] = np.nan
    rt.storage.create_dataset(Dataset.build("holes", values, base.labels, ["slow", "fast"]))
    # the GAN family declares supports_missing; take it away for this test (no built-in
    # family lacks it, and the refusal must still name the architecture)
    arch = rt.registries.architectures.get("cgan")
    monkeypatch.setattr(type(arch), "supports_missing", False, raising=False)
    with pytest.raises(BadInputError, match="cgan cannot learn") as err:
        training.submit_job(rt, tiny_spec(dataset="holes", architectures=["cgan"]))
    assert err.value.field == "architectures"
    assert rt.storage.list_jobs().total == 0  # nothing stored


@pytest.mark.slow
def test_series_of_unequal_lengths_train_and_sample_at_their_lengths(rt, tiny_spec,
                                                                     tmp_path) -> None:
    """The ``.ts`` fixture of unequal lengths (with a few missing points) imports through the
    CLI, trains, and samples each class at lengths drawn from that class's."""
    imported = CliRunner().invoke(cli, ["import", str(FIXTURE), "--name", "ragged"], obj=rt)
    assert imported.exit_code == 0, imported.output
    real = rt.storage.read_dataset("ragged")
    assert real.lengths is not None and real.meta.min_length == int(real.lengths.min())
    space = {k: v for k, v in TINY_SPACE.items() if k != "n_critic"}
    done = training.run_job(rt, training.submit_job(rt, tiny_spec(
        dataset="ragged", architectures=["cgan"], num_trials=1, epochs=2,
        search_space=space)).id)
    assert done.status == "succeeded", done.errors
    name = f"{done.model.name}@{done.model.version}"
    config = rt.services.models.show(name).config
    for k in (0, 1):  # what the model keeps: each length of the class with its count
        mine = real.lengths[real.labels == k]
        assert config["lengths"]["by_class"][k] == [[int(v), int((mine == v).sum())]
                                                    for v in np.unique(mine)]
    assert config["missing"]["rate"] == round(real.meta.n_missing / real.meta.n_points, 6)

    drawn = rt.services.models.sample(name, n=400, seed=4)
    for k, label in enumerate(real.meta.label_names):
        mine, theirs = drawn.lengths[drawn.labels == k], real.lengths[real.labels == k]
        assert set(mine.tolist()) <= set(theirs.tolist())  # only lengths its class had
        spread = {who: np.percentile(x, [10, 50, 90]) for who, x in
                  (("real", theirs), ("generated", mine))}
        print(label, {who: q.round(1).tolist() for who, q in spread.items()})
        assert np.abs(spread["real"] - spread["generated"]).max() <= 3
    ends = np.arange(real.meta.length)[None, None, :] >= drawn.lengths[:, None, None]
    assert np.isnan(drawn.values[np.broadcast_to(ends, drawn.values.shape)]).all()
    assert np.isfinite(drawn.values[~np.broadcast_to(ends, drawn.values.shape)]).all()
    again = rt.services.models.sample(name, n=400, seed=4)
    np.testing.assert_array_equal(again.lengths, drawn.lengths)

    short = rt.services.models.sample(name, n=2, seed=4, length=12)  # one length on request
    assert short.values.shape == (4, 1, 12) and short.lengths is None
    full = rt.services.models.sample(name, n=2, seed=4)  # every drawn length is >= 16
    np.testing.assert_array_equal(short.values, full.values[:, :, :12])
    with pytest.raises(BadInputError, match="length"):
        rt.services.models.sample(name, n=1, length=real.meta.length + 1)
    out = tmp_path / "s.npy"
    written = CliRunner().invoke(cli, ["sample", name, "--n", "3", "--seed", "4", "-o",
                                       str(out)], obj=rt)
    assert written.exit_code == 0, written.output
    np.testing.assert_array_equal(np.load(tmp_path / "s.lengths.npy"),
                                  rt.services.models.sample(name, n=3, seed=4).lengths)
    stored = rt.services.datasets.store(drawn.to_dataset("ragged-synthetic"))
    assert stored.min_length is not None and stored.n_missing == 0
    report = rt.services.evaluations.run(name, metrics=["mmd"], store=False).report
    assert np.isfinite(report.metrics[0].value)
    assert "unequal lengths" in report.metrics[0].details["missing_points"]
    with pytest.raises(BadInputError, match="augment"):  # a shift would move the padding in
        training.submit_job(rt, tiny_spec(dataset="ragged", architectures=["cgan"],
                                          search_space={**space, "augment": True}))


def test_the_staging_sweep_keeps_a_live_jobs_folder(tmp_path) -> None:
    """``sweep_staging`` deletes what finished or vanished jobs left, never the folder of a
    job a process still runs (maybe another owner's, after this one lost it)."""
    from synthts_core.domain import JobSpec, TrainingJob
    from synthts_core.runtime import Runtime
    from synthts_core.services.training_trial import STAGING
    from synthts_core.settings import Settings

    with Runtime(Settings(_env_file=None, data_dir=tmp_path)) as rt:
        spec = JobSpec(dataset="d", architectures=["cgan"])
        live = rt.storage.create_job(TrainingJob(id="job-live", spec=spec, status="running"))
        done = rt.storage.create_job(TrainingJob(id="job-done", spec=spec, status="failed"))
        folders = {j: tmp_path / STAGING / j / "t00" for j in (live.id, done.id, "job-gone")}
        for folder in folders.values():
            folder.mkdir(parents=True)
        assert training.sweep_staging(rt, done.id) == 2
        assert [j for j, f in folders.items() if f.exists()] == [live.id]
