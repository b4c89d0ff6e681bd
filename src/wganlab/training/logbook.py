"""What a run writes as it goes: metrics.jsonl, TensorBoard events and the progress bar (process 0 only)."""

import json
import math
import os
import time
import warnings
from pathlib import Path

from tqdm import tqdm

from wganlab.errors import CheckpointError
from wganlab.files import append_line
from wganlab.training.run_folder import RunFolder


class Logbook:
    def __init__(
        self,
        folder: RunFolder,
        *,
        total_steps: int,
        start_step: int,
        enabled: bool,
        progress: bool,
        tensorboard: bool,
        shown: tuple[str, ...] = (),
    ):
        """`shown`: the keys kept on the progress bar (the loss's estimate and the quality headline)."""
        self.enabled = enabled
        self.folder = folder
        self.shown_keys = shown
        self.writer = None
        self.bar = None
        self.shown: dict[str, str] = {}
        self.last_time = time.perf_counter()
        self.last_step = start_step
        if not enabled:
            return
        for path in (folder.metrics_path, folder.timing_path):
            self._truncate_after(path, start_step)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(folder.path), purge_step=start_step or None)
        if progress:
            self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True)

    def _truncate_after(self, path: Path, step: int) -> None:
        """On resume, drop the records written after the checkpoint we restart from (they will be written again)
        and a last line torn by a crash (with a warning). The file is cut in place, which needs no free space."""
        if not path.exists():
            return
        data = path.read_bytes()
        lines = data.splitlines(keepends=True)
        keep = 0
        for number, line in enumerate(lines, start=1):
            try:
                row = json.loads(line) if line.strip() else {}
            except ValueError:
                if number < len(lines):
                    raise CheckpointError(
                        f"{path} line {number} is not valid JSON; the file was edited or damaged: fix or remove "
                        "that line, then resume"
                    ) from None
                warnings.warn(f"{path}: dropped a torn last line (a crash mid-write): {line[:60]!r}", stacklevel=3)
                break
            if not isinstance(row, dict):
                raise CheckpointError(f"{path} line {number} is not a record; the file was edited or damaged")
            if row.get("step", 0) > step:
                break
            keep += len(line)
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
        if self.writer is not None:
            for name, value in values.items():
                if isinstance(value, int | float) and math.isfinite(value):
                    self.writer.add_scalar(f"{kind}/{name}", value, step)
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
        append_line(self.folder.timing_path, json.dumps(row) + "\n")

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
