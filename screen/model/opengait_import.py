"""`screen weights import`: an OpenGait ScoNet checkpoint -> this tool's format, with provenance.

It lives beside the checkpoint code, not in screen.modelfiles: modelfiles finds
and verifies files and never imports the model package (model imports it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import CheckpointError, ScreenError
from ..modelfiles.files import file_sha256
from .checkpoint import ModelMetadata, load_opengait_checkpoint, save_checkpoint
from .classes import ClassOrder

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class ImportedCheckpoint:
    path: Path  #: our safetensors checkpoint
    card: Path  #: its model-card stub
    sha256: str  #: of the checkpoint written
    source_sha256: str  #: of the OpenGait file it came from
    metadata: ModelMetadata


def import_opengait(
    source: str | Path,
    class_order: ClassOrder,
    out_dir: str | Path,
    name: str | None = None,
    *,
    clinical: bool = False,
    trained_on: str | None = None,
    half: bool = False,
    force: bool = False,
) -> ImportedCheckpoint:
    """An OpenGait ScoNet checkpoint -> our safetensors format with provenance, plus a card stub.

    The file is read with torch.load(weights_only=True): it cannot run code.  Keys
    and shapes must match ScoNet exactly.  `clinical` must be stated with `trained_on`.
    """
    source, out_dir = Path(source), Path(out_dir)
    name = name or source.stem
    if not _SAFE_NAME.match(name):
        raise ScreenError(
            f"--name {name!r}: use letters, digits, '.', '_' and '-' only (it names files in --out)"
        )
    if clinical and not (trained_on or "").strip():
        raise ScreenError(
            "--clinical needs --trained-on: say which clinical data the model was trained and "
            "validated on"
        )
    checkpoint, card = out_dir / f"{name}.safetensors", out_dir / f"{name}.card.md"
    for existing in (checkpoint, card):
        if existing.exists() and not force:
            raise CheckpointError(existing, "already exists; pass --force to replace it")
    model = load_opengait_checkpoint(source)  # refuses code, wrong keys, shapes
    source_sha256 = file_sha256(source)
    imported_at = datetime.now(UTC).isoformat(timespec="seconds")
    metadata = ModelMetadata(
        name=name,
        class_order=class_order,
        trained_on=trained_on or "not stated at import (an OpenGait checkpoint)",
        clinical=clinical,
        provenance=(
            f"imported with `screen weights import` on {imported_at} from OpenGait checkpoint "
            f"{source.name} (sha256 {source_sha256}); class order {class_order.value} as stated"
        ),
        extra={
            "source_file": source.name,
            "source_sha256": source_sha256,
            "imported_at": imported_at,
            "class_order_stated": class_order.value,
        },
    )
    save_checkpoint(checkpoint, model, metadata, half=half)
    sha256 = file_sha256(checkpoint)
    card.write_text(_card_stub(metadata, checkpoint, sha256, source, source_sha256), "utf-8")
    return ImportedCheckpoint(checkpoint, card, sha256, source_sha256, metadata)


def _card_stub(
    metadata: ModelMetadata, checkpoint: Path, sha256: str, source: Path, source_sha256: str
) -> str:
    order = ", ".join(
        f"{label.value} ({index})" for index, label in enumerate(metadata.class_order.labels)
    )
    use = (
        f"stated fit for clinical use at import (trained on: {metadata.trained_on}); "
        "the evaluation below must show it"
        if metadata.clinical
        else "NOT for clinical use"
    )
    return f"""# Model card: {metadata.name}

| | |
|---|---|
| architecture | ScoNet (OpenGait layout), input 64x44 silhouettes, 30-frame clips |
| class order | {order}: `{metadata.class_order.value}`, as stated at import |
| trained on | {metadata.trained_on} |
| clinical use | {use} |
| file | `{checkpoint.name}` (sha256 `{sha256}`) |
| imported from | `{source.name}` (sha256 `{source_sha256}`), {metadata.extra["imported_at"]} |

## Intended use
TO FILL IN: who may use it, for what, and what it must not be used for.

## Evaluation
TO FILL IN: data the model never saw; accuracy, per-class precision and recall, sensitivity
and specificity with 95% Wilson intervals; the protocol (whole sequence or 30-frame clips).

## Limits
TO FILL IN: what the numbers do not say. Until then, treat every verdict as unvalidated.
"""
