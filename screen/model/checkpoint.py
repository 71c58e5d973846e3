"""Reading and writing ScoNet checkpoints, safely.

Two formats:
- OpenGait's `{'model': state_dict, ...}` torch pickle, read with
  `torch.load(weights_only=True)` so it can never run code; its class order
  must be stated by whoever imports it.
- Our own: a safetensors file whose header carries the metadata (class order,
  input size, provenance, training data, clinical or not).
Every failure is a CheckpointError naming the file and the problem in one line.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError
from .calibration import Calibration
from .classes import ClassOrder
from .operating_point import OperatingPoint
from .sconet import ScoNet

FORMAT_NAME = "scoliosis-screen/sconet"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelMetadata:
    """What a checkpoint is and what it may be used for."""

    name: str
    class_order: ClassOrder
    trained_on: str  #: the data, in words (e.g. "synthetic phantoms, 1:1:8")
    clinical: bool  #: True only for a model trained and validated on clinical data
    provenance: str  #: where the weights came from (command, source file and its sha256)
    architecture: str = "sconet"
    input_size: tuple[int, int] = (64, 44)
    notes: str = ""
    extra: dict = field(default_factory=dict)
    calibration: dict | None = None  #: a Calibration's dict (`screen calibrate`), or none
    operating_points: list = field(default_factory=list)  #: OperatingPoint dicts

    @property
    def calibration_map(self) -> Calibration | None:
        return Calibration.from_dict(self.calibration) if self.calibration else None

    @property
    def stored_operating_points(self) -> list[OperatingPoint]:
        return [OperatingPoint.from_dict(point) for point in self.operating_points]

    def to_json(self) -> str:
        data = asdict(self)
        data["class_order"] = self.class_order.value
        data["input_size"] = list(self.input_size)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelMetadata:
        data = json.loads(text)
        data["class_order"] = ClassOrder(data["class_order"])
        data["input_size"] = tuple(data["input_size"])
        return cls(**data)


def reference_shapes() -> dict[str, tuple[int, ...]]:
    """Every state-dict key of ScoNet and its shape."""
    return {key: tuple(value.shape) for key, value in ScoNet().state_dict().items()}


def state_dict_problems(state_dict: dict[str, torch.Tensor]) -> list[str]:
    """How a state dict differs from ScoNet's: missing, unexpected and mis-shaped keys."""
    expected = reference_shapes()
    problems = []
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing:
        problems.append(f"missing keys {_short_list(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_short_list(unexpected)}")
    for key in sorted(set(expected) & set(state_dict)):
        value = state_dict[key]
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        if shape != expected[key]:
            problems.append(
                f"{key} has shape {list(shape) if isinstance(shape, tuple) else shape}, "
                f"expected {list(expected[key])}"
            )
    return problems


def _short_list(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    more = f", ... ({len(keys)} in all)" if len(keys) > limit else ""
    return f"[{shown}{more}]"


def _checked_model(state_dict: dict[str, torch.Tensor], path: Path) -> ScoNet:
    problems = state_dict_problems(state_dict)
    if problems:
        raise CheckpointError(path, "not a ScoNet checkpoint: " + "; ".join(problems))
    model = ScoNet()
    model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in state_dict.items()})
    return model.eval()


def read_opengait_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The `model` state dict of an OpenGait checkpoint, loaded without unpickling objects."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        reason = (
            str(error).splitlines()[0]
            if "Weights only load failed" not in str(error)
            else ("refused: it holds Python objects other than tensors (possibly code)")
        )
        raise CheckpointError(path, reason) from None
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        OSError,
        SafetensorError,
    ) as error:
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        raise CheckpointError(path, f"corrupt or truncated checkpoint ({first_line})") from None
    if isinstance(payload, dict) and isinstance(payload.get("model"), dict):
        payload = payload["model"]
    if not isinstance(payload, dict) or not all(
        isinstance(v, torch.Tensor) for v in payload.values()
    ):
        raise CheckpointError(path, "expected an OpenGait checkpoint {'model': state_dict, ...}")
    return {key.removeprefix("module."): value for key, value in payload.items()}


def load_opengait_checkpoint(path: str | Path) -> ScoNet:
    """An OpenGait ScoNet checkpoint as a model in eval mode; keys and shapes must match exactly.

    Its class order is not in the file: the caller states it in the model's metadata.
    """
    return _checked_model(read_opengait_state_dict(path), Path(path))


def save_checkpoint(
    path: str | Path, model: ScoNet, metadata: ModelMetadata, half: bool = False
) -> Path:
    """Write our format: safetensors with the metadata in its header (fp16 if `half`)."""
    path = Path(path)
    tensors = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if half and value.is_floating_point():
            value = value.half()
        tensors[key] = value.contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    save_file(
        tensors,
        str(temporary),
        metadata={
            "format": FORMAT_NAME,
            "version": str(FORMAT_VERSION),
            "metadata": metadata.to_json(),
        },
    )
    temporary.replace(path)  # atomic: never a half-written checkpoint under the real name
    return path


def read_checkpoint_metadata(path: str | Path) -> ModelMetadata:
    """Only the metadata of one of our checkpoints (cheap: reads the header)."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(path, f"corrupt or truncated checkpoint ({error})") from None
    if header.get("format") != FORMAT_NAME:
        raise CheckpointError(path, "a safetensors file, but not a scoliosis-screen checkpoint")
    if header.get("version") != str(FORMAT_VERSION):
        raise CheckpointError(
            path, f"checkpoint format version {header.get('version')} is not supported"
        )
    try:
        return ModelMetadata.from_json(header["metadata"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(path, f"unreadable metadata ({error})") from None


def load_checkpoint(path: str | Path) -> tuple[ScoNet, ModelMetadata]:
    """One of our checkpoints as a model in eval mode, with its metadata."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    metadata = read_checkpoint_metadata(path)
    try:
        state_dict = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(path, f"corrupt or truncated checkpoint ({error})") from None
    return _checked_model(state_dict, path), metadata


def is_own_checkpoint(path: str | Path) -> bool:
    """True for a safetensors file (ours), False for anything else (OpenGait's pickle)."""
    if Path(path).suffix == ".safetensors":
        return True
    with Path(path).open("rb") as handle:
        head = handle.read(9)
    # safetensors begins with an 8-byte little-endian header length, then '{'.
    return len(head) == 9 and head[8:9] == b"{"
