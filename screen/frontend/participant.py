"""Which track is the student: the one who walks through the scene.

A walker shows sustained movement: the box travels (in body heights) or grows
and shrinks (walking towards or away from the camera), over a long stretch of
the video.  A clinician standing at the side barely moves; a passer-by moves
but is in view only briefly.  Selection needs each track's whole history, so
the history keeps boxes per frame only, never images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .frames import Detections
from .returns import ReturnSettings, apart, same_size

MIN_CLIP_FRAMES = 30  #: ScoNet reads 30-frame clips; fewer participant frames than this is flagged


@dataclass
class TrackHistory:
    """Every track's box in every frame it was seen; built during the first pass."""

    frames: int = 0  #: frames fed so far
    size: tuple[int, int] | None = None  #: frame width, height (to tell boxes cut by the edge)
    timestamps: dict[int, float] = field(default_factory=dict)  #: frame index -> seconds
    boxes: dict[int, dict[int, np.ndarray]] = field(default_factory=dict)  #: id -> index -> xyxy
    #: a moving camera's background shift per frame (camera_motion.py), empty for a fixed one
    camera_path: dict[int, np.ndarray] = field(default_factory=dict)

    def add(self, index: int, timestamp: float, tracked: Detections) -> None:
        self.frames += 1
        self.timestamps[index] = timestamp
        if tracked.track_id is None:
            raise ValueError("the history needs tracked detections (track_id set)")
        for box, track_id in zip(tracked.xyxy, tracked.track_id, strict=True):
            self.boxes.setdefault(int(track_id), {})[index] = box.copy()


@dataclass(frozen=True)
class TrackSummary:
    """How one track (or a chain of stitched fragments) moved."""

    track_id: int
    ids: tuple[int, ...]  #: the ByteTrack ids joined into this track
    frames: int  #: frames in which it was seen
    first: int  #: first frame index
    last: int  #: last frame index
    travel: float  #: spread of the box centre, in median body heights
    scale_change: float  #: tallest / shortest box height (10th-90th percentile)
    median_height: float  #: pixels

    @property
    def movement(self) -> float:
        """Travel plus growth, on one scale: 1 ~ one body height, or ~1.65x taller."""
        return self.travel + 2.0 * math.log(self.scale_change)

    def score(self, full_movement: float) -> float:
        """Frames seen, discounted where the track moved less than a clear walk."""
        return self.frames * min(1.0, self.movement / full_movement)


@dataclass(frozen=True)
class SelectionSettings:
    min_movement: float = 0.75  #: below this a track is "standing", not walking
    full_movement: float = 1.5  #: movement counted as a clear walk (no discount)
    min_frames: int = 8  #: shorter tracks are noise
    stitch_gap: int = 45  #: frames a walker may vanish (3 s at 15 fps) and still be joined up
    rival_ratio: float = 0.6  #: a second walker scoring this much of the best is a rival
    overlap: float = 0.5  #: rivals sharing this share of frames walk "at the same time"
    returns: ReturnSettings = ReturnSettings()  #: when a later (or earlier) pass is joined


@dataclass(frozen=True)
class ParticipantChoice:
    """The chosen track, its box per frame, why, and how well it covers the video."""

    track_id: int | None
    boxes: dict[int, np.ndarray]  #: frame index -> xyxy
    tracks: tuple[TrackSummary, ...]  #: every track considered, best first
    flags: tuple[str, ...]
    coverage: dict

    def box(self, index: int) -> np.ndarray | None:
        return self.boxes.get(index)


def _summarise(
    track_id: int,
    ids: tuple[int, ...],
    boxes: dict[int, np.ndarray],
    camera_path: dict[int, np.ndarray] | None = None,
) -> TrackSummary:
    """How a track moved; with a moving camera's `camera_path`, in the scene: a phone that
    follows the walker keeps them still in the picture while the background slides by."""
    xyxy = np.array([boxes[i] for i in sorted(boxes)], np.float64)  # [n, 4]
    heights = np.maximum(xyxy[:, 3] - xyxy[:, 1], 1.0)
    centres = (xyxy[:, :2] + xyxy[:, 2:]) / 2  # [n, 2]
    if camera_path:
        zero = np.zeros(2)
        centres = centres - np.array([camera_path.get(i, zero) for i in sorted(boxes)])
    median_height = float(np.median(heights))
    low, high = np.percentile(centres, [5, 95], axis=0)
    travel = float(np.hypot(*(high - low)) / median_height)
    short, tall = np.percentile(_height_envelope(sorted(boxes), heights), [10, 90])
    return TrackSummary(
        track_id=track_id,
        ids=ids,
        frames=len(boxes),
        first=min(boxes),
        last=max(boxes),
        travel=travel,
        scale_change=float(tall / short),
        median_height=median_height,
    )


#: frames each side over which a track's box height is taken at its largest (~0.3 s at 15 fps)
ENVELOPE_FRAMES = 4


def _height_envelope(frames: list[int], heights: np.ndarray) -> np.ndarray:
    """Each box's height raised to the largest within `ENVELOPE_FRAMES` frames of it.

    A detector that sometimes finds only part of a person (PP-HumanSeg over a whole
    frame splits a standing clinician at the waist in some frames) makes boxes
    smaller than the person, never larger: the flicker between whole and half
    boxes read as growing and shrinking, so a clinician by a handheld camera
    counted as a second walker.  A real walker's size changes slowly, which the
    envelope keeps.
    """
    first = frames[0]
    timeline = np.full(frames[-1] - first + 1, np.nan)
    timeline[np.asarray(frames) - first] = heights
    padded = np.pad(timeline, ENVELOPE_FRAMES, constant_values=np.nan)
    shifted = [padded[k : k + len(timeline)] for k in range(2 * ENVELOPE_FRAMES + 1)]
    return np.fmax.reduce(np.stack(shifted), axis=0)[np.asarray(frames) - first]  # NaN: a gap


def _feet(box: np.ndarray) -> np.ndarray:
    """Bottom centre: steadier than the box centre while an occluder hides part of the body."""
    return np.array([(box[0] + box[2]) / 2, box[3]])


def _continues(earlier: dict[int, np.ndarray], later: dict[int, np.ndarray], gap: int) -> bool:
    """Whether `later` plausibly picks up where `earlier` left off (same size, expected place)."""
    end, start = max(earlier), min(later)
    if not 0 < start - end <= gap:
        return False
    # Sizes from a few boxes each side: the first box after an occlusion is often a fragment.
    tail = [earlier[i] for i in sorted(earlier)[-5:]]
    head = [later[i] for i in sorted(later)[:5]]
    h_tail = float(np.median([b[3] - b[1] for b in tail]))
    h_head = float(np.median([b[3] - b[1] for b in head]))
    if not 0.67 <= h_head / max(h_tail, 1.0) <= 1.5:
        return False
    # Where the earlier track was heading, from its last second or so.
    keys = sorted(earlier)[-15:]
    velocity = (_feet(earlier[keys[-1]]) - _feet(earlier[keys[0]])) / max(keys[-1] - keys[0], 1)
    expected = _feet(earlier[end]) + velocity * (start - end)
    return float(np.hypot(*(_feet(later[start]) - expected))) <= max(h_tail, h_head)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box: 1 when one box holds the other."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(ix * iy / smaller) if smaller > 0 else 0.0


def _takes_over(earlier: dict[int, np.ndarray], later: dict[int, np.ndarray], gap: int) -> bool:
    """An identity switch: `later` starts where `earlier` just was, and `earlier` soon dies.

    When two people cross, ByteTrack may start a new id on the walker (or on the
    two merged) while the old id drifts to the other person before it is lost.
    """
    start = min(later)
    before = [i for i in earlier if start - 5 <= i <= start]
    if not before or not 0 <= max(earlier) - start <= gap or max(later) <= max(earlier):
        return False
    return _overlap(earlier[max(before)], later[start]) >= 0.5


def _stitch(history: TrackHistory, gap: int) -> dict[int, tuple[tuple[int, ...], dict]]:
    """Join fragments of one walker: split by a long occlusion, or by an id switch."""
    chains: dict[int, tuple[tuple[int, ...], dict]] = {}
    for track_id in sorted(history.boxes, key=lambda t: min(history.boxes[t])):
        boxes = history.boxes[track_id]
        for head, (ids, chain) in chains.items():
            if _continues(chain, boxes, gap) or _takes_over(chain, boxes, gap):
                start = min(boxes)  # from here on the newer id is trusted
                kept = {i: box for i, box in chain.items() if i < start}
                chains[head] = (ids + (track_id,), {**kept, **boxes})
                break
        else:
            chains[track_id] = ((track_id,), dict(boxes))
    return chains


def _shared(a: TrackSummary, b: TrackSummary, boxes: dict[int, dict]) -> float:
    """Share of the smaller track's frames in which both are seen."""
    common = len(boxes[a.track_id].keys() & boxes[b.track_id].keys())
    return common / max(1, min(a.frames, b.frames))


def _join_returns(
    chosen: TrackSummary,
    walkers: list[TrackSummary],
    boxes: dict[int, dict],
    history: TrackHistory,
    settings: SelectionSettings,
) -> tuple[TrackSummary, tuple[TrackSummary, ...]]:
    """The chosen walker with its other passes joined (see `returns.py`), and those passes."""
    union, spans, joined = dict(boxes[chosen.track_id]), [(chosen.first, chosen.last)], []
    for candidate in walkers:
        if candidate is chosen or not apart(spans, candidate.first, candidate.last):
            continue
        fits = [
            other
            for other in walkers
            if other is candidate
            or (
                other is not chosen
                and len(boxes[candidate.track_id].keys() & boxes[other.track_id].keys())
                >= settings.min_frames
                and same_size(union, boxes[other.track_id], history.size, settings.returns)
            )
        ]
        # Joined only if it fits and no other walker of its size is in view with it for long.
        if fits != [candidate] or not same_size(
            union, boxes[candidate.track_id], history.size, settings.returns
        ):
            continue
        union.update(boxes[candidate.track_id])
        spans.append((candidate.first, candidate.last))
        joined.append(candidate)
    if not joined:
        return chosen, ()
    ids = sorted(chosen.ids + tuple(i for s in joined for i in s.ids), key=_first_seen(history))
    boxes[chosen.track_id] = union
    return _summarise(chosen.track_id, tuple(ids), union, history.camera_path), tuple(joined)


def _first_seen(history: TrackHistory):
    return lambda track_id: min(history.boxes[track_id])


def _coverage(
    history: TrackHistory, chosen: TrackSummary | None, boxes: dict, passes: int = 1
) -> dict:
    stats = {"frames": history.frames, "tracks_seen": len(history.boxes)}
    if chosen is None:
        return {**stats, "participant_frames": 0, "coverage": 0.0}
    indices = sorted(boxes)
    gaps = np.diff(indices) - 1 if len(indices) > 1 else np.zeros(1, int)
    return {
        **stats,
        "participant_frames": len(indices),
        "coverage": round(len(indices) / max(history.frames, 1), 4),
        "first_seconds": round(history.timestamps[indices[0]], 3),
        "last_seconds": round(history.timestamps[indices[-1]], 3),
        "longest_gap_frames": int(gaps.max()),
        "track_ids": list(chosen.ids),
        "travel_body_heights": round(chosen.travel, 3),
        "scale_change": round(chosen.scale_change, 3),
        "median_box_height_px": round(chosen.median_height, 1),
        "passes": passes,  #: passes of the walker joined after an absence (returns.py)
    }


def select_participant(
    history: TrackHistory, settings: SelectionSettings | None = None
) -> ParticipantChoice:
    """The walking participant among all tracks, with quality flags when in doubt.

    Flags: `no_person` (nobody tracked), `no_walker` (nobody walked; the longest
    track is used), `two_walkers` (another walker in view at the same time),
    `participant_uncertain` (another walker scores close), `few_participant_frames`
    (fewer than one 30-frame clip).  The walker's other passes, after an absence
    too long for stitching, are joined to it (`returns.py`).
    """
    settings = settings or SelectionSettings()
    chains = _stitch(history, settings.stitch_gap)
    boxes = {head: chain for head, (_, chain) in chains.items()}
    summaries = [
        _summarise(head, ids, chain, history.camera_path)
        for head, (ids, chain) in chains.items()
        if len(chain) >= settings.min_frames
    ]
    summaries.sort(key=lambda s: s.score(settings.full_movement), reverse=True)
    walkers = [s for s in summaries if s.movement >= settings.min_movement]
    flags: list[str] = []
    passes: tuple[TrackSummary, ...] = ()
    if walkers:
        first = walkers[0]
        best = first.score(settings.full_movement)
        chosen, passes = _join_returns(first, walkers, boxes, history, settings)
        rivals = [
            s
            for s in walkers[1:]
            if s not in passes and s.score(settings.full_movement) >= settings.rival_ratio * best
        ]
        summaries = [chosen if s is first else s for s in summaries if s not in passes]
        if any(_shared(chosen, s, boxes) >= settings.overlap for s in rivals):
            flags.append("two_walkers")
        elif rivals:
            flags.append("participant_uncertain")
    elif summaries:
        chosen = max(summaries, key=lambda s: s.frames)
        flags.append("no_walker")
    else:
        chosen = None
        flags.append("no_person")
    chosen_boxes = boxes[chosen.track_id] if chosen else {}
    if chosen and len(chosen_boxes) < MIN_CLIP_FRAMES:
        flags.append("few_participant_frames")
    return ParticipantChoice(
        track_id=chosen.track_id if chosen else None,
        boxes=chosen_boxes,
        tracks=tuple(summaries),
        flags=tuple(flags),
        coverage=_coverage(history, chosen, chosen_boxes, 1 + len(passes)),
    )
