"""Checkpoints that never lose work.

A checkpoint is plain tensors, dicts, lists and numbers (it loads with `weights_only=True`): both networks,
both optimisers and loss scalers, the step, images seen, every RNG state and the data position, and the
resolved config. It is written to a temp file, fsynced, then `os.replace`d, so a crash mid-write leaves the
previous file whole; a state with non-finite parameters is never written.
"""

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from wganlab.config import to_toml
from wganlab.errors import CheckpointError, TrainingDiverged
from wganlab.training.state import TrainState

FORMAT_VERSION = 1


def atomic_write(path: Path, write) -> None:
    """Call write(temp_path), fsync it, then move it over `path` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temp)
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


def _global_rng_states() -> dict[str, Any]:
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, python_state, gauss = random.getstate()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(position),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {
            "version": int(version),
            "state": torch.tensor(python_state, dtype=torch.int64),
            "gauss": gauss,
        },
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_global_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    numpy_state = states["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached"],
        )
    )
    python_state = states["python"]
    random.setstate((python_state["version"], tuple(python_state["state"].tolist()), python_state["gauss"]))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def checkpoint_payload(s: TrainState) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "step": s.step,
        "images_seen": s.images_seen,
        "best_metric": s.best_metric,
        "world_size": s.dist.world_size,
        "config": to_toml(s.config),
        "generator": s.generator_module.state_dict(),
        "critic": s.critic_module.state_dict(),
        "generator_opt": s.generator_opt.state_dict(),
        "critic_opt": s.critic_opt.state_dict(),
        "generator_scaler": s.generator_scaler.state_dict(),
        "critic_scaler": s.critic_scaler.state_dict(),
        "rng": {"data": s.data_rng.get_state(), "noise": s.noise_rng.get_state(), **_global_rng_states()},
        "data": s.data.state_dict(),
    }


def restore(s: TrainState, payload: dict[str, Any]) -> None:
    s.generator_module.load_state_dict(payload["generator"])
    s.critic_module.load_state_dict(payload["critic"])
    s.generator_opt.load_state_dict(payload["generator_opt"])
    s.critic_opt.load_state_dict(payload["critic_opt"])
    s.generator_scaler.load_state_dict(payload["generator_scaler"])
    s.critic_scaler.load_state_dict(payload["critic_scaler"])
    s.data_rng.set_state(payload["rng"]["data"])
    s.noise_rng.set_state(payload["rng"]["noise"])
    _restore_global_rng_states(payload["rng"])
    s.data.load_state_dict(payload["data"])
    s.step = payload["step"]
    s.images_seen = payload["images_seen"]
    s.best_metric = payload["best_metric"]


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint, or raise a one-line CheckpointError saying what is wrong with it."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train first, or point at a run folder that has one")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        others = sorted(p.name for p in path.parent.glob("step-*.pt") if p.resolve() != path.resolve())
        hint = f"; older checkpoints there: {', '.join(others[-3:])}" if others else ""
        raise CheckpointError(
            f"{path} is corrupt or not a wganlab checkpoint ({type(err).__name__}){hint}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a wganlab checkpoint of format {FORMAT_VERSION}")
    return payload


def parameters_finite(s: TrainState) -> bool:
    flags = [
        torch.isfinite(p).all() for p in (*s.generator_module.parameters(), *s.critic_module.parameters())
    ]
    return bool(torch.stack(flags).all())


class Checkpointer:
    """checkpoints/step-XXXXXXXX.pt (the last K kept), latest.pt, best.pt and generator.safetensors."""

    def __init__(self, run_dir: Path, keep: int):
        self.directory = run_dir / "checkpoints"
        self.keep = keep

    @property
    def latest(self) -> Path:
        return self.directory / "latest.pt"

    def last_good(self) -> str:
        return str(self.latest) if self.latest.exists() else "none (no checkpoint was written yet)"

    def save(self, s: TrainState) -> Path:
        if not parameters_finite(s):
            raise TrainingDiverged(
                f"step {s.step}: parameters became non-finite; training stopped, last good checkpoint "
                f"{self.last_good()} left untouched"
            )
        for stale in self.directory.glob(".*.tmp"):
            stale.unlink()  # left by a process killed mid-write; never a finished checkpoint
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
        """The generator alone, for `wganlab sample` and for users who only want to generate."""
        tensors = {
            name: value.detach().cpu().contiguous() for name, value in s.generator_module.state_dict().items()
        }
        atomic_write(
            self.directory / "generator.safetensors",
            lambda temp: save_file(tensors, temp, metadata={"step": str(s.step)}),
        )
