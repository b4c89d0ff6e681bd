"""Checkpoints that never lose work.

A checkpoint is a `TrainState.state_dict()` (both players, every RNG state, the data position, counters)
plus the format, the world size and the resolved config: plain tensors, dicts and numbers, so it loads with
`weights_only=True` and no pickled code ever runs. It is written with `atomic_write`, so a crash mid-write
leaves the previous file whole; a state with non-finite parameters is never written.
"""

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

import wganlab
from wganlab.config import to_toml
from wganlab.errors import CheckpointError, TrainingDiverged
from wganlab.files import atomic_write, remove_stale_temps
from wganlab.training.state import TrainState

FORMAT_VERSION = 1
GENERATOR_FORMAT = "wganlab-generator-1"


def checkpoint_payload(s: TrainState) -> dict[str, Any]:
    return {"format": FORMAT_VERSION, "world_size": s.dist.world_size, "config": to_toml(s.config), **s.state_dict()}


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint, or raise a one-line CheckpointError saying what is wrong with it."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train first, or point at a run folder that has one")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        others = sorted(p.name for p in path.parent.glob("step-*.pt") if p.resolve() != path.resolve())
        hint = f"; older checkpoints there: {', '.join(others[-3:])}" if others else ""
        raise CheckpointError(f"{path} is corrupt or not a wganlab checkpoint ({type(err).__name__}){hint}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a wganlab checkpoint of format {FORMAT_VERSION}")
    return payload


class Checkpointer:
    """checkpoints/step-XXXXXXXX.pt (the last K kept), latest.pt, best.pt and generator.safetensors."""

    def __init__(self, directory: Path, keep: int):
        self.directory = directory
        self.keep = keep

    @property
    def latest(self) -> Path:
        return self.directory / "latest.pt"

    def last_good(self) -> str:
        return str(self.latest) if self.latest.exists() else "none (no checkpoint was written yet)"

    def diverged(self, step: int, what: str) -> TrainingDiverged:
        return TrainingDiverged(
            f"step {step}: {what}; training stopped, last good checkpoint {self.last_good()} left untouched"
        )

    def save(self, s: TrainState) -> Path:
        if not s.parameters_finite():
            raise self.diverged(s.step, "parameters became non-finite")
        remove_stale_temps(self.directory)  # left by a process killed mid-write
        payload = checkpoint_payload(s)
        path = self.directory / f"step-{s.step:08d}.pt"
        atomic_write(path, lambda temp: torch.save(payload, temp))
        self._point_latest_at(path)
        self._save_generator(s)
        for old in sorted(self.directory.glob("step-*.pt"))[: -self.keep]:
            old.unlink()
        return path

    def save_best(self, s: TrainState) -> Path:
        path = self.directory / "best.pt"
        payload = checkpoint_payload(s)
        atomic_write(path, lambda temp: torch.save(payload, temp))
        return path

    def _point_latest_at(self, path: Path) -> None:
        def link(temp: str) -> None:
            os.unlink(temp)
            try:
                os.link(path, temp)  # the same bytes under a second name, no second write
            except OSError:
                torch.save(torch.load(path, weights_only=True), temp)

        atomic_write(self.latest, link)

    def _save_generator(self, s: TrainState) -> None:
        """The generator alone, for `wganlab sample` and for users who only want to generate. Its metadata
        holds the resolved config and the sample shape, so the file rebuilds its network without the run."""
        tensors = {name: value.detach().cpu().contiguous() for name, value in s.generator.network.state_dict().items()}
        metadata = {
            "format": GENERATOR_FORMAT,
            "step": str(s.step),
            "config": to_toml(s.config),
            "sample_shape": json.dumps(list(s.data.sample_shape)),
            "wganlab": wganlab.__version__,
        }
        atomic_write(self.directory / "generator.safetensors", lambda temp: save_file(tensors, temp, metadata=metadata))


def read_generator_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The weights and metadata of a generator.safetensors, or a one-line CheckpointError saying what is wrong."""
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; is {path.parent.parent} a wganlab run folder with a checkpoint?")
    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
            weights = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is corrupt or not a safetensors file ({type(err).__name__})") from None
    return weights, metadata
