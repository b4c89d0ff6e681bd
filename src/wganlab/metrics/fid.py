"""Fréchet Inception Distance (Heusel et al. 2017) from feature means and covariances, in float64."""

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

from wganlab.errors import MetricError

CHUNK = 4096


def feature_statistics(features: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D), float64, accumulated in chunks of rows.

    Chunks keep the float64 copy small (50k x 2048 would be 800 MiB); rows are shifted by the mean of the
    first chunk first, so the sum of outer products does not cancel catastrophically.
    """
    count = len(features)
    if count < 2:
        raise MetricError(f"FID needs at least 2 samples per set, got {count}; evaluate more samples")
    shift = features[:CHUNK].double().mean(dim=0)
    total = torch.zeros_like(shift)
    outer = torch.zeros(len(shift), len(shift), dtype=torch.float64)
    for start in range(0, count, CHUNK):
        rows = features[start : start + CHUNK].double() - shift
        total += rows.sum(dim=0)
        outer += rows.T @ rows
    mean_shifted = total / count
    covariance = (outer - count * torch.outer(mean_shifted, mean_shifted)) / (count - 1)
    return (mean_shifted + shift).numpy(), covariance.numpy()


def frechet_distance(
    mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray, eps: float = 1e-6
) -> float:
    """‖μa − μb‖² + tr(Σa + Σb − 2 (Σa Σb)^½), as pytorch-fid/TTUR compute it."""
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    if mean_a.shape != mean_b.shape or cov_a.shape != cov_b.shape:
        raise MetricError(
            f"FID statistics differ in shape ({mean_a.shape} vs {mean_b.shape}); "
            "were they made with the same feature extractor?"
        )
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():
        # Singular product (fewer samples than dimensions): regularise both, as pytorch-fid does.
        offset = np.eye(len(cov_a)) * eps
        root = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    if np.iscomplexobj(root):
        largest = np.max(np.abs(root.imag))
        if not np.allclose(np.diagonal(root).imag, 0, atol=1e-3):
            raise MetricError(
                f"FID's matrix square root has a large imaginary part ({largest:.3g}): the covariances are "
                "ill-conditioned; use more samples (n >= 2048 for 2048-d features)"
            )
        root = root.real
    difference = mean_a - mean_b
    value = difference @ difference + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root)
    # Identical sets give about -1e-11, not 0: rounding in sqrtm.
    return max(float(value), 0.0)


def fid_from_features(a: Tensor, b: Tensor) -> float:
    """FID between two feature sets (N, D) and (M, D)."""
    return frechet_distance(*feature_statistics(a), *feature_statistics(b))
