"""What every data source checks before it reads: what a path is, and whether a size a file declares fits in memory.

A character device (/dev/zero), a FIFO or a socket is refused by its file type (`stat`, following symbolic
links) before it is opened: reading /dev/zero never ends and opening a FIFO blocks until a writer comes.
A size a file declares (an IDX header, a .npy header, a zip member) is compared with the memory this process
may still use before anything that large is allocated, so a hostile or damaged file gets one line instead of
a MemoryError or the kernel's OOM killer.
"""

import os
import resource
import stat
from pathlib import Path

from wganlab.errors import DataError

FILE = "a regular file"
FOLDER = "a folder"


def file_kind(mode: int) -> str:
    """What a stat mode is, in words."""
    for test, kind in (
        (stat.S_ISREG, FILE),
        (stat.S_ISDIR, FOLDER),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "a special file"


def check_path(path: Path, option: str, expected: str, *, file: bool = True, folder: bool = False) -> os.stat_result:
    """stat `path`; DataError naming `option` and `expected` (what to point it at) when it is missing, cannot be
    reached, or is not a regular file (`file`) or a folder (`folder`)."""
    shown = f"{option}={str(path)!r}"
    try:
        found = os.stat(path)
    except FileNotFoundError:
        dangling = " (a symbolic link that leads nowhere)" if os.path.islink(path) else ""
        raise DataError(f"{shown} does not exist{dangling}; point it at {expected}") from None
    except OSError as err:  # a link loop (ELOOP), a path through a file (ENOTDIR), no permission (EACCES)
        raise DataError(f"{shown} cannot be reached ({err.strerror}); point it at {expected}") from None
    if (file and stat.S_ISREG(found.st_mode)) or (folder and stat.S_ISDIR(found.st_mode)):
        return found
    wanted = " or ".join(kind for kind, ok in ((FILE, file), (FOLDER, folder)) if ok)
    via = " (through a symbolic link)" if os.path.islink(path) else ""
    raise DataError(f"{shown} is {file_kind(found.st_mode)}{via}, not {wanted}; point it at {expected}")


def is_regular(path: Path) -> bool:
    """Whether `path` (links followed) is a regular file: what a folder scan keeps."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def available_memory_bytes() -> int:
    """Memory this process may still allocate: the least of MemAvailable (/proc/meminfo; elsewhere physical
    memory), the address-space limit (ulimit -v) less what is mapped, and the cgroup's memory.max less its use."""
    free = _meminfo("MemAvailable")
    if free is None:
        free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit, _ = resource.getrlimit(resource.RLIMIT_AS)
    if limit != resource.RLIM_INFINITY:
        free = min(free, max(limit - (_status("VmSize") or 0), 0))
    group = _cgroup_free()
    return free if group is None else min(free, group)


def _meminfo(key: str) -> int | None:
    return _kilobytes("/proc/meminfo", key)


def _status(key: str) -> int | None:
    return _kilobytes("/proc/self/status", key)


def _kilobytes(path: str, key: str) -> int | None:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _cgroup_free() -> int | None:
    """memory.max - memory.current of this process's cgroup (v2), or None without a limit."""
    try:
        with open("/proc/self/cgroup") as handle:
            relative = next(line.split("::", 1)[1].strip() for line in handle if line.startswith("0::"))
        folder = Path("/sys/fs/cgroup") / relative.lstrip("/")
        limit = (folder / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(int(limit) - int((folder / "memory.current").read_text()), 0)
    except (OSError, ValueError, StopIteration):
        return None


def check_fits(needed: int, what: str, remedy: str) -> None:
    """DataError when `needed` bytes exceed the memory available: "`what` needs N but M is available; `remedy`"."""
    free = available_memory_bytes()
    if needed > free:
        raise DataError(f"{what} needs {size_text(needed)} of memory but {size_text(free)} is available; {remedy}")


def size_text(count: float) -> str:
    """Bytes in words: 1.2 GB, 640.0 kB (decimal units, as the batch-size check writes them)."""
    for unit, scale in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count / 1e3:,.1f} kB"
