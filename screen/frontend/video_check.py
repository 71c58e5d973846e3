"""Telling why a file is not a usable video, from its bytes alone.

OpenCV only says "could not open"; a user needs to know whether the file is not
a video at all, was cut short, holds no frames or uses a codec this build cannot
decode.  These checks read the container's headers (a few hundred bytes), never
the picture data.
"""

from __future__ import annotations

import struct
from pathlib import Path

# Leading bytes of containers FFmpeg reads, and of still images it would also open.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", "mp4"),
    (0, b"\x1a\x45\xdf\xa3", "matroska"),
    (0, b"\x30\x26\xb2\x75", "asf"),
    (0, b"FLV", "flv"),
    (0, b"\x00\x00\x01\xba", "mpeg-ps"),
    (0, b"\x00\x00\x01\xb3", "mpeg-video"),
    (0, b"\x47", "mpeg-ts"),
)
_IMAGES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
)
# Top-level MP4/QuickTime boxes; anything else at the top means "not a box list".
_MP4_TOP_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"pdin"}


def container_kind(path: Path) -> str | None:
    """'mp4', 'avi', 'matroska', ... from the leading bytes, or None."""
    with path.open("rb") as handle:
        head = handle.read(16)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    for offset, magic, kind in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind
    return None


def image_kind(path: Path) -> str | None:
    """'a JPEG image' etc. when the file is a still picture, else None."""
    with path.open("rb") as handle:
        head = handle.read(8)
    return next((name for magic, name in _IMAGES if head.startswith(magic)), None)


def _mp4_boxes(path: Path) -> tuple[list[tuple[bytes, int, int]], str | None]:
    """Top-level (type, offset, size) boxes and the box the file ends inside, if any."""
    boxes: list[tuple[bytes, int, int]] = []
    total = path.stat().st_size
    with path.open("rb") as handle:
        offset = 0
        while offset + 8 <= total:
            handle.seek(offset)
            size, kind = struct.unpack(">I4s", handle.read(8))
            if size == 1:
                size = struct.unpack(">Q", handle.read(8))[0]
            elif size == 0:  # "to the end of the file"
                size = total - offset
            if kind not in _MP4_TOP_BOXES or size < 8:
                break
            if offset + size > total:
                return boxes, kind.decode("latin-1")
            boxes.append((kind, offset, size))
            offset += size
    return boxes, None


def truncation(path: Path) -> str | None:
    """How the container shows the file was cut short, or None when it looks whole."""
    kind = container_kind(path)
    size = path.stat().st_size
    if kind == "avi":
        with path.open("rb") as handle:
            declared = struct.unpack("<I", handle.read(8)[4:8])[0] + 8
        if declared > size:
            return f"the AVI header declares {declared} bytes but the file has {size}"
    if kind == "mp4":
        boxes, cut_in = _mp4_boxes(path)
        if cut_in is not None:
            return f"the file ends inside its '{cut_in}' box ({size} bytes)"
        if b"moov" not in {box for box, _, _ in boxes}:
            return "the MP4 index ('moov' box) is missing, as when a recording was not finished"
    return None


def _moov_bytes(path: Path) -> bytes:
    boxes, _ = _mp4_boxes(path)
    for kind, offset, size in boxes:
        if kind == b"moov":
            with path.open("rb") as handle:
                handle.seek(offset)
                return handle.read(min(size, 16 << 20))
    return b""


def mp4_sample_count(path: Path) -> int | None:
    """Frames in the MP4's video track from its 'stsz' box, or None where not found."""
    moov = _moov_bytes(path)
    video = moov.find(b"vide")  # the video track's handler
    if video < 0:
        return 0 if moov else None
    stsz = moov.find(b"stsz", video)
    if stsz < 0:
        return None
    return struct.unpack(">I", moov[stsz + 12 : stsz + 16])[0]


def codec_tag(path: Path) -> str | None:
    """The video codec's four-character code ('avc1', 'hvc1', 'MJPG', ...) where it can be read."""
    kind = container_kind(path)
    if kind == "mp4":
        moov = _moov_bytes(path)
        stsd = moov.find(b"stsd", max(moov.find(b"vide"), 0))
        tag = moov[stsd + 16 : stsd + 20] if stsd >= 0 else b""
    elif kind == "avi":
        with path.open("rb") as handle:
            head = handle.read(4096)
        # The video stream's 'strf' chunk is a BITMAPINFOHEADER; biCompression sits 16 bytes in.
        video = head.find(b"vids")
        strf = head.find(b"strf", max(video, 0))
        tag = head[strf + 24 : strf + 28] if video >= 0 and strf >= 0 else b""
    else:
        return None
    text = tag.decode("latin-1").strip("\x00 ")
    return text if text.isprintable() and text else None
