"""What a run writes as it goes: metrics.jsonl, log.txt, TensorBoard events and the progress bar (process 0 only).

TensorBoard gets every logged value as a scalar, the sample pictures (the same files as samples/), the resolved
config as text, histograms of the critic's parameters at every log interval (weight clipping shows as the
histograms pressed into [-c, c]) and, when the run closes, its hyperparameters with the final values.
"""

import contextlib
import json
import math
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from wganlab.config import RunConfig, to_dict, to_toml
from wganlab.errors import CheckpointError
from wganlab.files import append_line, atomic_write, storage_error
from wganlab.training.run_folder import RunFolder


class _LineLog:
    """Complete lines, each stamped with the time, appended to a text file. A carriage return starts the line
    over, as on a terminal, so a progress bar leaves only its last state. Safe to feed from several threads."""

    def __init__(self, path: Path, *, deferred: bool = False):
        """`deferred`: keep the lines in memory until `begin()` opens the file (never, for a start refused before)."""
        self.path = path
        self.handle: TextIO | None = None
        self.held: list[str] = []
        self.pending = ""
        self.muted = False
        self.broken = False
        self.lock = threading.RLock()
        if not deferred:
            self.begin()

    def begin(self) -> None:
        with self.lock:
            if self.handle is None:
                self.handle = open(self.path, "a", encoding="utf-8")
                held, self.held = self.held, []
                for text in held:
                    self._write(text)

    def line(self, text: str) -> None:
        if text.strip() and not self.broken:
            with self.lock:
                stamped = f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')}  {text.rstrip()}\n"
                if self.handle is None:
                    self.held.append(stamped)
                else:
                    self._write(stamped)

    def _write(self, stamped: str) -> None:
        try:
            self.handle.write(stamped)
            self.handle.flush()
        except (OSError, ValueError):
            # A full disk (or a thread printing after close): the console still says what happened.
            self.broken = True

    def feed(self, text: str) -> None:
        if self.muted:
            return
        with self.lock:
            for index, part in enumerate(text.split("\n")):
                if index:
                    self.line(self.pending)
                    self.pending = ""
                self.pending = (self.pending + part).rpartition("\r")[2] if "\r" in part else self.pending + part

    def close(self) -> None:
        self.line(self.pending)
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.close()


class _Tee:
    """A stream that writes to `stream` and copies the text into a `_LineLog`; everything else is `stream`'s."""

    def __init__(self, stream: TextIO, log: _LineLog):
        self._stream, self._log = stream, log

    def write(self, text: str) -> int:
        self._log.feed(text)
        return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextlib.contextmanager
def console_log(path: Path, *, deferred: bool = False) -> Iterator[Callable[[], None]]:
    """Copy this process's console output (stdout, stderr) and every warning into `path` while the block runs,
    and say how the block ended. Output written below Python (by C++ code) is not copied.

    Warnings are taken where Python shows them (`warnings.showwarning`), so they are logged even where they
    never reach stderr (a notebook, a test that records them), and once each. With `deferred`, the lines wait in
    memory until the block calls the function it is given; a block that ends before leaves `path` untouched.
    """
    log = _LineLog(path, deferred=deferred)
    log.line(f"$ {' '.join(sys.argv)}")
    saved = sys.stdout, sys.stderr
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        log.line(warnings.formatwarning(message, category, filename, lineno, line).splitlines()[0])
        log.muted = True  # what `previous` writes to stderr is already logged
        try:
            previous(message, category, filename, lineno, file, line)
        finally:
            log.muted = False

    sys.stdout, sys.stderr = _Tee(saved[0], log), _Tee(saved[1], log)
    warnings.showwarning = show
    try:
        yield log.begin
    except BaseException as err:
        log.feed("\n")
        log.line(f"stopped: {type(err).__name__}: {err}")
        raise
    finally:
        sys.stdout, sys.stderr = saved
        warnings.showwarning = previous
        log.close()


class _Board:
    """A TensorBoard SummaryWriter whose failure on a full disk (raised by its writer thread at the next call) is
    one StorageError naming the event file, like every other file a run writes."""

    def __init__(self, writer, folder: Path):
        self._writer, self._folder = writer, folder

    def _event_file(self) -> Path:
        files = sorted(self._folder.glob("events.out.tfevents.*"), key=lambda path: path.stat().st_mtime)
        return files[-1] if files else self._folder / "events.out.tfevents"

    def _guarded(self, call):
        def guarded(*args, **kwargs):
            try:
                return call(*args, **kwargs)
            except Exception as err:
                problem = storage_error(err, self._event_file())
                if problem is None:
                    raise
                raise problem from None

        return guarded

    def add_summary(self, summary) -> None:
        self._guarded(self._writer.file_writer.add_summary)(summary)

    def __getattr__(self, name: str):
        attribute = getattr(self._writer, name)
        return self._guarded(attribute) if callable(attribute) else attribute


def parse_records(path: Path, data: bytes | None = None) -> list[tuple[bytes, dict | None]]:
    """(line, record) for each line of a metrics.jsonl or timing.jsonl, the record None for a torn last line (a
    crash mid-append) and {} for a blank one; CheckpointError for a damaged line anywhere else. Reads only."""
    data = path.read_bytes() if data is None else data
    lines = data.splitlines(keepends=True)
    parsed: list[tuple[bytes, dict | None]] = []
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line) if line.strip() else {}
        except ValueError:
            if number < len(lines):
                raise CheckpointError(
                    f"{path} line {number} is not valid JSON; the file was edited or damaged: fix or remove "
                    "that line, then resume"
                ) from None
            parsed.append((line, None))
            break
        if not isinstance(row, dict):
            raise CheckpointError(f"{path} line {number} is not a record; the file was edited or damaged")
        parsed.append((line, row))
    return parsed


class Logbook:
    def __init__(
        self,
        folder: RunFolder,
        *,
        total_steps: int,
        start_step: int,
        dropped: frozenset[str] = frozenset(),
        enabled: bool,
        progress: bool,
        tensorboard: bool,
        shown: tuple[str, ...] = (),
    ):
        """`shown`: the keys kept on the progress bar (the loss's estimate and the quality headline). `dropped`:
        the kinds of record at `start_step` to remove (an extended run's end-of-run records; timing rows go with
        "train")."""
        self.enabled = enabled
        self.folder = folder
        self.shown_keys = shown
        self.writer = None
        self.bar = None
        self.shown: dict[str, str] = {}
        self.last_time = time.perf_counter()
        self.last_step = start_step
        self.final: dict[str, float] = {}
        self.hparams: dict[str, object] = {}
        if not enabled:
            return
        for path in (folder.metrics_path, folder.timing_path):
            self._truncate_after(path, start_step, dropped)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            opened = _Board(SummaryWriter, folder.path)._guarded(SummaryWriter)  # it writes its first event now
            self.writer = _Board(opened(log_dir=str(folder.path), purge_step=start_step or None), folder.path)
        if progress:
            self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True)

    def _truncate_after(self, path: Path, step: int, dropped: frozenset[str] = frozenset()) -> None:
        """On resume, drop the records written after the checkpoint we restart from (they will be written again),
        those at its step of a kind in `dropped`, and a last line torn by a crash (with a warning). The file is
        cut in place, which needs no free space, unless a dropped record sits before a kept one."""
        if not path.exists():
            return
        data = path.read_bytes()
        kept = []
        for line, row in parse_records(path, data):
            if row is None:
                warnings.warn(f"{path}: dropped a torn last line (a crash mid-write): {line[:60]!r}", stacklevel=3)
                break
            if row.get("step", 0) > step:
                break
            if row.get("step", 0) < step or row.get("kind", "train") not in dropped:
                kept.append(line)
        text = b"".join(kept)
        if not data.startswith(text):
            text += b"" if text.endswith(b"\n") else b"\n"
            atomic_write(path, lambda temp: Path(temp).write_bytes(text))
            return
        keep = len(text)
        if keep < len(data):
            os.truncate(path, keep)
        if keep and not data[:keep].endswith(b"\n"):
            append_line(path, "\n")  # a record whose newline was cut off: the next one starts on its own line

    def seconds_per_step(self, step: int) -> float:
        now = time.perf_counter()
        elapsed = (now - self.last_time) / max(step - self.last_step, 1)
        self.last_time, self.last_step = now, step
        return elapsed

    def record(self, step: int, images_seen: int, kind: str, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        row = {"step": step, "images_seen": images_seen, "kind": kind, **values}
        append_line(self.folder.metrics_path, json.dumps(row) + "\n")
        shown = " ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        append_line(self.folder.path / "log.txt", f"{stamp}  step {step} {kind}: {shown}\n")
        if self.writer is not None:
            for name, value in values.items():
                if isinstance(value, int | float) and math.isfinite(value):
                    self.writer.add_scalar(f"{kind}/{name}", value, step)
                    self.final[f"{kind}/{name}"] = value
        if self.bar is not None:
            # Training and evaluation records arrive at different steps: keep the latest of each on the bar.
            self.shown.update(
                (k, f"{v:.4g}") for k, v in values.items() if k in self.shown_keys and isinstance(v, float)
            )
            if self.shown:
                self.bar.set_postfix(self.shown, refresh=False)

    def record_timing(self, step: int, seconds: float, train_seconds: float, sec_per_step: float) -> None:
        """Wall-clock goes to timing.jsonl, so metrics.jsonl holds only what a rerun reproduces exactly."""
        if not self.enabled:
            return
        row = {"step": step, "seconds": round(seconds, 3), "train_seconds": round(train_seconds, 3)}
        row["sec_per_step"] = round(sec_per_step, 6)
        # What else the machine was doing: timings taken under load say so.
        row["load_1min"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        row["threads"] = torch.get_num_threads()  # a pool may have raised it during the run (training/threads.py)
        append_line(self.folder.timing_path, json.dumps(row) + "\n")

    def add_config(self, config: RunConfig) -> None:
        """The resolved config as TensorBoard text; its keys become the hyperparameters written at close."""
        self.hparams = {"name": config.name}
        for section, values in to_dict(config).items():
            if isinstance(values, dict):
                for key, value in values.items():
                    is_plain = isinstance(value, bool | int | float | str)
                    self.hparams[f"{section}.{key}"] = value if is_plain else ",".join(map(str, value))
        if self.writer is not None:
            # Indented four spaces: TensorBoard renders text as Markdown, and a code block keeps the TOML verbatim.
            text = "".join(f"    {line}\n" for line in to_toml(config).splitlines())
            self.writer.add_text("config", text, self.last_step)

    def add_picture(self, step: int, path: Path, tag: str = "samples") -> None:
        """A picture already written to `path` (samples/step-XXXXXXXX.png), as a TensorBoard image."""
        if self.writer is not None:
            with Image.open(path) as picture:
                pixels = np.asarray(picture.convert("RGB"))
            self.writer.add_image(tag, pixels, step, dataformats="HWC")

    def add_histograms(self, step: int, critic: nn.Module) -> None:
        """Histograms of every critic parameter (copied to the CPU: at log intervals only)."""
        if self.writer is not None:
            for name, parameter in critic.named_parameters():
                self.writer.add_histogram(f"critic/{name}", parameter.detach().float().cpu(), step)

    def _write_hparams(self) -> None:
        from torch.utils.tensorboard.summary import hparams

        if not self.hparams or not self.final:
            return
        # Written into this run's own event file (SummaryWriter.add_hparams would start a sub-run); the
        # HParams dashboard reads each metric's value from the scalars of the same tag.
        for summary in hparams(self.hparams, self.final):
            self.writer.add_summary(summary)

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self._write_hparams()
            self.writer.close()
