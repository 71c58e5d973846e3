"""One interface for a network on any runtime: a float32 batch in, its first output out.

`Network.run(batch)` is all a stage calls.  ONNX Runtime and OpenVINO release
the GIL while they compute, so a stage may run copies in several threads
(`clone()` shares the loaded model); Paddle Inference holds it (`holds_gil`),
so its stage gets one predictor with more math threads instead (`use_threads`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from ..cores import core_share
from ..errors import ScreenError
from ..settings import AUTO, NATIVE, ONNXRUNTIME, OPENVINO
from .convert import ConversionFailed

log = logging.getLogger(__name__)

#: What `auto` tries, in order: the first runtime installed runs the converted networks.
AUTO_RUNTIMES = (ONNXRUNTIME, OPENVINO)
_MODULES = {ONNXRUNTIME: "onnxruntime", OPENVINO: "openvino"}


class Network(Protocol):
    runtime: str  #: the runtime that actually runs it
    holds_gil: bool

    def run(self, batch: np.ndarray) -> np.ndarray: ...

    def use_threads(self, threads: int) -> None: ...

    def clone(self) -> Network: ...


def installed(runtime: str) -> bool:
    """Whether a converted-network runtime can be imported here (without importing it)."""
    return importlib.util.find_spec(_MODULES[runtime]) is not None


def converted_runtime(requested: str) -> str | None:
    """The runtime for converted networks that `requested` means here; None for native.

    `auto`: ONNX Runtime, else OpenVINO, else None (the networks' own frameworks).
    A runtime named explicitly but not installed is an error that says what to install.
    """
    if requested == NATIVE:
        return None
    if requested == AUTO:
        return next((name for name in AUTO_RUNTIMES if installed(name)), None)
    if not installed(requested):
        raise ScreenError(
            f"runtime {requested!r} is not installed: pip install {_MODULES[requested]}, "
            "or choose --runtime auto"
        )
    return requested


class OnnxRuntimeNetwork:
    """An ONNX file in ONNX Runtime (CPU).  Copies share one session: `run` is thread-safe."""

    runtime = ONNXRUNTIME
    holds_gil = False

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # No busy-waiting threads: the other stages (and other programs) need the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False  # peak RSS: -30 MB a screening, no slower
        self.path, self.threads = Path(path), threads
        self._session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: batch})[0]

    def use_threads(self, threads: int) -> None:
        if threads != self.threads:
            self.__init__(self.path, threads)

    def clone(self) -> OnnxRuntimeNetwork:
        return self


class OpenVinoNetwork:
    """An ONNX file compiled by OpenVINO (CPU); each copy has its own infer request.

    One stream per core the process may use, each of `threads` threads: copies
    in several threads run at once (one stream would take their requests in turn).
    """

    runtime = OPENVINO
    holds_gil = False

    def __init__(self, path: Path, threads: int = 1) -> None:
        import openvino

        self.path, self.threads = Path(path), threads
        streams = core_share()
        config = {"NUM_STREAMS": streams, "INFERENCE_NUM_THREADS": streams * max(1, threads)}
        self._compiled = openvino.Core().compile_model(str(path), "CPU", config)
        self._request = self._compiled.create_infer_request()

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self._request.infer([batch], share_inputs=True)[0].copy()

    def use_threads(self, threads: int) -> None:
        if threads != self.threads:
            self.__init__(self.path, threads)

    def clone(self) -> OpenVinoNetwork:
        twin = object.__new__(OpenVinoNetwork)
        twin.__dict__.update(self.__dict__)
        twin._request = self._compiled.create_infer_request()
        return twin


def open_converted(runtime: str, path: Path, threads: int) -> Network:
    """A converted ONNX file on `runtime` (onnxruntime or openvino)."""
    kind = OnnxRuntimeNetwork if runtime == ONNXRUNTIME else OpenVinoNetwork
    return kind(path, threads)


# --- Paddle Inference: the reference runtime of PP-HumanSeg -------------------


def _predictor(model: Path, params: Path, threads: int, mkldnn: bool) -> object:
    # Paddle's plain CPU kernels call MKL, which takes a slow generic path on AMD CPUs unless
    # told to use AVX2 (measured: PP-HumanSegV2-Mobile 55 -> 27 ms per crop on an EPYC).
    # Read once, when MKL loads; ignored on Intel CPUs.
    os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
    from paddle import inference

    settings = inference.Config(str(model), str(params))
    settings.disable_gpu()
    settings.disable_glog_info()
    settings.set_cpu_math_library_num_threads(threads)
    if mkldnn:
        settings.enable_mkldnn()
    else:
        settings.disable_mkldnn()
    return inference.create_predictor(settings)


class PaddleNetwork:
    """A Paddle inference model through one reused predictor.

    oneDNN: models exported by paddle 3 (model.json, PIR) fail under oneDNN with
    "ConvertPirAttribute2RuntimeAttribute not support", so oneDNN is off for them;
    older .pdmodel exports try oneDNN first and fall back if a test run fails.
    Paddle holds the GIL while a predictor runs, so copies in several threads take
    turns (measured: 2 threads, 1.0x); `use_threads` gives the one predictor more
    math threads instead (2 threads on 4-crop batches: 34.5 -> 26.5 ms per crop).
    """

    runtime = NATIVE
    holds_gil = True

    def __init__(
        self,
        model: Path,
        params: Path,
        threads: int = 1,
        mkldnn: bool | None = None,
        probe: np.ndarray | None = None,
    ) -> None:
        self.model, self.params, self.threads = Path(model), Path(params), threads
        self.mkldnn = self.model.suffix != ".json" if mkldnn is None else mkldnn
        self._predictor = _predictor(self.model, self.params, threads, self.mkldnn)
        if probe is None:
            return
        try:
            self.run(probe)
        except (NotImplementedError, RuntimeError) as error:
            if not self.mkldnn:
                raise
            log.warning("oneDNN cannot run %s (%s); using plain CPU kernels", self.model, error)
            self.mkldnn = False
            self._predictor = _predictor(self.model, self.params, threads, False)

    def run(self, batch: np.ndarray) -> np.ndarray:
        predictor = self._predictor
        handle = predictor.get_input_handle(predictor.get_input_names()[0])
        handle.reshape(batch.shape)
        handle.copy_from_cpu(batch)
        predictor.run()
        return predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()

    def use_threads(self, threads: int) -> None:
        if threads != self.threads:
            self.threads = threads
            self._predictor = _predictor(self.model, self.params, threads, self.mkldnn)

    def clone(self) -> PaddleNetwork:
        """A copy sharing the weights, with its own predictor (Paddle runs one at a time)."""
        twin = object.__new__(PaddleNetwork)
        twin.__dict__.update(self.__dict__)
        twin._predictor = self._predictor.clone()
        return twin


def runtime_record(runtime: str, fallback: str | None) -> dict[str, str]:
    """A network's runtime as results record it, with why it is not the one asked for."""
    return {"runtime": runtime, **({"runtime_fallback": fallback} if fallback else {})}


def open_network(
    requested: str, convert: Callable[[], Path], threads: int, what: str
) -> tuple[Network | None, str | None]:
    """The network `what` on the runtime `requested` means here, converted (once) for it.

    Returns (network, None); or (None, None) for the native runtime; or (None, why)
    when the conversion or the runtime failed: the caller then runs the network
    natively, and `why` (also logged as a warning) goes into the result.
    """
    runtime = converted_runtime(requested)
    if runtime is None:
        return None, None
    try:
        return open_converted(runtime, convert(), threads), None
    except ConversionFailed as error:
        why = str(error)
    except Exception as error:  # the runtime refused the file (its own exception types)
        why = f"{runtime} cannot run it: {str(error).splitlines()[0][:300]}"
    log.warning("%s: %s; running it on its own framework instead", what, why)
    return None, why
