"""Images stored as a NumPy array: a `.npy` file, or one array of a `.npz` -> uint8 (N, C, H, W).

Layouts: (N, H, W) grayscale, (N, H, W, C) (NumPy, TensorFlow and Keras order) or (N, C, H, W) (torch order),
C in {1, 3}. When both the second and the last axis could be channels, (N, H, W, C) is assumed. Values must be
uint8 (0..255): a float array's range (0..1 or -1..1) cannot be guessed, so it is refused with the conversion
to use. A `.npz` with several arrays gives the one named after data.split (`x_train`/`train`, `x_test`/`test`:
Keras' mnist.npz works as it is), else the one called `images`; one array alone is used whatever its name.
A `.npy` already in (N, C, H, W) order is memory-mapped, never copied.
"""

import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from wganlab.config import DataConfig
from wganlab.data.guards import check_fits, check_path
from wganlab.errors import DataError

NAME = "array"
DECODES_AT_SIZE = False
TEST_SPLIT = False
SUFFIXES = (".npy", ".npz")


def choose_key(keys: list[str], split: str, path: Path) -> str:
    """The array of a .npz to use (see the module docstring); DataError naming the keys when none fits."""
    if len(keys) == 1:
        return keys[0]
    for key in (f"x_{split}", split, f"{split}_images", "images"):
        if key in keys:
            return key
    raise DataError(
        f"{path} holds arrays {', '.join(sorted(keys))}; none is named x_{split}, {split} or images "
        "(save the images alone with np.save, or under one of those names)"
    )


def to_nchw(array: np.ndarray, path: Path) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) with C in {1, 3} -> (N, C, H, W)."""
    if array.ndim == 3:
        return array[:, None]
    if array.ndim == 4 and array.shape[3] in (1, 3):
        check_fits(array.nbytes, f"{path}'s array of shape {array.shape} in torch order", "save it smaller")
        return np.ascontiguousarray(array.transpose(0, 3, 1, 2))
    if array.ndim == 4 and array.shape[1] in (1, 3):
        return array
    raise DataError(
        f"{path} holds an array of shape {array.shape}; expected images as (N, H, W), (N, H, W, C) or (N, C, H, W) "
        "with C = 1 or 3"
    )


def check_member(archive: Any, key: str, path: Path) -> None:
    """Read the .npy header of `key` in an open .npz and refuse, before it is decompressed, an array that is
    not uint8 or whose declared shape would not fit in memory (a zip bomb inside an .npz)."""
    names = archive.zip.namelist()
    with archive.zip.open(key if key in names else f"{key}.npy") as handle:
        version = np.lib.format.read_magic(handle)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(handle)
    if dtype != np.uint8:
        raise DataError(
            f"{path} holds {dtype} values; data.source='array' takes uint8 images 0..255: convert them first, "
            "e.g. (x * 255).round().astype(np.uint8) for x in [0, 1]"
        )
    check_fits(math.prod(shape), f"{path}:{key} (declared shape {tuple(shape)})", "is it a damaged or hostile file?")


def load(config: DataConfig, *, progress: bool = True) -> np.ndarray:
    return load_array(config)


def load_array(config: DataConfig) -> np.ndarray:
    """uint8 (N, C, H, W) from the .npy or .npz at config.path."""
    if not config.path:
        raise DataError("data.path is empty; data.source='array' needs a .npy or .npz file of uint8 images")
    path = Path(config.path)
    expected = "a .npy or .npz file of uint8 images"
    if os.path.lexists(path):
        check_path(path, "data.path", expected)  # a device, a FIFO or a folder is named as what it is
    if path.suffix not in SUFFIXES:
        raise DataError(f"data.path={str(path)!r} must end in .npy or .npz for data.source='array'")
    check_path(path, "data.path", expected)
    try:
        if path.suffix == ".npy":
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as archive:
                key = choose_key(list(archive.files), config.split, path)
                check_member(archive, key, path)
                array = archive[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path} does not load as a NumPy array file ({type(err).__name__}: {err})") from None
    if array.dtype != np.uint8:
        raise DataError(
            f"{path} holds {array.dtype} values; data.source='array' takes uint8 images 0..255: convert them first, "
            "e.g. (x * 255).round().astype(np.uint8) for x in [0, 1]"
        )
    images = to_nchw(array, path)
    if len(images) == 0:
        raise DataError(f"{path} holds no images (its array has length 0)")
    return images
