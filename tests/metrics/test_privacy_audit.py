"""The privacy audit: membership inference, adversarial accuracy and the memorisation guard's
distance to the closest record, per class worst first, in the verdict.

Real computations on arrays first (a model that returns jittered training series must fail
with an attack AUC >= 0.8, a fresh draw of the same process must pass with an AUC <= 0.55,
no unseen series or too few must read as "cannot be computed", never as a pass), then the
same through the evaluation service with a memorising model registered in the real MLflow
registry, what `synthts evaluate` prints and what the report shows. The API test is in
tests/api/test_privacy_audit_api.py.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
from synthts_metrics.privacy import (
    AdversarialAccuracy,
    MembershipInference,
    auc_interval,
    auc_se,
)

from synthts_core.domain import Dataset, HoldoutSplit
from synthts_core.services import evaluation
from tests.metrics.memoriser import (
    MemoriserPlugin,
    harmonics,
    jittered_copies,
    register_memoriser,
)

AUDIT = ["mia", "nnaa", "memorisation"]


@pytest.fixture
def metric_registries(synthts_pm, register_plugin):
    from synthts_metrics import plugin

    register_plugin(plugin, name="metrics")
    return synthts_pm.registries


def audit_of(registries, train: Dataset, synthetic: np.ndarray, unseen: Dataset | None,
             metrics=AUDIT):
    results = evaluation.compare(registries, train, synthetic, train.labels, metrics,
                                 holdout=unseen, holdout_text="unseen")
    return {r.name: r for r in results}, evaluation.verdict(registries, results)


def test_a_memorising_model_fails_the_audit_and_a_fresh_draw_passes(metric_registries):
    train, unseen = harmonics(200, seed=1), harmonics(200, seed=2)
    by, verdict = audit_of(metric_registries, train, jittered_copies(train.values), unseen)
    audit = verdict.privacy
    assert audit.metric == "mia" and [g.metric for g in audit.guards] == ["nnaa", "memorisation"]
    assert min(by["mia"].per_class.values()) >= 0.8 and by["mia"].value >= 0.8
    assert [c.passed for c in audit.classes] == [False, False]
    assert all(c.passed is False for g in audit.guards for c in g.classes)
    assert min(by["nnaa"].per_class.values()) > 0.3  # AA on training ~0, on unseen ~0.5
    assert by["nnaa"].details["per_class_details"]["2Hz"]["aa_train"] < 0.1
    assert audit.passed is False and verdict.passed is False
    assert "privacy audit fails 2 class(es)" in verdict.summary
    assert audit.threshold == MembershipInference.privacy_threshold

    by, verdict = audit_of(metric_registries, train, harmonics(200, seed=3).values, unseen)
    audit = verdict.privacy
    assert max(by["mia"].per_class.values()) <= 0.55 and abs(by["mia"].value - 0.5) <= 0.05
    assert [c.passed for c in audit.classes] == [True, True], audit.classes
    assert all(c.passed for g in audit.guards for c in g.classes)
    assert abs(by["nnaa"].value) < 0.1
    assert audit.passed and verdict.passed
    assert verdict.summary.endswith("the privacy audit passes every class")


def test_the_audit_is_per_class_worst_first_beside_the_detector(metric_registries):
    """One class copied, the other a fresh draw: the copied class fails and is listed first,
    the verdict (the detector's, fooled by real series) fails because of it."""
    train, unseen = harmonics(100, seed=1), harmonics(100, seed=2)
    synthetic = harmonics(100, seed=3).values
    copied = train.labels == 1
    synthetic[copied] = jittered_copies(train.values[copied])
    _, verdict = audit_of(metric_registries, train, synthetic, unseen,
                           ["detector", *AUDIT])
    assert verdict.metric == "detector" and all(c.passed for c in verdict.classes)
    audit = verdict.privacy
    assert [(c.label, c.passed) for c in audit.classes] == [("5Hz", False), ("2Hz", True)]
    assert audit.worst == "5Hz" and audit.classes[0].value > 0.9
    assert audit.summary.startswith("1 of 2 class(es) fail the privacy audit (5Hz;")
    assert verdict.passed is False and "privacy audit fails 1 class(es) (5Hz)" in verdict.summary
    # the classes a worse model leaks more come first: order by the attack's AUC
    values = [c.value for c in audit.classes]
    assert values == sorted(values, reverse=True)


def test_a_model_that_copies_now_and_then_fails_the_attack():
    """80 of 200 synthetic series are jittered training series, the rest a fresh draw: the
    attack's AUC is well short of 1, yet past the threshold beyond chance even among ten
    classes (what the verdict asks: its one-sided bound at 0.01 / 10 above the threshold)."""
    train, unseen = harmonics(200, seed=1), harmonics(200, seed=2)
    first = train.labels == 0
    synthetic = harmonics(200, seed=3).values[first].copy()
    synthetic[:80] = jittered_copies(train.values[first][:80])
    mia = MembershipInference().compute(train.values[first], synthetic,
                                        np.random.default_rng(0),
                                        holdout=unseen.values[unseen.labels == 0])
    z = NormalDist().inv_cdf(1 - MembershipInference.privacy_alpha / 10)
    assert 0.55 < float(mia) < 0.8
    assert float(mia) - z * mia.extra["se"] > MembershipInference.privacy_threshold
    assert mia.extra["se"] == pytest.approx(auc_se(float(mia), 200, 200), abs=1e-6)
    assert mia.extra["tpr_at_10pct_fpr"] > 0.3  # a third of the members found at 10 % FPR
    nnaa = AdversarialAccuracy().compute(train.values[first], synthetic,
                                         np.random.default_rng(0),
                                         holdout=unseen.values[unseen.labels == 0])
    # adversarial accuracy averages over every series: it moves the right way, but it is the
    # attack that catches a model copying a fifth of the time
    assert 0.0 < float(nnaa) < float(mia) - 0.5


def test_without_unseen_series_the_audit_cannot_be_computed(metric_registries):
    train = harmonics(100, seed=1)
    by, verdict = audit_of(metric_registries, train, jittered_copies(train.values), None)
    audit = verdict.privacy
    assert all(c.passed is None and c.value is None for c in audit.classes)
    assert all(c.passed is None for g in audit.guards for c in g.classes)
    assert audit.summary.startswith("the privacy audit cannot be computed: no real series")
    assert "privacy audit cannot be computed" in verdict.summary
    assert audit.passed is None  # never a perfect score, and no failure either
    assert np.isnan(by["mia"].value) and "never saw" in by["mia"].details["inconclusive"]


def test_too_few_series_per_class_is_inconclusive_not_a_pass(metric_registries):
    # 8 per class: too few to compute at all
    train, unseen = harmonics(8, seed=1), harmonics(8, seed=2)
    _, verdict = audit_of(metric_registries, train, harmonics(8, seed=3).values, unseen,
                          ["mia", "nnaa"])
    assert verdict.metric == "mia"  # only privacy metrics: the audit is the verdict
    assert all(c.passed is None for c in verdict.classes)
    assert "too few series" in verdict.classes[0].reason
    # 20 per class, an honest draw: computed, but a class passes only where its interval
    # rules out a leak past the ceiling; where it reaches past it, inconclusive, not a pass
    train, unseen = harmonics(20, seed=1), harmonics(20, seed=2)
    _, verdict = audit_of(metric_registries, train, harmonics(20, seed=3).values, unseen,
                           ["mia"])
    ceiling = MembershipInference.privacy_ceiling
    unsure = [c for c in verdict.classes if c.passed is None]
    assert unsure and all("too few series to rule out a leak" in c.reason
                          and c.ci[1] > ceiling for c in unsure), verdict.classes
    assert all(c.ci[1] <= ceiling for c in verdict.classes if c.passed)
    # the audit is the verdict: it failed nothing, so it is inconclusive (None), not a fail
    assert verdict.passed is None and "inconclusive" in verdict.summary
    # while 20 copied series per class are plenty to fail
    _, verdict = audit_of(metric_registries, train, jittered_copies(train.values), unseen,
                          ["mia"])
    assert [c.passed for c in verdict.classes] == [False, False]


def test_a_class_without_unseen_series_is_inconclusive_not_an_error(metric_registries):
    """A held-out split that kept none of a class (a fraction of a tiny class rounds to 0)."""
    train, unseen = harmonics(50, seed=1), harmonics(50, seed=2)
    first = unseen.labels == 0
    unseen = Dataset.build("unseen", unseen.values[first], unseen.labels[first],
                           list(unseen.meta.label_names))
    by, verdict = audit_of(metric_registries, train, jittered_copies(train.values), unseen)
    audit = verdict.privacy
    assert [(c.label, c.passed) for c in audit.classes] == [("2Hz", False), ("5Hz", None)]
    assert "0 unseen" in audit.classes[1].reason
    assert by["memorisation"].details["per_class_details"]["5Hz"]["inconclusive"]


def test_past_the_threshold_by_chance_is_inconclusive(metric_registries):
    """A value past the threshold whose one-sided bound is not is no failure, however small
    its p-value (that tests against AUC 0.5, not against the threshold)."""
    from synthts_core.domain import MetricResult

    result = MetricResult(name="mia", value=0.6, per_class={"a": 0.6, "b": 0.5, "c": 0.6},
                          details={"p_value": 1e-9, "se": 0.01, "ci": [0.58, 0.62],
                                   "per_class_details": {
                              "a": {"p_value": 1e-6, "se": 0.04, "ci": [0.52, 0.68]},
                              "b": {"p_value": 0.5, "se": 0.02, "ci": [0.46, 0.54]},
                              "c": {"p_value": 1e-6, "ci": [0.52, 0.68]}}})
    audit = evaluation.privacy_audit(metric_registries, [result])
    by = {c.label: c for c in audit.classes}
    # a: 0.6 - z(0.01 / 3) * 0.04 = 0.49, not past 0.55; its interval reaches 0.68 > 0.65
    assert by["a"].passed is None and "too few series to rule out" in by["a"].reason
    assert "one-sided bound, 0.49" in by["a"].reason
    assert by["b"].passed is True
    assert by["c"].passed is None and "no standard error" in by["c"].reason
    assert audit.passed is None
    # pooled: one set judged, 0.6 - z(0.01) * 0.01 = 0.577 > 0.55: beyond chance
    assert audit.pooled.passed is False


def ten_classes(per_class: int, seed: int, length: int = 64) -> Dataset:
    """Ten classes of fixed-phase sines (1 to 10 Hz) plus white noise: the main job's ten
    classes, at the audit's 200 series a class."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, length)
    parts = [2.0 * np.sin(2 * np.pi * f * t)[None, None, :]
             + 0.2 * rng.standard_normal((per_class, 1, length)) for f in range(1, 11)]
    return Dataset.build("ten", np.concatenate(parts).astype(np.float32),
                         np.repeat(np.arange(10), per_class), [f"{f}Hz" for f in range(1, 11)])


def leaky_draw(train: Dataset, share: float, seed: int) -> np.ndarray:
    """A fresh draw of ``train``'s process in which ``share`` of each class's series are
    jittered training series: the attack's expected AUC is about 0.5 + share / 2."""
    synthetic = ten_classes(len(train.values) // 10, seed + 1000).values.copy()
    for c in range(10):
        idx = np.flatnonzero(train.labels == c)
        k = round(share * len(idx))
        synthetic[idx[:k]] = jittered_copies(train.values[idx[:k]], seed=seed)
    return synthetic


def test_a_small_leak_within_the_threshold_fails_no_class(metric_registries):
    """6 % near-copies, an expected AUC of 0.53 (below the 0.55 threshold), ten classes of
    200: chance lifts some class's AUC past the threshold with a Mann-Whitney p far below
    0.01 / 10 (this seed is one where it does; it happens about once in nine), which the
    rule "past the threshold and p < alpha / k" failed. Its one-sided bound stays within the
    threshold: no class fails."""
    seed = 33
    train, unseen = ten_classes(200, 3 * seed), ten_classes(200, 3 * seed + 1)
    results = evaluation.compare(metric_registries, train, leaky_draw(train, 0.06, seed),
                                 train.labels, ["mia", "nnaa"], holdout=unseen,
                                 holdout_text="unseen")
    mia = results[0]
    assert 0.52 < np.mean(list(mia.per_class.values())) < 0.55
    details = mia.details["per_class_details"]
    lucky = [label for label, v in mia.per_class.items()
             if v > MembershipInference.privacy_threshold
             and details[label]["p_value"] < MembershipInference.privacy_alpha / 10]
    assert lucky, mia.per_class  # what the old rule failed
    audit = evaluation.verdict(metric_registries, results)
    assert audit.metric == "mia"
    assert not any(c.passed is False for v in (audit, *audit.guards) for c in v.classes), \
        audit.classes
    # the lucky class's interval still reaches past the 0.65 ceiling: inconclusive at most
    assert audit.passed is not False and "fail the privacy audit" not in audit.summary


def test_a_leak_clearly_past_the_threshold_fails_every_class(metric_registries):
    """40 % near-copies, an expected AUC of 0.7: every class of ten fails the attack."""
    seed = 33
    train, unseen = ten_classes(200, 3 * seed), ten_classes(200, 3 * seed + 1)
    results = evaluation.compare(metric_registries, train, leaky_draw(train, 0.4, seed),
                                 train.labels, ["mia"], holdout=unseen, holdout_text="unseen")
    audit = evaluation.verdict(metric_registries, results)
    assert all(0.62 < v < 0.8 for v in results[0].per_class.values()), results[0].per_class
    assert [c.passed for c in audit.classes] == [False] * 10
    assert audit.passed is False and audit.summary.startswith("10 of 10 class(es) fail")


def test_auc_interval_matches_hanley_mcneil():
    low, high = auc_interval(0.5, 100, 100)
    # Hanley & McNeil at A = 0.5: SE^2 = (0.25 + 99 (1/3 - 1/4) * 2) / 10^4
    se = np.sqrt((0.25 + 2 * 99 * (1 / 3 - 0.25)) / 1e4)
    assert (low, high) == pytest.approx((0.5 - 1.96 * se, 0.5 + 1.96 * se))
    assert auc_interval(1.0, 10, 10) == (1.0, 1.0)


@pytest.fixture
def runtime(tmp_path, monkeypatch, synthts_pm, register_plugin):
    """A real runtime (SQLite, embedded MLflow registry) whose plugins are the installed ones
    plus the memorising architecture."""
    from synthts_core.runtime import Runtime
    from synthts_core.settings import Settings

    monkeypatch.setenv("SYNTHTS_DATA_DIR", str(tmp_path / "data"))
    synthts_pm.load_entry_points()
    register_plugin(MemoriserPlugin(), name="memoriser")
    with Runtime(Settings(_env_file=None, device="cpu"), synthts_pm) as rt:
        yield rt


def test_the_service_fails_a_memorising_model_on_a_fresh_draw_and_on_a_held_out_split(
        runtime, capsys):
    """Through the evaluation service: the memoriser learned a generated set (unseen = a fresh
    draw) and an imported one with a held-out split; both fail, per class; `synthts evaluate`
    prints the audit, and the HTML report leads with it. An imported set without a split says
    the audit cannot be computed."""
    from synthts_core.cli.commands.evaluate import _print_table
    from synthts_core.services.holdout import stratified_holdout
    from synthts_core.services.report import verdict_html

    rt = runtime
    rt.services.datasets.create(rt.services.datasets.spec_from_preset(
        "harmonics10", name="h10", count=30, length=64))
    register_memoriser(rt, "memo", "h10")
    run = rt.services.evaluations.run("memo@1", metrics=AUDIT, seed=1, store=False)
    audit = run.report.verdict.privacy
    assert run.report.unseen.startswith("300 freshly drawn series")
    assert len(audit.classes) == 10 and all(c.passed is False for c in audit.classes)
    assert all(c.value >= 0.8 for c in audit.classes)
    assert run.report.verdict.passed is False

    _print_table(run.report, run.skipped)
    out = " ".join(capsys.readouterr().out.split())
    assert "privacy audit FAIL: 10 of 10 class(es) fail the privacy audit" in out
    assert "privacy audit: mia <= 0.55 per class, worst first" in out
    assert "the privacy audit fails 10 class(es)" in out
    page = verdict_html(run.report.verdict)
    assert "<h3>Privacy audit</h3>" in page and page.count('class="fail">fail') >= 30

    data = harmonics(60, seed=4)
    split = stratified_holdout(data.labels, len(data.values), 0.5, seed=0)
    holdout = HoldoutSplit(series=split, how="fraction", fraction=0.5, seed=0)
    for name, kept in (("imported-split", holdout), ("imported-plain", None)):
        rt.services.datasets.store(Dataset.build(name, data.values, data.labels,
                                                 list(data.meta.label_names),
                                                 source="imported", holdout=kept))
        register_memoriser(rt, f"memo-{name}", name)
    split_run = rt.services.evaluations.run("memo-imported-split@1", metrics=AUDIT, seed=1,
                                            store=False)
    assert split_run.report.unseen.startswith("60 held-out series")
    assert [c.passed for c in split_run.report.verdict.privacy.classes] == [False, False]
    plain = rt.services.evaluations.run("memo-imported-plain@1", metrics=AUDIT, seed=1,
                                        store=False).report.verdict
    assert plain.privacy.summary.startswith("the privacy audit cannot be computed")
    assert all(c.passed is None for c in plain.privacy.classes)
    only = rt.services.evaluations.run("memo-imported-plain@1", metrics=["mia"], seed=1,
                                       store=False).report
    assert only.verdict.metric == "mia" and only.verdict.passed is None
    _print_table(only, {})
    out = " ".join(capsys.readouterr().out.split())
    # an audit that cannot be computed fails nothing: inconclusive, not a red FAIL
    assert "INCONCLUSIVE: the privacy audit cannot be computed" in out and "FAIL" not in out
    page = verdict_html(only.verdict)
    assert '<p class="verdict unsure">INCONCLUSIVE: the privacy audit cannot' in page
