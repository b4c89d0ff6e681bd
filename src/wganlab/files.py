"""Durable file writes: every file wganlab publishes (checkpoints, caches, metrics, reports' data) goes through
`atomic_write`, so a crash or a full disk leaves either the old file or the new one, never a torn one."""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path | str, write: Callable[[str], object], *, durable: bool = True) -> None:
    """Call `write(temp_path)`, fsync the result, then rename it over `path` in one step.

    The temp file sits next to `path` (same file system, so the rename is atomic) under a hidden name ending
    in `.tmp`; it is removed if `write` fails. Formats that guess from a suffix (Pillow, numpy) must be told
    their format explicitly, since the temp name does not end in `path`'s suffix. `durable=False` skips the two
    fsyncs (still never torn, but a power cut may lose the newest file): for thousands of derived files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temp)
        if durable:
            with open(temp, "rb") as written:
                os.fsync(written.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    if not durable:
        return
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write(path, lambda temp: Path(temp).write_text(text))


def remove_stale_temps(folder: Path) -> None:
    """Delete temp files a killed process left in `folder` (never a finished file: those have no .tmp)."""
    for stale in Path(folder).glob(".*.tmp"):
        stale.unlink(missing_ok=True)


def user_cache_dir(*parts: str) -> Path:
    """wganlab's cache folder, joined with `parts`: $WGANLAB_CACHE if set, else $XDG_CACHE_HOME/wganlab, else
    ~/.cache/wganlab. Decoded image sets, reference statistics and the Inception file live there, never in
    a dataset's own folder (which may be read-only or shared)."""
    root = os.environ.get("WGANLAB_CACHE")
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wganlab"
    return Path(root).joinpath(*parts)
