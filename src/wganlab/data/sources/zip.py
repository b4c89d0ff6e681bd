"""A zip of images -> one cached uint8 array (N, C, S, S): the dataset format of stylegan2-ada-pytorch.

Its `dataset_tool.py` writes `00000/img00000000.png, ...` plus a `dataset.json` of labels (which we do not
use); any zip of image files works. Members are taken in sorted name order (hidden files and `__MACOSX/`
left out) and decoded as an image folder is (`decode.decode_image`: short side resized and centre-cropped,
or padded with data.fit="pad"; transparency on white), in parallel threads. Reading a member holds a lock
(the archive has one file handle); decoding does not. The array is cached like a folder's (`cache.py`),
keyed on the zip's path, size and modification time.
"""

import io
import threading
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from wganlab.config import DataConfig
from wganlab.data import cache
from wganlab.data.decode import IMAGE_SUFFIXES, UNREADABLE, decode_all, decode_image, report_skipped
from wganlab.data.guards import check_path
from wganlab.errors import DataError

NAME = "zip"
DECODES_AT_SIZE = True
TEST_SPLIT = False


def load(config: DataConfig, *, progress: bool = True) -> np.ndarray:
    return load_zip(config, progress=progress)


def list_members(archive: zipfile.ZipFile) -> list[str]:
    """Image members of `archive`, sorted by name; folders, hidden files and macOS resource forks left out."""
    names = []
    for info in archive.infolist():
        parts = PurePosixPath(info.filename).parts
        hidden = any(part.startswith(".") or part == "__MACOSX" for part in parts)
        if not info.is_dir() and not hidden and info.filename.lower().endswith(IMAGE_SUFFIXES):
            names.append(info.filename)
    return sorted(names)


def open_zip(path: Path) -> zipfile.ZipFile:
    if path.is_dir():
        raise DataError(f"data.path={str(path)!r} is a folder; use data.source='folder' for a folder of images")
    check_path(path, "data.path", "a .zip of images")
    if not zipfile.is_zipfile(path):
        raise DataError(f"data.path={str(path)!r} is not a zip archive; data.source='zip' expects a .zip of images")
    return zipfile.ZipFile(path)


def load_zip(config: DataConfig, *, progress: bool = True) -> np.ndarray:
    """The images in the zip at config.path as uint8 (N, C, S, S), memory-mapped from the cache (built if stale).

    channels 0 means RGB, as for folders: an archive may mix grayscale and colour files.
    """
    if not config.path:
        raise DataError("data.path is empty; data.source='zip' needs a .zip of images")
    path = Path(config.path)
    channels, size, fit = config.channels or 3, config.image_size, config.fit
    with open_zip(path) as archive:
        names = list_members(archive)
        if not names:
            raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {path}")
        lock = threading.Lock()

        def read(name: str) -> io.BytesIO:
            try:
                with lock:
                    return io.BytesIO(archive.read(name))
            except (zipfile.BadZipFile, zipfile.LargeZipFile) as err:  # a damaged member: unreadable, like a file
                raise OSError(str(err)) from None

        def fill(out: np.ndarray) -> tuple[np.ndarray, dict]:
            kept, failures = decode_all(
                out,
                names,
                lambda name: decode_image(read(name), size, channels, fit),
                progress=progress,
                description=f"decoding {path.name}",
            )
            if len(kept) == 0:
                raise DataError(f"none of the {len(names)} images in {path} could be read ({failures[0][1]})")
            return kept, {"skipped": [names[index] for index, _ in failures]}

        def shape() -> tuple[int, int, int, int]:
            if size:
                return len(names), channels, size, size
            sizes: dict[tuple[int, int], str] = {}
            for name in names:
                try:
                    with Image.open(read(name)) as image:
                        sizes.setdefault(image.size, name)
                except UNREADABLE:
                    continue
            if len(sizes) != 1:
                found = ", ".join(f"{name}: {w}x{h}" for (w, h), name in list(sizes.items())[:2])
                raise DataError(
                    f"images in {path} differ in size ({found}); set data.image_size to resize them to one square size"
                    if sizes
                    else f"no readable image in {path}"
                )
            width, height = next(iter(sizes))
            return len(names), channels, height, width

        options = {"kind": "zip", "image_size": size, "channels": channels, "fit": fit}
        array, manifest = cache.load_or_build(path, config.cache_dir, options, [path], shape, fill)
    report_skipped(path, manifest.get("skipped", []), config.strict, len(names))
    return array
