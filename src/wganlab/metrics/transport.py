"""Optimal-transport distances and mode coverage for low-dimensional (toy) samples, via POT."""

import math

import numpy as np
import ot
import torch
from torch import Tensor


def _numpy(x: Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy().astype(np.float64).reshape(len(x), -1)


def exact_w1(a: Tensor, b: Tensor) -> float:
    """Exact Wasserstein-1 distance between two empirical distributions (uniform weights, Euclidean cost)."""
    x, y = _numpy(a), _numpy(b)
    if x.shape[1] == 1:
        return float(ot.wasserstein_1d(x[:, 0], y[:, 0], p=1))
    cost = ot.dist(x, y, metric="euclidean")
    weights_x = np.full(len(x), 1.0 / len(x))
    weights_y = np.full(len(y), 1.0 / len(y))
    return float(ot.emd2(weights_x, weights_y, cost, numItermax=10_000_000))


def sliced_w2(a: Tensor, b: Tensor, n_projections: int = 200, seed: int = 0) -> float:
    """Sliced Wasserstein-2 distance. Not W1 (it is smaller in general): report it under its own name."""
    x, y = _numpy(a), _numpy(b)
    return float(ot.sliced_wasserstein_distance(x, y, n_projections=n_projections, p=2, seed=seed))


def mode_coverage(samples: Tensor, centres: Tensor, std: float, min_share: float = 0.008) -> dict[str, float]:
    """Modes hit and the share of high-quality samples (within 3 std of the nearest centre).

    As in the unrolled-GAN / VEEGAN / PacGAN tables: a mode counts as hit when at least `min_share` of the
    samples (PacGAN's 20 of 2,500) are high-quality samples of that mode.
    """
    points = samples.detach().float().cpu().reshape(len(samples), -1)
    distances = torch.cdist(points, centres.float())
    nearest_distance, nearest = distances.min(dim=1)
    high_quality = nearest_distance <= 3 * std
    counts = torch.bincount(nearest[high_quality], minlength=len(centres))
    needed = max(1, math.ceil(min_share * len(points)))
    return {
        "modes_hit": float((counts >= needed).sum()),
        "modes_total": float(len(centres)),
        "high_quality_share": float(high_quality.float().mean()),
    }
