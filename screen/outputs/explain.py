"""Attention maps as pictures: a colour map over the mean silhouette, never a video frame.

`attention_png` draws one map (the report embeds it); `explain_sequence` fills
the folder of `screen VIDEO --explain DIR`: the whole-walk map, a sheet of the
per-clip maps and the raw maps as an .npz, and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import FileProblem
from ..model.attention import AttentionMaps, attention_maps

if TYPE_CHECKING:
    from ..model.classify import Classifier

UPSCALE = 4  #: 64x44 pixels are too small to read: each becomes 4x4
MAP_FILE = "attention.png"
SHEET_FILE = "clips.png"
ARRAYS_FILE = "attention.npz"
_BAR = 10  #: colour bar width in pixels
_MARGIN = 6


def _colour(attention: np.ndarray, silhouette: np.ndarray, scale: int) -> np.ndarray:
    """BGR [64*scale, 44*scale, 3]: the map in colour (INFERNO, scaled to its maximum)
    blended over the grey silhouette, so the body stays visible where attention is low."""
    import cv2

    size = (attention.shape[1] * scale, attention.shape[0] * scale)
    heat = attention / max(float(attention.max()), 1e-12)
    heat = cv2.resize(heat.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    body = cv2.resize(silhouette.astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
    colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    grey = np.repeat((40 + 150 * body)[..., None], 3, axis=2)
    alpha = (0.85 * heat)[..., None]
    return (grey * (1 - alpha) + colour * alpha).round().astype(np.uint8)


def _colour_bar(height: int) -> np.ndarray:
    """A vertical INFERNO bar, high at the top, with a margin on its left."""
    import cv2

    ramp = np.linspace(255, 0, height).astype(np.uint8)[:, None].repeat(_BAR, axis=1)
    bar = cv2.applyColorMap(ramp, cv2.COLORMAP_INFERNO)
    return np.concatenate([np.full((height, _MARGIN, 3), 255, np.uint8), bar], axis=1)


def _png(image: np.ndarray) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise ValueError("PNG encoding failed")
    return encoded.tobytes()


def attention_png(
    attention: np.ndarray, silhouette: np.ndarray, scale: int = UPSCALE, bar: bool = True
) -> bytes:
    """One map [64, 44] over its mean silhouette [64, 44] (0..1), with a colour bar."""
    picture = _colour(attention, silhouette, scale)
    return _png(np.concatenate([picture, _colour_bar(len(picture))], axis=1) if bar else picture)


def clip_sheet_png(maps: AttentionMaps, scale: int = UPSCALE) -> bytes:
    """Every clip's map over that clip's mean silhouette, side by side in clip order."""
    pictures = [
        _colour(attention, silhouette, scale)
        for attention, silhouette in zip(maps.clips, maps.clip_silhouettes, strict=True)
    ]
    gap = np.full((len(pictures[0]), _MARGIN, 3), 255, np.uint8)
    row = [part for picture in pictures for part in (picture, gap)][:-1]
    return _png(np.concatenate([*row, _colour_bar(len(pictures[0]))], axis=1))


def _inside(folder: Path, name: str) -> Path:
    """`folder / name`, refusing a name that would land outside the folder (a symlink)."""
    path = folder / name
    if path.is_symlink() or not path.resolve().is_relative_to(folder.resolve()):
        raise FileProblem(path, "is a link; --explain writes only inside its folder")
    return path


def check_folder(folder: Path) -> None:
    """Refuse, before any work, an --explain that names something other than a folder."""
    if folder.exists() and not folder.is_dir():
        raise FileProblem(folder, "exists and is not a folder; --explain names a folder")


def write_explanation(maps: AttentionMaps, folder: Path) -> dict[str, str]:
    """Write the maps into `folder` (made if missing); {what: path} of the files written."""
    from ..atomic import write_bytes_atomically

    check_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {
        "attention": _inside(folder, MAP_FILE),
        "clips": _inside(folder, SHEET_FILE),
        "maps": _inside(folder, ARRAYS_FILE),
    }
    write_bytes_atomically(written["attention"], attention_png(maps.sequence, maps.mean_silhouette))
    write_bytes_atomically(written["clips"], clip_sheet_png(maps))
    write_bytes_atomically(written["maps"], _npz(maps))
    return {what: str(path) for what, path in written.items()}


def _npz(maps: AttentionMaps) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **maps.to_arrays())
    return buffer.getvalue()


def explain_sequence(classifier: Classifier, stored: np.ndarray, folder: Path) -> dict[str, str]:
    """Compute and write the attention of what the verdict saw; {} when it saw nothing."""
    if len(stored) == 0:
        return {}
    return write_explanation(attention_maps(classifier, stored), folder)
