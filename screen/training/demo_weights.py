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
    """Every protocol on the TEST split (report without per-sequence rows) and training facts."""
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
        "evaluation_precision": classifier.precision,  # the one used: auto resolved
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


def _confidence(figures: dict) -> str:
    summary = figures.get("confidence") or {}
    right, wrong = summary.get("right_mean"), summary.get("wrong_mean")
    show = lambda value: "n/a" if value is None else f"{value:.2f}"  # noqa: E731
    return f"{show(right)} / {show(wrong)}"


def _figure_rows(columns: list[tuple[str, dict]]) -> list[str]:
    """Markdown table: a row per figure, a column per (title, protocol figures)."""
    rows = [
        "| figure | " + " | ".join(title for title, _ in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for title, pick in (*FIGURES, ("mean confidence, right / wrong verdicts", _confidence)):
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


LEARNING_CURVE_BLOCKS = 5  #: the training log is summarised in this many equal blocks


def learning_curve(log_path: Path, blocks: int = LEARNING_CURVE_BLOCKS) -> list[dict]:
    """Mean training loss and strip accuracy per block of iterations, from train_log.jsonl."""
    if not log_path.is_file():
        return []
    steps = [json.loads(line) for line in log_path.read_text("utf-8").splitlines() if line]
    steps = {step["iteration"]: step for step in steps}  # a resumed run may repeat some
    ordered = [steps[i] for i in sorted(steps)]
    size = max(1, math.ceil(len(ordered) / blocks))
    curve = []
    for first in range(0, len(ordered), size):
        block = ordered[first : first + size]
        curve.append({
            "iterations": [block[0]["iteration"], block[-1]["iteration"]],
            "loss": round(sum(b["loss"] for b in block) / len(block), 4),
            "accuracy": round(sum(b["accuracy"] for b in block) / len(block), 4),
        })  # fmt: skip
    return curve


def _curve_rows(curve: list[dict]) -> list[str]:
    rows = ["| iterations | training loss | training strip accuracy |", "|---|---|---|"]
    for block in curve:
        first, last = block["iterations"]
        rows.append(f"| {first}-{last} | {block['loss']:.3f} | {100 * block['accuracy']:.1f}% |")
    return rows


PROTOCOL_TEXT = (
    "Protocols: `clips` = 30-frame clips spread over the whole sequence (clip k holds the k-th "
    "frame of each of 30 equal segments), probabilities averaged: **the tool's verdicts**; "
    "`sequence` = the whole sequence in one pass (the paper's test protocol); `consecutive` = "
    "30 frames in a row every 15, averaged: the tool's first verdict protocol, shown because it "
    "lost to the others (training draws its 30 frames from anywhere in a sequence, so 2 s in a "
    "row, one walking direction and part of a gait cycle, is an input the model never saw)."
)


def video_summary(evaluation: dict, videoset: dict | None = None) -> dict:
    """What the card shows of a `screen evaluate` run on the phantom video set.

    `videoset` (its videoset.json) adds accuracy per filming style (view, distractor,
    camera motion): where the front end, not the classifier, loses videos.
    """
    summary = {
        "model_sha256": evaluation["model"]["sha256"],
        "outcomes": evaluation["outcomes"],
        "figures": evaluation["protocols"]["videos"],
        "not_judged": evaluation["not_judged"]["by_stage"],
    }
    if videoset is not None:
        styles: dict[str, dict[str, int]] = {}
        for row in evaluation["videos"]:
            filmed = videoset["videos"][Path(row["video"]).parts[0]]
            style = f"{filmed['view']}, {filmed['distractor']}, {filmed['camera_motion']}, "
            style += filmed["orientation"]
            counts = styles.setdefault(style, {"videos": 0, "judged": 0, "right": 0})
            counts["videos"] += 1
            counts["judged"] += row["verdict"] not in (None, "inconclusive")
            counts["right"] += bool(row["correct"])
        summary["by_style"] = dict(sorted(styles.items()))
    return summary


def _videos_section(videos: dict | None) -> list[str]:
    """The whole tool on rendered videos of the same test walkers, when it was measured."""
    title = "## Through the whole tool (rendered videos of the test walkers)"
    if not videos:
        return [title, "Not measured for this card: run `make evaluate-videos`."]
    figures, outcomes = videos["figures"], videos["outcomes"]
    reasons = ", ".join(
        f"{stage}: {', '.join(f'{name} {n}' for name, n in group['reasons'].items())}"
        for stage, group in videos["not_judged"].items()
        if group["reasons"]
    )
    lines = [
        title,
        f"The {outcomes['videos']} held-out test walkers rendered as videos (`make "
        "phantom-videos`: 8 s each; front, side and oblique views; a clinician or a passer-by in "
        "some; fixed, shaking, handheld or panning cameras; landscape and portrait) and screened "
        "by `screen evaluate` with the default offline front end and the verdicts' protocol: "
        f"{outcomes['judged']} judged, {outcomes['inconclusive']} inconclusive, "
        f"{outcomes['failed']} failed{f' ({reasons})' if reasons else ''}. Figures over the "
        "judged videos; accuracy over all videos counts an inconclusive or failed one as wrong: "
        f"{_pct(figures['accuracy_all_videos'])}.",
        "",
        *_figure_rows([("videos, clips", figures)]),
        "",
        "Confusion matrix (judged videos):",
        "",
        *_confusion_rows(figures),
        "",
        "Per class (judged videos):",
        "",
        *_per_class_rows(figures),
    ]
    if "by_style" in videos:
        lines += ["", "By filming style (view, distractor, camera motion, orientation):", "",
                  "| style | videos | judged | right |", "|---|---|---|---|"]  # fmt: skip
        for style, counts in videos["by_style"].items():
            lines.append(f"| {style} | {counts['videos']} | {counts['judged']} | "
                         f"{counts['right']} |")  # fmt: skip
    return lines


def add_video_evaluation(
    card: Path, evaluation: Path, videoset: Path | None = None, results: Path | None = None
) -> list[str]:
    """Put a `screen evaluate` run on the phantom videos into the card and its numbers."""
    results_path = results or card.with_name(f"{MT_NAME}.results.json")
    numbers = json.loads(results_path.read_text("utf-8"))
    report = json.loads(evaluation.read_text("utf-8"))
    expected = numbers["models"][MT_NAME]["sha256"]
    if report["model"]["sha256"] != expected:
        raise ScreenError(
            f"{evaluation} evaluated model {report['model']['name']} "
            f"({report['model']['sha256'][:12]}), not the card's {MT_NAME} ({expected[:12]}): "
            "run `make evaluate-videos` again with the card's weights"
        )
    manifest = json.loads(videoset.read_text("utf-8")) if videoset else None
    numbers["videos"] = video_summary(report, manifest)
    write_results(numbers, results_path, card)
    accuracy = numbers["videos"]["figures"]["accuracy"]["value"]
    return [f"videos: accuracy {accuracy} over the judged videos", f"wrote {results_path}, {card}"]


def render_card(results: dict) -> str:
    """The model card's markdown, every number taken from `results`."""
    mt = results["models"][MT_NAME]
    ce = results["models"].get(CE_NAME)
    config, run = mt["training"]["config"], mt["training"]["run"]
    counts = mt["training"]["train_counts"]
    test_counts = mt["data"]["counts"]
    seconds_per_iteration = run["seconds"] / config["iterations"]
    milestones = ", ".join(map(str, config["milestones"])) or "none"
    columns = [(f"ScoNet-MT, {name}", figures) for name, figures in mt["protocols"].items()]
    comparison = []
    if ce is not None:
        columns += [(f"ScoNet, {name}", figures) for name, figures in ce["protocols"].items()]
        comparison = [
            "Plain ScoNet (cross-entropy only) was trained on the same data with the same "
            f"schedule ({ce['training']['run']['seconds'] / 60:.1f} min) for the comparison the "
            "paper's Table 4 makes; it is not shipped.",
            "",
        ]
    verdicts = mt["protocols"]["clips"]
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
        f"{config['batch'][0]} ids x {config['batch'][1]} sequences x {config['frames']} frames "
        f"drawn unordered from anywhere in the sequence; {run['seconds'] / 60:.1f} min "
        f"({seconds_per_iteration:.1f} s/iteration, {run['precision']}, {run['threads']} CPU "
        f"threads, {results['hardware']}) |",
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
        "## Evaluation from ground-truth silhouettes",
        f"Held-out phantom test split ({sum(test_counts.values())} walkers the model never saw: "
        f"{test_counts['positive']} positive / {test_counts['neutral']} neutral / "
        f"{test_counts['negative']} negative), evaluated from the fp16 files in "
        f"{mt['evaluation_precision']}. {PROTOCOL_TEXT} Percentages with 95% Wilson intervals.",
        "",
        "Screening figures: a referral is the positive test. 'refer positive' counts only a "
        "`positive` verdict as a referral (sensitivity over positive walkers); 'refer positive or "
        "neutral' counts both (sensitivity over positive and neutral walkers); specificity is "
        "over negative walkers. The legacy columns are what the 2024 evaluator printed as "
        "sensitivity/specificity (the recall and TNR of class index 0, the NEGATIVE class), "
        "given only to compare with the paper. Mean confidence is the verdict's probability "
        "averaged over right and over wrong verdicts.",
        "",
        *comparison,
        *_figure_rows(columns),
        "",
        "ScoNet-MT, per class (clips protocol, the verdicts):",
        "",
        *_per_class_rows(verdicts),
        "",
        "ScoNet-MT confusion matrix (clips protocol, the verdicts):",
        "",
        *_confusion_rows(verdicts),
        "",
        "ScoNet-MT confusion matrix (sequence protocol):",
        "",
        *_confusion_rows(mt["protocols"]["sequence"]),
        "",
        *_videos_section(results.get("videos")),
        "",
        "## Learning curve",
        "Training loss and strip accuracy (share of the 16 strips' predictions that are right, "
        "on the training batches) over the run:",
        "",
        *_curve_rows(mt.get("learning_curve", [])),
        "",
        "## Limits",
        "- Phantoms are rendered walkers whose scoliosis-like posture (shoulder and pelvic "
        "tilt, trunk shift and rotation) follows the label by construction; real scoliosis is "
        "subtler and varied, and real silhouettes are noisier. These numbers say the machinery "
        "learns a signal that is there; they say nothing about accuracy on people.",
        "- The classes overlap by construction (a severity near 10 or 20 degrees with natural "
        "asymmetries on top): a classifier given the exact posture numbers of each walker reaches "
        f"about {100 * results['posture_ceiling']:.1f}% on balanced phantoms "
        "(`screen/phantom/ceiling.py`), a ceiling for any model here.",
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
    weights: Path,
    card: Path,
    ce: Path | None = None,
    partition: Path | None = None,
    results: Path | None = None,
    precision: str = "auto",
    command: str = "",
) -> list[str]:
    """Publish the run(s) in fp16, evaluate them, write the numbers and the card; lines to show.

    `ce`, a plain-ScoNet run on the same data, is optional: the comparison the paper makes.
    """
    from ..phantom.ceiling import posture_ceiling

    partition = partition or phantoms / "partition.json"
    results_path = results or card.with_name(f"{MT_NAME}.results.json")
    published = {MT_NAME: publish(mt, weights, MT_NAME)}
    if ce is not None:
        published[CE_NAME] = publish(ce, ce.with_name(f"{CE_NAME}.fp16.safetensors"), CE_NAME)
    models = {
        name: evaluate_file(path, phantoms, partition, precision)
        for name, path in published.items()
    }
    models[MT_NAME]["learning_curve"] = learning_curve(mt.parent / "train_log.jsonl")
    numbers = {
        "generated_by": command,
        "results_file": results_path.name,
        "hardware": _hardware(),
        "posture_ceiling": posture_ceiling(),
        "models": models,
    }
    write_results(numbers, results_path, card)
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


def write_results(numbers: dict, results_path: Path, card: Path) -> None:
    results_path.write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")
    card.write_text(render_card(numbers), encoding="utf-8")


def pin_spec_checksum(spec_path: Path, sha256: str) -> Path:
    """Pin the published file's sha256 in its spec, so a changed file is refused at load time."""
    text = spec_path.read_text(encoding="utf-8")
    line = f'files = [{{ name = "{MT_NAME}.safetensors", sha256 = "{sha256}" }}]'
    pinned, count = re.subn(r"^files = \[.*\]$", line, text, flags=re.MULTILINE)
    if count != 1:
        raise ScreenError(f"{spec_path}: expected one `files = [...]` line to pin the checksum")
    spec_path.write_text(pinned, encoding="utf-8")
    return spec_path
