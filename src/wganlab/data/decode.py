"""Decoding image files into uint8 (C, size, size) arrays, shared by the folder, masked_folder and zip sources:
finding image files, making them square (crop or pad), flattening transparency, decoding many in parallel threads
(Pillow releases the GIL while decoding and resampling) and one warning for the unreadable ones (or DataError under
data.strict). Pillow's decompression-bomb guard stays on: an image over its pixel limit counts as unreadable.
"""

import itertools
import os
import queue
import signal
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

from wganlab.data.guards import check_path, file_kind, is_regular
from wganlab.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")


def list_image_files(root: Path, option: str = "data.path") -> tuple[list[Path], list[Path]]:
    """(image files, special files) under `root`, recursively, each sorted by relative path; hidden folders (the
    cache) skipped.

    `option` names where `root` came from in messages (data.path, or prepare's SOURCE). A symbolic link that
    leads nowhere (dangling, or a loop) is refused with its name: it is a file the user expects to be there.
    An image name on something that is not a regular file (a FIFO, a device, a socket, or a link to one) is never
    opened, since opening a FIFO blocks until a writer comes and reading a device may never end: it comes back
    among the special files, for the caller to report like an unreadable image.
    """
    if root.is_file():
        raise DataError(f"{option}={str(root)!r} is a file; it must be a folder of images")
    check_path(root, option, "a folder of images", file=False, folder=True)
    candidates = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        candidates += [Path(folder) / name for name in names if name.lower().endswith(IMAGE_SUFFIXES)]
    candidates.sort(key=lambda file: file.relative_to(root).as_posix())
    broken = [file for file in candidates if file.is_symlink() and not _resolves(file)]
    if broken:
        names = ", ".join(f"{file.relative_to(root).as_posix()} -> {os.readlink(file)}" for file in broken[:3])
        raise DataError(
            f"{len(broken)} symbolic link(s) under {option}={str(root)!r} lead to no file (dangling or a loop): "
            f"{names}{', ...' if len(broken) > 3 else ''}; fix or remove them"
        )
    files = [file for file in candidates if is_regular(file)]
    special = [file for file in candidates if not is_regular(file)]
    return files, special


def special_reason(file: Path) -> str:
    """Why a special file was not read, for report_skipped: "a FIFO (named pipe), not a regular file"."""
    try:
        kind = file_kind(os.stat(file).st_mode)
    except OSError as err:
        kind = f"unreachable ({err.strerror})"
    return f"{kind}, not a regular file"


def _resolves(link: Path) -> bool:
    try:
        return link.stat().st_size >= 0  # follows the link; a loop raises ELOOP, a dangling link ENOENT
    except OSError:
        return False


def flatten_alpha(image: Image.Image, background: int = 255) -> Image.Image:
    """Transparent pixels become `background` (white by default) instead of whatever colour they hide."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (background,) * 3 + (255,))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image


def fit_square(image: Image.Image, size: int, fit: str = "crop", fill: int = 0) -> Image.Image:
    """Resize (Lanczos, antialiased) to size x size: short side + centre crop, or long side + pad."""
    width, height = image.size
    if (width, height) == (size, size):
        return image
    if fit == "crop":
        scale = size / min(width, height)
        new = (max(size, round(width * scale)), max(size, round(height * scale)))
        resized = image.resize(new, Image.Resampling.LANCZOS)
        left, top = (new[0] - size) // 2, (new[1] - size) // 2
        return resized.crop((left, top, left + size, top + size))
    colour = fill if image.mode == "L" else (fill,) * len(image.getbands())
    return ImageOps.pad(image, (size, size), Image.Resampling.LANCZOS, color=colour)


def to_chw(image: Image.Image, channels: int) -> np.ndarray:
    """uint8 (C, H, W) with C = 1 (ITU-R 601-2 luma, Pillow's "L") or 3 (RGB)."""
    pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def to_8_bits(image: Image.Image) -> Image.Image:
    """16-bit grayscale (Pillow's "I;16*", or "I" from a PNG) scaled to 8 bits, v -> round(v / 257), so 65535
    becomes 255; Pillow's own convert("L") clips every value above 255 to white. Other modes pass through
    (Pillow already reads 16-bit RGB and RGBA PNGs as 8 bits per channel)."""
    if not (image.mode.startswith("I;16") or (image.mode == "I" and image.format == "PNG")):
        return image
    wide = np.asarray(image).astype(np.int64)
    return Image.fromarray(((np.clip(wide, 0, 65535) + 128) // 257).astype(np.uint8), mode="L")


def decode_image(path: Path, size: int, channels: int, fit: str = "crop") -> np.ndarray:
    """One image file -> uint8 (C, size, size); size 0 keeps its native size. Raises on unreadable files."""
    with Image.open(path) as image:
        if size and image.format == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers `size` on both sides.
            image.draft("L" if channels == 1 else "RGB", (size, size))
        image.load()
        image = flatten_alpha(to_8_bits(image))
        image = image.convert("L" if channels == 1 else "RGB")
        if size:
            image = fit_square(image, size, fit)
        return to_chw(image, channels)


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def start_daemons(target: Callable[[], None], count: int, name: str) -> None:
    """Start `count` daemon threads running `target` with SIGINT and SIGTERM blocked in them.

    The kernel hands a process's SIGINT or SIGTERM to any one of its threads that does not block it, and Python
    runs the handler in the main thread only. A thread inherits the signal mask of the thread that starts it, so
    the mask is set around the starts and put back: the signals then reach the main thread, whose wait they
    interrupt, and one that arrives meanwhile waits (blocked, not lost) until the mask is put back."""
    saved = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        for number in range(count):
            threading.Thread(target=target, name=f"{name}-{number}", daemon=True).start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved)


def next_result(done: queue.SimpleQueue, poll: float = 0.1):
    """done.get(), waking every `poll` seconds, so that a signal that reached another thread (a library's native
    thread, which does not block it) still stops the wait within `poll`."""
    while True:
        try:
            return done.get(timeout=poll)
        except queue.Empty:
            continue


# Pillow raises these for truncated, corrupt or over-large files; anything else is a bug worth seeing.
UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def decode_all(
    out: np.ndarray | None,
    items: Sequence[object],
    decode: Callable[[object], np.ndarray],
    *,
    progress: bool,
    description: str,
    workers: int | None = None,
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Fill out[i] = decode(items[i]) in parallel; returns (filled row indices, [(index, reason)] failed).

    With `out` None the results are dropped (`decode` does its own writing). Ctrl-C or SIGTERM (raised in the
    main thread, which waits here) stops it at once: no item starts after it, and a decode under way is
    abandoned, since the workers are daemon threads that neither this function nor the interpreter's exit
    waits for (a ThreadPoolExecutor joins every worker, so one stuck read would hold the exit forever).
    """

    def task(index: int) -> str | None:
        try:
            result = decode(items[index])
            if out is not None:
                out[index] = result
        except UNREADABLE as err:
            return f"{type(err).__name__}: {err}"
        return None

    counter = itertools.count()  # next() on it is atomic under the GIL: each index goes to one worker
    stop = threading.Event()
    done: queue.SimpleQueue = queue.SimpleQueue()

    def work() -> None:
        while not stop.is_set() and (index := next(counter)) < len(items):
            try:
                done.put((index, task(index), None))
            except BaseException as err:  # a bug in `decode`: raised again in the main thread
                done.put((index, None, err))
                return

    count = min(workers or os.cpu_count() or 1, max(len(items), 1))
    start_daemons(work, count, "wganlab-decode")
    failures = []
    try:
        with tqdm(total=len(items), desc=description, disable=not progress) as bar:
            for _ in range(len(items)):
                index, reason, error = next_result(done)
                if error is not None:
                    raise error
                if reason is not None:
                    failures.append((index, reason))
                bar.update()
    finally:
        stop.set()
    failures.sort()
    failed = {index for index, _ in failures}
    kept = np.array([i for i in range(len(items)) if i not in failed], dtype=np.int64)
    return kept, failures


def report_skipped(
    root: Path, skipped: list[str], strict: bool, total: int, reasons: list[str] | None = None, *, how: str = ""
) -> None:
    """Warn once about skipped files, naming the first few (with why, when `reasons` are known); under strict,
    refuse instead. `how`: what lets the user skip them instead (data.strict=false by default)."""
    if not skipped:
        return
    known = reasons is not None and len(reasons) == len(skipped)
    shown = [f"{name} ({_short(why)})" for name, why in zip(skipped, reasons, strict=True)] if known else skipped
    names = ", ".join(shown[:5]) + (", ..." if len(skipped) > 5 else "")
    if strict:
        raise DataError(
            f"{len(skipped)} of {total} images in {root} are unreadable: {names}; "
            f"remove them or {how or 'set data.strict=false'} to skip them"
        )
    warnings.warn(f"skipped {len(skipped)} of {total} unreadable images in {root}: {names}", stacklevel=3)


def _short(reason: str, limit: int = 100) -> str:
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."


def report_special(root: Path, special: list[Path], strict: bool, total: int) -> None:
    """report_skipped for special files alone (under data.strict they are refused before anything is decoded)."""
    names = [file.relative_to(root).as_posix() for file in special]
    report_skipped(root, names, strict, total, [special_reason(file) for file in special])
