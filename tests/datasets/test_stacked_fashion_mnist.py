"""`wganlab datasets get stacked-fashion-mnist`: three independent Fashion-MNIST images as R, G, B; same seed, same
bytes; a run reads it as data.source=array."""

import json
from pathlib import Path

import numpy as np
import pytest

from wganlab.cli import main
from wganlab.config import DataConfig
from wganlab.data.sources.array import load_array
from wganlab.data.sources.idx import load_idx
from wganlab.datasets.stacked_fashion_mnist import stack_channels
from wganlab.metrics.classifier import load_fashion_labels

needs_fashion = pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(),
    reason="Fashion-MNIST not installed (apt install dataset-fashion-mnist)",
)


def test_each_channel_is_the_image_its_pick_names():
    images = np.arange(5, dtype=np.uint8)[:, None, None, None] * np.ones((1, 1, 2, 2), np.uint8)  # image k is all k
    labels = np.array([10, 11, 12, 13, 14], dtype=np.uint8)
    stacked, stacked_labels = stack_channels(images, labels, count=4, seed=7)
    picks = np.random.default_rng(7).integers(0, 5, size=(4, 3))
    assert stacked.shape == (4, 3, 2, 2) and stacked.dtype == np.uint8
    assert (stacked == picks[:, :, None, None]).all()
    assert (stacked_labels == picks + 10).all()


@needs_fashion
def test_the_same_seed_gives_the_same_bytes_and_the_channels_are_fashion_mnist(tmp_path, capsys):
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((first, "3"), (second, "3"), (other, "4")):
        command = ["datasets", "get", "stacked-fashion-mnist", "--out", str(out), "--count", "300", "--split", "test"]
        assert main([*command, "--seed", seed]) == 0
    assert (first / "stacked.npz").read_bytes() == (second / "stacked.npz").read_bytes()
    assert (first / "stacked.npz").read_bytes() != (other / "stacked.npz").read_bytes()
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"wrote {other} (300 images, ")

    with np.load(first / "stacked.npz") as archive:
        images, labels = archive["images"], archive["labels"]
    assert images.shape == (300, 3, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (300, 3) and labels.dtype == np.uint8
    picks = np.random.default_rng(3).integers(0, 10_000, size=(300, 3))
    assert (images == load_idx("", "test")[picks, 0]).all()
    assert (labels == load_fashion_labels("", "test")[picks]).all()

    manifest = json.loads((first / "dataset.json").read_text())
    assert {key: manifest[key] for key in ("name", "count", "size", "channels", "seed", "split", "modes")} == {
        "name": "stacked-fashion-mnist", "count": 300, "size": [28, 28], "channels": 3, "seed": 3, "split": "test",
        "modes": 1000,
    }  # fmt: skip
    # What a run reads (data.source=array data.path=DIR/stacked.npz): the images array, in (N, C, H, W).
    assert (load_array(DataConfig(source="array", path=str(first / "stacked.npz"))) == images).all()
