"""glibc's allocator thresholds, fixed when training starts (benchmarks/results/speed.md, Run 8).

glibc serves a request above its mmap threshold (128 KiB at start) with freshly mapped pages and unmaps them on
free, and it raises the threshold to the size of each such block freed, up to 32 MiB (mallopt(3), "M_MMAP_THRESHOLD").
A training step allocates and frees tensors of a few MiB many times over, so whether each of them is mapped and
unmapped again on every call depends on the sizes this process happened to free first. Fixing the threshold at
32 MiB, and the trim threshold (memory handed back to the system from the heap's top) at 1 GiB, makes every process
take the heap's path for these sizes.

Nothing changes where the allocator is not glibc's, or where the user set the thresholds (MALLOC_MMAP_THRESHOLD_,
MALLOC_TRIM_THRESHOLD_, or GLIBC_TUNABLES naming them): their choice stands. Numbers do not depend on it: it moves
where memory comes from, not what is computed.
"""

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
THRESHOLDS = {"mmap_threshold": 32 << 20, "trim_threshold": 1 << 30}
OPTIONS = ((M_MMAP_THRESHOLD, "mmap_threshold"), (M_TRIM_THRESHOLD, "trim_threshold"))
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


_applied: dict[str, int] | None = None


def applied() -> dict[str, int] | None:
    """What the last `fix_thresholds()` set (run.json records it), None if nothing."""
    return None if _applied is None else dict(_applied)


def fix_thresholds() -> dict[str, int] | None:
    """Set THRESHOLDS through glibc's mallopt; what was set, or None where nothing was (not glibc, or the user's
    own settings in the environment)."""
    global _applied
    _applied = _set()
    return applied()


def _set() -> dict[str, int] | None:
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if any(name in os.environ for name in USER_SETTINGS) or any(name in tunables for _, name in OPTIONS):
        return None
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    if not all(mallopt(option, THRESHOLDS[name]) for option, name in OPTIONS):
        return None  # mallopt returns 0 on error (and musl's does nothing and returns 0)
    return dict(THRESHOLDS)
