"""Images as NumPy arrays (.npy, .npz): layouts, the array a .npz gives, uint8 only, memory mapping."""

import numpy as np
import pytest

from wganlab.config import DataConfig
from wganlab.data.images import convert_channels, load_image_array, resize_array
from wganlab.errors import DataError


def pixels(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def load(path, **kwargs) -> np.ndarray:
    return load_image_array(DataConfig(source="array", path=str(path), **kwargs), progress=False)


def test_layouts_become_nchw(tmp_path):
    nhwc = pixels(4, 8, 10, 3)
    np.save(tmp_path / "nhwc.npy", nhwc)
    images = load(tmp_path / "nhwc.npy")
    assert images.shape == (4, 3, 8, 10)
    assert images[2, 1, 5, 7] == nhwc[2, 5, 7, 1]  # (n, c, h, w) <- (n, h, w, c), element by element
    gray = pixels(5, 8, 8)
    np.save(tmp_path / "gray.npy", gray)
    np.testing.assert_array_equal(load(tmp_path / "gray.npy"), gray[:, None])
    nchw = pixels(3, 1, 9, 9)
    np.save(tmp_path / "nchw.npy", nchw)
    mapped = load(tmp_path / "nchw.npy")
    assert isinstance(mapped, np.memmap)  # torch order is served from the file, never copied
    np.testing.assert_array_equal(mapped, nchw)


def test_resize_and_channels_as_for_idx(tmp_path):
    gray = pixels(3, 8, 8)
    np.save(tmp_path / "gray.npy", gray)
    images = load(tmp_path / "gray.npy", image_size=16, channels=3)
    np.testing.assert_array_equal(images, convert_channels(resize_array(gray[:, None], 16), 3))
    assert images.shape == (3, 3, 16, 16)


def test_npz_gives_the_split_or_the_only_array(tmp_path):
    train, test = pixels(6, 8, 8, seed=1), pixels(2, 8, 8, seed=2)
    np.savez(tmp_path / "mnist.npz", x_train=train, y_train=np.zeros(6), x_test=test, y_test=np.zeros(2))
    np.testing.assert_array_equal(load(tmp_path / "mnist.npz"), train[:, None])
    np.testing.assert_array_equal(load(tmp_path / "mnist.npz", split="test"), test[:, None])
    np.savez(tmp_path / "one.npz", anything=test)
    np.testing.assert_array_equal(load(tmp_path / "one.npz", split="train"), test[:, None])
    np.savez(tmp_path / "named.npz", images=train, labels=np.zeros(6))
    np.testing.assert_array_equal(load(tmp_path / "named.npz"), train[:, None])
    np.savez(tmp_path / "other.npz", a=train, b=test)
    with pytest.raises(DataError, match="holds arrays a, b; none is named x_train, train or images"):
        load(tmp_path / "other.npz")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.zeros((2, 8, 8), np.float32), "holds float32 values; data.source='array' takes uint8 images 0..255"),
        (np.zeros((2, 8, 8, 5), np.uint8), r"shape \(2, 8, 8, 5\); expected images"),
        (np.zeros((8, 8), np.uint8), r"shape \(8, 8\)"),
        (np.zeros((0, 8, 8), np.uint8), "holds no images"),
        (np.array([{"not": "images"}], dtype=object), "does not load as a NumPy array file"),
    ],
)
def test_arrays_that_are_not_uint8_images_are_refused(tmp_path, content, message):
    np.save(tmp_path / "bad.npy", content, allow_pickle=True)
    with pytest.raises(DataError, match=message):
        load(tmp_path / "bad.npy")


def test_paths_that_are_not_arrays(tmp_path):
    with pytest.raises(DataError, match="must end in .npy or .npz"):
        load(tmp_path / "images.png")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="does not load as a NumPy array file"):
        load(tmp_path / "broken.npz")
    with pytest.raises(DataError, match="data.path is empty"):
        load("")


def test_resume_and_seed_on_an_array(tmp_path, resume_check, seed_check, make_batches):
    np.save(tmp_path / "set.npy", pixels(7, 1, 8, 8))
    images = load(tmp_path / "set.npy")
    resume_check(make_batches(images), batch_size=3)
    seed_check(make_batches(images), batch_size=3)
