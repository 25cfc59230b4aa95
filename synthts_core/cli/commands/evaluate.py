"""``synthts evaluate``: score a registered model version against a dataset, print a table and
write an HTML report with figures."""

from __future__ import annotations

import json
from pathlib import Path

import click

from synthts_core.cli import cli_runtime


@click.command("evaluate")
@click.argument("model")
@click.option("--dataset", help="Dataset to compare with (default: the one the model learned).")
@click.option("--metrics", help="Comma-separated metric names (default: every installed metric).")
@click.option("--n-per-label", type=int, help="Series to generate per label (default: as many "
              "as the dataset has).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for generation and "
              "the metrics' random choices.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="HTML report path (default: evaluation-MODEL-VERSION.html).")
@click.option("--no-report", is_flag=True, help="Skip the HTML report.")
@click.option("--no-store", is_flag=True, help="Do not log the report with the model version.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def command(ctx: click.Context, model: str, dataset: str | None, metrics: str | None,
            n_per_label: int | None, seed: int, output: str | None, no_report: bool,
            no_store: bool, as_json: bool) -> None:
    """Evaluate MODEL[@version|alias] (quality metrics per class and pooled)."""
    from synthts_core.domain import to_builtins

    metric_list = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    with cli_runtime(ctx) as rt:
        evaluations = rt.services.evaluations
        run = evaluations.run(model, dataset, metric_list, n_per_label, seed,
                              store=not no_store)
        html = None if no_report else evaluations.html_report(run)
    report = run.report
    path = None
    if html is not None:
        ref = report.model
        default = f"evaluation-{ref.name}-{ref.version}.html" if ref else "evaluation.html"
        path = Path(output or default)
        path.write_text(html, encoding="utf-8")
    if as_json:
        data = to_builtins(report)
        data["skipped"] = run.skipped
        data["html"] = str(path) if path else None
        click.echo(json.dumps(data))
        return
    _print_table(report, run.skipped)
    if path:
        click.echo(f"report written to {path}")


def _print_table(report, skipped: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    ref = report.model
    title = (f"{ref.name}@{ref.version} vs {report.dataset} "
             f"({report.n_synthetic} synthetic series)") if ref else report.dataset
    table = Table(title=title)
    for col in ("metric", "value", "std", "better"):
        table.add_column(col, justify="right" if col in ("value", "std") else "left")
    classes = sorted({k for r in report.metrics for k in r.per_class})
    for label in classes:
        table.add_column(label, justify="right")
    for r in report.metrics:
        row = [r.name, f"{r.value:.4f}", "" if r.std is None else f"{r.std:.4f}",
               "higher" if r.higher_is_better else "lower"]
        row += [f"{r.per_class[c]:.4f}" if c in r.per_class else "" for c in classes]
        table.add_row(*row)
    console = Console()
    print_verdict(console, report.verdict)
    console.print(table)
    for name, why in skipped.items():
        console.print(f"[yellow]skipped {name}: {why}[/yellow]")


def print_verdict(console, verdict) -> None:
    """The verdict first: per class, worst first, pass / fail / inconclusive; then the privacy
    audit the same way."""
    if verdict is None:
        console.print("[yellow]no verdict: no evaluated metric states a pass threshold "
                      "(add --metrics detector,...)[/yellow]")
        return
    # None: an audit-only verdict that failed nothing but could not vouch for every class
    colour = {"PASS": "green", "INCONCLUSIVE": "yellow"}.get(verdict.word, "red")
    console.print(f"[bold {colour}]{verdict.word}[/]: {verdict.summary}")
    _print_classes(console, verdict, "verdict")
    audit = verdict.privacy
    if audit is not None:
        colour = "green" if audit.passed else "yellow" if _audit_unsure(audit) else "red"
        word = "PASS" if audit.passed else "INCONCLUSIVE" if _audit_unsure(audit) else "FAIL"
        console.print(f"[bold {colour}]privacy audit {word}[/]: {audit.summary}")
        _print_classes(console, audit, "privacy audit")
    for note in verdict.notes:
        console.print(f"[dim]{note}[/dim]")


def _audit_unsure(audit) -> bool:
    """The audit failed no class (it could not vouch for some)."""
    return not any(c.passed is False for v in (audit, *audit.guards) for c in v.classes)


def _print_classes(console, verdict, title: str) -> None:
    """One table: the verdict's metric per class, worst first, and its guards beside it."""
    from rich.table import Table

    sign = ">=" if verdict.higher_is_better else "<="
    table = Table(title=f"{title}: {verdict.metric} {sign} {verdict.threshold:g} per class, "
                        "worst first")
    words = {True: "[green]pass[/]", False: "[red]fail[/]", None: "[yellow]inconclusive[/]"}
    guards = [(g, {c.label: c for c in g.classes}) for g in verdict.guards]
    for col in ("class", verdict.metric, "95 % interval", "verdict"):
        table.add_column(col)
    for g, _ in guards:
        sign = ">=" if g.higher_is_better else "<="
        table.add_column(f"{g.metric} ({sign} {g.threshold:.2g})")
    table.add_column("note")
    for c in verdict.classes:
        row = [c.label, "" if c.value is None else f"{c.value:.3f}",
               f"[{c.ci[0]:.3f}, {c.ci[1]:.3f}]" if c.ci else "", words[c.passed]]
        reasons = [c.reason or ""]
        for _, by_label in guards:
            gc = by_label.get(c.label)
            row.append("" if gc is None else
                       f"{'-' if gc.value is None else f'{gc.value:.2g}'} {words[gc.passed]}")
            if gc is not None and gc.reason and gc.reason not in reasons:
                reasons.append(gc.reason)
        table.add_row(*row, "; ".join(r for r in reasons if r))
    console.print(table)
