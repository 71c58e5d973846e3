"""Reading silhouette sequences from disk: a pickle, a folder of mask images, or an animated GIF."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import FileProblem
from .normalize import STORED_SIZE, NormalizedSequence, normalize_sequence
from .pickles import read_silhouette_pickle

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _read_gif(path: Path) -> list[np.ndarray]:
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as image:
            return [np.asarray(frame.convert("L")) for frame in ImageSequence.Iterator(image)]
    except OSError as error:
        raise FileProblem(path, f"not a readable GIF ({error})") from None


def _read_image_folder(path: Path) -> list[np.ndarray]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileProblem(path, f"no mask images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    masks = []
    for file in files:
        mask = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise FileProblem(file, "not a readable image")
        masks.append(mask)
    return masks


def _read_npz_masks(path: Path) -> list[np.ndarray]:
    """Masks from an .npz holding `masks` [T, H, W] (phantom ground truth); no pickles allowed."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            masks = archive["masks"]
    except (OSError, ValueError, KeyError) as error:
        raise FileProblem(path, f"not an .npz with a 'masks' array ({error})") from None
    if masks.ndim != 3:
        raise FileProblem(path, f"expected masks [T, H, W], found shape {list(masks.shape)}")
    return [np.asarray(mask, np.uint8) * (255 if mask.dtype == np.bool_ else 1) for mask in masks]


def read_silhouettes(path: str | Path, threshold: int = 128) -> NormalizedSequence:
    """Stored-form silhouettes from a .pkl (already stored form), a .gif, an .npz or a folder.

    Images that are all exactly 64x64 are taken as the stored form already (what
    `screen silhouettes` exports); other images are binarised at `threshold` and
    normalised with the one normalisation.
    """
    path = Path(path)
    if not path.exists():
        raise FileProblem(path, "no such file or folder")
    if path.suffix.lower() == ".pkl":
        frames = read_silhouette_pickle(path)
        return NormalizedSequence(frames, tuple(range(len(frames))))
    if path.is_dir():
        masks = _read_image_folder(path)
    elif path.suffix.lower() == ".gif":
        masks = _read_gif(path)
    elif path.suffix.lower() == ".npz":
        masks = _read_npz_masks(path)
    else:
        raise FileProblem(path, "expected a .pkl, a .gif, a masks .npz or a folder of mask images")
    if all(mask.shape == (STORED_SIZE, STORED_SIZE) for mask in masks):
        return NormalizedSequence(np.stack(masks).astype(np.uint8), tuple(range(len(masks))))
    return normalize_sequence((mask >= threshold).astype(np.uint8) * 255 for mask in masks)
