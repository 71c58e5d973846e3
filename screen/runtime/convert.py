"""Model files turned into ONNX once, cached by the source's sha256.

- YOLO (.pt): ultralytics' own export (`format="onnx"`, dynamic input shape, so
  the exported network sees the same letterboxed frame as PyTorch does).
- ScoNet (our .safetensors or an OpenGait .pt): its per-frame backbone with the
  BatchNorms folded (`sconet.inference_backbone`), exported by torch with the
  frame count free; the head after max pooling is a few small matrix products
  and stays in PyTorch.
- PP-HumanSeg (a Paddle inference folder): paddle2onnx, then a repair of the
  graph it writes for PP-HumanSegV1-Lite (shape vectors concatenated from
  scalars, which ONNX Runtime refuses: "All inputs to Concat must have same
  rank"), checked by running it once.

Each conversion runs in a child process (`python -m screen.runtime.convert`):
paddle2onnx aborts the process on models it cannot convert (PP-HumanSeg V2
exported with a dynamic input shape: "Adaptive only support static input
shape"), and ultralytics' export imports torch, which a screening on ONNX
Runtime never needs.  The result lies beside the source (`.converted/` in the
source's folder), or in the tool's cache where that folder is read-only, named
by the source's sha256: a changed file is converted again.  Written under a
temporary name and renamed, so workers converting at once never leave half a
file.  A failed conversion is remembered the same way (`.failed`, with the
reason) and not retried for that file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import ScreenError
from ..modelfiles.files import cache_root, cached_sha256

RECIPE = "r1"  #: bump when a conversion changes: every cached file is made again
YOLO, PADDLE, SCONET = "yolo", "paddle", "sconet"
TIMEOUT_S = 900


class ConversionFailed(ScreenError):
    """A model file could not be converted to ONNX (the native runtime can still run it)."""


def _places(source: Path) -> list[Path]:
    return [source.parent / ".converted", cache_root() / "converted"]


def _name(source: Path, kind: str) -> str:
    return f"{source.stem}-{cached_sha256(source)[:16]}-{kind}-{RECIPE}"


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _reason(output: str) -> str:
    """The line of a child's output that says why it failed."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for marker in ("Adaptive", "[ERROR]", "Error", "error"):
        found = [line for line in lines if marker in line]
        if found:
            return found[0][-300:]
    return lines[-1][-300:] if lines else "no output"


def convert(source: str | Path, kind: str, *extra: str) -> Path:
    """The ONNX file of `source` (converted now if no cached one exists).

    `kind`: `YOLO` (a .pt file), `SCONET` (a ScoNet checkpoint) or `PADDLE` (a model
    folder; `extra` names its model and params files).  Raises `ConversionFailed` with
    the converter's reason.
    """
    source = Path(source).resolve()
    name = _name(source, kind)
    places = _places(source)
    for folder in places:
        if (folder / f"{name}.onnx").is_file():
            return folder / f"{name}.onnx"
        if (folder / f"{name}.failed").is_file():
            reason = (folder / f"{name}.failed").read_text(encoding="utf-8").strip()
            raise ConversionFailed(f"{source}: cannot be converted to ONNX ({reason})")
    folder = next((f for f in places if _writable(f)), None)
    if folder is None:
        raise ConversionFailed(f"{source}: no writable folder for its ONNX conversion")
    target = folder / f"{name}.onnx"
    partial = folder / f".{name}.{os.getpid()}.partial.onnx"
    command = [sys.executable, "-m", "screen.runtime.convert", kind, str(source), str(partial)]
    environment = {**os.environ, "YOLO_OFFLINE": "1", "PYTHONPATH": _import_path()}
    with tempfile.TemporaryDirectory() as scratch:  # paddle2onnx leaves files in its cwd
        try:
            done = subprocess.run(
                [*command, *extra], cwd=scratch, env=environment, capture_output=True,
                text=True, timeout=TIMEOUT_S,
            )  # fmt: skip
            failed = done.returncode != 0 or not partial.is_file()
            reason = _reason(done.stdout + done.stderr) if failed else ""
        except subprocess.TimeoutExpired:
            failed, reason = True, f"the conversion took over {TIMEOUT_S} s"
    if failed:
        partial.unlink(missing_ok=True)
        marker = folder / f".{name}.{os.getpid()}.partial.failed"
        marker.write_text(reason + "\n", encoding="utf-8")
        marker.replace(folder / f"{name}.failed")
        raise ConversionFailed(f"{source}: cannot be converted to ONNX ({reason})")
    partial.replace(target)
    return target


def _import_path() -> str:
    """PYTHONPATH for the child: this package's parent first, so it runs this very code."""
    package_parent = str(Path(__file__).resolve().parents[2])
    rest = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(p for p in (package_parent, rest) if p)


# --- in the child process -------------------------------------------------------


def _export_yolo(source: Path, target: Path) -> None:
    import shutil

    from ultralytics import YOLO

    with tempfile.TemporaryDirectory() as scratch:  # the export writes beside its input
        copy = Path(scratch) / "model.pt"
        shutil.copy(source, copy)
        exported = YOLO(str(copy), task="detect").export(
            format="onnx", dynamic=True, simplify=False, imgsz=640, verbose=False
        )
        shutil.move(exported, target)


def _export_sconet(source: Path, target: Path) -> None:
    import numpy as np
    import torch

    from ..model.checkpoint import is_own_checkpoint, load_checkpoint, load_opengait_checkpoint
    from ..model.sconet import inference_backbone

    model = load_checkpoint(source)[0] if is_own_checkpoint(source) else (
        load_opengait_checkpoint(source)
    )  # fmt: skip
    backbone = inference_backbone(model.float().eval())
    probe = torch.zeros(2, 1, 64, 44)
    torch.onnx.export(
        backbone, (probe,), str(target), input_names=["frames"], output_names=["features"],
        dynamic_axes={"frames": {0: "count"}, "features": {0: "count"}}, dynamo=False,
    )  # fmt: skip
    import onnxruntime

    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    frames = np.random.default_rng(0).integers(0, 2, (3, 1, 64, 44)).astype(np.float32)
    with torch.inference_mode():
        expected = backbone(torch.from_numpy(frames)).numpy()
    largest = float(np.abs(session.run(None, {"frames": frames})[0] - expected).max())
    if largest > 1e-3:
        raise RuntimeError(f"Error: the exported backbone differs from PyTorch by {largest:.2g}")


def _repair_ranks(model) -> int:
    """Rank-0 inputs of Concat nodes unsqueezed to rank 1 (paddle2onnx builds shape vectors
    from scalars); returns how many were repaired.  Repeated until shape inference agrees."""
    import onnx
    from onnx import helper, shape_inference

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 11)
    repaired = 0
    for _ in range(10):
        ranks = {}
        inferred = shape_inference.infer_shapes(model)
        for value in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output):
            if value.type.tensor_type.HasField("shape"):
                ranks[value.name] = len(value.type.tensor_type.shape.dim)
        for tensor in model.graph.initializer:
            ranks[tensor.name] = len(tensor.dims)
        nodes, changed = [], 0
        for node in model.graph.node:
            known = [ranks.get(name) for name in node.input]
            if node.op_type == "Concat" and 0 in known and any(r == 1 for r in known):
                for position, name in enumerate(node.input):
                    if ranks.get(name) != 0:
                        continue
                    lifted = f"{name}__rank1_{node.name or id(node)}_{position}"
                    if opset >= 13:
                        axes = f"{lifted}__axes"
                        model.graph.initializer.append(
                            helper.make_tensor(axes, onnx.TensorProto.INT64, [1], [0])
                        )
                        nodes.append(helper.make_node("Unsqueeze", [name, axes], [lifted]))
                    else:
                        nodes.append(helper.make_node("Unsqueeze", [name], [lifted], axes=[0]))
                    node.input[position] = lifted
                    changed += 1
            nodes.append(node)
        if not changed:
            return repaired
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        repaired += changed
    return repaired


def _convert_paddle(source: Path, target: Path, model_file: str, params_file: str) -> None:
    import numpy as np
    import onnx
    import paddle2onnx

    raw = target.with_suffix(".raw.onnx")
    paddle2onnx.export(
        str(source / model_file), str(source / params_file), str(raw), opset_version=11,
        optimize_tool="onnxoptimizer",
    )  # fmt: skip
    model = onnx.load(str(raw))
    raw.unlink()
    _repair_ranks(model)
    onnx.save(model, str(target))
    try:
        import onnxruntime
    except ImportError:
        return
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    probe = np.zeros((1, 3, 192, 192), np.float32)
    session.run(None, {session.get_inputs()[0].name: probe})


def main(argv: list[str]) -> None:
    kind, source, target, *extra = argv
    if kind == YOLO:
        _export_yolo(Path(source), Path(target))
    elif kind == SCONET:
        _export_sconet(Path(source), Path(target))
    else:
        _convert_paddle(Path(source), Path(target), *extra)


if __name__ == "__main__":
    main(sys.argv[1:])
