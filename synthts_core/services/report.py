"""The main job's self-contained HTML report: the verdict (the strong real-vs-synthetic test per
class, worst first) and the privacy audit, real vs synthetic per class, the metric table,
training curves, embeddings, a latent interpolation animation and what ran where.

plotly.js is inlined once, so the file opens offline and in CI's headless Chromium.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthts_core.domain import Dataset, TrainingJob
    from synthts_core.runtime import Runtime
    from synthts_core.services.evaluation import EvaluationRun

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
table.facts { border-collapse: collapse; font-size: 0.92rem; }
table.facts td, table.facts th { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left;
  vertical-align: top; }
.muted { color: #666; }
.pass { color: #137333; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; }
.unsure { color: #8a5a00; font-weight: 600; }
.verdict { font-size: 1.1rem; padding: 0.6rem 0.9rem; border-left: 6px solid #999;
  background: #f6f6f6; }
.verdict.pass { border-color: #137333; } .verdict.fail { border-color: #b3261e; }
"""


def verdict_html(verdict: Any) -> str:
    """The report's lead: the strong test per class against its threshold, worst first; then
    the privacy audit (membership inference, adversarial accuracy, distance to the closest
    record) per class, worst first, the same way."""
    if verdict is None:
        return ('<p class="verdict">No verdict: none of the evaluated metrics states a pass '
                'threshold (add the detector metric).</p>')
    # None: an audit-only verdict that failed nothing but could not vouch for every class
    word = verdict.word
    state = {"PASS": "pass", "INCONCLUSIVE": "unsure"}.get(word, "fail")
    sign = ">=" if verdict.higher_is_better else "<="
    head = (f'<p class="verdict {state}">{word}: '
            f"{html.escape(verdict.summary)}</p>"
            f'<p class="muted">A class passes when its {html.escape(verdict.metric)} is '
            f"{sign} {verdict.threshold:g} and the metric could vouch for it"
            + ("; a class a guard fails (the memorisation guard: synthetic series closer to "
               "the training series than unseen real ones) fails too"
               if getattr(verdict, "guards", None) else "")
            + " (definitions: docs/metrics.md).</p>")
    notes = "".join(f'<p class="muted">{html.escape(n)}</p>' for n in verdict.notes)
    return head + _classes_table(verdict) + _audit_html(getattr(verdict, "privacy", None)) \
        + notes


def _audit_html(audit: Any) -> str:
    """The privacy audit's own verdict and table (empty when no privacy metric ran)."""
    if audit is None:
        return ""
    failed = any(c.passed is False for v in (audit, *audit.guards) for c in v.classes)
    state, word = (("pass", "PASS") if audit.passed else ("fail", "FAIL") if failed
                   else ("unsure", "INCONCLUSIVE"))
    return ("<h3>Privacy audit</h3>"
            f'<p class="verdict {state}">{word}: {html.escape(audit.summary)}</p>'
            '<p class="muted">Could someone holding the synthetic series tell which real series '
            f"trained the model? {html.escape(audit.metric)}: a membership-inference attack's "
            "AUC (0.5 = no better than chance); nnaa: the nearest-neighbour adversarial "
            "accuracy's privacy loss; memorisation: synthetic vs unseen real series' distance "
            "to the closest training series. A class fails when a figure is past its threshold "
            "beyond chance; too few or no unseen real series read as inconclusive, never as a "
            "pass (docs/metrics.md).</p>" + _classes_table(audit))


def _classes_table(verdict: Any) -> str:
    """Per class, worst first: the verdict's metric, its interval and state, its guards."""
    words = {True: ("pass", "pass"), False: ("fail", "fail"), None: ("unsure", "inconclusive")}
    guards = [(g, {c.label: c for c in g.classes}) for g in getattr(verdict, "guards", [])]
    rows = []
    for c in verdict.classes:
        css, word = words[c.passed]
        ci = f"[{c.ci[0]:.3f}, {c.ci[1]:.3f}]" if c.ci else ""
        value = "" if c.value is None else f"{c.value:.3f}"
        cells, reasons = [], [c.reason or ""]
        for _, by_label in guards:
            gc = by_label.get(c.label)
            if gc is None:
                cells.append("<td></td>")
                continue
            g_css, g_word = words[gc.passed]
            g_value = "-" if gc.value is None else f"{gc.value:.2g}"
            cells.append(f'<td>{g_value} <span class="{g_css}">{g_word}</span></td>')
            if gc.reason and gc.reason not in reasons:
                reasons.append(gc.reason)
        note = "; ".join(r for r in reasons if r)
        rows.append(f"<tr><td>{html.escape(c.label)}</td><td>{value}</td><td>{ci}</td>"
                    f'<td class="{css}">{word}</td>{"".join(cells)}'
                    f"<td>{html.escape(note)}</td></tr>")
    guard_heads = "".join(
        f"<th>{html.escape(g.metric)} ({'>=' if g.higher_is_better else '<='} "
        f"{g.threshold:.2g})</th>" for g, _ in guards)
    return (f'<table class="facts"><tr><th>class (worst first)</th>'
            f"<th>{html.escape(verdict.metric)}</th><th>95 % interval</th><th>verdict</th>"
            f"{guard_heads}<th>note</th></tr>{''.join(rows)}</table>")


def _facts_table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_text(v))}</td></tr>"
                   for k, v in rows)
    return f'<table class="facts">{body}</table>'


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def _last_scored(trial: Any, metric: str) -> Any:
    scored = [h[metric] for h in trial.history if isinstance(h.get(metric), int | float)]
    return scored[-1] if scored else ""


def _trials_table(job: TrainingJob, metric: str) -> str:
    head = ("<tr><th>trial</th><th>architecture</th><th>status</th><th>epochs</th>"
            f"<th>{html.escape(metric)} (last scored)</th><th>{html.escape(metric)} (fresh "
            "samples, picked the winner)</th><th>config</th><th>error</th></tr>")
    rows = []
    for t in job.trials:
        best = " (best)" if t.trial_id == job.best_trial else ""
        rows.append(
            f"<tr><td>{html.escape(t.trial_id + best)}</td><td>{html.escape(t.architecture)}</td>"
            f"<td>{html.escape(t.status)}</td><td>{t.epoch}/{t.epochs}</td>"
            f"<td>{html.escape(_text(_last_scored(t, metric)))}</td>"
            f"<td>{html.escape(_text(t.selection_score if t.selection_score is not None else ''))}</td>"
            f"<td>{html.escape(_text(t.config))}</td><td>{html.escape(t.error or '')}</td></tr>")
    return f'<table class="facts">{head}{"".join(rows)}</table>'


def build_report(rt: Runtime, *, dataset: Dataset, job: TrainingJob, run: EvaluationRun,
                 environment: dict[str, Any], timings: dict[str, float], seed: int = 0) -> str:
    from synthts_core import figures, projection
    from synthts_core.services import interpolation

    assert job.model is not None
    metric = job.spec.select_metric
    model = rt.services.models.load(job.model.name, job.model.version)
    if model.conditional and len(model.label_names) >= 2:
        walk = interpolation.between_labels(model, model.label_names[0],
                                            model.label_names[-1], steps=24, z=seed)
    else:
        walk = interpolation.between_latents(model, seed, seed + 1, steps=24)
    real_pts, synth_pts = projection.embeddings(run.real.values, run.synthetic_values, "pca",
                                                max_points=500, seed=seed)
    sections: list[tuple[str, str, Any]] = [
        ("Real vs synthetic, per class",
         f"{len(run.synthetic_values)} synthetic series from {job.model.name} version "
         f"{job.model.version} beside the real ones.",
         figures.real_vs_synthetic_figure(run.real.values, run.real.labels,
                                          run.synthetic_values, run.synthetic_labels,
                                          run.label_names, per_label=3)),
        ("Quality metrics",
         "Lower is better unless marked higher; per-class values where labels exist. "
         "discriminative and predictive follow the literature's (TimeGAN) protocol, kept for "
         "comparison with published numbers: they are not the verdict. "
         "Definitions: docs/metrics.md.",
         figures.metrics_table_figure(run.report.metrics)),
        ("Training curves",
         f"{len(job.trials)} trials; the best by {metric} was registered.",
         figures.training_curves_figure(
             {f"{t.trial_id} {t.architecture}": t.history for t in job.trials if t.history})),
        ("Embedding (PCA)", "Real and synthetic series projected together.",
         figures.embedding_figure(real_pts, synth_pts, "pca")),
        ("Latent interpolation", walk.description + " (press Play).",
         figures.interpolation_animation(walk.values, title="Latent interpolation")),
    ]
    parts = ["<h2>Verdict</h2>" + verdict_html(run.report.verdict)]
    for i, (title, caption, fig) in enumerate(sections):
        parts.append(f"<h2>{html.escape(title)}</h2><p class=\"muted\">{html.escape(caption)}</p>"
                     + fig.to_html(full_html=False, include_plotlyjs=(i == 0),
                                   div_id=f"figure-{i}"))
    parts.append("<h2>Trials</h2>" + _trials_table(job, metric))
    meta = dataset.meta
    parts.append("<h2>What ran where</h2>" + _facts_table([
        ("dataset", f"{meta.name}: {meta.n_series} series x {meta.n_channels} channel(s) x "
                    f"{meta.length} points, labels {', '.join(meta.label_names)}"),
        ("dataset checksum", meta.checksum),
        ("training job", f"{job.id} ({job.status})"),
        ("registered model", f"{job.model.name} version {job.model.version} "
                             f"({job.model.architecture}); aliases {job.model.aliases}"),
        ("differential privacy", _privacy_line(job.model.config)),
        *environment.items(),
        *((f"time: {k}", f"{v:.1f} s") for k, v in timings.items()),
    ]))
    title = f"synthts report: {meta.name}"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class=\"muted\">written {stamp}</p>"
            + "\n".join(parts) + "</body></html>\n")


def _privacy_line(config: Any) -> str:
    """What the registered version spent under differential privacy (synthts_core.privacy)."""
    from synthts_core import privacy

    return privacy.summary(config)
