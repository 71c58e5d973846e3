"""`--overlay`: a check video with the tracked participant's box and mask drawn.

Opt-in only: it is the one output that holds raw frames, so a screener can see
that the tool followed the right student.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..frontend.extract import FrontendResult
from ..frontend.video import FrameSource
from ..settings import VideoSettings

BOX_COLOUR = (0, 200, 0)  # BGR green
MASK_COLOUR = np.array([255, 80, 0], np.float32)  # BGR blue tint


def write_overlay(result: FrontendResult, out_path: str | Path, video: VideoSettings) -> Path:
    """Re-read the video and draw the participant's box and mask on every analysed frame.

    The frames are turned as they were analysed (`result.video.rotation`: the tag,
    `--rotate` or the automatic check), so the boxes land on the people.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    by_index = {s.index: s for s in result.silhouettes}
    source = FrameSource(result.video.path, video.fps, result.video.rotation, video.max_side)
    info = source.info
    temporary = out_path.with_name(out_path.stem + ".partial" + out_path.suffix)
    writer = cv2.VideoWriter(
        str(temporary), cv2.VideoWriter_fourcc(*"mp4v"), video.fps, (info.width, info.height)
    )
    try:
        for frame in source.frames():
            image = frame.image.copy()
            silhouette = by_index.get(frame.index)
            if silhouette is not None:
                mask = silhouette.mask.to_frame((info.width, info.height)) > 0
                image[mask] = (0.55 * image[mask] + 0.45 * MASK_COLOUR).astype(np.uint8)
                x1, y1, x2, y2 = (int(round(v)) for v in silhouette.box)
                cv2.rectangle(image, (x1, y1), (x2, y2), BOX_COLOUR, 2)
                label = f"participant #{result.participant.track_id}"
                cv2.putText(image, label, (x1, max(15, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                            BOX_COLOUR, 1, cv2.LINE_AA)  # fmt: skip
            cv2.putText(image, f"t={frame.timestamp:6.2f}s", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
            writer.write(image)
    finally:
        writer.release()
    temporary.replace(out_path)
    return out_path
