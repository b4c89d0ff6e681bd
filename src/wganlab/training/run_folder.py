"""A run folder: what it holds, who may write it, and how everything else reads it back.

    config.toml    the resolved config (usable as input again)      run.json   provenance (run_facts)
    command.txt    the command as typed                              metrics.jsonl  one record per line
    log.txt        the console output, warnings and one line per record, time-stamped
    checkpoints/   step-XXXXXXXX.pt, latest.pt, best.pt, generator.safetensors (and best.pt.before-step-XXXXXXXX
                   when the end-of-run evaluation replaced best.pt: what an extension of the run puts back)
    samples/       reals.png, step-XXXXXXXX.png (with an EMA also ema-step-XXXXXXXX.png)
    .lock          held by the writing process

Everything that opens a run (the loop, `sample`, `eval`, the studies, the demo) goes through `RunFolder`.
"""

import contextlib
import fcntl
import json
import os
import platform
import re
import sys
import tomllib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

import wganlab
from wganlab.config import RunConfig, config_from_toml, differences, load_config, to_toml
from wganlab.errors import CheckpointError, ConfigError, StorageError, UserError
from wganlab.files import atomic_write_text, remove_stale_temps

# Settings that may change when resuming: how long to train and how to log it.
RESUMABLE_CHANGES = ("train.steps", "train.epochs", "train.device", "log", "name")


@dataclass
class LoadedGenerator:
    """A run's trained generator (in eval mode) with what it takes to use it."""

    config: RunConfig
    network: nn.Module
    sample_shape: tuple[int, ...]
    step: int | None


class RunFolder:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def facts_path(self) -> Path:
        return self.path / "run.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def log_path(self) -> Path:
        return self.path / "log.txt"

    @property
    def timing_path(self) -> Path:
        return self.path / "timing.jsonl"

    @property
    def outcome_path(self) -> Path:
        return self.path / "outcome.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    def holds_run(self) -> bool:
        """True when the folder holds a checkpoint to resume from (a step file or latest.pt); a run killed
        before its first checkpoint leaves at most temp files, and starts again."""
        return (self.checkpoints / "latest.pt").is_file() or any(self.checkpoints.glob("step-*.pt"))

    # -- starting and resuming ---------------------------------------------------------------------------

    def check_new(self) -> None:
        """Refuse to start a run over an existing one."""
        if self.holds_run():
            raise ConfigError(
                f"--out {self.path} already holds a run; add --resume to continue it, or choose another --out"
            )

    def check_resume(self, config: RunConfig) -> None:
        """Refuse to resume a run whose settings changed in a way that matters."""
        if not self.config_path.exists():
            raise ConfigError(f"--resume: {self.path} has no config.toml; is it a wganlab run folder?")
        stored = load_config(self.config_path)
        changed = differences(stored, config, ignore=RESUMABLE_CHANGES)
        if changed:
            raise ConfigError(
                f"--resume: settings differ from {self.config_path}: {'; '.join(changed)} "
                "(only train.steps, train.epochs, train.device and log.* may change; start a new run instead)"
            )

    def start(self, config: RunConfig, facts: dict[str, Any]) -> None:
        """config.toml, run.json and command.txt of a new run; any old metrics.jsonl is dropped."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_config(config)
        atomic_write_text(self.path / "command.txt", " ".join(sys.argv) + "\n")
        atomic_write_text(self.facts_path, json.dumps(facts, indent=2) + "\n")
        # What an earlier start that never reached its first checkpoint may have left: it belongs to no run.
        for stale in (self.metrics_path, self.timing_path, self.outcome_path):
            stale.unlink(missing_ok=True)
        self.clear_temps()
        for stale in (self.checkpoints / "best.pt", self.checkpoints / "generator.safetensors"):
            stale.unlink(missing_ok=True)
        self.samples.mkdir(exist_ok=True)

    def clear_temps(self) -> None:
        """Remove the temp files a writer killed mid-write left behind (finished files have no .tmp)."""
        for folder in (self.path, self.samples, self.checkpoints):
            if folder.is_dir():
                remove_stale_temps(folder)

    def write_config(self, config: RunConfig) -> None:
        atomic_write_text(self.config_path, to_toml(config))

    def write_outcome(
        self, status: str, step: int, seconds: float, train_seconds: float, message: str = "", extra: dict | None = None
    ) -> None:
        """outcome.json: how training ended ("finished" or "diverged"), at which step, after how long; `extra`:
        further keys (a stop rule's why and when: training/stopping.py)."""
        outcome = {
            "status": status,
            "step": step,
            "seconds": round(seconds, 3),
            "train_seconds": round(train_seconds, 3),
            "sec_per_step": round(train_seconds / step, 6) if step else None,
        }
        if message:
            outcome["message"] = message
        outcome.update(extra or {})
        atomic_write_text(self.outcome_path, json.dumps(outcome, indent=2) + "\n")

    def outcome(self) -> dict[str, Any] | None:
        """How the run ended, or None while it has not (never started, running, or killed)."""
        if not self.outcome_path.exists():
            return None
        return json.loads(self.outcome_path.read_text())

    @contextlib.contextmanager
    def lock(self) -> Iterator[Callable[[], None]]:
        """Hold an exclusive lock on the folder while writing it; a second writer gets a one-line error.

        flock on `.lock`: the kernel drops it when the process ends, however it ends, so a killed run never
        leaves the folder locked. The block is given `claim`, which writes this process into `.lock` for that
        error to name: called once the run goes on, so that a refused start leaves `.lock` as it was.
        """
        made = [folder for folder in (self.path, *self.path.parents) if not folder.exists()]
        lock_was_there = (self.path / ".lock").exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            handle = open(self.path / ".lock", "a+")
        except OSError as err:
            raise ConfigError(
                f"--out {self.path} cannot be written ({err.strerror}); choose a writable folder"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _holder(handle.read())
            handle.close()
            raise ConfigError(
                f"{self.path} is being written by {holder}; wait for it to finish, or choose another --out"
            ) from None

        claimed = []

        def claim() -> None:
            handle.seek(0)
            handle.truncate()
            handle.write(f"wganlab pid {os.getpid()} on {platform.node()}\n")
            handle.flush()
            claimed.append(True)

        try:
            yield claim
        except UserError:
            if not claimed and not lock_was_there:
                # A refused start takes back what it made (the lock file, the folders --out named): nothing is left.
                # Only a refusal: a start stopped by Ctrl-C or SIGTERM keeps its folder, so that the resume command
                # it prints finds it.
                (self.path / ".lock").unlink(missing_ok=True)
                for folder in made:
                    with contextlib.suppress(OSError):  # not empty: someone else wrote there meanwhile
                        folder.rmdir()
            raise
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def writer_pid(self, locks: Path = Path("/proc/locks")) -> int | None:
        """The pid of the process on this machine that holds the folder's lock now (a run training into it), or
        None. Reads the kernel's table of file locks (Linux's /proc/locks) and never takes the lock itself, so a
        run starting at that moment is never refused because of it. A writer on another machine (a cluster's
        shared folder) is not seen: None means "not being written from this machine"."""
        try:
            stat = (self.path / ".lock").stat()
            table = locks.read_text()
        except OSError:
            return None
        device = (os.major(stat.st_dev), os.minor(stat.st_dev), stat.st_ino)
        for line in table.splitlines():
            # "1: FLOCK  ADVISORY  WRITE 11107 fe:00:5513288 0 EOF"; a waiter's line has "->" after the number.
            fields = line.split()
            if len(fields) < 6 or fields[1] != "FLOCK":
                continue
            try:
                major, minor, inode = fields[5].split(":")
                if (int(major, 16), int(minor, 16), int(inode)) == device:
                    return int(fields[4])
            except ValueError:
                continue
        return None

    def check_writable(self) -> None:
        """StorageError naming the first folder or appended file of the run this process may not write, so that a
        resume refuses before it changes anything rather than halfway through."""
        for folder in (self.path, self.checkpoints, self.samples):
            if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
                raise StorageError(f"cannot write in {folder} (not writable); make it writable")
        for path in (self.metrics_path, self.timing_path, self.log_path):
            if path.is_file() and not os.access(path, os.W_OK):
                raise StorageError(f"cannot write {path} (read-only); make it writable")

    # -- reading ----------------------------------------------------------------------------------------------

    def read_config(self) -> RunConfig:
        if not self.config_path.exists():
            raise CheckpointError(f"{self.config_path} is missing; is {self.path} a wganlab run folder?")
        return load_config(self.config_path)

    def read_facts(self) -> dict[str, Any]:
        if not self.facts_path.exists():
            raise CheckpointError(f"{self.facts_path} is missing; is {self.path} a wganlab run folder?")
        return json.loads(self.facts_path.read_text())

    def records(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The records of metrics.jsonl in order (only those of `kind`, "train" or "eval", when given).

        A last line that does not parse is a record torn by a crash mid-append; it is left out, with a warning.
        """
        rows = self.read_jsonl(self.metrics_path)
        return rows if kind is None else [row for row in rows if row.get("kind") == kind]

    def timing(self) -> list[dict[str, Any]]:
        """timing.jsonl: per log interval and evaluation, the wall-clock seconds so far (`seconds`), those
        spent training (`train_seconds`, without evaluations, pictures and checkpoints) and `sec_per_step`."""
        return self.read_jsonl(self.timing_path)

    def read_jsonl(self, path: Path) -> list[dict[str, Any]]:
        if not path.exists():
            return []
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        rows = []
        for number, line in enumerate(lines, start=1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                if number == len(lines):
                    warnings.warn(f"{path}: left out a torn last line (a crash mid-write): {line[:60]!r}", stacklevel=2)
                    break
                raise CheckpointError(
                    f"{path} line {number} is not valid JSON; the file was edited or damaged"
                ) from None
        return rows

    def checkpoint_file(self, which: str | int = "latest") -> Path:
        """checkpoints/latest.pt, best.pt or step-XXXXXXXX.pt; CheckpointError naming what exists if missing."""
        if isinstance(which, int) or str(which).isdigit():
            path = self.checkpoints / f"step-{int(which):08d}.pt"
        elif which in ("latest", "best"):
            path = self.checkpoints / f"{which}.pt"
        else:
            raise ConfigError(f"--checkpoint {which!r} must be latest, best or a step number")
        if not path.is_file():
            kept = [f"{step}" for step, _ in self.step_checkpoints()]
            extra = f"; steps kept: {', '.join(kept)}" if kept else ""
            raise CheckpointError(f"no checkpoint {path}{extra}")
        return path

    def step_checkpoints(self) -> list[tuple[int, Path]]:
        """(step, path) of every step-XXXXXXXX.pt, oldest first."""
        found = sorted(self.checkpoints.glob("step-*.pt"))
        return [(int(path.stem.split("-")[1]), path) for path in found]

    def build_generator(self) -> tuple[RunConfig, nn.Module, tuple[int, ...]]:
        """The run's generator network with untrained weights, its config and sample shape."""
        config = self.read_config()
        sample_shape = tuple(self.read_facts()["sample_shape"])
        return config, build_generator(config, sample_shape), sample_shape

    def load_generator(
        self, which: str | int = "latest", device: torch.device | str = "cpu", *, ema: bool = False
    ) -> LoadedGenerator:
        """The generator of `which` checkpoint in eval mode: "latest" reads generator.safetensors (no
        optimiser state to load), "best" or a step reads that checkpoint file. `ema`: its exponential moving
        average instead (train.ema_decay > 0); CheckpointError where the run has none."""
        if which == "latest":
            which = self.current_generator()
        if which == "latest":
            path = self.checkpoints / "generator.safetensors"
            return load_generator_file(path, device, config=self.read_config(), ema=ema)
        from wganlab.training.checkpoint import load_checkpoint

        config, generator, sample_shape = self.build_generator()
        source = self.checkpoint_file(which)
        payload = load_checkpoint(source)
        if ema and "generator_ema" not in payload:
            raise CheckpointError(no_ema_message(source))
        weights = payload["generator_ema"] if ema else payload["generator"]
        return _loaded(source, config, generator, weights, sample_shape, payload["step"], device)

    def current_generator(self) -> str | int:
        """ "latest" when generator.safetensors is from the newest step file, else that step (with a warning): a
        crash between a step file and its generator file leaves the generator file one checkpoint behind until
        the run is resumed."""
        from safetensors import safe_open

        kept = self.step_checkpoints()
        if not kept:
            return "latest"
        try:
            with safe_open(str(self.checkpoints / "generator.safetensors"), "pt") as handle:
                step = (handle.metadata() or {}).get("step")
        except Exception:  # missing or torn: the step file is the one to read
            step = None
        newest = kept[-1][0]
        if step == str(newest):
            return "latest"
        warnings.warn(
            f"{self.checkpoints / 'generator.safetensors'} is not from the newest checkpoint; reading "
            f"{kept[-1][1].name} instead (resuming the run rebuilds it)",
            stacklevel=2,
        )
        return newest

    def generator_snapshots(self) -> Iterator[tuple[int, nn.Module]]:
        """(step, generator in eval mode) for every kept step checkpoint, oldest first (one network, reloaded)."""
        _, generator, _ = self.build_generator()
        for step, path in self.step_checkpoints():
            generator.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["generator"])
            yield step, generator.eval()


def next_run_dir(root: Path, label: str) -> Path:
    """runs/00012-wgan-gp-eight_gaussians-mlp: numbered so that listing the folder shows the order."""
    numbers = [int(m.group(1)) for p in root.glob("*") if (m := re.match(r"(\d{5})-", p.name))]
    return root / f"{max(numbers, default=-1) + 1:05d}-{label}"


def _holder(text: str) -> str:
    """Who holds a folder's lock, from the line in `.lock`: a line left by a process that has ended (the holder
    has not claimed the folder yet) names nobody."""
    holder = text.strip()
    words = holder.split()
    if len(words) == 5 and words[:2] == ["wganlab", "pid"] and words[2].isdigit() and words[4] == platform.node():
        try:
            os.kill(int(words[2]), 0)
        except ProcessLookupError:
            return "another process"
        except OSError:
            pass
    return holder or "another process"


def build_generator(config: RunConfig, sample_shape: tuple[int, ...]) -> nn.Module:
    """The generator network of `config` for samples of `sample_shape`, with untrained weights."""
    from wganlab.models import build_networks

    generator, _ = build_networks(
        config.model, sample_shape, torch.Generator().manual_seed(0), is_image=not config.data.is_toy
    )
    return generator


def no_ema_message(source: Path) -> str:
    return (
        f"{source} holds no EMA generator (its run trained with train.ema_decay=0); leave out --ema (ema=True), "
        "or train with e.g. train.ema_decay=0.999"
    )


def load_generator_file(
    path: Path, device: torch.device | str = "cpu", *, config: RunConfig | None = None, ema: bool = False
) -> LoadedGenerator:
    """A generator.safetensors on its own: its metadata holds the config and sample shape that rebuild the
    network (files written before they did need `config`, and the run folder's run.json, beside them). `ema`: the
    exponential moving average stored beside the weights (train.ema_decay > 0)."""
    from wganlab.training.checkpoint import read_generator_file, split_generator_tensors

    tensors, metadata = read_generator_file(path)
    weights, averaged = split_generator_tensors(tensors)
    if ema and not averaged:
        raise CheckpointError(no_ema_message(path))
    if ema:
        weights = averaged
    folder = RunFolder(path.parent.parent)  # checkpoints/generator.safetensors sits in a run folder
    if config is None and "config" in metadata:
        try:
            config = config_from_toml(tomllib.loads(metadata["config"]), f"{path} metadata")
        except tomllib.TOMLDecodeError:
            raise CheckpointError(f"{path}: the config in its metadata is not valid TOML") from None
    if config is None:
        if not folder.config_path.exists():
            raise CheckpointError(
                f"{path} carries no config (an older generator file) and has no run folder around it; "
                "load it from its run folder instead"
            )
        config = folder.read_config()
    if "sample_shape" in metadata:
        sample_shape = tuple(json.loads(metadata["sample_shape"]))
    else:
        sample_shape = tuple(folder.read_facts()["sample_shape"])
    step = int(metadata["step"]) if "step" in metadata else None
    return _loaded(path, config, build_generator(config, sample_shape), weights, sample_shape, step, device)


def _loaded(
    source: Path,
    config: RunConfig,
    generator: nn.Module,
    weights: dict[str, torch.Tensor],
    sample_shape: tuple[int, ...],
    step: int | None,
    device: torch.device | str,
) -> LoadedGenerator:
    try:
        generator.load_state_dict(weights)
    except Exception as err:
        raise CheckpointError(f"{source} does not load into this run's generator ({type(err).__name__})") from None
    return LoadedGenerator(config, generator.to(device).eval(), sample_shape, step)


def run_facts(
    config: RunConfig,
    device: torch.device,
    world_size: int,
    sample_shape: tuple[int, ...],
    training_images: int | None = None,
) -> dict:
    """Provenance written to run.json when a run starts: code, libraries, machine, threads, time, and the number
    of training images (image data only), which turns `images_seen` into epochs."""
    from datetime import UTC, datetime

    from wganlab import allocator, provenance

    cuda = torch.cuda.is_available()
    return {
        "wganlab": wganlab.__version__,
        **provenance.source_revision(),
        "python": platform.python_version(),
        "versions": provenance.versions(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else provenance.cpu_name(),
        "world_size": world_size,
        "sample_shape": list(sample_shape),
        "training_images": training_images,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "thread_env": provenance.thread_settings(),
        "malloc_thresholds": allocator.applied(),
        **provenance.host(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
