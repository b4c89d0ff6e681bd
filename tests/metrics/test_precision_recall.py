import pytest
import torch
from torch.testing import assert_close

from wganlab.errors import MetricError
from wganlab.metrics.precision_recall import knn_radii, precision_recall


def brute_force(real: torch.Tensor, fake: torch.Tensor, k: int) -> tuple[float, float]:
    def radii(x):
        return torch.cdist(x, x).sort(dim=1).values[:, k]

    cross = torch.cdist(fake, real)  # (fake, real)
    precision = (cross <= radii(real)[None, :]).any(dim=1).float().mean()
    recall = (cross <= radii(fake)[:, None]).any(dim=0).float().mean()
    return float(precision), float(recall)


def test_identical_sets_give_full_precision_and_recall():
    features = torch.randn(60, 8, generator=torch.Generator().manual_seed(0))
    assert_close(precision_recall(features, features.clone()), (1.0, 1.0))


def test_constructed_example_in_one_dimension():
    # k = 1. Real 0, 1, 2, 3: every radius is 1. Fake 0.5, 0.7, 2.9 lie within 1 of a real, 10 does not:
    # precision 3/4. Fake radii: 0.2, 0.2, 2.2 (to 0.7), 7.1 (to 2.9). Real 1, 2, 3 are within 2.2 of 2.9;
    # real 0 is 0.5 / 0.7 / 2.9 / 10 from them, outside all four radii: recall 3/4.
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [0.7], [2.9], [10.0]])
    assert_close(knn_radii(fake, 1, chunk=3).sqrt(), torch.tensor([0.2, 0.2, 2.2, 7.1]))
    assert_close(precision_recall(real, fake, k=1, chunk=3), (0.75, 0.75))


def test_chunked_matches_brute_force_with_k3():
    rng = torch.Generator().manual_seed(1)
    real, fake = torch.randn(90, 5, generator=rng), torch.randn(70, 5, generator=rng) * 1.5 + 0.3
    assert_close(precision_recall(real, fake, k=3, chunk=16), brute_force(real, fake, k=3))


def test_too_few_samples_for_k():
    with pytest.raises(MetricError, match="k=3"):
        precision_recall(torch.zeros(3, 2), torch.zeros(10, 2))
