"""What one phantom walker is: body, gait, posture, looks and scene, all drawn from one seed.

The label comes from a single severity number (a Cobb-like angle in degrees); every
posture asymmetry grows with it on top of the small natural asymmetries that
healthy walkers have too, so the classes overlap near their boundaries.

Signed posture values follow one convention: positive means towards, or higher
on, the walker's own right side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ScreenError
from ..model.classes import Label

#: Severity bands [low, high) in degrees, in the spirit of Cobb-angle cut-offs.
SEVERITY_BANDS: dict[Label, tuple[float, float]] = {
    Label.NEGATIVE: (0.0, 10.0),
    Label.NEUTRAL: (10.0, 20.0),
    Label.POSITIVE: (20.0, 40.0),
}

# Per degree of severity, how much each asymmetry grows, and the spread of the same
# asymmetry in healthy walkers.  The gains are larger than clinical averages on
# purpose: at 64x64 one pixel is ~2.6 cm of a 165 cm walker, and a demo model must
# be able to learn the signal from front/back silhouettes in minutes of CPU time.
#                     name: (gain per degree, natural spread)
POSTURE_MODEL: dict[str, tuple[float, float]] = {
    "shoulder_height_cm": (0.18, 0.6),
    "trunk_shift_cm": (0.12, 0.5),
    "trunk_lean_deg": (0.14, 0.7),
    "thoracic_rotation_deg": (0.30, 1.5),
    "pelvic_obliquity_deg": (0.04, 0.6),
    "waist_asymmetry_cm": (0.09, 0.4),
    "head_tilt_deg": (-0.05, 1.0),  # the head partly compensates the lean
}


def label_for_severity(severity_deg: float) -> Label:
    """The class a severity belongs to: <10 negative, 10-20 neutral, >=20 positive."""
    if severity_deg < SEVERITY_BANDS[Label.NEUTRAL][0]:
        return Label.NEGATIVE
    if severity_deg < SEVERITY_BANDS[Label.POSITIVE][0]:
        return Label.NEUTRAL
    return Label.POSITIVE


@dataclass(frozen=True)
class Body:
    height_m: float  #: standing height, 1.45..1.85
    build: float  #: girth factor, 0.85 thin .. 1.35 heavy
    looseness: float  #: clothing widens clothed segments, 1.0 fitted .. 1.25 loose
    shoulder_width: float  #: relative to the average proportion
    hip_width: float  #: relative to the average proportion


@dataclass(frozen=True)
class Gait:
    cadence_spm: float  #: steps per minute
    step_length_m: float
    arm_swing_deg: float  #: shoulder flexion amplitude of the left arm
    elbow_flex_deg: float  #: resting elbow flexion
    pelvic_rotation_deg: float  #: yaw amplitude of the pelvis
    pelvic_drop_deg: float  #: dynamic obliquity amplitude (swing side drops)
    sway_m: float  #: lateral sway amplitude of the pelvis
    turn_s: float  #: seconds for a 180-degree turn
    turn_sign: int  #: +1 turns to the walker's right, -1 to the left
    phase0: float  #: stride phase at t = 0, in cycles
    start_s: float  #: how far into its route the walker is at t = 0

    @property
    def speed_mps(self) -> float:
        return self.step_length_m * self.cadence_spm / 60.0


@dataclass(frozen=True)
class Posture:
    severity_deg: float  #: drives the label (see SEVERITY_BANDS)
    side: int  #: +1: the right shoulder rises and the trunk shifts right; -1 mirrored
    shoulder_height_cm: float  #: right shoulder minus left
    trunk_shift_cm: float  #: thorax shifted right of the pelvis
    trunk_lean_deg: float  #: trunk leaning to the right
    thoracic_rotation_deg: float  #: thorax yaw relative to the pelvis
    pelvic_obliquity_deg: float  #: right hip higher
    waist_asymmetry_cm: float  #: abdomen shifted right (the left waist crease deepens)
    head_tilt_deg: float  #: head tilted to the right
    arm_swing_ratio: float  #: right arm swing / left arm swing


@dataclass(frozen=True)
class Appearance:
    """Colours as RGB 0..255."""

    skin_rgb: tuple[int, int, int]
    hair_rgb: tuple[int, int, int]
    shirt_rgb: tuple[int, int, int]
    trousers_rgb: tuple[int, int, int]
    shoes_rgb: tuple[int, int, int]
    long_sleeves: bool
    shorts: bool


@dataclass(frozen=True)
class Scene:
    camera_height_m: float
    camera_pitch_deg: float  #: positive tilts the camera up
    camera_roll_deg: float
    near_m: float  #: closest approach to the camera (front view)
    far_m: float  #: far end of the walk (front view)
    lateral_m: float  #: walking line's offset from the optical axis
    corridor_width_m: float
    corridor_length_m: float
    wall_rgb: tuple[int, int, int]
    floor_rgb: tuple[int, int, int]
    ceiling_rgb: tuple[int, int, int]
    door_rgb: tuple[int, int, int]
    texture_seed: int  #: doors, posters, tiles and grain of the background
    noise_sigma: float  #: sensor noise, grey levels
    light_drift: float  #: relative amplitude of the slow lighting change
    light_period_s: float


@dataclass(frozen=True)
class WalkerParams:
    """Everything that makes one phantom walker and its scene; JSON-able via to_dict."""

    label: Label
    seed: int
    body: Body
    gait: Gait
    posture: Posture
    appearance: Appearance
    scene: Scene

    def to_dict(self) -> dict:
        data = asdict(self)
        data["label"] = self.label.value
        return data

    @classmethod
    def from_dict(cls, data: dict) -> WalkerParams:
        """The inverse of to_dict (e.g. to re-render a walker from its ground-truth JSON)."""
        sections = {"body": Body, "gait": Gait, "posture": Posture}
        sections |= {"appearance": Appearance, "scene": Scene}
        values = {name: kind(**_tuples(data[name])) for name, kind in sections.items()}
        return cls(label=Label(data["label"]), seed=int(data["seed"]), **values)


def _tuples(section: dict) -> dict:
    """JSON turns colour tuples into lists; frozen dataclasses want them back as tuples."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}


# --- sampling -------------------------------------------------------------------------------

SKIN_TONES = [(241, 194, 167), (224, 172, 138), (198, 134, 99), (161, 102, 70), (110, 72, 50)]
HAIR_COLOURS = [(30, 24, 20), (70, 45, 30), (120, 85, 50), (200, 170, 110), (20, 20, 25)]
CLOTH_COLOURS = [
    (35, 60, 120),
    (200, 40, 40),
    (240, 240, 235),
    (30, 30, 35),
    (90, 140, 70),
    (230, 190, 60),
    (120, 120, 125),
    (60, 120, 180),
    (150, 60, 130),
    (210, 120, 60),
    (70, 60, 50),
    (170, 200, 220),
]
TROUSER_COLOURS = [(30, 40, 70), (25, 25, 28), (90, 90, 95), (60, 70, 100), (120, 100, 80)]
WALL_COLOURS = [(215, 210, 195), (190, 200, 190), (225, 220, 210), (200, 190, 170), (180, 190, 200)]
FLOOR_COLOURS = [(150, 140, 125), (110, 115, 120), (170, 160, 140), (95, 85, 75), (130, 135, 125)]
DOOR_COLOURS = [(120, 85, 55), (70, 95, 130), (160, 150, 130), (90, 110, 90)]


def _colour(rng: np.random.Generator, palette: list, jitter: int = 12) -> tuple[int, int, int]:
    base = np.array(palette[int(rng.integers(len(palette)))], dtype=float)
    return tuple(int(v) for v in np.clip(base + rng.uniform(-jitter, jitter, 3), 0, 255))


def _sample_posture(rng: np.random.Generator, label: Label) -> Posture:
    """Severity from the label's band; asymmetries = natural spread + side * gain * severity."""
    low, high = SEVERITY_BANDS[label]
    # Mild cases are more common than severe ones: skew towards the band's low end.
    power = 1.6 if label is Label.POSITIVE else 1.0
    severity = low + (high - low) * float(rng.random()) ** power
    side = 1 if rng.random() < 0.5 else -1
    values = {}
    for name, (gain, spread) in POSTURE_MODEL.items():
        natural = float(rng.normal(0.0, spread))
        presentation = float(rng.uniform(0.7, 1.3))  # patients present differently
        values[name] = round(natural + side * gain * severity * presentation, 3)
    swing_loss = 0.012 * severity * float(rng.uniform(0.7, 1.3)) + abs(rng.normal(0, 0.05))
    arm_ratio = float(np.clip(1.0 - swing_loss, 0.4, 1.0))
    if side < 0:  # the weaker swing is on the concave side
        arm_ratio = 1.0 / arm_ratio
    return Posture(
        severity_deg=round(severity, 3), side=side, arm_swing_ratio=round(arm_ratio, 3), **values
    )


def sample_walker(label: Label | str, seed: int) -> WalkerParams:
    """A reproducible random walker of the given class.

    The body, gait, looks and scene depend on the seed only, so one seed gives the
    same person in the same corridor whatever the label: only the posture changes.
    """
    if label not in set(Label):
        raise ScreenError(f"unknown label {label!r}: use positive, neutral or negative")
    label = Label(label)
    streams = np.random.SeedSequence([int(seed), 0x5C0_1105]).spawn(5)
    body_rng, gait_rng, posture_rng, look_rng, scene_rng = (
        np.random.default_rng(s) for s in streams
    )

    height = float(np.clip(body_rng.normal(1.64, 0.09), 1.45, 1.85))
    body = Body(
        height_m=round(height, 3),
        build=round(float(np.clip(body_rng.normal(1.05, 0.13), 0.85, 1.35)), 3),
        looseness=round(float(body_rng.uniform(1.0, 1.25)), 3),
        shoulder_width=round(float(body_rng.uniform(0.93, 1.07)), 3),
        hip_width=round(float(body_rng.uniform(0.93, 1.07)), 3),
    )
    gait = Gait(
        cadence_spm=round(float(gait_rng.uniform(100, 126)), 2),
        step_length_m=round(height * float(gait_rng.uniform(0.36, 0.44)), 3),
        arm_swing_deg=round(float(gait_rng.uniform(12, 26)), 2),
        elbow_flex_deg=round(float(gait_rng.uniform(8, 22)), 2),
        pelvic_rotation_deg=round(float(gait_rng.uniform(3, 7)), 2),
        pelvic_drop_deg=round(float(gait_rng.uniform(2, 5)), 2),
        sway_m=round(float(gait_rng.uniform(0.012, 0.03)), 4),
        turn_s=round(float(gait_rng.uniform(1.0, 1.6)), 3),
        turn_sign=1 if gait_rng.random() < 0.5 else -1,
        phase0=round(float(gait_rng.random()), 4),
        start_s=round(float(gait_rng.uniform(0.0, 2.0)), 3),
    )
    posture = _sample_posture(posture_rng, label)
    appearance = Appearance(
        skin_rgb=_colour(look_rng, SKIN_TONES, 8),
        hair_rgb=_colour(look_rng, HAIR_COLOURS, 10),
        shirt_rgb=_colour(look_rng, CLOTH_COLOURS, 18),
        trousers_rgb=_colour(look_rng, TROUSER_COLOURS, 12),
        shoes_rgb=_colour(look_rng, [(30, 30, 30), (235, 235, 235), (90, 60, 40)], 10),
        long_sleeves=bool(look_rng.random() < 0.4),
        shorts=bool(look_rng.random() < 0.2),
    )
    scene = Scene(
        camera_height_m=round(float(scene_rng.uniform(0.9, 1.3)), 3),
        camera_pitch_deg=round(float(scene_rng.uniform(-3, 2)), 2),
        camera_roll_deg=round(float(np.clip(scene_rng.normal(0, 0.4), -1, 1)), 2),
        near_m=round(float(scene_rng.uniform(1.4, 1.7)), 3),
        far_m=round(float(scene_rng.uniform(3.9, 4.2)), 3),
        lateral_m=round(float(scene_rng.uniform(-0.15, 0.15)), 3),
        corridor_width_m=round(float(scene_rng.uniform(2.4, 3.4)), 3),
        corridor_length_m=round(float(scene_rng.uniform(9, 16)), 2),
        wall_rgb=_colour(scene_rng, WALL_COLOURS),
        floor_rgb=_colour(scene_rng, FLOOR_COLOURS),
        ceiling_rgb=_colour(scene_rng, [(235, 235, 230), (215, 215, 210)], 8),
        door_rgb=_colour(scene_rng, DOOR_COLOURS),
        texture_seed=int(scene_rng.integers(2**31)),
        noise_sigma=round(float(scene_rng.uniform(1.5, 4.0)), 2),
        light_drift=round(float(scene_rng.uniform(0.02, 0.06)), 3),
        light_period_s=round(float(scene_rng.uniform(6, 15)), 2),
    )
    return WalkerParams(label, int(seed), body, gait, posture, appearance, scene)
