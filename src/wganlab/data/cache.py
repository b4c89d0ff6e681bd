"""A decoded image set cached as one uint8 `.npy` (memory-mappable) plus a JSON manifest.

The cache lives in data.cache_dir, or by default in the user cache (`files.user_cache_dir("images")`, i.e.
$WGANLAB_CACHE/images or ~/.cache/wganlab/images), never inside the dataset: data may be read-only or shared,
and a dataset folder stays exactly as its owner left it. The file name hashes the dataset's absolute path
and the options, so one cache folder serves any number of datasets and sizes side by side.

The manifest records every source file (relative path, size, mtime) and every option that shaped the
array; any difference rebuilds it. Both files are published with `atomic_write`, the old manifest removed
first, so a reader never pairs a manifest with an array it does not describe.
"""

import errno
import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from wganlab.data.guards import size_text
from wganlab.errors import DataError, StorageError
from wganlab.files import atomic_write, atomic_write_text, free_bytes, user_cache_dir

FORMAT_VERSION = 1

# fill(out) writes decoded rows into `out` and returns (indices of the rows it filled, extra manifest entries).
Fill = Callable[[np.ndarray], tuple[np.ndarray, dict[str, Any]]]


def describe_files(root: Path, files: list[Path]) -> list[list[Any]]:
    """[relative posix path, size in bytes, mtime in ns] for each file, in the given order."""
    rows = []
    for file in files:
        stat = file.stat()
        rows.append([file.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns])
    return rows


def cache_location(root: Path, cache_dir: str, options: dict[str, Any]) -> tuple[Path, Path]:
    """(array path, manifest path) for the dataset at `root` decoded with `options`."""
    folder = Path(cache_dir) if cache_dir else user_cache_dir("images")
    identity = {"source": str(Path(root).resolve()), **options}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    name = f"{Path(root).name or 'data'}-{digest}"
    return folder / f"{name}.npy", folder / f"{name}.json"


def read_cache(array_path: Path, manifest_path: Path, manifest: dict[str, Any]) -> tuple[np.ndarray, dict] | None:
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


def open_allocated(path: Path | str, shape: tuple[int, ...]) -> np.memmap:
    """A new uint8 .npy of `shape` at `path`, memory-mapped for writing, with every block of it allocated first.

    Writing through a map into a sparse file kills the process with SIGBUS when the disk fills; allocating the
    whole file up front instead fails here, with ENOSPC, before a single row is decoded.
    """
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
    try:
        allocate(path, out.offset, out.offset + out.nbytes)
    except BaseException:
        del out
        raise
    return out


def allocate(path: Path | str, start: int, stop: int) -> None:
    """Reserve the bytes [start, stop) of `path` on disk: posix_fallocate, or zeros written where the file
    system (or the platform) cannot fallocate."""
    descriptor = os.open(path, os.O_RDWR)
    try:
        try:
            os.posix_fallocate(descriptor, start, max(stop - start, 1))
            return
        except AttributeError:  # no posix_fallocate (macOS)
            pass
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
        zeros = bytes(1 << 20)
        for offset in range(start, stop, len(zeros)):
            os.pwrite(descriptor, zeros[: stop - offset], offset)
    finally:
        os.close(descriptor)


def write_cache(
    array_path: Path, manifest_path: Path, manifest: dict[str, Any], shape: tuple[int, ...], fill: Fill
) -> tuple[np.ndarray, dict]:
    """Build the array with `fill` into an allocated memmap of `shape`, drop the rows it skipped, publish
    atomically. A full disk or an unwritable folder is one DataError naming the folder and data.cache_dir;
    no temporary file stays behind."""
    folder = array_path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"cannot write the image cache in {folder} ({err.strerror}); set data.cache_dir to a writable folder"
        ) from None
    extra: dict[str, Any] = {}

    def build(temp: str) -> None:
        out = open_allocated(temp, shape)
        kept, more = fill(out)
        extra.update(more)
        out.flush()
        if len(kept) != shape[0]:
            # Copy the filled rows, a chunk at a time, into a scratch file of the right length, then put it
            # in temp's place (atomic_write publishes whatever temp holds when this returns).
            scratch = folder / f".{array_path.stem}.{os.getpid()}.compact.tmp"
            try:
                compact = open_allocated(scratch, (len(kept), *shape[1:]))
                for start in range(0, len(kept), 1024):
                    compact[start : start + 1024] = out[kept[start : start + 1024]]
                compact.flush()
                del compact
                os.replace(scratch, temp)
            finally:
                scratch.unlink(missing_ok=True)
        del out

    try:
        manifest_path.unlink(missing_ok=True)
        atomic_write(array_path, build)
        array = np.load(array_path, mmap_mode="r")
        stored = {**manifest, **extra, "version": FORMAT_VERSION, "shape": list(array.shape)}
        atomic_write_text(manifest_path, json.dumps(stored))
    except (OSError, StorageError) as err:
        full = getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or str(err).startswith("disk full")
        if full:
            needed = math.prod(shape)
            why = f"the disk is full: {size_text(needed)} needed, {size_text(free_bytes(folder) or 0)} free"
        else:
            why = getattr(err, "strerror", None) or str(err)
        raise DataError(
            f"cannot write the image cache in {folder} ({why}); free some space or set data.cache_dir to a "
            "writable folder with room for it"
        ) from None
    return array, stored


def load_or_build(
    root: Path,
    cache_dir: str,
    options: dict[str, Any],
    files: list[Path],
    shape: Callable[[], tuple[int, ...]],
    fill: Fill,
) -> tuple[np.ndarray, dict]:
    """The cached array for (`options`, the current state of `files`), built with `fill` when absent or stale.

    `shape()` is asked only when building (finding a folder's native size opens every file). Returns the
    memory-mapped array and its manifest (which holds whatever `fill` added, e.g. skipped files).
    """
    manifest = {**options, "files": describe_files(root, files)}
    array_path, manifest_path = cache_location(root, cache_dir, options)
    hit = read_cache(array_path, manifest_path, manifest)
    if hit is not None:
        return hit
    return write_cache(array_path, manifest_path, manifest, shape(), fill)
