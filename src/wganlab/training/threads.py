"""A run's CPU thread count, raised while it runs when a pool that started it has cores to spare.

A pool of runs (`wganlab demo`) starts each run with its share of the cores; once no run is left to start,
the cores of the runs that finished would sit idle while the longest run goes on with its one share. A pool that
lends those cores names a file in `WGANLAB_THREADS_FILE` for each run and writes the run's new thread count
into it; the run reads it between steps (a stat per step, a read only when the file changed).

The thread count can change the summation order of a kernel and so the last bits of a result: oneDNN's
convolutions do (a DCGAN step differs between 1 and 2 threads); the matrix products and reductions of the toy
MLPs did not on the machines this was measured on (docs/architecture.md). Only a pool whose runs are all MLPs
lends its cores.
"""

import os
from pathlib import Path

import torch

ENVIRONMENT = "WGANLAB_THREADS_FILE"


class ThreadShare:
    """Follows the thread count a pool writes for this run; does nothing when the pool lends no cores."""

    def __init__(self, path: Path | None):
        self.path = path
        self.seen: tuple[int, int] | None = None

    @classmethod
    def from_environment(cls) -> "ThreadShare":
        value = os.environ.get(ENVIRONMENT, "")
        return cls(Path(value) if value else None)

    def poll(self) -> None:
        if self.path is None:
            return
        try:
            facts = self.path.stat()
        except FileNotFoundError:
            return
        changed = (facts.st_ino, facts.st_mtime_ns)  # each write replaces the file: a new inode
        if changed == self.seen:
            return
        self.seen = changed
        try:
            threads = int(self.path.read_text())
        except (OSError, ValueError):  # half written: the next poll reads it whole
            self.seen = None
            return
        if threads >= 1 and threads != torch.get_num_threads():
            torch.set_num_threads(threads)


def lend(path: Path, threads: int) -> None:
    """The pool's side: tell the run behind `path` to use `threads` threads from its next step on."""
    partial = path.with_suffix(".partial")
    partial.write_text(str(threads))
    os.replace(partial, path)
