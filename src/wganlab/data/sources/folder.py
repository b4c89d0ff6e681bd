"""A folder of images (searched recursively) -> one cached uint8 array of shape (N, C, size, size).

Each image is decoded once, in parallel threads (Pillow releases the GIL while decoding and resampling),
resized so its short side is `size` and centre-cropped (or, with fit="pad", resized so its long side is
`size` and padded), then stored by `cache.py`; later runs memory-map the cache. Unreadable files are
skipped with one warning naming the first few (or raise DataError under data.strict). Pillow's
decompression-bomb guard stays on: an image over its pixel limit counts as unreadable.
"""

from pathlib import Path

import numpy as np
from PIL import Image

from wganlab.config import DataConfig
from wganlab.data import cache
from wganlab.data.decode import (
    IMAGE_SUFFIXES,
    UNREADABLE,
    decode_all,
    decode_image,
    list_image_files,
    report_skipped,
    report_special,
    special_reason,
)
from wganlab.errors import DataError

NAME = "folder"
DECODES_AT_SIZE = True
TEST_SPLIT = False


def load(config: DataConfig, *, progress: bool = True) -> np.ndarray:
    return load_folder(config, progress=progress)


def native_size(files: list[Path], root: Path) -> tuple[int, int]:
    """(width, height) shared by every readable file (image_size 0), or DataError naming two that differ."""
    sizes: dict[tuple[int, int], str] = {}
    for file in files:
        try:
            with Image.open(file) as image:
                sizes.setdefault(image.size, file.relative_to(root).as_posix())
        except UNREADABLE:
            continue
    if len(sizes) > 1:
        (a, name_a), (b, name_b) = list(sizes.items())[:2]
        raise DataError(
            f"images in {root} differ in size ({name_a}: {a[0]}x{a[1]}, {name_b}: {b[0]}x{b[1]}); "
            "set data.image_size to resize them to one square size"
        )
    if not sizes:
        raise DataError(f"no readable image in {root}")
    return next(iter(sizes))


def load_folder(config: DataConfig, *, progress: bool = True) -> np.ndarray:
    """The images under config.path as uint8 (N, C, S, S), memory-mapped from the cache (built if stale).

    channels 0 means RGB here: a folder may mix grayscale and colour files, so there is no one native count.
    """
    if not config.path:
        raise DataError("data.path is empty; data.source='folder' needs a folder of images")
    root = Path(config.path)
    files, special = list_image_files(root)
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {root}")
    if special and config.strict:
        report_special(root, special, True, len(files) + len(special))
    channels, size, fit = config.channels or 3, config.image_size, config.fit
    names = [file.relative_to(root).as_posix() for file in files]

    def fill(out: np.ndarray) -> tuple[np.ndarray, dict]:
        kept, failures = decode_all(
            out,
            files,
            lambda file: decode_image(file, size, channels, fit),
            progress=progress,
            description=f"decoding {root.name}",
        )
        if len(kept) == 0:
            raise DataError(f"none of the {len(files)} images under {root} could be read ({failures[0][1]})")
        return kept, {"skipped": [names[index] for index, _ in failures], "reasons": [why for _, why in failures]}

    options = {"kind": "folder", "image_size": size, "channels": channels, "fit": fit}

    def shape() -> tuple[int, int, int, int]:
        width, height = (size, size) if size else native_size(files, root)
        return len(files), channels, height, width

    array, manifest = cache.load_or_build(root, config.cache_dir, options, files, shape, fill)
    skipped = [*manifest.get("skipped", []), *(file.relative_to(root).as_posix() for file in special)]
    reasons = manifest.get("reasons")
    if reasons is not None:
        reasons = [*reasons, *map(special_reason, special)]
    report_skipped(root, skipped, config.strict, len(files) + len(special), reasons)
    return array
