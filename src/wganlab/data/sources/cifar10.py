"""CIFAR-10, python version -> uint8 arrays of shape (N, 3, 32, 32).

`data.path` may be the archive `cifar-10-python.tar.gz`, its extracted folder `cifar-10-batches-py/`, or a
folder holding either. Batches are read straight from the archive (nothing is extracted), and unpickled
with an allow-list, since a pickle from a downloaded archive could otherwise run arbitrary code.
"""

import io
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from wganlab.config import DataConfig
from wganlab.data.guards import check_path
from wganlab.errors import DataError

NAME = "cifar10"
DECODES_AT_SIZE = False
TEST_SPLIT = True
ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER_NAME = "cifar-10-batches-py"
SPLIT_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
# A batch is 10,000 images of 3072 bytes plus labels and names: about 31 MB. A member declaring far more is
# damaged or hostile (a tar.gz inflating to gigabytes), and is refused before it is read into memory.
MAX_BATCH_BYTES = 64 << 20

# What a CIFAR batch pickle needs: numpy arrays (pickled by Python 2 or 3) and bytes under protocol 2.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"unexpected global {module}.{name} in a CIFAR batch")
        return super().find_class(module, name)


def _unpickle_images(raw: bytes, where: str) -> np.ndarray:
    try:
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as err:  # a corrupt pickle can raise almost anything
        raise DataError(f"{where} is not a CIFAR-10 python batch ({err}); download the archive again") from None
    data = batch.get(b"data", batch.get("data")) if isinstance(batch, dict) else None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{where} has no uint8 b'data' array of shape (N, 3072); is it a CIFAR-10 batch?")
    # Each row is 1024 red, then 1024 green, then 1024 blue values, row-major (the CIFAR-10 page).
    return data.reshape(-1, 3, 32, 32)


def _read_from_archive(archive: Path, names: list[str]) -> list[np.ndarray]:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [name for name in names if name not in members]
            if missing:
                raise DataError(f"{archive} lacks {', '.join(missing)}; is it cifar-10-python.tar.gz?")
            arrays = []
            for name in names:
                _check_batch_size(members[name].size, f"{archive}:{name}")
                handle = tar.extractfile(members[name])
                assert handle is not None  # regular files always extract
                arrays.append(_unpickle_images(handle.read(), f"{archive}:{name}"))
            return arrays
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"{archive} is not a readable tar archive ({err}); download it again") from None


def _read_from_folder(folder: Path, names: list[str]) -> list[np.ndarray]:
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder} lacks {', '.join(missing)}; expected the extracted {FOLDER_NAME}/ folder")
    arrays = []
    for name in names:
        _check_batch_size((folder / name).stat().st_size, str(folder / name))
        arrays.append(_unpickle_images((folder / name).read_bytes(), str(folder / name)))
    return arrays


def _check_batch_size(size: int, where: str) -> None:
    if size > MAX_BATCH_BYTES:
        raise DataError(
            f"{where} is {size:,} bytes, but a CIFAR-10 batch is about 31 MB; the file is damaged or not "
            "CIFAR-10, download it again"
        )


def load_cifar10(path: str, split: str) -> np.ndarray:
    """The `split` images of CIFAR-10 at `path`, uint8 (N, 3, 32, 32)."""
    if not path:
        raise DataError(f"data.path is empty; set it to {ARCHIVE_NAME} or its extracted {FOLDER_NAME}/ folder")
    root = Path(path)
    names = SPLIT_BATCHES[split]
    check_path(root, "data.path", f"{ARCHIVE_NAME} or its extracted {FOLDER_NAME}/ folder", folder=True)
    if root.is_file():
        arrays = _read_from_archive(root, names)
    elif (root / names[0]).is_file():
        arrays = _read_from_folder(root, names)
    elif (root / FOLDER_NAME).is_dir():
        arrays = _read_from_folder(root / FOLDER_NAME, names)
    elif (root / ARCHIVE_NAME).is_file():
        arrays = _read_from_archive(root / ARCHIVE_NAME, names)
    elif root.exists():
        raise DataError(f"data.path={path!r} holds neither {ARCHIVE_NAME} nor {FOLDER_NAME}/ nor CIFAR batches")
    else:
        raise DataError(f"data.path={path!r} does not exist; point it at {ARCHIVE_NAME} or {FOLDER_NAME}/")
    return np.concatenate(arrays) if len(arrays) > 1 else arrays[0]


def load(config: DataConfig, *, progress: bool = True) -> np.ndarray:
    return load_cifar10(config.path, config.split)
