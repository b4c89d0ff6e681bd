"""Checkpoints that never lose work.

A checkpoint is a `TrainState.state_dict()` (both players, every RNG state, the data position, counters)
plus the format, the world size and the resolved config: plain tensors, dicts and numbers, so it loads with
`weights_only=True` and no pickled code ever runs. It is written with `atomic_write`, so a crash mid-write
leaves the previous file whole; a state with a non-finite value (parameters, buffers, optimiser state) is never
written, best.pt included.

A checkpoint is a consistent set: step-XXXXXXXX.pt is written first, then generator.safetensors, then latest.pt
is linked to the step file. Whenever a crash comes, resume finds the newest step file that loads (`newest`) and
brings the companions up to it (`repair`).
"""

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

import wganlab
from wganlab.config import to_toml
from wganlab.errors import CheckpointError, TrainingDiverged
from wganlab.files import atomic_write, remove_stale_temps
from wganlab.training.state import RunningStats, TrainState

FORMAT_VERSION = 1
GENERATOR_FORMAT = "wganlab-generator-1"
BEST_BEFORE = "best.pt.before-step-"  # best.pt as it was before an end-of-run evaluation replaced it
EMA_PREFIX = "ema."  # the EMA generator's tensors in generator.safetensors: "ema." + the generator's names


@dataclass
class EndOfRun:
    """What the last step of a run writes only because it is the last, which an uninterrupted longer run would
    not: a train record off log.log_every (it resets the loss sums), an evaluation off log.eval_every (it may
    replace best.pt), a picture off log.sample_every, a step file off log.checkpoint_every; and always the final
    record and outcome.json. The last checkpoint says which, and holds the loss sums and best value as they were
    before, so that extending the run (a larger train.steps) takes exactly these back and goes on as if the run
    had never ended."""

    train: bool
    eval: bool
    picture: bool
    checkpoint: bool
    stats: RunningStats
    """The loss sums before the end-of-run train record."""
    best_metric: float
    """The best headline value before the end-of-run evaluation."""
    best: str = "unchanged"
    """What the end-of-run evaluation did to best.pt: "unchanged", "replaced" (the old one is kept beside it as
    best.pt.before-step-XXXXXXXX) or "created"."""

    @classmethod
    def at(cls, s: TrainState) -> "EndOfRun":
        log, step = s.config.log, s.step
        stats = RunningStats(s.stats.skip_non_finite)
        stats.sums, stats.counts = dict(s.stats.sums), dict(s.stats.counts)
        return cls(
            train=step % log.log_every != 0,
            eval=bool(log.eval_every) and step % log.eval_every != 0,
            picture=step % log.sample_every != 0,
            checkpoint=step % log.checkpoint_every != 0,
            stats=stats,
            best_metric=s.best_metric,
        )

    def payload(self) -> dict[str, Any]:
        """What the last checkpoint holds instead of (stats, best_metric) and besides (end_of_run) the state."""
        payload: dict[str, Any] = {
            "end_of_run": {
                "train": self.train,
                "eval": self.eval,
                "picture": self.picture,
                "checkpoint": self.checkpoint,
                "best": self.best,
            }
        }
        if self.train:
            payload["stats"] = self.stats.state_dict()
        if self.eval:
            payload["best_metric"] = self.best_metric if math.isfinite(self.best_metric) else None
        return payload


def checkpoint_payload(s: TrainState) -> dict[str, Any]:
    return {"format": FORMAT_VERSION, "world_size": s.dist.world_size, "config": to_toml(s.config), **s.state_dict()}


class Unreadable(Exception):
    """A checkpoint file that does not load; the message says why in a few words."""


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The payload of a checkpoint file, or Unreadable. Loads with weights_only=True: no pickled code runs."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated, foreign or malicious files
        raise Unreadable(f"corrupt or not a wganlab checkpoint: {type(err).__name__}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise Unreadable(f"not a wganlab checkpoint of format {FORMAT_VERSION}")
    return payload


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint, or raise a one-line CheckpointError saying what is wrong with it."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train first, or point at a run folder that has one")
    try:
        return read_checkpoint(path)
    except Unreadable as err:
        others = sorted(p.name for p in path.parent.glob("step-*.pt") if p.resolve() != path.resolve())
        hint = f"; older checkpoints there: {', '.join(others[-3:])}" if others else ""
        raise CheckpointError(f"{path} is {err}{hint}") from None


@dataclass
class Found:
    """The newest complete checkpoint of a run, and the newer files that did not load (with why)."""

    path: Path
    payload: dict[str, Any]
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def step(self) -> int:
        return self.payload["step"]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


class Checkpointer:
    """checkpoints/step-XXXXXXXX.pt (the last K kept), latest.pt, best.pt and generator.safetensors."""

    def __init__(self, directory: Path, keep: int):
        self.directory = directory
        self.keep = keep
        self.superseded: list[Path] = []
        """Files an extended run no longer needs once its next checkpoint is written (the old end's step file)."""

    @property
    def latest(self) -> Path:
        return self.directory / "latest.pt"

    def diverged(self, step: int, what: str) -> TrainingDiverged:
        if not self.latest.exists():
            return TrainingDiverged(f"step {step}: {what}; training stopped before its first checkpoint")
        return TrainingDiverged(
            f"step {step}: {what}; training stopped, last good checkpoint {self.latest} left untouched"
        )

    def check_finite(self, s: TrainState) -> None:
        """TrainingDiverged naming the first non-finite value a checkpoint of `s` would hold."""
        problem = s.non_finite()
        if problem is not None:
            raise self.diverged(s.step, f"{problem} became non-finite")

    def save(self, s: TrainState, end: EndOfRun | None = None) -> Path:
        """The step file, generator.safetensors and latest.pt; `end` at the last step. A step file written only
        because it is the last does not count towards log.keep_checkpoints, so the step files kept before it are
        the ones a longer run keeps."""
        self.check_finite(s)
        remove_stale_temps(self.directory)  # left by a process killed mid-write
        payload = checkpoint_payload(s)
        if end is not None:
            payload.update(end.payload())
        path = self.directory / f"step-{s.step:08d}.pt"
        atomic_write(path, lambda temp: torch.save(payload, temp))
        # The generator file before latest.pt: after a crash at any point it is never older than latest.pt,
        # and `repair` brings both up to the newest step file.
        self._save_generator(s)
        self._link(path, self.latest)
        for old in self.superseded:
            if old != path:
                old.unlink(missing_ok=True)
        self.superseded = []
        for kept in self.directory.glob(f"{BEST_BEFORE}*"):
            if int(kept.name.removeprefix(BEST_BEFORE)) < s.step:
                kept.unlink()
        if end is None or not end.checkpoint:
            for old in sorted(self.directory.glob("step-*.pt"))[: -self.keep]:
                old.unlink()
        return path

    def newest(self) -> Found | None:
        """The newest checkpoint that loads: the newest step file that loads, or latest.pt where it is a
        separate, newer file. None when there is no checkpoint file at all (a run killed before its first);
        CheckpointError when there are some but none loads."""
        step_files = sorted(self.directory.glob("step-*.pt"), reverse=True)
        unreadable: list[tuple[Path, str]] = []
        found = None
        for path in step_files:
            try:
                payload = read_checkpoint(path)
            except Unreadable as err:
                unreadable.append((path, str(err)))
                continue
            if payload.get("step") != int(path.stem.split("-")[1]):
                unreadable.append((path, f"holds step {payload.get('step')}, not the step in its name"))
                continue
            found = Found(path, payload)
            break
        if self.latest.is_file() and not any(_same_file(self.latest, path) for path in step_files):
            # A copy (no hard links on this file system), or a file whose step files were removed by hand.
            try:
                payload = read_checkpoint(self.latest)
                if found is None or payload["step"] > found.step:
                    found = Found(self.latest, payload)
            except Unreadable as err:
                unreadable.append((self.latest, str(err)))
        if found is None and unreadable:
            names = ", ".join(f"{path.name} ({why})" for path, why in unreadable[:3])
            raise CheckpointError(
                f"no checkpoint in {self.directory} loads: {names}; move them away to start the run over"
            )
        if found is not None:
            found.unreadable = unreadable
        return found

    def set_aside(self, paths: list[Path]) -> None:
        """Rename files that do not load to NAME.corrupt: out of the way of resume, but not deleted."""
        for path in paths:
            os.replace(path, path.with_name(path.name + ".corrupt"))

    def repair(self, s: TrainState, source: Path) -> list[str]:
        """Bring latest.pt and generator.safetensors up to `source`, the checkpoint `s` was just loaded from
        (a crash may have come between writing a step file and its companions); returns what was rebuilt."""
        remove_stale_temps(self.directory)
        rebuilt = []
        if not self._generator_matches(s):
            self._save_generator(s)
            rebuilt.append("generator.safetensors")
        if source != self.latest and not _same_file(self.latest, source):
            self._link(source, self.latest)
            rebuilt.append("latest.pt")
        return rebuilt

    def _generator_matches(self, s: TrainState) -> bool:
        from safetensors import safe_open

        try:
            with safe_open(str(self.directory / "generator.safetensors"), "pt") as handle:
                if (handle.metadata() or {}).get("step") != str(s.step):
                    return False
                stored = {name: handle.get_tensor(name) for name in handle.keys()}
        except Exception:  # missing, torn or foreign: rebuilt either way
            return False
        current = generator_tensors(s)
        return stored.keys() == current.keys() and all(
            torch.equal(stored[name], value) for name, value in current.items()
        )

    def save_best(self, s: TrainState, end: EndOfRun | None = None) -> Path:
        """best.pt: the state at the best evaluation so far; at the last step with the loss sums as a longer run
        has them there (before an end-of-run train record), so that an extended run's best.pt is a longer run's."""
        self.check_finite(s)
        path = self.directory / "best.pt"
        payload = checkpoint_payload(s)
        if end is not None and end.train:
            payload["stats"] = end.stats.state_dict()
        atomic_write(path, lambda temp: torch.save(payload, temp))
        return path

    def keep_best_before(self, s: TrainState) -> str:
        """Before an end-of-run evaluation replaces best.pt: keep the old one as best.pt.before-step-XXXXXXXX (a
        hard link, no copy), unless a run killed at this same end already kept it; returns what the end does to
        best.pt ("replaced" or "created")."""
        best = self.directory / "best.pt"
        if not math.isfinite(s.best_metric) or not best.is_file():
            return "created"
        kept = self.directory / f"{BEST_BEFORE}{s.step:08d}"
        if not kept.is_file():
            self._link(best, kept)
        return "replaced"

    def restore_best(self, step: int, how: str) -> None:
        """Take back what the end-of-run evaluation at `step` did to best.pt (an extension of the run)."""
        best = self.directory / "best.pt"
        if how == "created":
            best.unlink(missing_ok=True)
        elif how == "replaced":
            kept = self.directory / f"{BEST_BEFORE}{step:08d}"
            if kept.is_file():
                self._link(kept, best)
            else:
                warnings.warn(f"{kept} is missing: best.pt stays the end-of-run evaluation's", stacklevel=2)

    def _link(self, path: Path, target: Path) -> None:
        """`target` becomes the same file as `path`, atomically."""

        def link(temp: str) -> None:
            os.unlink(temp)
            try:
                os.link(path, temp)  # the same bytes under a second name, no second write
            except OSError:
                torch.save(torch.load(path, weights_only=True), temp)

        atomic_write(target, link)

    def _save_generator(self, s: TrainState) -> None:
        """The generator alone, for `wganlab sample` and for users who only want to generate. Its metadata
        holds the resolved config and the sample shape, so the file rebuilds its network without the run."""
        tensors = generator_tensors(s)
        metadata = {
            "format": GENERATOR_FORMAT,
            "step": str(s.step),
            "config": to_toml(s.config),
            "sample_shape": json.dumps(list(s.data.sample_shape)),
            "wganlab": wganlab.__version__,
        }
        data = canonical_safetensors(save(tensors, metadata=metadata))
        atomic_write(self.directory / "generator.safetensors", lambda temp: Path(temp).write_bytes(data))


def generator_tensors(s: TrainState) -> dict[str, torch.Tensor]:
    """What generator.safetensors holds: the generator's state dict, and with train.ema_decay > 0 its average's
    under the same names prefixed with `EMA_PREFIX` (one file: it is written and rebuilt as one)."""
    tensors = {name: value.detach().cpu().contiguous() for name, value in s.generator.network.state_dict().items()}
    if s.ema is not None:
        for name, value in s.ema.network.state_dict().items():
            tensors[EMA_PREFIX + name] = value.detach().cpu().contiguous()
    return tensors


def split_generator_tensors(tensors: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """(the generator's weights, its EMA's weights, empty in files without one) of a generator.safetensors."""
    raw = {name: value for name, value in tensors.items() if not name.startswith(EMA_PREFIX)}
    averaged = {name.removeprefix(EMA_PREFIX): value for name, value in tensors.items() if name.startswith(EMA_PREFIX)}
    return raw, averaged


def canonical_safetensors(data: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys sorted: safetensors writes the metadata in hash
    order, which differs between processes, so the same weights would give different bytes after a resume."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header with spaces to a multiple of 8 bytes
    return len(text).to_bytes(8, "little") + text + data[8 + size :]


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
