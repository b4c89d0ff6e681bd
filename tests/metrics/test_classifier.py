"""FD (F-MNIST classifier): the shipped weights, the input pipeline, and distances on real Fashion-MNIST."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from wganlab.data.sources.idx import load_idx
from wganlab.errors import UserError
from wganlab.metrics.classifier import (
    FEATURE_DIM,
    WEIGHTS_PATH,
    FashionClassifierFeatures,
    MetricInputError,
    classifier_features,
    fd_fmnist,
    load_fashion_labels,
    read_weights_metadata,
)

needs_fashion = pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(),
    reason="Fashion-MNIST not installed (apt install dataset-fashion-mnist)",
)


@pytest.fixture(scope="module")
def extractor() -> FashionClassifierFeatures:
    return FashionClassifierFeatures()


@pytest.fixture(scope="module")
def test_images() -> torch.Tensor:
    return torch.from_numpy(load_idx("", "test")[:1000].copy())


def test_shipped_weights_load_and_are_small(extractor):
    assert WEIGHTS_PATH.stat().st_size <= 2 * 1024 * 1024
    metadata = read_weights_metadata()
    assert {"seed", "epochs", "test_accuracy"} <= metadata.keys()
    assert not extractor.training and not any(p.requires_grad for p in extractor.parameters())


def test_features_have_one_shape_at_every_input_size(extractor):
    rng = torch.Generator().manual_seed(0)
    for size in (28, 32, 64):
        images = torch.rand(3, 1, size, size, generator=rng) * 2 - 1
        assert extractor(images).shape == (3, FEATURE_DIM)
        assert extractor(images).dtype == torch.float32
        assert extractor.logits(images).shape == (3, 10)


def test_a_uniform_image_gives_the_same_features_at_every_size(extractor):
    # Resizing a constant image with normalised (antialiased) weights leaves it constant, so the only thing
    # that could differ is the resize path itself: 28 px skips it, 32 and 64 px go through it.
    at_28 = extractor(torch.full((1, 1, 28, 28), 0.2))
    for size in (32, 64):
        assert_close(extractor(torch.full((1, 1, size, size), 0.2)), at_28, atol=1e-5, rtol=1e-5)


def test_uint8_and_float_inputs_are_the_same_images(extractor):
    levels = torch.randint(0, 256, (4, 1, 32, 32), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    assert torch.equal(extractor(levels), extractor(levels.float() / 127.5 - 1))


@needs_fashion
def test_features_are_deterministic_and_independent_of_the_batch(extractor, test_images):
    first = extractor(test_images[:64])
    assert torch.equal(extractor(test_images[:64]), first)
    one_by_one = torch.cat([extractor(test_images[i : i + 1]) for i in range(8)])
    assert_close(one_by_one, first[:8], atol=1e-5, rtol=1e-5)


def test_fd_of_a_set_with_itself_is_zero(extractor):
    images = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 2 - 1
    features = extractor(images)
    assert_close(fd_fmnist(features, features), 0.0, atol=1e-6, rtol=0)


@needs_fashion
def test_fd_of_real_sets_is_small_and_of_noise_large(extractor, test_images):
    # Measured with the shipped weights: 500 test vs 500 train images, and 500 uniform-noise images (seed 3)
    # vs the 500 test images. Real vs real is not 0 because 500 samples estimate a 128x128 covariance with
    # bias; noise is 47x farther. Running the same net in float64 moves both values by < 1e-7 (relative),
    # so rtol 1e-3 absorbs other CPUs' float32 kernels, while new weights, a lost resize or another pixel
    # scaling move them by far more.
    test_features = classifier_features(test_images[:500], extractor)
    train_features = classifier_features(load_idx("", "train")[:500].copy(), extractor)
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1
    real_vs_real = fd_fmnist(test_features, train_features)
    real_vs_noise = fd_fmnist(extractor(noise), test_features)
    assert_close(real_vs_real, 31.0592, rtol=1e-3, atol=0)
    assert_close(real_vs_noise, 1452.48, rtol=1e-3, atol=0)


@needs_fashion
def test_the_shipped_classifier_is_the_trained_one(extractor, test_images):
    labels = torch.from_numpy(load_fashion_labels("", "test")[:1000]).long()
    predicted = extractor.logits(test_images).argmax(dim=1)
    assert float((predicted == labels).float().mean()) >= 0.90


@pytest.mark.parametrize("shape", [(2, 3, 28, 28), (2, 28, 28), (2, 1, 28, 32), (0, 1, 28, 28)])
def test_a_wrong_shape_is_a_one_line_user_error(extractor, shape):
    with pytest.raises(MetricInputError) as caught:
        extractor(torch.zeros(shape))
    assert isinstance(caught.value, UserError) and "\n" not in str(caught.value)
    assert str(tuple(shape)) in str(caught.value)


def test_features_of_another_extractor_are_refused():
    with pytest.raises(MetricInputError, match=r"\(N, 128\)"):
        fd_fmnist(torch.zeros(10, 2048), torch.zeros(10, 2048))


def test_labels_are_read_from_the_idx_file():
    if not Path("/usr/share/datasets/fashion-mnist").is_dir():
        pytest.skip("Fashion-MNIST not installed")
    labels = load_fashion_labels("", "test")
    # Fashion-MNIST's test split is balanced: 1000 images of each of the 10 classes.
    assert labels.shape == (10_000,) and np.array_equal(np.bincount(labels), np.full(10, 1000))


@pytest.mark.slow  # long: the slow tier (CI runs it) keeps it
def test_classifier_score_of_real_images_and_noise(extractor):
    """cs_fmnist uses the Inception Score's formula on our 10-way classifier (at most 10). Measured when written:
    the 10,000 test images (padded to 32 px) 8.24, uniform noise 1.19; real images must score far higher."""
    from wganlab.config import DataConfig
    from wganlab.data.images import load_image_array
    from wganlab.metrics.inception_score import inception_score

    real = torch.from_numpy(np.asarray(load_image_array(DataConfig(source="idx", split="test", pad=2), progress=False)))
    with torch.no_grad():
        logits = torch.cat([extractor.logits(real[i : i + 1000]) for i in range(0, len(real), 1000)])
        noise = extractor.logits(torch.randint(0, 256, (2000, 1, 32, 32), generator=torch.Generator().manual_seed(0),
                                               dtype=torch.uint8))  # fmt: skip
    real_mean, _ = inception_score(logits, splits=10)
    noise_mean, _ = inception_score(noise, splits=10)
    assert abs(real_mean - 8.24) < 0.05 and noise_mean < 2.0
