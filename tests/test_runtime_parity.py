"""The networks on ONNX Runtime / OpenVINO give what their own frameworks give.

PP-HumanSegV1-Lite (the bundled, trained network) converted by paddle2onnx
against Paddle Inference on real photographs and phantom video frames; YOLO11n
exported by ultralytics against PyTorch (random weights; the real file where
installed); ScoNet's backbone (the shipped demo model) against PyTorch; a whole
screening on the converted networks against the native one.
Conversions are cached by the source's sha256 (beside the bundled model:
weights/.converted/), so only a fresh checkout pays for them (~20-40 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from random_models import yolo_weights

from screen.errors import ScreenError
from screen.frontend.detect import YoloDetector
from screen.frontend.frames import Frame, box_iou
from screen.frontend.segment import HumanSegmenter
from screen.frontend.video import FrameSource
from screen.frontend.yolo import ExportedYoloDetector
from screen.modelfiles.files import resolve_file
from screen.modelfiles.specs import get_spec
from screen.runtime import convert as conversion
from screen.runtime.engines import installed, open_converted
from screen.settings import DetectorSettings, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]
V1_LITE = ROOT / "weights" / "human_pp_humansegv1_lite_192x192_inference_model_with_softmax"
EXAMPLE = ROOT / "examples" / "phantom_positive.mp4"
PHOTOS = ("ultralytics_bus.jpg", "ultralytics_zidane.jpg", "darknet_person.jpg",
          "opencv_messi5.jpg")  # fmt: skip
RUNTIMES = [r for r in ("onnxruntime", "openvino") if installed(r)]
pytestmark = pytest.mark.skipif(not RUNTIMES, reason="neither onnxruntime nor openvino installed")


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


@pytest.fixture(scope="session")
def v1_lite_onnx() -> Path:
    return conversion.convert(V1_LITE, conversion.PADDLE, "model.pdmodel", "model.pdiparams")


@pytest.fixture(scope="session")
def paddle_v1_lite() -> HumanSegmenter:
    return HumanSegmenter(V1_LITE, runtime="native")


def _phantom_pairs(count: int = 8) -> list[tuple[Frame, np.ndarray]]:
    """Frames of the shipped phantom video with the walker's and the clinician's true boxes."""
    truth = json.loads(EXAMPLE.with_suffix(".json").read_text())["boxes"]
    frames = list(FrameSource(EXAMPLE).frames())
    pairs = []
    for frame in frames[:: len(frames) // count][:count]:
        entry = truth[frame.index]
        for box in (entry["participant"], *entry["others"]):
            pairs.append((frame, np.array(box, np.float32)))
    return pairs


def _photo_pairs(folder: Path) -> list[tuple[Frame, np.ndarray]]:
    """Each real photograph, whole and in two tall crops (a person's box is tall)."""
    pairs = []
    for name in PHOTOS:
        image = cv2.imread(str(folder / name))
        h, w = image.shape[:2]
        frame = Frame(0, 0.0, image)
        for box in ([0, 0, w, h], [0, 0, w // 2, h], [w // 3, h // 8, 2 * w // 3, h]):
            pairs.append((frame, np.array(box, np.float32)))
    return pairs


def _mean_iou(segmenter, reference, pairs) -> float:
    ours, theirs = segmenter.segment_many(pairs), reference.segment_many(pairs)
    ious = []
    for a, b in zip(ours, theirs, strict=True):
        assert (a.x, a.y, a.mask.shape) == (b.x, b.y, b.mask.shape)
        ious.append(mask_iou(a.mask > 0, b.mask > 0))
    return float(np.mean(ious))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_converted_pp_humanseg_v1_lite_masks_equal_paddles(
    runtime, v1_lite_onnx, paddle_v1_lite, shared_data
):
    converted = HumanSegmenter(V1_LITE, runtime=runtime)
    assert converted.runtime == runtime and converted.runtime_note is None
    assert not converted.holds_gil  # so the stage runs copies in threads
    assert _mean_iou(converted, paddle_v1_lite, _photo_pairs(shared_data)) >= 0.99
    assert _mean_iou(converted, paddle_v1_lite, _phantom_pairs()) >= 0.99
    batch = np.random.default_rng(0).normal(size=(2, 3, 192, 192)).astype(np.float32)
    difference = np.abs(converted.infer(batch) - paddle_v1_lite.infer(batch)).max()
    assert difference < 1e-3  # the probabilities themselves, not only the masks


@pytest.fixture(scope="session")
def yolo_pair(tmp_path_factory):
    weights = yolo_weights(tmp_path_factory)
    return weights, conversion.convert(weights, conversion.YOLO)


def _box_parity(exported, native, images) -> tuple[float, int, int]:
    """Mean best IoU of each native box among the exported ones; box counts."""
    ious, ours, theirs = [], 0, 0
    for image in images:
        frame = Frame(0, 0.0, image)
        mine, reference = exported.detect(frame), native.detect(frame)
        ours, theirs = ours + len(mine), theirs + len(reference)
        for box in reference.xyxy:
            ious.append(max((box_iou(box, other) for other in mine.xyxy), default=0.0))
    return float(np.mean(ious)), ours, theirs


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_exported_yolo_boxes_equal_pytorchs(runtime, yolo_pair, shared_data):
    weights, onnx_file = yolo_pair
    settings = DetectorSettings(imgsz=320, confidence=0.5)  # the random model boxes everything
    images = [cv2.imread(str(shared_data / name)) for name in PHOTOS]
    exported = ExportedYoloDetector(open_converted(runtime, onnx_file, 1), weights, settings)
    native = YoloDetector(weights, settings, threads=1)
    mean_iou, ours, theirs = _box_parity(exported, native, images)
    assert theirs > 0 and ours == theirs
    assert mean_iou >= 0.99


def test_exported_real_yolo11n_boxes_equal_pytorchs(shared_data):
    try:
        weights = resolve_file(get_spec("yolo11n")).path
    except ScreenError:
        pytest.skip("no real yolo11n.pt installed (screen weights download yolo11n)")
    onnx_file = conversion.convert(weights, conversion.YOLO)
    images = [cv2.imread(str(shared_data / name)) for name in PHOTOS]
    exported = ExportedYoloDetector(open_converted(RUNTIMES[0], onnx_file, 1), weights)
    mean_iou, ours, theirs = _box_parity(exported, YoloDetector(weights, threads=1), images)
    assert theirs >= 4 and ours == theirs  # the bus photo alone has four people
    assert mean_iou >= 0.99


def test_a_screening_on_onnx_runtime_matches_the_native_one(v1_lite_onnx):
    """The offline default path (background detector, bundled V1 Lite), converted vs Paddle."""
    from screen.pipeline import Screener, classifier_from_settings

    results, classifier = {}, classifier_from_settings(Settings())
    for runtime in (RUNTIMES[0], "native"):  # 7.5 fps: 60 frames, still two clips
        settings = Settings.of(runtime=runtime, rotate=0, detector="background", fps=7.5)
        results[runtime] = Screener(settings, classifier).screen(EXAMPLE).result
    converted, native = results[RUNTIMES[0]], results["native"]
    assert converted.pipeline.segmenter.model["runtime"] == RUNTIMES[0]
    assert native.pipeline.segmenter.model["runtime"] == "native"
    assert converted.pipeline.classifier == {"runtime": classifier.runtime_used}
    assert converted.verdict == native.verdict
    for name in ("negative", "neutral", "positive"):
        assert abs(converted.probabilities[name] - native.probabilities[name]) <= 0.01


@pytest.fixture(scope="module")
def phantom_walks() -> list[np.ndarray]:
    """The three shipped examples' true silhouettes, in stored form."""
    from screen.silhouettes.files import read_silhouettes

    return [
        np.asarray(read_silhouettes(ROOT / "examples" / f"phantom_{name}.masks.npz").frames)
        for name in ("positive", "neutral", "negative")
    ]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_sconets_backbone_on_a_converted_runtime_gives_pytorchs_verdicts(runtime, phantom_walks):
    from screen.model.classify import load_classifier

    converted, native = load_classifier(runtime=runtime), load_classifier(runtime="native")
    assert converted.runtime_info() == {"runtime": runtime}
    assert native.runtime_info() == {"runtime": "native"}
    for walk in phantom_walks:
        ours, theirs = converted.predict(walk), native.predict(walk)
        assert ours.label == theirs.label
        for label, probability in theirs.probabilities.items():
            assert abs(ours.probabilities[label] - probability) <= 1e-4
        for clip, reference in zip(ours.clips, theirs.clips, strict=True):
            differences = [
                abs(clip.probabilities[k] - v) for k, v in reference.probabilities.items()
            ]
            assert max(differences) <= 1e-4


def test_a_screener_opens_sconets_session_once_with_its_thread_budget(monkeypatch, phantom_walks):
    from screen.pipeline import Screener
    from screen.runtime import engines

    opened, original = [], engines.OnnxRuntimeNetwork.__init__

    def counting(network, path, threads=1):
        opened.append(threads)
        original(network, path, threads)

    monkeypatch.setattr(engines.OnnxRuntimeNetwork, "__init__", counting)
    settings = Settings.of(runtime="onnxruntime", workers=2, detector="background",
                           segmenter="background")  # fmt: skip
    Screener(settings).classifier.predict(phantom_walks[0])
    assert opened == [2]  # not once with 1 thread and again at the first prediction


def test_sconet_falls_back_to_pytorch_with_the_reason_and_bf16_stays_in_pytorch(
    tmp_path, caplog, phantom_walks
):
    from screen.model.classify import load_classifier

    weights = tmp_path / "sconet.safetensors"
    weights.write_bytes(resolve_file(get_spec("sconet-mt-demo")).path.read_bytes())
    (tmp_path / ".converted").mkdir()
    name = conversion._name(weights, conversion.SCONET)  # noqa: SLF001
    (tmp_path / ".converted" / f"{name}.failed").write_text("Error: unsupported operator\n")
    fallen = load_classifier(weights, runtime="onnxruntime")
    assert fallen.runtime_used == "native"
    assert "unsupported operator" in fallen.runtime_info()["runtime_fallback"]
    assert "ScoNet" in caplog.text and "running it on its own framework instead" in caplog.text
    assert fallen.predict(phantom_walks[0]).label.value == "positive"  # and it still screens
    bf16 = load_classifier(weights, runtime="onnxruntime", precision="bf16")
    assert bf16.runtime_info() == {"runtime": "native"}  # PyTorch's bf16 kernels, no fallback


def test_a_failed_conversion_runs_paddle_and_says_why(tmp_path, caplog):
    # paddle2onnx aborts on some models (V2 exported with a dynamic shape); remembered as
    # a `.failed` marker beside the source, it is not tried again.
    model = tmp_path / "model"
    model.mkdir()
    for member in V1_LITE.iterdir():
        (model / member.name).write_bytes(member.read_bytes())
    name = conversion._name(model, conversion.PADDLE)  # noqa: SLF001
    (tmp_path / ".converted").mkdir()
    (tmp_path / ".converted" / f"{name}.failed").write_text("Adaptive only support static input")
    segmenter = HumanSegmenter(model, runtime="onnxruntime")
    assert segmenter.runtime == "native" and segmenter.holds_gil
    assert "Adaptive only support static input" in segmenter.runtime_note
    assert "running it on its own framework instead" in caplog.text


def test_conversions_are_cached_by_content_and_fall_back_to_a_writable_cache(
    tmp_path, monkeypatch, yolo_pair
):
    weights, first = yolo_pair
    assert conversion.convert(weights, conversion.YOLO) == first  # cached: no second export
    copy = tmp_path / "ro" / "yolo.pt"
    copy.parent.mkdir()
    copy.write_bytes(weights.read_bytes())
    monkeypatch.setenv("SCREEN_CACHE_DIR", str(tmp_path / "cache"))
    real_writable = conversion._writable  # noqa: SLF001
    monkeypatch.setattr(conversion, "_writable", lambda f: "cache" in f.parts and real_writable(f))
    calls = []

    def fake_run(command, **kwargs):  # the child's work, without the child
        calls.append(command)
        Path(command[-1]).write_bytes(first.read_bytes())
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(conversion.subprocess, "run", fake_run)
    made = conversion.convert(copy, conversion.YOLO)
    assert made.parent == tmp_path / "cache" / "converted"  # the source's folder is read-only
    assert made.read_bytes() == first.read_bytes()
    assert not list(made.parent.glob("*.partial*"))  # written under a temporary name, renamed
    assert conversion.convert(copy, conversion.YOLO) == made and len(calls) == 1
    assert calls[0][:4] == [sys.executable, "-m", "screen.runtime.convert", "yolo"]


def test_the_runtime_setting_is_checked():
    assert Settings().runtime.engine == "auto"
    assert Settings.of(runtime="native").runtime.engine == "native"
    with pytest.raises(SettingsError, match="runtime must be one of"):
        Settings.of(runtime="tensorrt")


@pytest.mark.slow  # paddle2onnx takes ~30 s to give up
def test_paddle2onnx_aborting_on_a_dynamic_v2_model_falls_back_to_paddle(tmp_path_factory):
    from random_models import humanseg_model

    dynamic = humanseg_model(tmp_path_factory, "mobile")  # any input size: adaptive pooling
    segmenter = HumanSegmenter(dynamic, runtime="onnxruntime")
    assert segmenter.runtime == "native"
    assert "Adaptive only support static input shape" in segmenter.runtime_note
    fixed = humanseg_model(tmp_path_factory, "mobile", 192)  # PaddleSeg's --input_shape export
    assert HumanSegmenter(fixed, runtime="onnxruntime").runtime == "onnxruntime"


@pytest.mark.slow  # a fresh interpreter: ~10 s
def test_a_screening_on_onnx_runtime_never_loads_paddle(tmp_path):
    code = (
        "import sys, json; from screen.pipeline import Screener; from screen.settings import "
        f"Settings; Screener(Settings.of(rotate=0, fps=7.5)).screen({str(EXAMPLE)!r}); "
        "print(json.dumps([m for m in ('paddle', 'onnxruntime') if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == ["onnxruntime"]
