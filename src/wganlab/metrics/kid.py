"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with the kernel (x·y/d + 1)³."""

import torch
from torch import Tensor

from wganlab.errors import MetricError


def polynomial_kernel(x: Tensor, y: Tensor) -> Tensor:
    """(x·y/d + 1)³ for all pairs: (N, D), (M, D) -> (N, M) float64.

    The product runs in the features' dtype (float32: fast), the cube and later sums in float64.
    """
    return (x @ y.T).double().div_(x.shape[1]).add_(1).pow_(3)


def mmd2_unbiased(x: Tensor, y: Tensor) -> float:
    """Unbiased MMD² between two samples of equal size m: the diagonals of k(x, x) and k(y, y) left out."""
    m = len(x)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def kid_from_features(
    fake: Tensor,
    real: Tensor,
    *,
    rng: torch.Generator,
    num_subsets: int = 100,
    subset_size: int = 1000,
) -> tuple[float, float]:
    """Mean and (population) std of MMD² over `num_subsets` random subsets of `subset_size` from each set.

    The defaults are torch-fidelity's and StyleGAN2-ADA's (100 x 1000). Subsets are drawn without
    replacement within a subset, with `rng` (on any device), so a seed gives the same value.
    """
    smallest = min(len(fake), len(real))
    if subset_size < 2 or smallest < subset_size:
        raise MetricError(
            f"KID needs at least kid subset_size={subset_size} (>= 2) samples per set, got {smallest}; "
            "evaluate more samples or lower the subset size"
        )
    values = torch.empty(num_subsets, dtype=torch.float64)
    for index in range(num_subsets):
        fake_rows = torch.randperm(len(fake), generator=rng, device=rng.device)[:subset_size].cpu()
        real_rows = torch.randperm(len(real), generator=rng, device=rng.device)[:subset_size].cpu()
        values[index] = mmd2_unbiased(fake[fake_rows], real[real_rows])
    return float(values.mean()), float(values.std(correction=0))


def kid_values(fake: Tensor, real: Tensor, rng: torch.Generator, subsets: int, subset_size: int) -> dict[str, float]:
    """KID's mean over random subsets and their std, with the subset size and count it used.

    When the subset size is both sets' whole size, every subset is the whole set (in another order): the
    "std" over them is float rounding (4.5e-16), not a spread. KID is then computed once and has no std.
    """
    if subset_size >= len(fake) and subset_size >= len(real):
        subsets = 1
    mean, std = kid_from_features(fake, real, rng=rng, num_subsets=subsets, subset_size=subset_size)
    values = {"kid_mean": mean, "kid_subset_size": subset_size, "kid_subsets": subsets}
    if subsets > 1:
        values["kid_std"] = std
    return values
