"""FrameSource: a video file as a stream of upright frames at the analysis rate.

Any file OpenCV's FFmpeg reads (mp4, avi, mov, mkv, ...).  The rotation tag
phones write is honoured (or replaced by an explicit `rotate`), and frames are
picked by timestamp so that fractional source rates (29.97) resample to 15 fps
without drift.  Each frame keeps its own timestamp.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import FileProblem, ScreenError
from ..settings import ANALYSIS_FPS
from .frames import Frame
from .video_check import codec_tag, container_kind, image_kind, mp4_sample_count, truncation

ROTATIONS = (0, 90, 180, 270)  #: clockwise degrees
_ROTATE_CODES = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}
_FAST_SEEK_LIMIT = 8  # seek instead of grabbing when the next sample is this many frames away


class VideoError(FileProblem):
    """A video file that cannot be used; the message names the file and the problem."""


class NotAVideo(VideoError):
    pass


class VideoTruncated(VideoError):
    pass


class NoFrames(VideoError):
    pass


class UnreadableCodec(VideoError):
    pass


@dataclass(frozen=True)
class VideoInfo:
    """What a video file says about itself, and how it will be turned upright."""

    path: Path
    width: int  #: after rotation
    height: int  #: after rotation
    source_fps: float
    frame_count: int  #: as the container declares it (may be an estimate)
    rotation: int  #: clockwise degrees applied to every frame
    rotation_from: str  #: 'metadata' or 'override'
    codec: str | None
    scale: float = 1.0  #: frames are resized by this (see `max_side`); width/height are after it

    @property
    def duration(self) -> float:
        return self.frame_count / self.source_fps if self.source_fps > 0 else 0.0


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own console warnings; problems are reported as typed errors."""
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def _open(path: Path) -> cv2.VideoCapture:
    # FFmpeg's own messages ("moov atom not found") would reach the console otherwise.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    with _quiet_opencv():
        # Always FFmpeg: the image-sequence backend would read '%d' in a name as a pattern.
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)  # rotation is applied here, explicitly
    return capture


def _diagnose_unopenable(path: Path) -> VideoError:
    """Why OpenCV could not open a file that exists and is not empty."""
    kind = container_kind(path)
    if kind is None:
        return NotAVideo(path, "not a video OpenCV/FFmpeg can read (no known container format)")
    if kind == "mp4" and mp4_sample_count(path) == 0:
        return NoFrames(path, "the video holds zero frames")
    tag = codec_tag(path)
    codec = f"codec '{tag}'" if tag else "its codec"
    return UnreadableCodec(
        path,
        f"a {kind} file whose video stream cannot be decoded ({codec} is not supported by this "
        "OpenCV/FFmpeg build); convert it, e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`",
    )


def check_video_file(path: Path) -> None:
    """Refuse, with a typed error, files that cannot be a usable video before decoding."""
    if not path.is_file():
        raise FileProblem(path, "not found" if not path.exists() else "not a file")
    if path.stat().st_size == 0:
        raise NotAVideo(path, "empty file (0 bytes)")
    image = image_kind(path)
    if image:
        raise NotAVideo(path, f"{image}, not a video")
    cut = truncation(path)
    if cut:
        raise VideoTruncated(path, f"truncated: {cut}; the copy or recording is incomplete")


def _upright(image: np.ndarray, info: VideoInfo) -> np.ndarray:
    """The stored picture turned upright and resized as `info` says."""
    if info.rotation:
        image = cv2.rotate(image, _ROTATE_CODES[info.rotation])
    if info.scale != 1.0:
        image = cv2.resize(image, (info.width, info.height), interpolation=cv2.INTER_AREA)
    return image


class FrameSource:
    """A video file as upright frames at `fps` (default 15), each with its timestamp.

    `rotate` (0/90/180/270, clockwise) replaces the file's rotation tag, for phones
    that store the picture sideways without saying so.  `max_side` shrinks larger
    frames (e.g. 4K) so that their longer side has this many pixels.  Every call
    to `frames()` decodes afresh, so a source can be read more than once.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float = ANALYSIS_FPS,
        rotate: int | None = None,
        max_side: int | None = None,
    ) -> None:
        if rotate is not None and rotate not in ROTATIONS:
            raise ScreenError(f"rotation must be one of {ROTATIONS} degrees, not {rotate}")
        if not fps > 0:
            raise ScreenError(f"the analysis frame rate must be positive, not {fps}")
        self.path = Path(path)
        self.fps = float(fps)
        check_video_file(self.path)
        capture = _open(self.path)
        try:
            if not capture.isOpened():
                raise _diagnose_unopenable(self.path)
            self.info = self._read_info(capture, rotate, max_side)
        finally:
            capture.release()

    def _read_info(
        self, capture: cv2.VideoCapture, rotate: int | None, max_side: int | None
    ) -> VideoInfo:
        tagged = int(capture.get(cv2.CAP_PROP_ORIENTATION_META)) % 360
        rotation = tagged if rotate is None else rotate
        if rotation not in ROTATIONS:  # an odd tag (e.g. 45): leave the picture as stored
            rotation = 0
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if rotation in (90, 270):
            width, height = height, width
        scale = 1.0
        if max_side and max(width, height) > max_side:
            scale = max_side / max(width, height)
            width, height = round(width * scale), round(height * scale)
        fps = capture.get(cv2.CAP_PROP_FPS)
        return VideoInfo(
            path=self.path,
            width=width,
            height=height,
            source_fps=fps if math.isfinite(fps) and fps > 0 else 0.0,
            frame_count=max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
            rotation=rotation,
            rotation_from="metadata" if rotate is None else "override",
            codec=codec_tag(self.path),
            scale=scale,
        )

    def _decoded(self) -> Iterator[tuple[int, float, Callable[[], np.ndarray | None]]]:
        """Every source frame as (source index, seconds, picture getter).

        The getter returns the upright picture, or None if it cannot be had; it
        is valid until the next frame is taken.  Frames nobody asks for are
        only decoded, never converted to BGR (about a third of a read's cost).
        """
        capture = _open(self.path)
        period = 1.0 / self.info.source_fps if self.info.source_fps else 1.0 / self.fps
        previous = -math.inf
        count = 0

        def picture() -> np.ndarray | None:
            with _quiet_opencv():
                ok, image = capture.retrieve()
            return _upright(image, self.info) if ok else None

        try:
            while True:
                with _quiet_opencv():
                    ok = capture.grab()
                if not ok:
                    break
                # The container's timestamp where it is sane, else the nominal frame time.
                stamp = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                if not (math.isfinite(stamp) and stamp > previous):
                    stamp = previous + period if count else 0.0
                previous = stamp
                yield count, stamp, picture
                count += 1
        finally:
            capture.release()
        self._check_complete(count)

    def _check_complete(self, decoded: int) -> None:
        declared = self.info.frame_count
        if decoded == 0:
            if declared == 0:
                raise NoFrames(self.path, "the video holds zero frames")
            raise UnreadableCodec(
                self.path,
                f"declares {declared} frames but none could be decoded "
                f"(codec '{self.info.codec or 'unknown'}'); convert it, "
                "e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`",
            )
        # Declared counts can be estimates (duration x rate), so allow a small shortfall.
        if declared - decoded > max(3, 0.1 * declared):
            raise VideoTruncated(
                self.path,
                f"truncated: only {decoded} of the {declared} frames it declares could be decoded",
            )

    def frames(self) -> Iterator[Frame]:
        """Upright frames at the analysis rate, picked by timestamp.

        Output frame k is the source frame nearest to time t0 + k/fps (t0: the
        first frame's time), so rates like 29.97 resample without drift.  A
        source slower than `fps` yields each of its frames once, never duplicates.
        Only frames that may be picked are converted to pictures: those nearest
        to a slot, judged with the next frame expected one source period later
        (with a margin, so that jittery timestamps still find their picture).
        """
        step = 1.0 / self.fps
        source_period = 1.0 / self.info.source_fps if self.info.source_fps else step
        origin: float | None = None
        k = 0  # next output slot
        emitted = -1  # source index of the last frame yielded
        previous: tuple[int, float, np.ndarray | None] | None = None  # picture None: not kept
        for index, stamp, picture in self._decoded():
            if origin is None:
                origin = stamp
            first = k
            while origin + k * step <= stamp:  # the slots decided now, up to this frame
                k += 1
            # For each, whether the previous frame (if its picture was kept) is nearer; ties to it.
            kept = previous is not None and previous[2] is not None
            nearer_previous = [
                kept and target - previous[1] <= stamp - target
                for target in (origin + j * step for j in range(first, k))
            ]
            # This frame's picture is wanted if it is nearer for one of those slots, or may be
            # for the next slot (before the next frame's expected midpoint, with a margin).
            wanted = not all(nearer_previous) or origin + k * step <= stamp + 0.75 * source_period
            current = (index, stamp, picture() if wanted else None)
            for slot, use_previous in zip(range(first, k), nearer_previous, strict=True):
                best = previous if use_previous or (kept and current[2] is None) else current
                if best[2] is not None and best[0] != emitted:
                    emitted = best[0]
                    yield Frame(slot, best[1], best[2])
            previous = current
        # The last frame also covers the slot just after it, up to one source period.
        if previous is not None and previous[0] != emitted and origin is not None:
            if origin + k * step < previous[1] + source_period / 2 and previous[2] is not None:
                yield Frame(k, previous[1], previous[2])

    def sample(self, count: int) -> list[np.ndarray]:
        """About `count` upright frames spread evenly over the video (for a background estimate)."""
        total = self.info.frame_count
        if total <= 0:
            return [frame.image for _, frame in zip(range(count), self.frames(), strict=False)]
        wanted = sorted({round(i * (total - 1) / max(count - 1, 1)) for i in range(count)})
        capture = _open(self.path)
        images: list[np.ndarray] = []
        position = 0
        try:
            with _quiet_opencv():
                for index in wanted:
                    if index - position > _FAST_SEEK_LIMIT:
                        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
                        position = index
                    while position < index and capture.grab():
                        position += 1
                    ok, image = capture.read()
                    if not ok:
                        break
                    position += 1
                    images.append(_upright(image, self.info))
        finally:
            capture.release()
        return images
