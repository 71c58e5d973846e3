"""Training ScoNet and ScoNet-MT with the paper's recipe (SCONET_FACTS.md).

The settings are `screen.settings.TrainingSettings` (defaults: the paper's
recipe), resolved like every other command's.  Checkpoints use OpenGait's dict
layout `{'model', 'optimizer', 'scheduler', 'iteration', ...}` with only
tensors and plain values, so `torch.load(weights_only=True)` reads them; they
also carry the config and the RNG states, so a resumed run continues exactly
where an uninterrupted one would have gone.  The end of a run exports our
safetensors format with the metadata every result must carry.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..cores import available_cores
from ..errors import CheckpointError
from ..memory import keep_large_buffers
from ..model.checkpoint import ModelMetadata, save_checkpoint
from ..model.classes import ClassOrder
from ..model.sconet import ScoNet
from ..progress import ProgressCallback
from ..settings import SettingsError, TrainingSettings
from ..silhouettes.normalize import to_model_input
from .augment import ragged_outlines, segmenter_smoothing
from .dataset import SilhouetteDataset
from .losses import batch_all_triplet_loss, strip_accuracy, strip_cross_entropy
from .sampler import PKSampler, sample_frames

#: Settings that may change between a checkpoint and its resumed run (they do not alter the math).
RESUMABLE_CHANGES = {"iterations", "save_every", "device", "threads", "name", "trained_on"}


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> fp16 on CUDA (with a GradScaler), bf16 on CPUs with native bf16, else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "fp16"
    from ..model.classify import bf16_supported

    return "bf16" if device.type == "cpu" and bf16_supported() else "fp32"


def set_threads(threads: int) -> int:
    """Set torch's CPU threads explicitly (another library may have left it at one)."""
    count = threads or available_cores()
    torch.set_num_threads(count)
    return count


@dataclass
class Batch:
    silhouettes: torch.Tensor  #: [n, frames, 64, 44] float in 0..1
    labels: torch.Tensor  #: [n] class index in the CURRENT order
    subjects: torch.Tensor  #: [n] subject index, the triplet labels


def make_batch(
    dataset: SilhouetteDataset,
    indices: list[int],
    frames: int,
    generator: torch.Generator,
    subject_index: Mapping[str, int],
    mask_noise: float = 0.0,
    mask_smoothing: float = 0.0,
) -> Batch:
    """Sample `frames` unordered frames from each chosen sequence and stack them."""
    stored = []
    for index in indices:
        sequence = dataset.frames(index)  # [T, 64, 64] uint8
        sampled = sequence[sample_frames(len(sequence), frames, generator)]
        sampled = segmenter_smoothing(sampled, mask_smoothing, generator)
        stored.append(ragged_outlines(sampled, mask_noise, generator))
    records = [dataset.records[index] for index in indices]
    order = ClassOrder.CURRENT
    return Batch(
        silhouettes=torch.from_numpy(to_model_input(np.stack(stored))),  # [n, s, 64, 44]
        labels=torch.tensor([order.index_of(record.label) for record in records]),
        subjects=torch.tensor([subject_index[record.subject] for record in records]),
    )


@dataclass
class StepStats:
    loss: float
    cross_entropy: float
    triplet: float
    accuracy: float  #: strip-level training accuracy of this batch
    active_triplets: float  #: share of triples still inside the margin


#: on_step(iteration, total iterations, stats, learning rate)
StepCallback = Callable[[int, int, StepStats, float], None]


def training_step(
    model: ScoNet,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    config: TrainingSettings,
    precision: str,
) -> StepStats:
    """One SGD step on one batch; returns what the progress bar shows."""
    device = next(model.parameters()).device
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    silhouettes = batch.silhouettes.to(device)
    labels, subjects = batch.labels.to(device), batch.subjects.to(device)
    with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        output = model(silhouettes)  # embeddings [n, 256, 16], logits [n, 3, 16]
    cross_entropy = strip_cross_entropy(
        output.logits, labels, config.logit_scale, config.label_smoothing
    )
    loss, triplet, active = cross_entropy, torch.zeros(()), 0.0
    if config.uses_triplet:
        triplet, active = batch_all_triplet_loss(output.embeddings, subjects, config.margin)
        loss = loss + config.triplet_weight * triplet
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return StepStats(
        loss.item(),
        cross_entropy.item(),
        triplet.item(),
        strip_accuracy(output.logits.detach(), labels),
        active,
    )


@dataclass
class TrainingState:
    """Everything a run needs to continue: what a checkpoint holds."""

    model: ScoNet
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.MultiStepLR
    scaler: torch.amp.GradScaler
    generator: torch.Generator  #: every sampling draw
    iteration: int = 0


def new_training_state(
    config: TrainingSettings, device: torch.device, precision: str
) -> TrainingState:
    torch.manual_seed(config.seed)
    # channels_last: oneDNN's fast convolution layout (measured 16.1 -> 11.7 s per 8x2x30
    # iteration in bf16 on 2 CPU cores); the values are the same, only the memory order.
    model = ScoNet().to(device, memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, list(config.milestones), gamma=config.gamma
    )
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    generator = torch.Generator().manual_seed(config.seed)
    return TrainingState(model, optimizer, scheduler, scaler, generator)


def save_training_state(path: Path, state: TrainingState, config: TrainingSettings) -> Path:
    """OpenGait's checkpoint layout plus config and RNG states (tensors and plain values only)."""
    rng = {"sampler": state.generator.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    payload = {
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "iteration": state.iteration,
        "scaler": state.scaler.state_dict(),
        "config": config.to_dict(),
        "rng": rng,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    torch.save(payload, temporary)
    temporary.replace(path)  # never a half-written checkpoint under the real name
    return path


def restore_training_state(
    path: str | Path, state: TrainingState, config: TrainingSettings
) -> None:
    """Load a checkpoint of this code into `state`; refuse one trained with other settings."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(path, "no such file") from None
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
    ) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(path, f"cannot resume from it ({first})") from None
    needed = {"model", "optimizer", "scheduler", "iteration", "config", "rng"}
    if not isinstance(payload, dict) or not needed <= set(payload):
        raise CheckpointError(
            path, "not a `screen train` checkpoint (needs model, optimizer, scheduler, config, rng)"
        )
    saved, now = payload["config"], config.to_dict()
    # A setting added after the checkpoint was made had its default then.
    saved = {**TrainingSettings().to_dict(), **saved}
    changed = sorted(
        key for key in now if key not in RESUMABLE_CHANGES and saved.get(key) != now[key]
    )
    if changed:
        details = ", ".join(f"{key}: {saved.get(key)!r} -> {now[key]!r}" for key in changed)
        raise SettingsError(
            f"{path}: trained with other settings ({details}); resume with the same"
        )
    state.model.load_state_dict(payload["model"])
    state.optimizer.load_state_dict(payload["optimizer"])
    state.scheduler.load_state_dict(payload["scheduler"])
    state.scaler.load_state_dict(payload.get("scaler") or {})
    state.generator.set_state(payload["rng"]["sampler"])
    torch.set_rng_state(payload["rng"]["torch"])
    if "cuda" in payload["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["rng"]["cuda"])
    state.iteration = int(payload["iteration"])


@dataclass
class TrainResult:
    checkpoint: Path  #: the last OpenGait-layout checkpoint
    exported: Path  #: our safetensors file with metadata
    history: list[dict] = field(default_factory=list)  #: per iteration of this invocation
    seconds: float = 0.0
    precision: str = "fp32"
    threads: int = 1


def checkpoint_path(out_dir: Path, config: TrainingSettings, iteration: int) -> Path:
    """OpenGait-style name, e.g. checkpoints/sconet-mt-20000.pt."""
    return out_dir / "checkpoints" / f"{config.run_name}-{iteration:05d}.pt"


def train(
    dataset: SilhouetteDataset,
    config: TrainingSettings,
    out_dir: str | Path,
    resume: str | Path | None = None,
    command: str = "",
    on_progress: ProgressCallback | None = None,
    on_step: StepCallback | None = None,
) -> TrainResult:
    """Train on `dataset` (a train split) and write checkpoints and the export under `out_dir`.

    `on_progress` follows the reading of the sequences; `on_step(iteration, total,
    stats, lr)` sees every iteration (the CLI draws its bar from it).
    """
    out_dir = Path(out_dir)
    threads = set_threads(config.threads)
    keep_large_buffers()  # a step's activations are reused, not mapped afresh (memory.py)
    device = torch.device(config.device)
    precision = resolve_precision(config.precision, device)
    state = new_training_state(config, device, precision)
    if resume is not None:
        restore_training_state(resume, state, config)
    if state.iteration >= config.iterations:
        raise SettingsError(
            f"the checkpoint is already at iteration {state.iteration}: "
            f"set --iterations above it to train further"
        )
    if not len(dataset):
        raise SettingsError("the training split holds no sequence")
    sampler = PKSampler(dataset.subjects, *config.batch, state.generator)
    subject_index = {subject: i for i, subject in enumerate(sampler.subjects)}
    dataset.preload(on_progress)

    history: list[dict] = []
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "train_log.jsonl"  # one JSON line per iteration; a resumed run appends
    with log_path.open("a", encoding="utf-8") as log:
        for iteration in range(state.iteration + 1, config.iterations + 1):
            batch = make_batch(
                dataset,
                sampler.next_batch(),
                config.frames,
                state.generator,
                subject_index,
                config.mask_noise,
                config.mask_smoothing,
            )
            stats = training_step(
                state.model, batch, state.optimizer, state.scaler, config, precision
            )
            lr = state.optimizer.param_groups[0]["lr"]
            state.scheduler.step()
            state.iteration = iteration
            history.append({"iteration": iteration, "lr": lr, **dataclasses.asdict(stats)})
            log.write(json.dumps(history[-1]) + "\n")
            log.flush()
            if on_step is not None:
                on_step(iteration, config.iterations, stats, lr)
            if iteration % config.save_every == 0 or iteration == config.iterations:
                last = save_training_state(
                    checkpoint_path(out_dir, config, iteration), state, config
                )
    seconds = time.perf_counter() - started
    exported = export_model(
        out_dir / f"{config.run_name}.safetensors",
        state.model,
        config,
        dataset,
        command,
        {"seconds": round(seconds, 1), "precision": precision, "threads": threads},
    )
    return TrainResult(last, exported, history, seconds, precision, threads)


def export_model(
    path: Path,
    model: ScoNet,
    config: TrainingSettings,
    dataset: SilhouetteDataset,
    command: str,
    run: dict[str, Any],
    half: bool = False,
) -> Path:
    """Our safetensors format, with provenance: the command and the partition's hash."""
    partition = dataset.partition
    metadata = ModelMetadata(
        name=config.run_name,
        class_order=ClassOrder.CURRENT,
        trained_on=config.trained_on,
        clinical=False,
        provenance=(
            f"{command or 'screen.training.train.train()'}; partition {partition.path.name} "
            f"sha256 {partition.sha256}"
        ),
        notes=f"{config.model} trained {config.iterations} iterations by scoliosis-screen",
        extra={
            "config": config.to_dict(),
            "train_counts": {label.value: n for label, n in dataset.counts().items()},
            "run": run,
        },
    )
    return save_checkpoint(path, model.eval(), metadata, half=half)
