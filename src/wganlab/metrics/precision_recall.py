"""Improved precision and recall (Kynkäänniemi et al. 2019) from k-NN manifolds of features.

A sample is inside the other set's manifold when it lies within the k-th-nearest-neighbour radius of at
least one of that set's samples. Precision: share of fakes inside the real manifold; recall: share of reals
inside the fake manifold. Distances are computed `chunk` rows at a time: memory O(n * chunk), not O(n²).
"""

import torch
from torch import Tensor

from wganlab.errors import MetricError


def squared_norms(features: Tensor) -> Tensor:
    """‖row‖² of every row as one reduction; `features.square().sum(1)` would first build a squared copy of
    all the features (400 MiB at n = 50k)."""
    return torch.linalg.vector_norm(features, dim=1).square_()


def squared_distances(a: Tensor, b: Tensor, b_norms: Tensor) -> Tensor:
    """Pairwise squared Euclidean distances via ‖a‖² + ‖b‖² − 2ab (as NVIDIA's code); `b_norms` = ‖b‖²,
    computed once by the caller with `squared_norms`."""
    distances = torch.addmm(b_norms[None, :], a, b.T, alpha=-2)
    return distances.add_(a.square().sum(1, keepdim=True)).clamp_(min=0)


def knn_radii(features: Tensor, k: int, chunk: int) -> Tensor:
    """Squared distance of each row to its k-th nearest neighbour in the same set, itself not counted."""
    if len(features) <= k:
        raise MetricError(f"precision/recall with k={k} needs more than {k} samples per set, got {len(features)}")
    radii = torch.empty(len(features), dtype=features.dtype)
    norms = squared_norms(features)
    for start in range(0, len(features), chunk):
        distances = squared_distances(features[start : start + chunk], features, norms)
        # The k+1 smallest include the row itself (distance 0), as in the paper's code.
        radii[start : start + chunk] = distances.topk(k + 1, dim=1, largest=False).values[:, k]
        del distances  # freed before the next block is made, so only one (chunk, n) block is ever alive
    return radii


def precision_recall(real: Tensor, fake: Tensor, k: int = 3, chunk: int = 1024) -> tuple[float, float]:
    """(precision, recall) of `fake` against `real`, both (N, D) features."""
    real, fake = real.float(), fake.float()
    real_radii, fake_radii = knn_radii(real, k, chunk), knn_radii(fake, k, chunk)
    fake_inside = torch.zeros(len(fake), dtype=torch.bool)
    real_inside = torch.zeros(len(real), dtype=torch.bool)
    real_norms = squared_norms(real)
    # One pass over fake-vs-real distance blocks answers both questions.
    for start in range(0, len(fake), chunk):
        distances = squared_distances(fake[start : start + chunk], real, real_norms)  # (chunk, n_real)
        fake_inside[start : start + chunk] = (distances <= real_radii).any(dim=1)
        real_inside |= (distances <= fake_radii[start : start + chunk, None]).any(dim=0)
        del distances
    return float(fake_inside.float().mean()), float(real_inside.float().mean())
