"""The demo model card's markdown, every number read from its results JSON (none typed).

`render_card(results)` is all `demo_weights` needs; the helpers draw one table each.
"""

from __future__ import annotations

import math

from ..model.classes import LABELS

MT_NAME = "sconet-mt-demo"
CE_NAME = "sconet-demo"


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


def _calibration_section(calibration: dict | None, test: dict | None) -> list[str]:
    """How the probabilities were calibrated, what it changed, and the operating points."""
    title = "## Calibration and operating points"
    if not calibration or not test:
        return [title, "Not calibrated: the probabilities are softmax(16 x mean strip logit)."]
    temperature = calibration["temperature"]
    chosen = calibration["method"]
    fitted = f"temperature scaling, T = {temperature:.3f}" if temperature else f"{chosen} scaling"
    validation = calibration["validation"]
    lines = [
        title,
        f"Probabilities are calibrated by {fitted}, fitted on the validation split "
        f"({calibration['fitted_on']}; walkers disjoint from training and test) by `screen "
        "calibrate`; it is stored in the model file's metadata. A temperature never changes "
        "which class is most probable in a clip; the mean over a walker's clips can still tip "
        "where its clips disagree (the protocols' tables above are after calibration). ECE = "
        "expected calibration error of the verdict's probability (15 equal bins; 0 is perfect); "
        "Brier = squared error summed over the classes (0 best, 2 worst). The vector-scaling "
        "alternative (a scale and a bias per class) is fitted for comparison, not shipped.",
        "",
        "| probabilities | ECE, validation | Brier, validation | ECE, test | Brier, test |",
        "|---|---|---|---|---|",
    ]
    for name, label in (("uncalibrated", "uncalibrated"), (chosen, f"{chosen} (shipped)")):
        on_test = test["uncalibrated" if name == "uncalibrated" else "calibrated"]
        lines.append(f"| {label} | {validation[name]['ece']:.3f} | {validation[name]['brier']:.3f}"
                     f" | {on_test['ece']:.3f} | {on_test['brier']:.3f} |")  # fmt: skip
    for name in validation:
        if name not in ("uncalibrated", chosen):
            lines.append(f"| {name} (not shipped) | {validation[name]['ece']:.3f} | "
                         f"{validation[name]['brier']:.3f} | - | - |")  # fmt: skip
    lines += [
        "",
        f"Reliability diagram (validation split): `models/{calibration['diagram']}`.",
        "",
        "Operating points (`--operating-point sensitivity=X`): thresholds fitted on the "
        "validation split to reach X sensitivity; verdict positive if p(positive) >= the first "
        "threshold, else neutral if p(positive) + p(neutral) >= the second, else negative. "
        "Figures on the test split, with 95% Wilson intervals:",
        "",
        "| point | p(positive) >= | p(pos)+p(neu) >= | sensitivity, refer positive | "
        "specificity, refer positive | sensitivity, positive or neutral | specificity, positive "
        "or neutral | referred |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, point in test["operating_points"].items():
        positive = point["positive_vs_negative"]
        flagged = point["positive_or_neutral_vs_negative"]
        lines.append(
            f"| {name} | {point['positive_threshold']:.3f} | {point['flag_threshold']:.3f} | "
            f"{_pct(positive['sensitivity'])} | {_pct(positive['specificity'])} | "
            f"{_pct(flagged['sensitivity'])} | {_pct(flagged['specificity'])} | "
            f"{_pct(point['referred'])} |"
        )
    return lines


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
        *_calibration_section(results.get("calibration"), mt.get("calibration")),
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
        "- The calibration and the operating points were fitted on phantoms: on real "
        "recordings neither holds until refitted on labelled real data (`screen calibrate`).",
        "- The test split is small: read the intervals, not the point values.",
        "",
        f"Provenance: {mt['provenance']}",
        "",
    ]
    return "\n".join(lines)
