"""Rich tables of an evaluation report (screen.training.evaluate returns the data only)."""

from __future__ import annotations

from rich.table import Table

from ..model.classes import LABELS
from ..training.evaluate import REFERRALS, referred_names


def _percent(proportion: dict) -> str:
    if proportion["value"] is None:
        return "n/a (0/0)"
    low, high = proportion["ci95"]
    return (
        f"{100 * proportion['value']:.1f}% [{100 * low:.1f}-{100 * high:.1f}] "
        f"({proportion['successes']}/{proportion['total']})"
    )


def report_tables(report: dict) -> list[Table]:
    """Readable rich tables: the figures with a column per protocol, then each confusion matrix."""
    protocols = report["protocols"]
    table = Table(
        title="value [95% Wilson interval] (count)",
        caption="; ".join(
            f"{name}: {figures['description']}" for name, figures in protocols.items()
        ),
    )
    table.add_column("figure", no_wrap=True)
    for name in protocols:
        table.add_column(name)

    def row(title: str, pick) -> None:
        table.add_row(title, *(pick(figures) for figures in protocols.values()))

    row("accuracy", lambda f: _percent(f["accuracy"]))
    row("macro F1", lambda f: f"{f['macro_f1']:.3f}")
    for label in LABELS:
        for kind in ("precision", "recall"):
            row(f"{label} {kind}", lambda f, k=kind, c=label: _percent(f["per_class"][c][k]))
    for key, referred in REFERRALS.items():
        words = " or ".join(referred_names(referred))
        for kind in ("sensitivity", "specificity"):
            row(f"{kind} (refer {words})", lambda f, k=kind, s=key: _percent(f["screening"][s][k]))
    row(
        "legacy 'sensitivity' = negative-class recall",
        lambda f: _percent(f["legacy"]["sensitivity_negative_class_recall"]),
    )
    row(
        "legacy 'specificity' = negative-class TNR",
        lambda f: _percent(f["legacy"]["specificity_negative_class_tnr"]),
    )
    tables = [table]
    for name, figures in protocols.items():
        matrix = figures["confusion_matrix"]
        grid = Table(title=f"confusion matrix, {name}")
        grid.add_column("truth \\ predicted")
        for label in matrix["labels"]:
            grid.add_column(label, justify="right")
        for label, counts in zip(
            matrix["labels"], matrix["rows_truth_columns_predicted"], strict=True
        ):
            grid.add_row(label, *map(str, counts))
        tables.append(grid)
    return tables
