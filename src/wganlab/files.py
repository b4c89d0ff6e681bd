"""Durable file writes: every file wganlab publishes (checkpoints, caches, metrics, reports' data) goes through
`atomic_write` or `append_line`, so a crash or a full disk leaves either the old file or the new one (or the
old lines), never a torn one; a full disk or an unwritable folder becomes one `StorageError` line."""

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from wganlab.errors import StorageError, say

# Below this much free space a failed write is taken for a full disk: torch's writer reports ENOSPC as
# "unexpected pos ..." (a RuntimeError without an errno), so the free space is what tells.
NEARLY_FULL_BYTES = 1 << 20
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR)


def free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def storage_error(err: BaseException, path: Path) -> StorageError | None:
    """A one-line StorageError when `err`, raised while writing `path`, came from a full disk or a folder that
    cannot be written; None when it came from anything else (a bug worth its traceback)."""
    if not isinstance(err, Exception):
        return None  # Ctrl-C, SIGTERM, exit: not a storage problem
    code = getattr(err, "errno", None)
    free = free_bytes(path.parent if path.parent.exists() else Path(path.anchor or "."))
    nearly_full = free is not None and free < NEARLY_FULL_BYTES and not isinstance(err, OSError)
    if code in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(err) or nearly_full:
        return StorageError(f"disk full: cannot write {path} ({free} bytes free there); free some space")
    blocking = next((folder for folder in path.parents if folder.exists() and not folder.is_dir()), None)
    if blocking is not None and code in (errno.EEXIST, errno.ENOTDIR):
        return StorageError(f"cannot write {path}: {blocking} is a file, not a folder; use another folder")
    if code in NOT_WRITABLE:
        return StorageError(f"cannot write {path} ({err.strerror}); make {path.parent} writable or use another folder")
    return None


def atomic_write(path: Path | str, write: Callable[[str], object], *, durable: bool = True) -> None:
    """Call `write(temp_path)`, fsync the result, then rename it over `path` in one step.

    The temp file sits next to `path` (same file system, so the rename is atomic) under a hidden name ending
    in `.tmp`; it is removed if `write` fails. Formats that guess from a suffix (Pillow, numpy) must be told
    their format explicitly, since the temp name does not end in `path`'s suffix. `durable=False` skips the two
    fsyncs (still never torn, but a power cut may lose the newest file): for thousands of derived files.
    A full disk or an unwritable folder raises a one-line StorageError naming `path`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise (storage_error(err, path) or err) from None
    os.close(handle)
    # mkstemp makes the file private (0600); a published file gets the permissions of any new file (umask).
    os.chmod(temp, 0o666 & ~_umask())
    try:
        write(temp)
        if durable:
            with open(temp, "rb") as written:
                os.fsync(written.fileno())
        os.replace(temp, path)
    except BaseException as err:
        problem = storage_error(err, path)  # asked before the temp file is removed, while the disk is still full
        Path(temp).unlink(missing_ok=True)
        if problem is not None:
            raise problem from None
        raise
    if not durable:
        return
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write(path, lambda temp: Path(temp).write_text(text))


def append_line(path: Path | str, line: str) -> None:
    """Append `line` (ending in a newline) to `path`; if the write fails part-way (a full disk), the file is cut
    back to its old length, so no torn line stays behind, and a StorageError says what happened."""
    path = Path(path)
    data = memoryview(line.encode())
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as err:
        raise (storage_error(err, path) or err) from None
    try:
        start = os.fstat(descriptor).st_size
        try:
            while data:
                data = data[os.write(descriptor, data) :]
        except BaseException as err:
            os.ftruncate(descriptor, start)  # shrinking needs no free space
            problem = storage_error(err, path)
            if problem is not None:
                raise problem from None
            raise
    finally:
        os.close(descriptor)


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


CACHE_PREFIX = "cache:"


def resolve_user_path(path: str) -> str:
    """A path as a config file gives it, for reading: `cache:REST` is REST inside the user cache (user_cache_dir),
    found on the machine that reads it, so a config.toml that names a dataset built there (the studies' Twemoji
    and stacked sets) works unchanged on another machine or account; any other path is returned as it is."""
    if not path.startswith(CACHE_PREFIX):
        return path
    return str(user_cache_dir(*Path(path.removeprefix(CACHE_PREFIX)).parts))


def sha256_hex(source: Path | str | BinaryIO, copy_to: BinaryIO | None = None) -> str:
    """The sha256 (hex) of a file, given by path or as an open binary stream, read a MiB at a time; the bytes are
    also written to `copy_to` when given (hashing a download while saving it)."""
    if isinstance(source, str | Path):
        with open(source, "rb") as stream:
            return sha256_hex(stream, copy_to)
    digest = hashlib.sha256()
    for block in iter(lambda: source.read(1 << 20), b""):
        digest.update(block)
        if copy_to is not None:
            copy_to.write(block)
    return digest.hexdigest()


def pip_download(package: str, version: str, folder: Path, size: str) -> tuple[Path | None, str]:
    """`pip download --no-deps` of one pinned wheel into `folder` with this interpreter's pip: (the wheel, "") or
    (None, pip's last line of complaint). Callers say what to do instead (a wheel fetched elsewhere)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--dest", str(folder), f"{package}=={version}"]  # fmt: skip
    say(f"downloading {package}=={version} ({size}) with pip, without dependencies")
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(Path(folder).glob("*.whl"))
    if result.returncode != 0 or not wheels:
        return None, (result.stderr.strip().splitlines() or ["no wheel was written"])[-1]
    return wheels[0], ""
