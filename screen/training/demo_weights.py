"""The demo checkpoint's last steps: publish the weights, evaluate them, write the card.

`make demo-weights` trains ScoNet-MT on a phantom split, then runs

    screen demo-weights --phantoms DIR --mt RUN.safetensors [--ce RUN.safetensors] \\
        --weights weights/sconet-mt-demo.safetensors --card models/sconet-mt-demo.card.md

which stores the model(s) in fp16 (the ScoNet-MT one as the shipped default),
calibrates the shipped one on the dataset's VAL_SET (`screen calibrate`: temperature
scaling and operating points in its metadata, a reliability diagram beside the card),
evaluates the fp16 files on the held-out phantom test split with every protocol,
and writes the numbers (JSON) and the model card (card.py) from them: no number
in the card is typed by hand.  `make evaluate-videos` then adds the whole tool's
figures on rendered videos of the same walkers (`screen demo-card`).
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
from .card import CE_NAME, MT_NAME, render_card


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
    previous = json.loads(results_path.read_text("utf-8")) if results_path.is_file() else {}
    published = {MT_NAME: publish(mt, weights, MT_NAME)}
    calibration = calibrate_published(weights, phantoms, partition, precision, card)
    if ce is not None:
        published[CE_NAME] = publish(ce, ce.with_name(f"{CE_NAME}.fp16.safetensors"), CE_NAME)
    models = {
        name: evaluate_file(path, phantoms, partition, precision)
        for name, path in published.items()
    }
    models[MT_NAME]["learning_curve"] = learning_curve(mt.parent / "train_log.jsonl") or (
        _previous_curve(previous, models[MT_NAME]["provenance"])
    )
    numbers = {
        "generated_by": command,
        "results_file": results_path.name,
        "hardware": _hardware(),
        "posture_ceiling": posture_ceiling(),
        "models": models,
    }
    if calibration is not None:
        numbers["calibration"] = calibration
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


def calibrate_published(
    weights: Path, phantoms: Path, partition: Path, precision: str, card: Path
) -> dict | None:
    """Calibrate the published file in place on the VAL_SET, if the partition has one; the
    calibration report (validation figures, operating points), without its plotting bins."""
    from ..model.classify import Classifier
    from .calibrate import calibrate, reliability_diagram
    from .dataset import SilhouetteDataset, Split, read_partition

    if not read_partition(partition).ids[Split.VAL]:
        return None
    dataset = SilhouetteDataset.open(phantoms, partition, Split.VAL)
    classifier = Classifier.from_file(weights, precision=precision)
    report = calibrate(classifier, dataset, weights, half=True)
    picture = reliability_diagram(report, card.with_name(f"{MT_NAME}.reliability.png"))
    report.pop("reliability")
    report.pop("out")
    return {**report, "diagram": picture.name}


def _previous_curve(previous: dict, provenance: str) -> list[dict]:
    """The learning curve of the results being replaced, when they describe the same training
    run (re-publishing a shipped file, e.g. to calibrate it, has no training log at hand)."""
    model = previous.get("models", {}).get(MT_NAME, {})
    return model.get("learning_curve", []) if model.get("provenance") == provenance else []


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
