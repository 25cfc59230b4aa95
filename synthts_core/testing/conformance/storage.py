"""Conformance suite for storage backends (``register_storage_backends``).

Subclass ``StorageBackendConformance`` in a ``Test*`` class and provide a ``storage`` fixture
yielding an opened backend on a fresh, empty database. Use a small chunk size there if the
backend has one, so sliced reads cross chunk boundaries. Corruption checks need to reach the
stored bytes, so they belong in the backend's own tests, not here.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from synthts_core.domain import (
    Dataset,
    DatasetQuery,
    HoldoutSplit,
    JobOwner,
    JobSpec,
    TimeAxis,
    TrainingJob,
    TrialState,
    checksum,
)
from synthts_core.errors import BadInputError, ConflictError, NotFoundError

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def make_dataset(name: str, n: int = 24, channels: int = 1, length: int = 40, *,
                 labels: bool = True, times: bool = False, seed: int = 0,
                 **meta: Any) -> Dataset:
    """A small random dataset: 3 classes in blocks, optional irregular per-series times."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((n, channels, length)).astype(np.float32)
    lab = np.arange(n) % 3 if labels else None
    grid = np.sort(rng.uniform(0, 100, (n, length)), axis=1) if times else None
    names = ["sine", "square", "noise"] if labels else None
    return Dataset.build(name, values, lab, names, grid, **meta)


class StorageBackendConformance:
    """Every storage backend passes these. Fixture needed: ``storage`` (opened, empty)."""

    # ------------------------------------------------------------------ datasets

    def test_ping_on_an_open_backend(self, storage) -> None:
        storage.ping()

    def test_has_every_method_of_the_protocol(self, storage) -> None:
        from synthts_core.interfaces import StorageBackend

        assert isinstance(storage, StorageBackend)

    def test_create_returns_meta_and_get_meta_matches(self, storage) -> None:
        ds = make_dataset("alpha", tags=["t1"], generators=["sine"], description="first")
        meta = storage.create_dataset(ds)
        assert meta.checksum == ds.meta.checksum
        got = storage.get_dataset_meta("alpha")
        assert (got.n_series, got.n_channels, got.length) == (24, 1, 40)
        assert got.label_names == ["sine", "square", "noise"]
        assert got.label_counts == [8, 8, 8]
        assert got.tags == ["t1"] and got.generators == ["sine"]
        assert got.description == "first"
        assert got.checksum == ds.meta.checksum
        assert got.created_at == ds.meta.created_at

    def test_whole_read_round_trips_exactly(self, storage) -> None:
        ds = make_dataset("whole", n=50, channels=2, length=33)
        storage.create_dataset(ds)
        back = storage.read_dataset("whole")
        assert back.values.dtype == np.float32
        np.testing.assert_array_equal(back.values, ds.values)
        np.testing.assert_array_equal(back.labels, ds.labels)
        assert back.times is None
        assert back.meta.checksum == ds.meta.checksum
        back.verify()

    def test_read_by_series_slice_and_list(self, storage) -> None:
        ds = make_dataset("sliced", n=60, length=50)
        storage.create_dataset(ds)
        part = storage.read_dataset("sliced", series=slice(5, 47, 3))
        np.testing.assert_array_equal(part.values, ds.values[5:47:3])
        np.testing.assert_array_equal(part.labels, ds.labels[5:47:3])
        assert part.meta.n_series == len(range(5, 47, 3))
        part.verify()
        picked = [59, 0, 17, 18, 17]
        part = storage.read_dataset("sliced", series=picked)
        np.testing.assert_array_equal(part.values, ds.values[picked])
        np.testing.assert_array_equal(part.labels, ds.labels[picked])
        assert sum(part.meta.label_counts) == len(picked)
        part.verify()
        assert storage.read_dataset("sliced", series=[]).values.shape == (0, 1, 50)

    def test_read_by_label_index_and_name(self, storage) -> None:
        ds = make_dataset("bylabel", n=30)
        storage.create_dataset(ds)
        part = storage.read_dataset("bylabel", labels=[2])
        np.testing.assert_array_equal(part.values, ds.values[ds.labels == 2])
        assert (part.labels == 2).all()
        assert part.meta.label_counts == [0, 0, 10]
        assert part.meta.label_names == ds.meta.label_names
        both = storage.read_dataset("bylabel", labels=["sine", "noise"])
        np.testing.assert_array_equal(both.values, ds.values[ds.labels != 1])
        mixed = storage.read_dataset("bylabel", series=slice(0, 12), labels=[0])
        np.testing.assert_array_equal(mixed.values, ds.values[:12][ds.labels[:12] == 0])

    def test_read_selected_channels(self, storage) -> None:
        ds = make_dataset("chans", n=10, channels=3)
        storage.create_dataset(ds)
        part = storage.read_dataset("chans", channels=[2, 0], series=[1, 3])
        np.testing.assert_array_equal(part.values, ds.values[[1, 3]][:, [2, 0]])
        assert part.meta.n_channels == 2
        part.verify()

    @pytest.mark.parametrize(("kwargs", "field"), [
        ({"series": [0, 10]}, "series"),
        ({"series": [-1]}, "series"),
        ({"series": "0:3"}, "series"),
        ({"labels": [3]}, "labels"),
        ({"labels": ["triangle"]}, "labels"),
        ({"channels": [1]}, "channels"),
    ])
    def test_bad_selection_names_the_field(self, storage, kwargs, field) -> None:
        storage.create_dataset(make_dataset("small", n=10))
        with pytest.raises(BadInputError) as info:
            storage.read_dataset("small", **kwargs)
        assert info.value.field == field

    def test_irregular_times_round_trip(self, storage) -> None:
        ds = make_dataset("irregular", n=20, length=31, times=True)
        assert ds.meta.time_axis.kind == "irregular"
        storage.create_dataset(ds)
        back = storage.read_dataset("irregular")
        assert back.times is not None and back.times.dtype == np.float64
        np.testing.assert_array_equal(back.times, ds.times)
        assert storage.get_dataset_meta("irregular").time_axis.kind == "irregular"
        part = storage.read_dataset("irregular", series=[19, 2], labels=[1, 2])
        keep = [i for i in (19, 2) if ds.labels[i] in (1, 2)]
        np.testing.assert_array_equal(part.times, ds.times[keep])
        np.testing.assert_array_equal(part.values, ds.values[keep])

    def test_regular_time_axis_is_kept(self, storage) -> None:
        ds = make_dataset("regular", time_axis=TimeAxis(start=2.5, step=0.25))
        storage.create_dataset(ds)
        back = storage.read_dataset("regular")
        np.testing.assert_allclose(back.time_grid(), 2.5 + 0.25 * np.arange(40))

    def test_dataset_without_labels(self, storage) -> None:
        ds = make_dataset("plain", n=7, labels=False)
        storage.create_dataset(ds)
        back = storage.read_dataset("plain")
        assert back.labels is None and back.meta.label_names == []
        np.testing.assert_array_equal(back.values, ds.values)
        np.testing.assert_array_equal(storage.read_dataset("plain", series=[6]).values,
                                      ds.values[[6]])
        with pytest.raises(BadInputError) as info:
            storage.read_dataset("plain", labels=[0])
        assert info.value.field == "labels"

    def test_spec_and_normalisation_survive(self, storage) -> None:
        spec = {"name": "withspec", "length": 40, "classes": [{"label": "a", "count": 24}],
                "seed": 3}
        ds = make_dataset("withspec", spec=spec, source="imported")
        storage.create_dataset(ds)
        meta = storage.get_dataset_meta("withspec")
        assert meta.spec == spec and meta.source == "imported"

    def test_values_that_cannot_be_stored_are_refused(self, storage) -> None:
        bad = make_dataset("infs", n=4)
        bad.values[1, 0, 3] = np.inf  # a NaN is a missing point; an infinity is refused
        with pytest.raises(BadInputError) as info:
            storage.create_dataset(bad)
        assert info.value.field == "values"
        with pytest.raises(NotFoundError):
            storage.get_dataset_meta("infs")

    def test_missing_points_round_trip_bit_for_bit(self, storage) -> None:
        """NaN (a missing point) is stored as it is and ``n_missing`` counts it, also in a
        sliced read's metadata."""
        base = make_dataset("holes", n=12, channels=2, length=30)
        values = base.values.copy()
        values[np.random.default_rng(5).random(values.shape) < 0.25] = np.nan
        ds = Dataset.build("holes", values, base.labels, base.meta.label_names)
        assert storage.create_dataset(ds).n_missing == int(np.isnan(values).sum())
        back = storage.read_dataset("holes")
        np.testing.assert_array_equal(back.values.view(np.uint32), values.view(np.uint32))
        assert back.meta.n_missing == storage.get_dataset_meta("holes").n_missing
        part = storage.read_dataset("holes", series=[9, 2], channels=[1])
        np.testing.assert_array_equal(part.values.view(np.uint32),
                                      values[[9, 2]][:, [1]].view(np.uint32))
        assert part.meta.n_missing == int(np.isnan(values[[9, 2]][:, [1]]).sum())

    def test_series_of_different_lengths_round_trip(self, storage) -> None:
        """Ragged series are stored padded with their lengths (its own array, not the meta):
        every read (whole, slices, labels, channels) gives the lengths of what it returns,
        ``n_missing`` counts no padding, and the checksum covers the lengths."""
        base = make_dataset("ragged", n=15, channels=2, length=33, times=True)
        lengths = np.random.default_rng(3).integers(1, 34, 15)
        lengths[4] = 33
        pad = np.arange(33)[None, :] >= lengths[:, None]
        values = np.where(pad[:, None, :], np.float32(np.nan), base.values)
        values[6, 1, 0] = np.nan  # a missing point within its length
        times = np.where(pad, np.nan, base.times)
        ds = Dataset.build("ragged", values, base.labels, base.meta.label_names, times,
                           lengths=lengths)
        meta = storage.create_dataset(ds)
        assert meta.min_length == int(lengths.min()) and meta.n_missing == 1
        assert meta.checksum == checksum(values, base.labels, times, lengths) != \
            checksum(values, base.labels, times)
        back = storage.read_dataset("ragged")
        np.testing.assert_array_equal(back.values.view(np.uint32), values.view(np.uint32))
        np.testing.assert_array_equal(back.lengths, lengths)
        np.testing.assert_array_equal(back.times, times)
        assert back.meta == storage.get_dataset_meta("ragged") == meta
        part = storage.read_dataset("ragged", series=[9, 2, 6], channels=[1])
        np.testing.assert_array_equal(part.lengths, lengths[[9, 2, 6]])
        assert part.meta.n_missing == int(lengths[6] > 0) and \
            part.meta.checksum == checksum(part.values, part.labels, part.times, part.lengths)
        by_label = storage.read_dataset("ragged", labels=["square"])
        np.testing.assert_array_equal(by_label.lengths, lengths[base.labels == 1])
        sliced = storage.read_dataset("ragged", series=slice(3, 8))
        np.testing.assert_array_equal(sliced.lengths, lengths[3:8])
        equal = make_dataset("equal")  # the equal-length case stores no lengths at all
        assert equal.lengths is None and storage.create_dataset(equal).min_length is None
        assert storage.read_dataset("equal").lengths is None

    def test_duplicate_name_is_a_conflict_and_keeps_the_first(self, storage) -> None:
        first = make_dataset("dup", seed=1)
        storage.create_dataset(first)
        with pytest.raises(ConflictError, match="dup"):
            storage.create_dataset(make_dataset("dup", n=5, seed=2))
        back = storage.read_dataset("dup")
        np.testing.assert_array_equal(back.values, first.values)
        assert storage.list_datasets(DatasetQuery()).total == 1

    def test_missing_dataset_is_not_found(self, storage) -> None:
        for call in (lambda: storage.get_dataset_meta("nope"),
                     lambda: storage.read_dataset("nope"),
                     lambda: storage.update_dataset("nope", tags=["x"]),
                     lambda: storage.delete_dataset("nope")):
            with pytest.raises(NotFoundError, match="nope"):
                call()

    def _populate(self, storage) -> None:
        rows = [("ecg-a", ["real", "ecg"], ["sine"], 30, 3),
                ("ecg-b", ["ecg"], ["square", "gaussian"], 9, 1),
                ("harm-10", ["seed"], ["sine", "gaussian"], 12, 0),
                ("noise-only", [], ["gaussian"], 3, 2)]
        for name, tags, gens, n, day in rows:
            storage.create_dataset(make_dataset(
                name, n=n, length=8, tags=tags, generators=gens,
                labels=name != "noise-only", created_at=T0 + timedelta(days=day)))

    def test_list_sorting_and_paging(self, storage) -> None:
        self._populate(storage)

        def names(**kw: Any) -> list[str]:
            return [m.name for m in storage.list_datasets(DatasetQuery(**kw)).items]

        assert names() == ["ecg-a", "noise-only", "ecg-b", "harm-10"]
        assert names(sort="created_at") == ["harm-10", "ecg-b", "noise-only", "ecg-a"]
        assert names(sort="name") == ["ecg-a", "ecg-b", "harm-10", "noise-only"]
        assert names(sort="-name") == ["noise-only", "harm-10", "ecg-b", "ecg-a"]
        assert names(sort="n_series") == ["noise-only", "ecg-b", "harm-10", "ecg-a"]
        assert names(sort="-n_series") == ["ecg-a", "harm-10", "ecg-b", "noise-only"]
        page = storage.list_datasets(DatasetQuery(sort="name", offset=1, limit=2))
        assert [m.name for m in page.items] == ["ecg-b", "harm-10"]
        assert (page.total, page.offset, page.limit) == (4, 1, 2)
        assert storage.list_datasets(DatasetQuery(offset=10)).items == []

    def test_list_filters(self, storage) -> None:
        self._populate(storage)

        def names(**kw: Any) -> set[str]:
            page = storage.list_datasets(DatasetQuery(**kw))
            assert page.total == len(page.items)
            return {m.name for m in page.items}

        assert names(name_contains="ECG") == {"ecg-a", "ecg-b"}
        assert names(name_contains="%") == set()
        assert names(name_contains="_") == set()
        assert names(tags=["ecg"]) == {"ecg-a", "ecg-b"}
        assert names(tags=["ecg", "real"]) == {"ecg-a"}
        assert names(generator="gaussian") == {"ecg-b", "harm-10", "noise-only"}
        assert names(label="square") == {"ecg-a", "ecg-b", "harm-10"}
        assert names(label="triangle") == set()
        assert names(generator="gaussian", tags=["seed"]) == {"harm-10"}
        assert names(source="generated") == names()
        assert names(name_contains="x' OR '1'='1") == set()

    @pytest.mark.parametrize(("kwargs", "field"), [
        ({"limit": 0}, "limit"), ({"limit": 100000}, "limit"), ({"offset": -1}, "offset")])
    def test_bad_list_query_names_the_field(self, storage, kwargs, field) -> None:
        with pytest.raises(BadInputError) as info:
            storage.list_datasets(DatasetQuery(**kwargs))
        assert info.value.field == field

    def test_rename_retag_and_describe(self, storage) -> None:
        ds = make_dataset("old-name", tags=["a"])
        storage.create_dataset(ds)
        meta = storage.update_dataset("old-name", new_name="new-name", tags=["b", "c"],
                                      description="renamed")
        assert (meta.name, meta.tags, meta.description) == ("new-name", ["b", "c"], "renamed")
        with pytest.raises(NotFoundError):
            storage.get_dataset_meta("old-name")
        np.testing.assert_array_equal(storage.read_dataset("new-name").values, ds.values)
        assert storage.read_dataset("new-name").meta.name == "new-name"
        assert [m.name for m in storage.list_datasets(DatasetQuery(tags=["c"])).items] == ["new-name"]
        assert storage.list_datasets(DatasetQuery(tags=["a"])).total == 0
        assert storage.update_dataset("new-name", tags=[]).tags == []

    def test_held_out_split_round_trips_and_every_read_returns_every_series(self, storage
                                                                             ) -> None:
        split = HoldoutSplit(series=[1, 4, 7, 20], how="fraction", fraction=0.2, seed=3)
        ds = make_dataset("split", holdout=split)
        storage.create_dataset(ds)
        assert storage.get_dataset_meta("split").holdout == split
        back = storage.read_dataset("split")
        np.testing.assert_array_equal(back.values, ds.values)  # the split is metadata only
        assert back.meta.holdout == split and back.meta.n_holdout == 4
        # a sliced read says which of *its* series are held out
        part = storage.read_dataset("split", series=slice(0, 10))
        assert part.meta.holdout.series == [1, 4, 7]
        assert storage.read_dataset("split", labels=[1]).meta.holdout.series == [0, 1, 2]
        assert storage.update_dataset("split", new_name="split2").holdout == split
        assert [m.holdout for m in storage.list_datasets(DatasetQuery()).items] == [split]
        assert storage.create_dataset(make_dataset("no-split")).holdout is None

    @pytest.mark.parametrize("series", [[3, 1], [0, 24], [-1], list(range(24))])
    def test_a_bad_held_out_split_is_refused(self, storage, series) -> None:
        with pytest.raises(BadInputError) as info:
            storage.create_dataset(make_dataset("bad-split", holdout=HoldoutSplit(series=series)))
        assert info.value.field == "holdout.series"

    def test_rename_onto_an_existing_name_is_a_conflict(self, storage) -> None:
        storage.create_dataset(make_dataset("one"))
        storage.create_dataset(make_dataset("two"))
        with pytest.raises(ConflictError):
            storage.update_dataset("one", new_name="two")
        assert storage.get_dataset_meta("one").name == "one"
        with pytest.raises(BadInputError) as info:
            storage.update_dataset("one", new_name="bad name/")
        assert info.value.field == "new_name"

    def test_delete_then_reuse_the_name(self, storage) -> None:
        storage.create_dataset(make_dataset("gone", seed=1))
        storage.delete_dataset("gone")
        with pytest.raises(NotFoundError):
            storage.read_dataset("gone")
        assert storage.list_datasets(DatasetQuery()).total == 0
        again = make_dataset("gone", n=5, seed=9)
        storage.create_dataset(again)
        np.testing.assert_array_equal(storage.read_dataset("gone").values, again.values)

    def test_checksum_of_sliced_read_matches_its_arrays(self, storage) -> None:
        ds = make_dataset("sums", n=12, times=True)
        storage.create_dataset(ds)
        part = storage.read_dataset("sums", series=[3, 4])
        assert part.meta.checksum == checksum(ds.values[[3, 4]], ds.labels[[3, 4]],
                                              ds.times[[3, 4]])

    # ------------------------------------------------------------------ jobs

    @staticmethod
    def _job(job_id: str, minutes: int = 0) -> TrainingJob:
        when = T0 + timedelta(minutes=minutes)
        return TrainingJob(id=job_id, spec=JobSpec(dataset="harm-10", num_trials=2),
                           created_at=when, updated_at=when)

    def test_job_create_get_and_conflict(self, storage) -> None:
        job = storage.create_job(self._job("job-1"))
        got = storage.get_job("job-1")
        assert got == job and got.spec.dataset == "harm-10" and got.status == "queued"
        with pytest.raises(ConflictError):
            storage.create_job(self._job("job-1"))
        with pytest.raises(NotFoundError):
            storage.get_job("job-404")
        with pytest.raises(NotFoundError):
            storage.update_job("job-404", status="running")

    def test_job_updates_status_progress_trials_errors(self, storage) -> None:
        storage.create_job(self._job("job-2"))
        job = storage.update_job("job-2", status="running", progress=0.25)
        assert (job.status, job.progress) == ("running", 0.25)
        assert job.updated_at > T0
        trials = [TrialState(trial_id="t0", architecture="cgan", epochs=3),
                  TrialState(trial_id="t1", architecture="wgan_gp", epochs=3)]
        storage.update_job("job-2", trials=trials)
        storage.update_job("job-2", trial=TrialState(trial_id="t1", architecture="wgan_gp",
                                                     status="running", epoch=2,
                                                     metrics={"mmd": 0.5}))
        storage.update_job("job-2", trial=TrialState(trial_id="t2", architecture="cgan"))
        storage.update_job("job-2", error="trial t0 failed: out of memory")
        storage.update_job("job-2", error="second")
        job = storage.update_job("job-2", status="succeeded", progress=1.0, best_trial="t1")
        got = storage.get_job("job-2")
        assert got == job
        assert [t.trial_id for t in got.trials] == ["t0", "t1", "t2"]
        assert got.trials[1].metrics == {"mmd": 0.5} and got.trials[1].epoch == 2
        assert got.errors == ["trial t0 failed: out of memory", "second"]
        assert (got.status, got.progress, got.best_trial) == ("succeeded", 1.0, "t1")
        assert storage.update_job("job-2", errors=[]).errors == []

    @pytest.mark.parametrize(("changes", "field"), [
        ({"status": "exploded"}, "status"), ({"progress": 1.5}, "progress"),
        ({"owner": "x"}, "owner"), ({"trials": [{"architecture": "cgan"}]}, "trials")])
    def test_bad_job_change_names_the_field_and_changes_nothing(self, storage, changes,
                                                                 field) -> None:
        before = storage.create_job(self._job("job-3"))
        with pytest.raises(BadInputError) as info:
            storage.update_job("job-3", **changes)
        assert info.value.field.startswith(field)
        assert storage.get_job("job-3") == before

    def test_list_jobs_newest_first_with_paging_and_status(self, storage) -> None:
        for i in range(5):
            storage.create_job(self._job(f"job-{i}", minutes=i))
        storage.update_job("job-1", status="running")
        storage.update_job("job-3", status="running")
        page = storage.list_jobs()
        assert [j.id for j in page.items] == ["job-4", "job-3", "job-2", "job-1", "job-0"]
        assert page.total == 5
        page = storage.list_jobs(offset=1, limit=2)
        assert [j.id for j in page.items] == ["job-3", "job-2"] and page.total == 5
        running = storage.list_jobs(status="running")
        assert [j.id for j in running.items] == ["job-3", "job-1"] and running.total == 2
        with pytest.raises(BadInputError):
            storage.list_jobs(limit=0)

    # ------------------------------------------------------------------ the job lease

    @staticmethod
    def _owner(token: str) -> JobOwner:
        return JobOwner(host="conformance", pid=4242, token=token)

    def test_if_owner_takes_a_free_lease_and_the_owner_keeps_writing(self, storage) -> None:
        storage.create_job(self._job("job-lease"))
        taken = storage.update_job("job-lease", if_owner=None, owner=self._owner("a"),
                                   status="running", heartbeat_at=T0)
        assert taken.owner is not None and taken.owner.token == "a"
        beat = T0 + timedelta(seconds=30)
        kept = storage.update_job("job-lease", if_owner="a", heartbeat_at=beat, progress=0.5)
        assert (kept.heartbeat_at, kept.progress) == (beat, 0.5)
        assert storage.get_job("job-lease") == kept
        released = storage.update_job("job-lease", if_owner="a", owner=None, status="succeeded")
        assert released.owner is None
        assert storage.update_job("job-lease", if_owner=None, status="queued").status == "queued"

    @pytest.mark.parametrize("expected", ["someone-else", None])
    def test_if_owner_with_the_wrong_owner_changes_nothing(self, storage, expected) -> None:
        storage.create_job(self._job("job-held"))
        before = storage.update_job("job-held", owner=self._owner("a"), status="running",
                                    heartbeat_at=T0)
        with pytest.raises(ConflictError):
            storage.update_job("job-held", if_owner=expected, owner=self._owner("b"),
                               status="cancelled", heartbeat_at=T0 + timedelta(hours=1),
                               error="taken over")
        assert storage.get_job("job-held") == before

    def test_if_owner_on_a_free_job_refuses_a_claimed_owner(self, storage) -> None:
        before = storage.create_job(self._job("job-free"))
        with pytest.raises(ConflictError):
            storage.update_job("job-free", if_owner="a", status="running")
        assert storage.get_job("job-free") == before

    def test_if_owner_lets_one_of_several_racers_take_the_lease(self, storage) -> None:
        """Threads stand in for processes: each checks and writes in one step, so exactly one
        takes the free job and the others see a conflict."""
        storage.create_job(self._job("job-race"))
        racers = 4
        start = threading.Barrier(racers)
        won: list[str] = []
        lost: list[str] = []

        def take(token: str) -> None:
            start.wait()
            try:
                storage.update_job("job-race", if_owner=None, owner=self._owner(token))
                won.append(token)
            except ConflictError:
                lost.append(token)

        threads = [threading.Thread(target=take, args=(f"r{i}",)) for i in range(racers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(won) == 1 and len(lost) == racers - 1
        owner = storage.get_job("job-race").owner
        assert owner is not None and owner.token == won[0]
