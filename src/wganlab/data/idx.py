"""IDX image files (MNIST, Fashion-MNIST), raw or gzipped -> uint8 arrays of shape (N, 1, H, W).

Format (LeCun's MNIST page): a big-endian header of magic number 0x00000803 (two zero bytes, dtype code
0x08 = unsigned byte, 3 dimensions), then the three dimensions as big-endian int32, then N*H*W bytes.
"""

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from wganlab.errors import DataError

DEFAULT_PATH = Path("/usr/share/datasets/fashion-mnist")
IMAGES_MAGIC = 0x00000803
SPLIT_PREFIX = {"train": "train-images", "test": "t10k-images"}


def find_idx_file(path: Path, split: str) -> Path:
    """The images file of `split` in folder `path` (or `path` itself when it is a file)."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise DataError(f"data.path={str(path)!r} does not exist; point it at a folder of IDX files")
    prefix = SPLIT_PREFIX[split]
    for name in (f"{prefix}-idx3-ubyte.gz", f"{prefix}-idx3-ubyte", f"{prefix}.idx3-ubyte"):
        if (path / name).is_file():
            return path / name
    raise DataError(f"no {prefix}-idx3-ubyte(.gz) in {path}; data.source='idx' expects MNIST-style IDX files there")


def _read_bytes(file: Path) -> bytes:
    try:
        raw = file.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{file} is not a readable (gzipped) IDX file ({err}); download it again") from None


def read_idx_images(file: Path) -> np.ndarray:
    """Images of one IDX file as uint8 (N, 1, H, W); raises DataError naming the file when it is malformed."""
    payload = _read_bytes(file)
    if len(payload) < 16:
        raise DataError(f"{file} is too short to be an IDX images file ({len(payload)} bytes)")
    magic, count, height, width = struct.unpack(">IIII", payload[:16])
    if magic != IMAGES_MAGIC:
        raise DataError(
            f"{file} has magic number {magic:#010x}, not {IMAGES_MAGIC:#010x} (IDX uint8 images); is it a labels file?"
        )
    expected = count * height * width
    if len(payload) - 16 != expected:
        raise DataError(
            f"{file} holds {len(payload) - 16} bytes of pixels but its header says "
            f"{count}x{height}x{width} = {expected}; the file is truncated or corrupt, download it again"
        )
    if count == 0:
        raise DataError(f"{file} holds no images")
    return np.frombuffer(payload, dtype=np.uint8, offset=16).reshape(count, 1, height, width)


def load_idx(path: str, split: str) -> np.ndarray:
    """The `split` images under `path` (empty: the Debian Fashion-MNIST location), uint8 (N, 1, 28, 28)."""
    return read_idx_images(find_idx_file(Path(path) if path else DEFAULT_PATH, split))
