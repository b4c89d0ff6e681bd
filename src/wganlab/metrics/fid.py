"""Fréchet Inception Distance (Heusel et al. 2017) from feature means and covariances, in float64."""

import numpy as np
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


def frechet_distance(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray) -> float:
    """‖μa − μb‖² + tr(Σa + Σb − 2 (Σa Σb)^½) (Heusel et al. 2017; pytorch-fid/TTUR's formula)."""
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    if mean_a.shape != mean_b.shape or cov_a.shape != cov_b.shape:
        raise MetricError(
            f"FID statistics differ in shape ({mean_a.shape} vs {mean_b.shape}); "
            "were they made with the same feature extractor?"
        )
    difference = mean_a - mean_b
    value = difference @ difference + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt_product(cov_a, cov_b)
    # Identical sets give about -1e-11, not 0: rounding in the eigendecompositions.
    return max(float(value), 0.0)


def trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """tr((Σa Σb)^½) = Σ √λ(Σa^½ Σb Σa^½): the same value as pytorch-fid's scipy.linalg.sqrtm(Σa Σb), from two
    symmetric eigendecompositions instead of a general matrix square root. About ten times faster at 2048-d, and
    exact when the covariances are singular (fewer samples than features), where sqrtm needs a regularising
    offset and leaves imaginary parts: tiny negative eigenvalues from rounding are clipped to 0."""
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root_a @ cov_b @ root_a
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum())


def fid_from_features(a: Tensor, b: Tensor) -> float:
    """FID between two feature sets (N, D) and (M, D)."""
    return frechet_distance(*feature_statistics(a), *feature_statistics(b))
