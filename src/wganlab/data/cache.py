"""A decoded image set cached as one uint8 `.npy` (memory-mappable) plus a JSON manifest.

The manifest records every source file (relative path, size, mtime) and every option that shaped the
array; any difference rebuilds it. Writes are atomic: the array and the manifest are each written to a
temp file and `os.replace`d, the old manifest removed first, so a reader never pairs a manifest with an
array it does not describe.
"""

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from wganlab.errors import DataError

CACHE_FOLDER = ".wganlab-cache"
FORMAT_VERSION = 1


def describe_files(root: Path, files: list[Path]) -> list[list[Any]]:
    """[relative posix path, size in bytes, mtime in ns] for each file, in the given order."""
    rows = []
    for file in files:
        stat = file.stat()
        rows.append([file.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns])
    return rows


def cache_location(root: Path, cache_dir: str, options: dict[str, Any]) -> tuple[Path, Path]:
    """(array path, manifest path); the name hashes the options, so different sizes cache side by side."""
    folder = Path(cache_dir) if cache_dir else root / CACHE_FOLDER
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]
    return folder / f"images-{digest}.npy", folder / f"images-{digest}.json"


def read_cache(
    array_path: Path, manifest_path: Path, manifest: dict[str, Any]
) -> tuple[np.ndarray, dict] | None:
    """The cached array (memory-mapped) and its stored manifest, or None when absent or out of date."""
    try:
        stored = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return None
    if {key: stored.get(key) for key in manifest} != manifest or stored.get("version") != FORMAT_VERSION:
        return None
    try:
        array = np.load(array_path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if list(array.shape) != stored.get("shape") or array.dtype != np.uint8:
        return None
    return array, stored


def write_cache(
    array_path: Path,
    manifest_path: Path,
    manifest: dict[str, Any],
    shape: tuple[int, ...],
    fill: Callable[[np.ndarray], tuple[np.ndarray, dict[str, Any]]],
) -> tuple[np.ndarray, dict]:
    """Build the array with `fill(out)` into a temp memmap of `shape`, then publish it atomically.

    `fill` writes into `out` and returns the indices of the rows it filled (inputs it skipped leave
    rows unused) plus extra manifest entries, e.g. the skipped files.
    """
    folder = array_path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp_array = folder / f".{array_path.stem}.{os.getpid()}.tmp.npy"
        out = np.lib.format.open_memmap(temp_array, mode="w+", dtype=np.uint8, shape=shape)
    except OSError as err:
        raise DataError(
            f"cannot write the image cache in {folder} ({err.strerror}); "
            "set data.cache_dir to a writable folder"
        ) from None
    temp_paths = [temp_array]
    try:
        kept, extra = fill(out)
        out.flush()
        if len(kept) != shape[0]:
            # Copy the filled rows, a chunk at a time, into a second temp file of the right length.
            temp_compact = folder / f".{array_path.stem}.{os.getpid()}.compact.tmp.npy"
            temp_paths.append(temp_compact)
            compact = np.lib.format.open_memmap(
                temp_compact, mode="w+", dtype=np.uint8, shape=(len(kept), *shape[1:])
            )
            for start in range(0, len(kept), 1024):
                compact[start : start + 1024] = out[kept[start : start + 1024]]
            compact.flush()
            del compact
            os.replace(temp_compact, temp_array)
        del out
        stored = {**manifest, **extra, "version": FORMAT_VERSION}
        stored["shape"] = list(np.load(temp_array, mmap_mode="r").shape)
        temp_manifest = folder / f".{manifest_path.stem}.{os.getpid()}.tmp.json"
        temp_paths.append(temp_manifest)
        temp_manifest.write_text(json.dumps(stored))
        manifest_path.unlink(missing_ok=True)
        os.replace(temp_array, array_path)
        os.replace(temp_manifest, manifest_path)
    finally:
        for path in temp_paths:
            path.unlink(missing_ok=True)
    return np.load(array_path, mmap_mode="r"), stored
