import pytest
import torch
from torch.testing import assert_close

from wganlab.errors import MetricError
from wganlab.metrics.kid import kid_from_features, mmd2_unbiased, polynomial_kernel


def brute_force_mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD² written out pair by pair, float64."""
    x, y, m, d = x.double(), y.double(), len(x), x.shape[1]

    def k(a, b):
        return (a @ b / d + 1) ** 3

    within = sum(k(x[i], x[j]) + k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    across = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return float(within - 2 * across)


def test_mmd_by_hand():
    # d = 2, k(a, b) = (a·b/2 + 1)³. Off-diagonal k(x1, x2) = k(y1, y2) = 1, so each within-term is 2/2 = 1;
    # k(x, y) = 3.375, 1, 3.375, 1 (sum 8.75), so the cross term is 2 * 8.75 / 4 = 4.375: MMD² = -2.375.
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    assert_close(polynomial_kernel(x, y), torch.tensor([[3.375, 1.0], [3.375, 1.0]], dtype=torch.float64))
    assert_close(mmd2_unbiased(x, y), -2.375)
    # Subsets of the whole set are permutations of it: every subset gives the same value.
    mean, std = kid_from_features(x, y, rng=torch.Generator().manual_seed(0), num_subsets=3, subset_size=2)
    assert_close((mean, std), (-2.375, 0.0))


def test_mmd_matches_pairwise_formula():
    rng = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 6, generator=rng), torch.randn(12, 6, generator=rng) + 0.5
    assert_close(mmd2_unbiased(x, y), brute_force_mmd2(x, y), rtol=1e-5, atol=1e-6)


def test_kid_of_one_distribution_is_near_zero_and_of_shifted_ones_is_not():
    rng = torch.Generator().manual_seed(0)
    a, b = torch.randn(1500, 8, generator=rng), torch.randn(1500, 8, generator=rng)
    mean, std = kid_from_features(a, b, rng=rng, num_subsets=20, subset_size=500)
    # The unbiased estimate of zero: its mean over subsets lies well inside the spread of single subsets.
    assert_close(mean, 0.0, atol=std, rtol=0)
    shifted, _ = kid_from_features(a + 1, b, rng=rng, num_subsets=20, subset_size=500)
    # A unit shift in every dimension lies far outside that noise.
    assert shifted > 20 * std


def test_kid_is_reproducible_from_the_generator():
    rng = torch.Generator().manual_seed(3)
    a, b = torch.randn(300, 4, generator=rng), torch.randn(300, 4, generator=rng)
    first = kid_from_features(a, b, rng=torch.Generator().manual_seed(7), num_subsets=5, subset_size=100)
    again = kid_from_features(a, b, rng=torch.Generator().manual_seed(7), num_subsets=5, subset_size=100)
    assert first == again


def test_too_few_samples_for_the_subset_size():
    with pytest.raises(MetricError, match="subset_size=1000"):
        kid_from_features(torch.zeros(999, 4), torch.zeros(2000, 4), rng=torch.Generator())
