"""OpenGait-style silhouette pickles, read without letting a pickle run code.

A Scoliosis1K `.pkl` holds one uint8 array [T, 64, 64].  The restricted
unpickler resolves only the few numpy names needed to rebuild a plain array;
anything else (a function, a class, an object array's contents) is refused.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from ..errors import FileProblem
from .normalize import STORED_SIZE

_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: D102 - pickle API
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refused to load {module}.{name}: only numpy arrays are allowed"
        )


def read_silhouette_pickle(path: str | Path) -> np.ndarray:
    """The uint8 [T, 64, 64] array in an OpenGait silhouette pickle, checked."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise FileProblem(path, f"cannot read ({error.strerror or error})") from None
    try:
        array = _ArrayOnlyUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as error:
        raise FileProblem(path, f"unsafe or corrupt pickle ({error})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise FileProblem(
            path, f"corrupt or truncated pickle ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(array, np.ndarray):
        raise FileProblem(path, f"expected a numpy array, found {type(array).__name__}")
    if array.dtype != np.uint8:
        raise FileProblem(path, f"expected uint8 silhouettes, found dtype {array.dtype}")
    if array.ndim != 3 or array.shape[1:] != (STORED_SIZE, STORED_SIZE):
        raise FileProblem(path, f"expected shape [T, 64, 64], found {list(array.shape)}")
    if len(array) == 0:
        raise FileProblem(path, "empty sequence (0 frames)")
    return array


def write_silhouette_pickle(path: str | Path, frames: np.ndarray) -> Path:
    """Write stored-form silhouettes [T, 64, 64] uint8 as OpenGait does (a pickled array)."""
    frames = np.ascontiguousarray(frames)
    if (
        frames.dtype != np.uint8
        or frames.ndim != 3
        or frames.shape[1:] != (STORED_SIZE, STORED_SIZE)
    ):
        raise ValueError(f"expected uint8 [T, 64, 64], got {frames.dtype} {list(frames.shape)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_bytes(pickle.dumps(frames, protocol=4))
    temporary.replace(path)
    return path
