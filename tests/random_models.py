"""Random-weight models of the real architectures, built locally (no download), once per session.

- YOLO11n from the model yaml that ships in ultralytics, saved as a .pt.  The
  class-0 bias of its head is raised so that even random weights propose
  "person" boxes and the code after the detector has something to chew on.
- PP-HumanSegV2-Mobile (PPLiteSeg + STDC1) and -Lite (MobileSeg + MobileNetV3-large)
  as in PaddleSeg's contrib/PP-HumanSeg/configs/human_pp_humansegv2_{mobile,lite}.yml,
  exported with paddle.jit.save plus a deploy.yaml like the published archives.
- An "oracle" Paddle model with a known answer: bright pixels are person.  It
  checks the crop, pad, resize, normalise and map-back steps exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

if TYPE_CHECKING:
    import numpy as np

    from screen.model.classify import Classifier

_built: dict[str, Path] = {}
DEPLOY_192 = {
    "Deploy": {
        "model": "model.json",
        "params": "model.pdiparams",
        "transforms": [{"type": "Resize", "target_size": [192, 192]}, {"type": "Normalize"}],
    }
}


def block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to reach the network fail the test that made it."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _once(name: str, factory: pytest.TempPathFactory, build) -> Path:
    if name not in _built:
        folder = factory.mktemp(name)
        _built[name] = build(folder)
    return _built[name]


def yolo_weights(factory: pytest.TempPathFactory) -> Path:
    def build(folder: Path) -> Path:
        import torch
        from ultralytics import YOLO

        torch.manual_seed(0)
        model = YOLO("yolo11n.yaml")  # the architecture only; no weights are fetched
        with torch.no_grad():
            for branch in model.model.model[-1].cv3:  # class logits, one branch per stride
                branch[-1].bias[0] = 6.0
        path = folder / "yolo11n-random.pt"
        model.save(str(path))
        return path

    return _once("yolo", factory, build)


def _export(net, folder: Path, size: int | None = None) -> Path:
    """The network saved as an inference model; `size`: a fixed input (PaddleSeg's
    `export.py --input_shape 1 3 192 192`), else any height and width."""
    import paddle

    class WithSoftmax(paddle.nn.Layer):
        """Like PaddleSeg's export with --with_softmax --without_argmax."""

        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return paddle.nn.functional.softmax(self.inner(x)[0], axis=1)

    wrapped = WithSoftmax(net)
    wrapped.eval()
    spec = [paddle.static.InputSpec(shape=[None, 3, size, size], dtype="float32")]
    paddle.jit.save(paddle.jit.to_static(wrapped, input_spec=spec), str(folder / "model"))
    (folder / "deploy.yaml").write_text(yaml.safe_dump(DEPLOY_192))
    return folder


def humanseg_model(factory: pytest.TempPathFactory, variant: str, size: int | None = None) -> Path:
    """`size`: exported with a fixed input size (paddle2onnx can convert only that for V2:
    its adaptive pooling needs a static shape), else a dynamic one."""

    def build(folder: Path) -> Path:
        import paddle
        from paddleseg.models import MobileSeg, PPLiteSeg
        from paddleseg.models.backbones import STDC1, MobileNetV3_large_x1_0

        paddle.seed(0)
        if variant == "mobile":
            net = PPLiteSeg(
                num_classes=2,
                backbone=STDC1(),
                backbone_indices=[1, 2, 3, 4],
                cm_out_ch=128,
                arm_out_chs=[4, 16, 32, 64],
                seg_head_inter_chs=[4, 16, 32, 64],
            )
        else:
            net = MobileSeg(
                num_classes=2,
                backbone=MobileNetV3_large_x1_0(),
                cm_bin_sizes=[1, 2, 4],
                backbone_indices=[0, 1, 2, 3],
                cm_out_ch=128,
                arm_out_chs=[32, 64, 96, 128],
                seg_head_inter_chs=[16, 32, 32, 32],
                use_last_fuse=True,
            )
        return _export(net, folder, size)

    return _once(f"humanseg-{variant}" + (f"-{size}" if size else ""), factory, build)


def oracle_model(factory: pytest.TempPathFactory) -> Path:
    """Person logit = 20 x (mean normalised brightness): white is person, mid-grey is not."""

    def build(folder: Path) -> Path:
        import paddle

        class Bright(paddle.nn.Layer):
            def __init__(self) -> None:
                super().__init__()
                constant = paddle.nn.initializer.Constant(20.0)
                self.gain = self.create_parameter([1], default_initializer=constant)

            def forward(self, x):
                person = self.gain * paddle.mean(x, axis=1, keepdim=True)  # [n, 1, h, w]
                return [paddle.concat([paddle.zeros_like(person), person], axis=1)]

        return _export(Bright(), folder)

    return _once("oracle", factory, build)


def random_classifier(seed: int = 0, **options) -> Classifier:
    """A random-weight ScoNet classifier: for speed and plumbing tests, never for verdicts."""
    import torch

    from screen.model.checkpoint import ModelMetadata
    from screen.model.classes import ClassOrder
    from screen.model.classify import Classifier
    from screen.model.sconet import ScoNet

    torch.manual_seed(seed)
    metadata = ModelMetadata(
        name="sconet-random",
        class_order=ClassOrder.CURRENT,
        trained_on="nothing: random weights, outputs are meaningless",
        clinical=False,
        provenance=f"random initialisation, seed {seed}",
    )
    return Classifier(ScoNet(), metadata, "none", **options)


def pooled_probabilities(
    classifier: Classifier, stored: np.ndarray, clips: list[np.ndarray]
) -> np.ndarray:
    """The reference for the streamed pooling: every frame's features at once, then each clip."""
    import torch

    from screen.model.sconet import class_probabilities

    with torch.inference_mode():
        features = torch.cat(list(classifier.feature_chunks(stored)))
        pooled = torch.stack([features[torch.from_numpy(clip)].amax(0) for clip in clips])
        logits = classifier.model.head(pooled).logits
    return class_probabilities(logits).cpu().numpy()
