"""CIFAR-10 python batches, from the archive or the extracted folder, built tiny in the same format."""

import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from wganlab.config import DataConfig
from wganlab.data.images import load_image_array
from wganlab.data.sources.cifar10 import load_cifar10
from wganlab.errors import DataError

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def batch_rows(name: str) -> np.ndarray:
    """Two rows (three for test_batch) of 3072 bytes, different in every batch."""
    seed = BATCHES.index(name)
    return np.random.default_rng(seed).integers(0, 256, (3 if name == "test_batch" else 2, 3072), dtype=np.uint8)


def write_folder(root: Path, batches: dict[str, bytes] | None = None) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in BATCHES:
        payload = {
            b"batch_label": name.encode(),
            b"labels": [0] * len(batch_rows(name)),
            b"data": batch_rows(name),
        }
        (folder / name).write_bytes((batches or {}).get(name, pickle.dumps(payload, protocol=2)))
    return folder


def write_archive(root: Path, folder: Path) -> Path:
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return archive


def test_rows_become_channel_planes(tmp_path):
    images = load_cifar10(str(write_folder(tmp_path)), "train")
    assert (images.shape, images.dtype) == ((10, 3, 32, 32), np.uint8)
    rows = np.concatenate([batch_rows(f"data_batch_{i}") for i in range(1, 6)])
    # Row layout (CIFAR-10 page): 1024 red, 1024 green, 1024 blue values, each plane row-major.
    assert images[3, 1, 5, 7] == rows[3, 1024 + 5 * 32 + 7]
    np.testing.assert_array_equal(images.reshape(10, -1), rows)


def test_archive_folder_and_parent_agree(tmp_path):
    folder = write_folder(tmp_path)
    archive = write_archive(tmp_path, folder)
    expected = load_cifar10(str(folder), "test")
    assert expected.shape == (3, 3, 32, 32)
    for path in (archive, tmp_path):
        np.testing.assert_array_equal(load_cifar10(str(path), "test"), expected)


def test_archive_only_parent_is_found(tmp_path):
    folder = write_folder(tmp_path / "build")
    archive = write_archive(tmp_path, folder)
    np.testing.assert_array_equal(load_cifar10(str(archive.parent), "train"), load_cifar10(str(folder), "train"))


def test_grayscale_resized_through_load_image_array(tmp_path):
    config = DataConfig(source="cifar10", path=str(write_folder(tmp_path)), image_size=16, channels=1)
    assert load_image_array(config).shape == (10, 1, 16, 16)


def test_missing_batch_is_named(tmp_path):
    folder = write_folder(tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match="lacks data_batch_3"):
        load_cifar10(str(folder), "train")
    with pytest.raises(DataError, match="lacks data_batch_3"):
        load_cifar10(str(write_archive(tmp_path, folder)), "train")


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    folder = write_folder(tmp_path, {"test_batch": pickle.dumps({b"data": Exploit()}, protocol=2)})
    with pytest.raises(DataError, match="test_batch is not a CIFAR-10 python batch"):
        load_cifar10(str(folder), "test")


def test_wrong_data_shape_is_refused(tmp_path):
    bad = pickle.dumps({b"data": np.zeros((2, 100), np.uint8)}, protocol=2)
    folder = write_folder(tmp_path, {"test_batch": bad})
    with pytest.raises(DataError, match=r"no uint8 b'data' array of shape \(N, 3072\)"):
        load_cifar10(str(folder), "test")


def test_corrupt_archive_is_named(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"\x1f\x8b" + bytes(100))
    with pytest.raises(DataError, match="cifar-10-python.tar.gz is not a readable tar archive"):
        load_cifar10(str(archive), "train")


def test_folder_without_cifar(tmp_path):
    with pytest.raises(DataError, match="holds neither"):
        load_cifar10(str(tmp_path), "train")


def test_resume_and_seed_on_cifar(tmp_path, resume_check, seed_check, make_batches):
    archive = write_archive(tmp_path, write_folder(tmp_path / "build"))
    images = load_image_array(DataConfig(source="cifar10", path=str(archive)))
    resume_check(make_batches(images, flip=True), batch_size=3)
    seed_check(make_batches(images), batch_size=3)


def test_protocol_4_pickles_load_too(tmp_path):
    rows = batch_rows("test_batch")
    folder = write_folder(tmp_path, {"test_batch": pickle.dumps({b"data": rows}, protocol=4)})
    np.testing.assert_array_equal(load_cifar10(str(folder), "test").reshape(3, -1), rows)
