"""Person segmenters: a frame and the participant's box in, a binary crop mask out.

`HumanSegmenter` runs PP-HumanSeg (v2 mobile or lite, v1 lite) with one network
reused for every crop: converted to ONNX for ONNX Runtime / OpenVINO, or through
Paddle Inference.  `BackgroundSegmenter`
needs no weights: the background-subtraction foreground inside the box.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..errors import FileProblem
from ..runtime.convert import PADDLE, convert
from ..runtime.engines import Network, PaddleNetwork, open_network
from ..settings import NATIVE, SegmenterSettings
from .background import ForegroundModel, Scene, fill_holes, kernel, largest_component
from .frames import CropMask, Frame

_PAD_VALUE = 127  # grey, as PaddleSeg pads crops when training
#: Narrowest crop side over the longer one before the crop is stretched to the model's
#: square input.  PaddleSeg's Resize keeps no aspect ratio, so PP-HumanSeg learned people
#: stretched; padding a tall crop only up to 1:2 (not 1:1) and stretching the rest raised
#: PP-HumanSegV1-Lite's mean mask IoU on phantom walkers from 0.85-0.87 to 0.88-0.90 (frontal)
#: and 0.83-0.85 to 0.87-0.89 (side); stretching fully fails on some walkers (0.46).
#: tests/measure_masks.py measures it.
MIN_ASPECT = 0.5


class Segmenter(Protocol):
    def segment(self, frame: Frame, box: np.ndarray) -> CropMask: ...


def segment_many(segmenter: Segmenter, pairs: Sequence[tuple[Frame, np.ndarray]]) -> list[CropMask]:
    """Masks for (frame, box) pairs in order: one network call where the segmenter batches."""
    batched = getattr(segmenter, "segment_many", None)
    if batched is not None:
        return batched(pairs)
    return [segmenter.segment(frame, box) for frame, box in pairs]


def expand_box(
    box: np.ndarray, size: tuple[int, int], fraction: float
) -> tuple[int, int, int, int]:
    """The box grown by `fraction` of its width/height on every side, clipped to the frame."""
    width, height = size
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * fraction, (y2 - y1) * fraction
    left, top = max(0, int(np.floor(x1 - dx))), max(0, int(np.floor(y1 - dy)))
    right, bottom = min(width, int(np.ceil(x2 + dx))), min(height, int(np.ceil(y2 + dy)))
    return left, top, max(right, left + 1), max(bottom, top + 1)


# --- PP-HumanSeg -----------------------------------------------------------------


def read_deploy_config(model_dir: Path) -> dict:
    """Model file, params file, input size and normalisation from PaddleSeg's deploy.yaml."""
    import yaml

    path = model_dir / "deploy.yaml"
    if not path.is_file():
        raise FileProblem(model_dir, "no deploy.yaml: not a PaddleSeg inference model folder")
    try:
        deploy = yaml.safe_load(path.read_text(encoding="utf-8"))["Deploy"]
        transforms = {t["type"]: t for t in deploy.get("transforms", [])}
        size = transforms.get("Resize", {}).get("target_size", [192, 192])
        normalize = transforms.get("Normalize", {})
        config = {
            "model": model_dir / deploy["model"],
            "params": model_dir / deploy["params"],
            "size": (int(size[0]), int(size[1])),  # (width, height), PaddleSeg's order
            "mean": np.array(normalize.get("mean", [0.5, 0.5, 0.5]), np.float32),
            "std": np.array(normalize.get("std", [0.5, 0.5, 0.5]), np.float32),
        }
    except (KeyError, TypeError, IndexError, yaml.YAMLError) as error:
        raise FileProblem(path, f"not a PaddleSeg deploy config ({error})") from None
    for key in ("model", "params"):
        if not config[key].is_file():
            raise FileProblem(config[key], f"missing from the model folder (named in {path})")
    return config


def person_probability(output: np.ndarray, channel: int = 1) -> np.ndarray:
    """[h, w] probability of 'person' from a segmentation output of any export flavour.

    [1, c, h, w] probabilities (exported with softmax) are used as they are;
    logits get a softmax; a [1, h, w] label map (exported with argmax) gives 0/1.
    """
    if output.ndim == 3:
        return (output[0] == channel).astype(np.float32)
    scores = output[0].astype(np.float32)  # [c, h, w]
    sums = scores.sum(axis=0)
    if scores.min() >= 0 and scores.max() <= 1 and np.allclose(sums, 1, atol=1e-3):
        return scores[channel]
    shifted = np.exp(scores - scores.max(axis=0, keepdims=True))
    return shifted[channel] / shifted.sum(axis=0)


class HumanSegmenter:
    """PP-HumanSeg on the participant's crop, through one loaded network.

    The box grows by `expand` per side, is padded (grey) to at least `MIN_ASPECT`
    width over height (or height over width), resized to the model's input,
    normalised as its deploy.yaml says, and the person probability is mapped back
    to frame pixels and thresholded.

    `runtime` (settings.RUNTIMES): the network is converted to ONNX once and run by
    ONNX Runtime or OpenVINO, which release the GIL, so the stage runs copies in
    threads; `native` (or a failed conversion, said in `runtime_note`) runs it
    through Paddle Inference, which holds the GIL, so the stage gets one predictor
    with more math threads instead (see runtime/engines.py).
    """

    def __init__(
        self,
        model_dir: str | Path,
        settings: SegmenterSettings | None = None,
        expand: float = 0.1,
        person_channel: int = 1,
        threads: int = 1,
        mkldnn: bool | None = None,
        runtime: str = NATIVE,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.config = read_deploy_config(self.model_dir)
        self.threshold = (settings or SegmenterSettings()).mask_threshold
        self.expand = expand
        self.person_channel = person_channel
        config = self.config
        convert_it = lambda: convert(  # noqa: E731
            self.model_dir, PADDLE, config["model"].name, config["params"].name
        )
        network, self.runtime_note = open_network(runtime, convert_it, threads, str(model_dir))
        if network is None:
            probe = np.zeros((1, 3, *config["size"][::-1]), np.float32)
            network = PaddleNetwork(config["model"], config["params"], threads, mkldnn, probe)
        self.network: Network = network

    @property
    def runtime(self) -> str:
        """The runtime that actually runs the network."""
        return self.network.runtime

    @property
    def holds_gil(self) -> bool:
        """Copies in threads would take turns (Paddle): the Frontend gives it threads instead."""
        return self.network.holds_gil

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """The network's output for a normalised batch [n, 3, h, w]."""
        return self.network.run(batch)

    def use_threads(self, threads: int) -> None:
        """Run the network on `threads` CPU math threads from now on."""
        self.network.use_threads(threads)

    def clone(self) -> HumanSegmenter:
        """A copy for another thread, sharing the weights (see `Network.clone`)."""
        twin = object.__new__(HumanSegmenter)
        twin.__dict__.update(self.__dict__)
        twin.network = self.network.clone()
        return twin

    def with_settings(self, settings: SegmenterSettings) -> HumanSegmenter:
        """A twin with `settings`, sharing this one's network: for stages that never run at
        the same time (the whole-frame detector of pass 1 and the segmenter of pass 2)."""
        twin = object.__new__(HumanSegmenter)
        twin.__dict__.update(self.__dict__)
        twin.threshold = settings.mask_threshold
        return twin

    def _padded_input(self, image: np.ndarray, min_aspect: float) -> tuple[np.ndarray, tuple]:
        """The network input [3, h, w] of an image padded (grey) to at least `min_aspect`
        width:height either way, and where the image sits: (h, w, padded_h, padded_w,
        pad_top, pad_left).  The network was trained on stretched 192x192 resizes."""
        h, w = image.shape[:2]
        padded_h = max(h, int(np.ceil(w * min_aspect)))
        padded_w = max(w, int(np.ceil(h * min_aspect)))
        pad_top, pad_left = (padded_h - h) // 2, (padded_w - w) // 2
        padded = cv2.copyMakeBorder(
            image, pad_top, padded_h - h - pad_top, pad_left, padded_w - w - pad_left,
            cv2.BORDER_CONSTANT, value=(_PAD_VALUE,) * 3,
        )  # fmt: skip
        rgb = cv2.cvtColor(cv2.resize(padded, self.config["size"]), cv2.COLOR_BGR2RGB)
        normalised = (rgb.astype(np.float32) / 255.0 - self.config["mean"]) / self.config["std"]
        return normalised.transpose(2, 0, 1), (h, w, padded_h, padded_w, pad_top, pad_left)

    def _crop_input(self, frame: Frame, box: np.ndarray) -> tuple[np.ndarray, tuple]:
        """The network input [3, h, w] for one box, and where the crop sits in its padding."""
        left, top, right, bottom = expand_box(box, frame.size, self.expand)
        net_input, placement = self._padded_input(frame.image[top:bottom, left:right], MIN_ASPECT)
        return net_input, (left, top, *placement)

    def frame_probability(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Person probability over each whole image, at the network's resolution (one call).

        For finding people in the frame (`SegmenterDetector`): the map covers the image
        only, the square's padding cut off, so a row of it spans the image's width.
        """
        if not images:
            return []
        inputs = [self._padded_input(image, 1.0) for image in images]
        output = self.infer(np.ascontiguousarray(np.stack([item for item, _ in inputs])))
        maps = []
        for i, (_, (h, w, padded_h, padded_w, pad_top, pad_left)) in enumerate(inputs):
            probability = person_probability(output[i : i + 1], self.person_channel)
            rows, cols = probability.shape
            top, bottom = pad_top * rows // padded_h, (pad_top + h) * rows // padded_h
            left, right = pad_left * cols // padded_w, (pad_left + w) * cols // padded_w
            maps.append(probability[top:bottom, left:right])
        return maps

    def _crop_mask(self, output: np.ndarray, placement: tuple) -> CropMask:
        """One network output [1, ...] mapped back to a thresholded mask at crop size."""
        left, top, h, w, padded_h, padded_w, pad_top, pad_left = placement
        probability = person_probability(output, self.person_channel)
        probability = cv2.resize(probability, (padded_w, padded_h), interpolation=cv2.INTER_LINEAR)
        region = probability[pad_top : pad_top + h, pad_left : pad_left + w]
        mask = np.where(region >= self.threshold, np.uint8(255), np.uint8(0))
        return CropMask(left, top, largest_component(mask))

    def segment_many(self, pairs: Sequence[tuple[Frame, np.ndarray]]) -> list[CropMask]:
        """Masks for several (frame, box) pairs with one network call (a batch of crops)."""
        if not pairs:
            return []
        inputs = [self._crop_input(frame, box) for frame, box in pairs]
        batch = np.ascontiguousarray(np.stack([item for item, _ in inputs]))  # [n, 3, h, w]
        output = self.infer(batch)  # [n, c, h, w] or [n, h, w]
        return [self._crop_mask(output[i : i + 1], where) for i, (_, where) in enumerate(inputs)]

    def segment(self, frame: Frame, box: np.ndarray) -> CropMask:
        return self.segment_many([(frame, box)])[0]


# --- weight-free: background subtraction --------------------------------------


def _reflection_fit(person: np.ndarray, floor: np.ndarray, seen: np.ndarray) -> tuple[float, float]:
    """(alpha, share of the difference explained) for `seen` = floor + alpha (person - floor)."""
    mirrored = (person - floor).reshape(-1)
    observed = (seen - floor).reshape(-1)
    energy = float(mirrored @ mirrored)
    if energy == 0.0:
        return 0.0, 0.0
    alpha = float(mirrored @ observed) / energy
    residual = observed - alpha * mirrored
    return alpha, 1.0 - float(residual @ residual) / max(float(observed @ observed), 1e-6)


def cut_reflection(
    mask: np.ndarray, image: np.ndarray, background: np.ndarray, alpha: tuple = (0.1, 0.8)
) -> np.ndarray:
    """The mask without a floor reflection below the feet, where one can be told.

    A floor reflection is the body above the contact line, mirrored and blended
    into the floor: below the line, frame = floor + alpha (mirrored body - floor)
    with 0 < alpha < 1, and the mask there matches the mask above flipped.  Legs
    that merely look dim (dark trousers on a dark floor) do not fit that model
    and are left alone.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) < 20:
        return mask
    top, bottom = rows[0], rows[-1]
    height = bottom - top + 1
    on = mask > 0
    image, background = image.astype(np.float32), background.astype(np.float32)
    best: tuple[float, int] | None = None
    for contact in range(top + height // 2, bottom - max(4, height // 10), 2):  # >= 10% below
        span = min(bottom - contact, contact - top)
        above = slice(contact - span + 1, contact + 1)
        below = slice(contact + 1, contact + 1 + span)
        upper, lower = on[above][::-1], on[below]
        both = upper & lower
        mirror = both.sum() / max((upper | lower).sum(), 1)
        if mirror < 0.5:
            continue
        fitted, explained = _reflection_fit(
            image[above][::-1][both], background[below][both], image[below][both]
        )
        if alpha[0] <= fitted <= alpha[1] and explained >= 0.6:
            if best is None or explained > best[0]:
                best = (explained, contact)
    if best is None:
        return mask
    cut = mask.copy()
    cut[best[1] + 1 :] = 0
    return cut


class BackgroundSegmenter:
    """The foreground inside the participant's box, for a fixed camera; no weights.

    Shadows are left out (MOG2's shadow test), holes filled, only the largest
    region kept, and a floor reflection below the feet removed where it can be told.
    """

    def __init__(
        self,
        scene: Scene,
        expand: float = 0.05,
        var_threshold: float = 24.0,
        reflections: bool = True,
    ) -> None:
        self.foreground = ForegroundModel(scene, var_threshold=var_threshold)
        self.expand = expand
        self.reflections = reflections
        self._kernel = kernel(max(3, self.foreground.background.shape[0] // 200))

    def segment(self, frame: Frame, box: np.ndarray) -> CropMask:
        model = self.foreground
        small = model.shrink(frame.image)
        full = model.foreground(small)  # the whole frame keeps the model current
        left, top, right, bottom = expand_box(
            np.asarray(box) * model.scale, model.size, self.expand
        )
        mask = full[top:bottom, left:right]
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        if self.reflections:  # before filling holes: legs and their mirror image enclose one
            crop = small[top:bottom, left:right]
            mask = cut_reflection(mask, crop, model.background[top:bottom, left:right])
        mask = largest_component(fill_holes(mask))
        return _to_frame_pixels(mask, (left, top, right, bottom), model.scale, frame.size)


def _to_frame_pixels(
    mask: np.ndarray, region: tuple[int, int, int, int], scale: float, size: tuple[int, int]
) -> CropMask:
    """A working-resolution crop mask at frame resolution (smooth edges, not blocks)."""
    if scale == 1.0:
        return CropMask(region[0], region[1], mask)
    width, height = size
    left, top = int(region[0] / scale), int(region[1] / scale)
    right, bottom = min(width, round(region[2] / scale)), min(height, round(region[3] / scale))
    grown = cv2.resize(
        mask, (max(1, right - left), max(1, bottom - top)), interpolation=cv2.INTER_LINEAR
    )
    return CropMask(left, top, np.where(grown >= 128, np.uint8(255), np.uint8(0)))
