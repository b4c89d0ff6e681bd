"""IDX files (MNIST, Fashion-MNIST): parsing, split lookup, malformed files, the real Fashion-MNIST."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from wganlab.config import DataConfig
from wganlab.data.images import ImageBatches, load_image_array
from wganlab.data.sources.idx import load_idx, read_idx_images
from wganlab.errors import DataError

FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST not installed (apt install dataset-fashion-mnist)",
)


def idx_bytes(images: np.ndarray, magic: int = 0x00000803) -> bytes:
    return struct.pack(">IIII", magic, *images.shape) + images.tobytes()


def pixels(count: int = 7, height: int = 5, width: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, height, width), dtype=np.uint8)


def write_split(folder: Path, split_prefix: str, images: np.ndarray, gzipped: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{split_prefix}-images-idx3-ubyte" + (".gz" if gzipped else "")
    payload = idx_bytes(images)
    (folder / name).write_bytes(gzip.compress(payload) if gzipped else payload)
    return folder / name


@pytest.mark.parametrize("gzipped", [True, False])
def test_reads_raw_and_gzipped_files(tmp_path, gzipped):
    images = pixels()
    file = write_split(tmp_path, "train", images, gzipped)
    np.testing.assert_array_equal(read_idx_images(file), images[:, None])


def test_split_picks_the_file(tmp_path):
    train, test = pixels(seed=1), pixels(count=3, seed=2)
    write_split(tmp_path, "train", train)
    write_split(tmp_path, "t10k", test, gzipped=False)
    np.testing.assert_array_equal(load_idx(str(tmp_path), "train"), train[:, None])
    np.testing.assert_array_equal(load_idx(str(tmp_path), "test"), test[:, None])


def test_load_image_array_resizes_and_repeats_channels(tmp_path):
    write_split(tmp_path, "train", pixels())
    config = DataConfig(source="idx", path=str(tmp_path), image_size=16, channels=3)
    images = load_image_array(config)
    assert (images.shape, images.dtype) == ((7, 3, 16, 16), np.uint8)
    np.testing.assert_array_equal(images[:, 0], images[:, 2])


def test_wrong_magic_names_the_file(tmp_path):
    labels = tmp_path / "train-labels-idx1-ubyte"
    labels.write_bytes(idx_bytes(pixels(), magic=0x00000801))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte has magic number 0x00000801"):
        read_idx_images(labels)


def test_truncated_payload_names_the_file(tmp_path):
    file = tmp_path / "train-images-idx3-ubyte"
    file.write_bytes(idx_bytes(pixels())[:-10])
    with pytest.raises(DataError, match="train-images-idx3-ubyte holds 200 bytes .* 7x5x6 = 210"):
        read_idx_images(file)


def test_truncated_gzip_names_the_file(tmp_path):
    file = tmp_path / "train-images-idx3-ubyte.gz"
    file.write_bytes(gzip.compress(idx_bytes(pixels(count=50)))[:-30])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz is not a readable"):
        read_idx_images(file)


def test_folder_without_idx_files(tmp_path):
    with pytest.raises(DataError, match="no train-images-idx3-ubyte"):
        load_idx(str(tmp_path), "train")


def test_resume_and_seed_on_idx(tmp_path, resume_check, seed_check, make_batches):
    write_split(tmp_path, "train", pixels(count=11))
    images = load_image_array(DataConfig(source="idx", path=str(tmp_path)))
    resume_check(make_batches(images, flip=True), batch_size=4)
    seed_check(make_batches(images), batch_size=4)


@needs_fashion
def test_fashion_mnist_test_split():
    images = load_image_array(DataConfig(source="idx", split="test"))
    assert (images.shape, images.dtype) == ((10000, 1, 28, 28), np.uint8)
    assert (int(images.min()), int(images.max())) == (0, 255)


@needs_fashion
def test_fashion_mnist_at_32_resumes_exactly(resume_check, make_batches):
    images = load_image_array(DataConfig(source="idx", split="test", image_size=32, channels=1))
    assert images.shape == (10000, 1, 32, 32)
    batch = ImageBatches(images, device=torch.device("cpu"), rng=torch.Generator().manual_seed(0)).next_batch(64)
    assert (batch.shape, batch.dtype) == ((64, 1, 32, 32), torch.float32)
    torch.testing.assert_close(batch.clamp(-1, 1), batch, rtol=0, atol=0)
    resume_check(make_batches(images, flip=True), batch_size=64)
