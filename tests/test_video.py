"""FrameSource: timestamps, resampling by time, rotation, and a typed error for each bad file."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from screen.errors import FileProblem, ScreenError
from screen.frontend.video import FrameSource, NoFrames, NotAVideo, UnreadableCodec, VideoTruncated


def write_video(path: Path, fps: float, frames: int, size=(64, 48), fourcc: str = "MJPG") -> Path:
    """Frames whose grey level encodes their index; a white marker in the top-left corner."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        image = np.full((size[1], size[0], 3), (i * 7) % 200, np.uint8)
        image[:12, :16] = 255
        writer.write(image)
    writer.release()
    return path


def set_mp4_rotation(path: Path, out: Path, degrees: int) -> Path:
    """Copy an MP4 with its track's display matrix set, as a phone does for a sideways picture."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    version = data[at + 4]
    # tkhd: version/flags, times and ids, reserved, layer.., volume, reserved, then the 3x3 matrix.
    matrix_at = at + 8 + (32 if version == 1 else 20) + 16
    angle = np.deg2rad(degrees)
    a, b = round(np.cos(angle)) << 16, round(np.sin(angle)) << 16
    data[matrix_at : matrix_at + 36] = struct.pack(">9i", a, b, 0, -b, a, 0, 0, 0, 1 << 30)
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize(
    ("source_fps", "frames", "expected"),
    [
        (29.97, 600, 301),  # fractional: picking every 2nd frame would drift 20 ms by the end
        (30.0, 60, 30),
        (60.0, 120, 30),
        (15.0, 45, 45),
    ],
)
def test_resampling_picks_the_frame_nearest_each_15fps_slot(tmp_path, source_fps, frames, expected):
    video = write_video(tmp_path / "clip.avi", source_fps, frames)
    out = list(FrameSource(video, fps=15.0).frames())
    assert len(out) == expected
    assert [f.index for f in out] == list(range(expected))
    half_source_period = 0.5 / source_fps + 1e-6
    for frame in out:
        assert abs(frame.timestamp - frame.index / 15.0) <= half_source_period
        # the timestamp is the source frame's own: a whole number of source periods
        assert frame.timestamp * source_fps == pytest.approx(
            round(frame.timestamp * source_fps), abs=1e-3
        )


def test_a_slower_source_is_never_padded_with_duplicates(tmp_path):
    video = write_video(tmp_path / "slow.avi", 10.0, 30)
    out = list(FrameSource(video, fps=15.0).frames())
    stamps = [f.timestamp for f in out]
    assert len(out) == 30 and len(set(stamps)) == 30
    assert stamps == pytest.approx([i / 10 for i in range(30)])
    # slots still count at 15 fps, so an index says where in time a frame sits
    for frame in out:
        assert abs(frame.index / 15 - frame.timestamp) <= 0.5 / 15 + 1e-6


def test_rotation_tag_is_honoured_like_opencv_and_can_be_overridden(tmp_path):
    plain = write_video(tmp_path / "plain.mp4", 15.0, 5, size=(64, 48), fourcc="mp4v")
    tagged = set_mp4_rotation(plain, tmp_path / "tagged.mp4", 90)

    source = FrameSource(tagged)
    assert (source.info.rotation, source.info.rotation_from) == (90, "metadata")
    assert (source.info.width, source.info.height) == (48, 64)
    upright = next(source.frames()).image
    assert upright.shape == (64, 48, 3)
    # the marker drawn top-left ends top-right after a clockwise quarter turn
    assert upright[:16, -12:].mean() > 200 and upright[:16, :12].mean() < 200

    auto = cv2.VideoCapture(str(tagged))  # OpenCV's own auto-rotation as the reference
    ok, reference = auto.read()
    auto.release()
    assert ok and np.array_equal(upright, reference)

    stored = next(FrameSource(tagged, rotate=0).frames()).image
    assert stored.shape == (48, 64, 3)
    flipped = FrameSource(tagged, rotate=180)
    assert flipped.info.rotation_from == "override"
    assert np.array_equal(next(flipped.frames()).image, cv2.rotate(stored, cv2.ROTATE_180))


def test_untagged_sideways_video_is_turned_by_the_override(tmp_path):
    plain = write_video(tmp_path / "plain.avi", 15.0, 3)
    turned = next(FrameSource(plain, rotate=270).frames()).image
    assert turned.shape == (64, 48, 3)
    assert turned[-16:, :12].mean() > 200  # top-left marker now bottom-left


def test_large_frames_are_shrunk_to_max_side(tmp_path):
    video = write_video(tmp_path / "big.avi", 15.0, 3, size=(320, 240))
    source = FrameSource(video, max_side=160)
    assert (source.info.width, source.info.height, source.info.scale) == (160, 120, 0.5)
    assert next(source.frames()).image.shape == (120, 160, 3)


def test_sample_spreads_frames_over_the_whole_video(tmp_path):
    video = write_video(tmp_path / "clip.avi", 15.0, 61)
    samples = FrameSource(video).sample(5)
    levels = [int(np.median(image[20:, 20:])) for image in samples]
    assert levels == pytest.approx([(i * 7) % 200 for i in (0, 15, 30, 45, 60)], abs=4)


@pytest.mark.parametrize("rotate", [45, -90])
def test_only_quarter_turns_are_accepted(tmp_path, rotate):
    video = write_video(tmp_path / "clip.avi", 15.0, 3)
    with pytest.raises(ScreenError, match="rotation must be one of"):
        FrameSource(video, rotate=rotate)


# --- bad files: each gives a typed error naming the file and the problem ------------------


def _missing(tmp: Path) -> Path:
    return tmp / "nowhere.mp4"


def _empty(tmp: Path) -> Path:
    (tmp / "empty.mp4").write_bytes(b"")
    return tmp / "empty.mp4"


def _text(tmp: Path) -> Path:
    (tmp / "notes.mp4").write_text("this is not a video\n" * 50)
    return tmp / "notes.mp4"


def _image(tmp: Path) -> Path:
    path = tmp / "photo.mp4"
    cv2.imwrite(str(tmp / "photo.jpg"), np.zeros((32, 32, 3), np.uint8))
    path.write_bytes((tmp / "photo.jpg").read_bytes())
    return path


def _cut(source: Path, out: Path) -> Path:
    data = source.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def _truncated_mp4(tmp: Path) -> Path:
    return _cut(write_video(tmp / "whole.mp4", 15.0, 30, fourcc="mp4v"), tmp / "cut.mp4")


def _truncated_avi(tmp: Path) -> Path:
    return _cut(write_video(tmp / "whole.avi", 15.0, 30), tmp / "cut.avi")


def _truncated_avi_fixed_header(tmp: Path) -> Path:
    """Cut short, header patched to match: only decoding can tell frames are missing."""
    path = _truncated_avi(tmp)
    data = bytearray(path.read_bytes())
    data[4:8] = struct.pack("<I", len(data) - 8)
    path.write_bytes(bytes(data))
    return path


def _zero_avi(tmp: Path) -> Path:
    return write_video(tmp / "zero.avi", 15.0, 0)


def _zero_mp4(tmp: Path) -> Path:
    return write_video(tmp / "zero.mp4", 15.0, 0, fourcc="mp4v")


def _unknown_codec(tmp: Path) -> Path:
    data = write_video(tmp / "mjpg.avi", 15.0, 10).read_bytes().replace(b"MJPG", b"QQQQ")
    (tmp / "odd.avi").write_bytes(data)
    return tmp / "odd.avi"


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (_missing, FileProblem, "not found"),
        (_empty, NotAVideo, "empty file"),
        (_text, NotAVideo, "not a video"),
        (_image, NotAVideo, "a JPEG image, not a video"),
        (_truncated_mp4, VideoTruncated, "truncated: the file ends inside its 'mdat' box"),
        (_truncated_avi, VideoTruncated, "truncated: the AVI header declares"),
        (_truncated_avi_fixed_header, VideoTruncated, r"only \d+ of the 30 frames"),
        (_zero_avi, NoFrames, "zero frames"),
        (_zero_mp4, NoFrames, "zero frames"),
        (_unknown_codec, UnreadableCodec, "codec 'QQQQ'"),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_each_bad_file_gives_a_typed_error_naming_it(tmp_path, make, error, message):
    path = make(tmp_path)
    with pytest.raises(error, match=message) as caught:
        list(FrameSource(path).frames())
    assert str(caught.value).startswith(str(path))
    assert isinstance(caught.value, FileProblem)


class _CountingCapture:
    """A cv2.VideoCapture that counts the pictures converted (retrieve calls)."""

    def __init__(self, capture: cv2.VideoCapture, counter: list[int]) -> None:
        self._capture = capture
        self._counter = counter

    def retrieve(self, *args):
        self._counter[0] += 1
        return self._capture.retrieve(*args)

    def __getattr__(self, name):
        return getattr(self._capture, name)


def test_each_picked_frame_shows_its_own_picture_and_skipped_ones_are_not_converted(
    tmp_path, monkeypatch
):
    import screen.frontend.video as video_module

    video = write_video(tmp_path / "clip.avi", 30.0, 90)
    converted = [0]
    opened = video_module._open
    monkeypatch.setattr(
        video_module, "_open", lambda path: _CountingCapture(opened(path), converted)
    )
    out = list(FrameSource(video, fps=15.0).frames())
    assert len(out) == 45
    for frame in out:
        source_index = round(frame.timestamp * 30.0)
        grey = int(np.median(frame.image[24:, 16:]))
        assert grey == pytest.approx((source_index * 7) % 200, abs=3)
    assert converted[0] == 45  # of 90 decoded: converting a picture costs ~1/3 of a read
