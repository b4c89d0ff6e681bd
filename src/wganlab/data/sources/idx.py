"""IDX image files (MNIST, Fashion-MNIST), raw or gzipped -> uint8 arrays of shape (N, 1, H, W).

Format (LeCun's MNIST page): a big-endian header of magic number 0x00000803 (two zero bytes, dtype code
0x08 = unsigned byte, 3 dimensions), then the three dimensions as big-endian int32, then N*H*W bytes.
"""

import gzip
import os
import stat
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from wganlab.config import DataConfig
from wganlab.data.guards import check_fits, check_path
from wganlab.errors import DataError

NAME = "idx"
DECODES_AT_SIZE = False
TEST_SPLIT = True
DEFAULT_PATH = Path("/usr/share/datasets/fashion-mnist")
IMAGES_MAGIC = 0x00000803
SPLIT_PREFIX = {"train": "train-images", "test": "t10k-images"}
CHUNK_BYTES = 1 << 20


def find_idx_file(path: Path, split: str) -> Path:
    """The images file of `split` in folder `path` (or `path` itself when it is a file)."""
    found = check_path(path, "data.path", "a folder of IDX files (or one IDX file)", folder=True)
    if stat.S_ISREG(found.st_mode):
        return path
    prefix = SPLIT_PREFIX[split]
    for name in (f"{prefix}-idx3-ubyte.gz", f"{prefix}-idx3-ubyte", f"{prefix}.idx3-ubyte"):
        if (path / name).exists() or (path / name).is_symlink():
            check_path(path / name, "data.path", f"the {prefix} IDX file", folder=False)
            return path / name
    raise DataError(f"no {prefix}-idx3-ubyte(.gz) in {path}; data.source='idx' expects MNIST-style IDX files there")


def _read_exactly(handle: BinaryIO, out: memoryview) -> int:
    """Fill `out` from `handle` in chunks; the number of bytes read (fewer at the end of the stream)."""
    filled = 0
    while filled < len(out):
        count = handle.readinto(out[filled : filled + CHUNK_BYTES])
        if not count:
            break
        filled += count
    return filled


def read_idx_images(file: Path) -> np.ndarray:
    """Images of one IDX file as uint8 (N, 1, H, W); raises DataError naming the file when it is malformed.

    A gzipped file is decompressed as a stream, never past the size its header declares plus one byte, and
    that size is checked against the memory available first: a small .gz that inflates to gigabytes (a gzip
    bomb) or a header whose dimensions multiply to more than memory holds is refused before it is allocated.
    """
    check_path(file, "data.path", "an IDX images file")
    try:
        with open(file, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            handle: BinaryIO = gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[assignment]
            header = bytearray(16)
            length = _read_exactly(handle, memoryview(header))
            if length < 16:
                raise DataError(f"{file} is too short to be an IDX images file ({length} bytes)")
            magic, count, height, width = struct.unpack(">IIII", header)
            if magic != IMAGES_MAGIC:
                raise DataError(
                    f"{file} has magic number {magic:#010x}, not {IMAGES_MAGIC:#010x} (IDX uint8 images); "
                    "is it a labels file?"
                )
            if count == 0:
                raise DataError(f"{file} holds no images")
            expected = count * height * width  # Python integers: three uint32 never overflow
            declared = f"{count}x{height}x{width} = {expected}"
            if not gzipped and os.fstat(raw.fileno()).st_size - 16 != expected:
                held = os.fstat(raw.fileno()).st_size - 16
                raise DataError(
                    f"{file} holds {held} bytes of pixels but its header says {declared}; "
                    "the file is truncated or corrupt, download it again"
                )
            check_fits(expected, f"{file}'s header ({declared} bytes of pixels)", "is it a damaged or hostile file?")
            pixels = np.empty(expected, dtype=np.uint8)
            held = _read_exactly(handle, memoryview(pixels))
            if held == expected and handle.read(1):
                raise DataError(
                    f"{file} holds more pixels than its header says ({declared} bytes); "
                    "the file is corrupt (or a decompression bomb), download it again"
                )
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{file} is not a readable (gzipped) IDX file ({err}); download it again") from None
    if held != expected:
        raise DataError(
            f"{file} holds {held} bytes of pixels but its header says {declared}; "
            "the file is truncated or corrupt, download it again"
        )
    return pixels.reshape(count, 1, height, width)


def load_idx(path: str, split: str) -> np.ndarray:
    """The `split` images under `path` (empty: the Debian Fashion-MNIST location), uint8 (N, 1, 28, 28)."""
    return read_idx_images(find_idx_file(Path(path) if path else DEFAULT_PATH, split))


def load(config: DataConfig, *, progress: bool = True) -> np.ndarray:
    return load_idx(config.path, config.split)
