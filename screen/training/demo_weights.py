"""The demo checkpoint's last step: publish the weights, evaluate both models, write the card.

`make demo-weights` trains ScoNet-MT and plain ScoNet on the same phantom
split, then runs

    screen demo-weights --phantoms DIR --mt RUN.safetensors --ce RUN.safetensors \\
        --weights weights/sconet-mt-demo.safetensors --card models/sconet-mt-demo.card.md

which stores both models in fp16 (the ScoNet-MT one as the shipped default),
evaluates the fp16 files on the held-out phantom test split with both
protocols, and writes the numbers (JSON) and the model card from them: no
number in the card is typed by hand.
"""

from __future__ import annotations

import json
import math
import platform
import re
from pathlib import Path

from ..cores import available_cores
from ..errors import ScreenError
from ..model.checkpoint import ModelMetadata, load_checkpoint, save_checkpoint
from ..model.classes import LABELS

MT_NAME = "sconet-mt-demo"
CE_NAME = "sconet-demo"


def publish(run_export: Path, target: Path, name: str) -> Path:
    """A trained export re-saved in fp16 under its published name (metadata kept)."""
    model, metadata = load_checkpoint(run_export)
    fields = {key: getattr(metadata, key) for key in ModelMetadata.__dataclass_fields__}
    return save_checkpoint(target, model, ModelMetadata(**(fields | {"name": name})), half=True)


def evaluate_file(
    weights: Path, phantoms: Path, partition: Path, precision: str, threads: int = 0
) -> dict:
    """Both protocols on the TEST split (report without per-sequence rows) and training facts."""
    from ..model.classify import Classifier
    from ..modelfiles.files import file_sha256
    from .dataset import SilhouetteDataset, Split
    from .evaluate import evaluate
    from .train import set_threads

    set_threads(threads)
    classifier = Classifier.from_file(weights, precision=precision)
    dataset = SilhouetteDataset.open(phantoms, partition, Split.TEST)
    report = evaluate(classifier, dataset)
    report.pop("sequences")
    metadata = classifier.metadata
    return {
        "file": weights.name,
        "sha256": file_sha256(weights),
        "size_bytes": weights.stat().st_size,
        "evaluation_precision": precision,
        "trained_on": metadata.trained_on,
        "provenance": metadata.provenance,
        "training": metadata.extra,
        **report,
    }


def _pct(proportion: dict) -> str:
    if proportion["value"] is None:
        return "n/a"
    low, high = proportion["ci95"]
    return f"{100 * proportion['value']:.1f}% ({100 * low:.1f}-{100 * high:.1f})"


FIGURES = (
    ("accuracy", lambda f: _pct(f["accuracy"])),
    ("macro F1", lambda f: f"{f['macro_f1']:.3f}"),
    (
        "sensitivity (refer positive)",
        lambda f: _pct(f["screening"]["positive_vs_negative"]["sensitivity"]),
    ),
    (
        "specificity (refer positive)",
        lambda f: _pct(f["screening"]["positive_vs_negative"]["specificity"]),
    ),
    (
        "sensitivity (refer positive or neutral)",
        lambda f: _pct(f["screening"]["positive_or_neutral_vs_negative"]["sensitivity"]),
    ),
    (
        "specificity (refer positive or neutral)",
        lambda f: _pct(f["screening"]["positive_or_neutral_vs_negative"]["specificity"]),
    ),
    (
        "legacy 'sensitivity' = negative-class recall",
        lambda f: _pct(f["legacy"]["sensitivity_negative_class_recall"]),
    ),
    (
        "legacy 'specificity' = negative-class TNR",
        lambda f: _pct(f["legacy"]["specificity_negative_class_tnr"]),
    ),
)


def _figure_rows(models: dict[str, dict]) -> list[str]:
    """Markdown table: a row per figure, a column per model and protocol."""
    columns = [
        (f"{name}, {protocol}", figures)
        for name, result in models.items()
        for protocol, figures in result["protocols"].items()
    ]
    rows = [
        "| figure | " + " | ".join(title for title, _ in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for title, pick in FIGURES:
        rows.append(f"| {title} | " + " | ".join(pick(figures) for _, figures in columns) + " |")
    return rows


def _ratio(counts: dict[str, int]) -> str:
    """positive:neutral:negative in lowest terms, e.g. '1:1:8'."""
    values = [counts["positive"], counts["neutral"], counts["negative"]]
    divisor = math.gcd(*values) or 1
    return ":".join(str(value // divisor) for value in values)


def _confusion_rows(figures: dict) -> list[str]:
    matrix = figures["confusion_matrix"]
    rows = ["| truth \\ predicted | " + " | ".join(matrix["labels"]) + " |", "|---|---|---|---|"]
    for label, counts in zip(matrix["labels"], matrix["rows_truth_columns_predicted"], strict=True):
        rows.append(f"| {label} | " + " | ".join(map(str, counts)) + " |")
    return rows


def _per_class_rows(figures: dict) -> list[str]:
    rows = ["| class | precision | recall | F1 |", "|---|---|---|---|"]
    for label in LABELS:
        scores = figures["per_class"][label.value]
        precision, recall = _pct(scores["precision"]), _pct(scores["recall"])
        rows.append(f"| {label.value} | {precision} | {recall} | {scores['f1']:.3f} |")
    return rows


def render_card(results: dict) -> str:
    """The model card's markdown, every number taken from `results`."""
    mt, ce = results["models"][MT_NAME], results["models"][CE_NAME]
    config, run = mt["training"]["config"], mt["training"]["run"]
    counts = mt["training"]["train_counts"]
    test_counts = mt["data"]["counts"]
    seconds_per_iteration = run["seconds"] / config["iterations"]
    ce_run = ce["training"]["run"]
    milestones = ", ".join(map(str, config["milestones"])) or "none"
    lines = [
        f"# Model card: {MT_NAME}",
        "",
        "<!-- Generated by `screen demo-weights` (run by `make demo-weights`) from "
        f"{results['results_file']}; do not edit by hand. -->",
        "",
        "| | |",
        "|---|---|",
        "| architecture | ScoNet (OpenGait layout), input 64x44 silhouettes, 30-frame clips |",
        "| class order | negative, neutral, positive (index 0, 1, 2) |",
        f"| trained on | {mt['trained_on']}: {sum(counts.values())} training sequences, "
        f"{counts['positive']} positive / {counts['neutral']} neutral / "
        f"{counts['negative']} negative (positive:neutral:negative {_ratio(counts)}; the paper's "
        "Table 4 compares 1:1:2 to 1:1:16) |",
        f"| training recipe | ScoNet-MT: cross-entropy (scale {config['logit_scale']:g}, "
        f"label smoothing {config['label_smoothing']:g}) + batch-all triplet "
        f"(margin {config['margin']:g}); SGD lr {config['lr']:g}, momentum "
        f"{config['momentum']:g}, weight decay {config['weight_decay']:g}; "
        f"lr x{config['gamma']:g} at {milestones}; {config['iterations']} iterations of "
        f"{config['batch'][0]} ids x {config['batch'][1]} sequences x {config['frames']} frames; "
        f"{run['seconds'] / 60:.1f} min ({seconds_per_iteration:.1f} s/iteration, "
        f"{run['precision']}, {run['threads']} CPU threads, {results['hardware']}) |",
        "| command | `make demo-weights` |",
        "| clinical use | **NOT for clinical use**: trained and evaluated on synthetic phantoms "
        "only |",
        f"| file | `weights/{mt['file']}` (fp16, {mt['size_bytes'] / 1e6:.1f} MB, sha256 "
        f"`{mt['sha256']}`) |",
        "",
        "## Intended use",
        "A demonstration and self-test of the tool: it shows that the whole path (video, "
        "silhouettes, ScoNet-MT, verdict) works end to end on phantom walkers. It has never seen a "
        "real person. It must not be used to screen, diagnose or reassure anyone: a verdict from "
        "it says nothing about a real spine.",
        "",
        "## Evaluation",
        f"Held-out phantom test split ({sum(test_counts.values())} walkers the model never saw: "
        f"{test_counts['positive']} positive / {test_counts['neutral']} neutral / "
        f"{test_counts['negative']} negative), evaluated from the fp16 files in "
        f"{mt['evaluation_precision']}. Protocols: `sequence` = the whole sequence in one pass "
        "(the paper's test protocol); `clips` = 30-frame clips, probabilities averaged (the "
        "tool's verdicts). Percentages with 95% Wilson intervals.",
        "",
        "Screening figures: a referral is the positive test. 'refer positive' counts only a "
        "`positive` verdict as a referral (sensitivity over positive walkers); 'refer positive or "
        "neutral' counts both (sensitivity over positive and neutral walkers); specificity is "
        "over negative walkers. The legacy columns are what the 2024 evaluator printed as "
        "sensitivity/specificity (the recall and TNR of class index 0, the NEGATIVE class), "
        "given only to compare with the paper.",
        "",
        "Plain ScoNet (cross-entropy only) was trained on the same data with the same schedule "
        f"({ce_run['seconds'] / 60:.1f} min) for the comparison the paper's Table 4 makes under "
        "class imbalance; it is not shipped.",
        "",
        *_figure_rows({"ScoNet-MT": mt, "ScoNet": ce}),
        "",
        "ScoNet-MT, per class (sequence protocol):",
        "",
        *_per_class_rows(mt["protocols"]["sequence"]),
        "",
        "ScoNet-MT confusion matrix (sequence protocol):",
        "",
        *_confusion_rows(mt["protocols"]["sequence"]),
        "",
        "ScoNet-MT confusion matrix (clips protocol):",
        "",
        *_confusion_rows(mt["protocols"]["clips"]),
        "",
        "## Limits",
        "- Phantoms are rendered walkers whose scoliosis-like posture (shoulder and pelvic "
        "tilt, trunk shift and rotation) follows the label by construction; real scoliosis is "
        "subtler and varied, and real silhouettes are noisier. These numbers say the machinery "
        "learns a signal that is there; they say nothing about accuracy on people.",
        f"- The schedule is {config['iterations']} iterations, far shorter than the paper's "
        "20,000 at 8 x 8 x 30 (a 2-core CPU budget of about an hour for the whole "
        "`make demo-weights`); the model is undertrained by design.",
        "- The probabilities are softmax(16 x mean strip logit), not calibrated.",
        "- The test split is small: read the intervals, not the point values.",
        "",
        f"Provenance: {mt['provenance']}",
        "",
    ]
    return "\n".join(lines)


def _hardware() -> str:
    """The CPU in words, e.g. 'AMD EPYC, 2 cores'."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {available_cores()} cores"


def make_demo_weights(
    phantoms: Path,
    mt: Path,
    ce: Path,
    weights: Path,
    card: Path,
    partition: Path | None = None,
    results: Path | None = None,
    precision: str = "bf16",
    command: str = "",
) -> list[str]:
    """Publish both runs in fp16, evaluate them, write the numbers and the card; lines to show."""
    partition = partition or phantoms / "partition.json"
    results_path = results or card.with_name(f"{MT_NAME}.results.json")
    published = {
        MT_NAME: publish(mt, weights, MT_NAME),
        CE_NAME: publish(ce, ce.with_name(f"{CE_NAME}.fp16.safetensors"), CE_NAME),
    }
    models = {
        name: evaluate_file(path, phantoms, partition, precision)
        for name, path in published.items()
    }
    numbers = {
        "generated_by": command,
        "results_file": results_path.name,
        "hardware": _hardware(),
        "models": models,
    }
    results_path.write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")
    card.write_text(render_card(numbers), encoding="utf-8")
    lines = []
    for name, result in models.items():
        accuracy = {p: f["accuracy"]["value"] for p, f in result["protocols"].items()}
        lines.append(f"{name}: accuracy {accuracy}, sha256 {result['sha256']}")
    lines.append(f"wrote {weights}, {results_path}, {card}")
    spec = card.with_name(f"{MT_NAME}.toml")
    if spec.exists():  # the spec lives beside the card in models/
        pin_spec_checksum(spec, models[MT_NAME]["sha256"])
        lines.append(f"pinned its sha256 in {spec}")
    return lines


def pin_spec_checksum(spec_path: Path, sha256: str) -> Path:
    """Pin the published file's sha256 in its spec, so a changed file is refused at load time."""
    text = spec_path.read_text(encoding="utf-8")
    line = f'files = [{{ name = "{MT_NAME}.safetensors", sha256 = "{sha256}" }}]'
    pinned, count = re.subn(r"^files = \[.*\]$", line, text, flags=re.MULTILINE)
    if count != 1:
        raise ScreenError(f"{spec_path}: expected one `files = [...]` line to pin the checksum")
    spec_path.write_text(pinned, encoding="utf-8")
    return spec_path
