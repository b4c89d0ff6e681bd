"""Our FID and KID against torchmetrics' implementations, both fed the same features.

torchmetrics takes a feature extractor module; an identity module hands it our features unchanged, so the two
compute the same statistic from the same numbers and must agree to float rounding.
"""

import pytest
import torch
from torch import nn
from torch.testing import assert_close
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from wganlab.metrics.fid import fid_from_features
from wganlab.metrics.kid import mmd2_unbiased


class GivenFeatures(nn.Module):
    """An 'extractor' that returns its input: the features are computed before torchmetrics sees them."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def _feature_sets(dims: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    rng = torch.Generator().manual_seed(0)
    real = torch.randn(500, dims, generator=rng)
    mixing = torch.randn(dims, dims, generator=rng) * 0.3 + torch.eye(dims)  # a correlated, shifted set
    fake = torch.randn(500, dims, generator=rng) @ mixing + 0.2
    return real, fake


def test_fid_matches_torchmetrics():
    real, fake = _feature_sets()
    reference = FrechetInceptionDistance(feature=GivenFeatures(real.shape[1]), normalize=True)
    reference.update(real, real=True)
    reference.update(fake, real=False)
    # torchmetrics accumulates the statistics in float64 as we do; what remains is the matrix square root's rounding.
    assert_close(fid_from_features(fake, real), reference.compute().item(), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_kid_on_the_whole_set_matches_torchmetrics():
    real, fake = _feature_sets()
    # One subset holding every sample: no random draw, both compute the unbiased MMD² of the full sets.
    reference = KernelInceptionDistance(feature=GivenFeatures(real.shape[1]), subsets=1, subset_size=len(real))
    reference.update(real, real=True)
    reference.update(fake, real=False)
    mean, _ = reference.compute()
    assert_close(mmd2_unbiased(fake, real), mean.item(), rtol=1e-4, atol=1e-6)
