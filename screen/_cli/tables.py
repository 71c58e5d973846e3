"""Rich tables of an evaluation report (screen.training.evaluate returns the data only)."""

from __future__ import annotations

from rich.table import Table

from ..model.classes import LABELS
from ..training.evaluate import REFERRALS, referred_names
from ..video_evaluation import ALL_VIDEOS


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
    if all(ALL_VIDEOS in figures for figures in protocols.values()):  # labelled videos
        row("accuracy, all videos (not judged = wrong)", lambda f: _percent(f[ALL_VIDEOS]))
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
    if "not_judged" in report:
        tables += _not_judged_tables(report)
    return tables


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "-"


def _not_judged_tables(report: dict) -> list[Table]:
    """Labelled videos: the outcome of every video, why those not judged were not (by stage),
    and each failed file's reason."""
    outcomes = report["outcomes"]
    summary = Table(title=f"outcome of the {outcomes['videos']} videos")
    summary.add_column("outcome")
    summary.add_column("videos", justify="right")
    for name in ("judged", "inconclusive", "failed"):
        summary.add_row(name, str(outcomes[name]))
    stages = Table(
        title="videos not judged, by the stage that stopped them",
        caption="why: the flags that made a video inconclusive, or a failed file's error "
        "(with: the inconclusive videos' other quality flags)",
    )
    stages.add_column("stage")
    stages.add_column("inconclusive", justify="right")
    stages.add_column("failed", justify="right")
    stages.add_column("why")
    for name, group in report["not_judged"]["by_stage"].items():
        if group["inconclusive"] or group["failed"]:
            why = _counted(group["reasons"])
            if group["with_flags"]:
                why += f" (with {_counted(group['with_flags'])})"
            stages.add_row(name, str(group["inconclusive"]), str(group["failed"]), why)
    if not stages.rows:
        stages.add_row("(none)", "0", "0", "-")
    tables = [summary, stages]
    failed = report["not_judged"]["failed"]
    if failed:
        files = Table(title=f"failed files ({len(failed)})")
        files.add_column("video")
        files.add_column("label")
        files.add_column("error")
        for entry in failed:
            files.add_row(entry["video"], entry["label"], entry["error"])
        tables.append(files)
    return tables
