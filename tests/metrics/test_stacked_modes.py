"""modes_stacked: the mode id of each image from its three channels' classes, the counts, and KL to uniform."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.testing import assert_close

from wganlab.config import load_config
from wganlab.data.sources.idx import load_idx
from wganlab.metrics.classifier import FashionClassifierFeatures, MetricInputError, load_fashion_labels
from wganlab.metrics.stacked_modes import (
    NUM_MODES,
    channel_classes,
    kl_to_uniform,
    mode_counts,
    mode_histogram,
    mode_ids,
    real_ceiling,
)
from wganlab.training.quality import ImageQuality

needs_fashion = pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(),
    reason="Fashion-MNIST not installed (apt install dataset-fashion-mnist)",
)


class LevelClassifier:
    """A stand-in for the Fashion-MNIST classifier: an image whose pixels are all 20 * k (uint8) is class k."""

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        assert images.shape[1] == 1  # one channel at a time, as the real classifier takes them
        level = images.float().mean(dim=(1, 2, 3))
        return nn.functional.one_hot((level / 20).round().long(), 10).float()


def stacked(classes: list[tuple[int, int, int]], size: int = 28) -> np.ndarray:
    """uint8 (N, 3, size, size) whose channel c is the constant 20 * classes[i][c]."""
    levels = np.array(classes, dtype=np.uint8) * 20
    return np.broadcast_to(levels[:, :, None, None], (len(classes), 3, size, size)).copy()


def test_all_mass_on_one_mode_is_ln_1000_and_uniform_is_0():
    one = torch.zeros(NUM_MODES, dtype=torch.int64)
    one[371] = 26_000
    assert_close(kl_to_uniform(one), math.log(1000))
    assert_close(kl_to_uniform(torch.full((NUM_MODES,), 26)), 0.0)


def test_ten_modes_hit_equally_is_ln_100():
    counts = torch.zeros(NUM_MODES, dtype=torch.int64)
    counts[torch.arange(10) * 100] = 7  # KL = sum 1/10 ln(1000 / 10)
    assert_close(kl_to_uniform(counts), math.log(100))


def test_mode_id_is_100_r_plus_10_g_plus_b_and_counts_cover_the_ids_seen():
    classes = torch.tensor([[3, 7, 1], [0, 0, 0], [9, 9, 9], [3, 7, 1]])
    assert mode_ids(classes).tolist() == [371, 0, 999, 371]
    counts = mode_histogram(mode_ids(classes))
    assert counts.shape == (NUM_MODES,) and counts[371] == 2 and counts[0] == 1 and counts[999] == 1
    # p = (1/2, 1/4, 1/4): KL = 1/2 ln 500 + 2 * 1/4 ln 250
    values = mode_counts(classes)
    assert values["modes_stacked_covered"] == 3
    assert_close(values["modes_stacked_kl"], 0.5 * math.log(500) + 0.5 * math.log(250))


@pytest.mark.parametrize("size", [28, 32])
def test_each_channel_is_classified_on_its_own(size):
    images = stacked([(3, 7, 1), (0, 5, 9), (8, 2, 4)], size)
    classes = channel_classes(images, LevelClassifier(), batch_size=2)  # two batches
    assert classes.tolist() == [[3, 7, 1], [0, 5, 9], [8, 2, 4]]
    assert mode_ids(classes).tolist() == [371, 59, 824]


def test_images_without_three_channels_are_refused_in_one_line():
    with pytest.raises(MetricInputError, match=r"3-channel images .*got shape \(2, 1, 28, 28\)"):
        channel_classes(np.zeros((2, 1, 28, 28), np.uint8), LevelClassifier())


def test_the_ceiling_counts_accuracy_per_channel_and_per_triple():
    images = stacked([(3, 7, 1), (0, 5, 9), (8, 2, 4), (6, 6, 6)])
    labels = np.array([(3, 7, 1), (0, 4, 9), (8, 2, 4), (6, 6, 5)])  # two channels labelled otherwise
    values = real_ceiling(images, labels, LevelClassifier())
    assert values["modes_stacked_covered"] == 4 and values["labels_covered"] == 4 and values["n"] == 4
    assert_close(values["modes_stacked_kl"], math.log(250))  # 4 modes, 1/4 each: ln(1000 / 4)
    assert (values["accuracy_r"], values["accuracy_g"], values["accuracy_b"]) == (1.0, 0.75, 0.75)
    assert_close(values["channel_accuracy"], 10 / 12)
    assert values["triple_accuracy"] == 0.5


@needs_fashion
def test_real_channels_of_known_classes_give_their_mode_at_28_and_32_px():
    # Three real test images the classifier labels right (classes 3, 7, 1), stacked as R, G, B.
    images, labels = load_idx("", "test")[:200], load_fashion_labels("", "test")[:200]
    classifier = FashionClassifierFeatures()
    predicted = classifier.logits(torch.from_numpy(images.copy())).argmax(1).numpy()
    pick = [int(np.flatnonzero((labels == k) & (predicted == k))[0]) for k in (3, 7, 1)]
    image = images[pick, 0][None]  # (1, 3, 28, 28) uint8
    as_float = torch.from_numpy(image).float() / 127.5 - 1  # the generator's range
    padded = nn.functional.pad(as_float, (2, 2, 2, 2), value=-1.0)  # 32 px, as data.pad=2 makes them
    for version in (image, as_float, padded):
        assert mode_ids(channel_classes(version, classifier)).tolist() == [371]


@needs_fashion
def test_a_generator_stuck_on_one_triple_covers_one_mode_through_image_quality():
    images, labels = load_idx("", "test")[:200], load_fashion_labels("", "test")[:200]
    classifier = FashionClassifierFeatures()
    predicted = classifier.logits(torch.from_numpy(images.copy())).argmax(1).numpy()
    pick = [int(np.flatnonzero((labels == k) & (predicted == k))[0]) for k in (3, 7, 1)]
    image = torch.from_numpy(images[pick, 0][None].copy()).float() / 127.5 - 1

    class Stuck(nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return image.expand(len(z), -1, -1, -1)

    config = load_config(None, ["data.source=array", "data.path=stacked.npz", "model.architecture=dcgan"])
    values = ImageQuality(config).measure(Stuck(), ("modes_stacked",), n=600, rng=torch.Generator().manual_seed(0))
    assert list(values) == ["modes_stacked_kl", "modes_stacked_covered"]  # KL first: the headline, lower is better
    assert values["modes_stacked_covered"] == 1
    assert_close(values["modes_stacked_kl"], math.log(1000))
