"""What a metric's `measure` is given, by its NEEDS (see `wganlab.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import Tensor

    from wganlab.metrics.classifier import FashionClassifierFeatures
    from wganlab.metrics.reference import ReferenceStats


@dataclass(frozen=True)
class ToySamples:
    """NEEDS = "samples": n generated points and n fresh real ones of the same toy, (n, dims) each, finite."""

    fake: Tensor
    real: Tensor
    source: str
    """The toy's name (data.source)."""
    centres: Tensor | None
    """A mixture toy's mode centres in sample space, (modes, dims); None for toys without discrete modes."""
    mode_std: float
    """The standard deviation of each mode (data.noise_std, or the toy's default)."""


@dataclass(frozen=True)
class InceptionPass:
    """NEEDS = "inception_features" / "inception_logits": one pass of the Inception network over the fakes, shared by
    every metric that asked for it (`metrics/evaluate.py`), with the settings of `evaluate_images`."""

    features: Tensor | None
    """The fakes' (n, 2048) pool features (None unless a metric needs them)."""
    reference: ReferenceStats | None
    """The real images' features, mean and covariance (possibly from the cache)."""
    logits: Tensor | None
    """The fakes' (n, 1008) classifier logits (None unless a metric needs them)."""
    rng: torch.Generator
    """Draws any random subsets (KID's)."""
    kid_subsets: int
    kid_subset_size: int
    pr_k: int
    is_splits: int


class GeneratorAccess(Protocol):
    """NEEDS = "generator": what a metric that draws and scores its own samples may use (`ImageQuality` gives it)."""

    n: int
    """How many samples to measure."""
    data_key: str
    """Identifies the real data, for caches of what is computed from it."""

    def generate(self, count: int, batch_size: int = 1024) -> Tensor:
        """`count` samples of the generator in eval mode, on its device, their z drawn from the evaluation's rng."""
        ...

    def check_finite(self, samples: Tensor) -> Tensor:
        """`samples`, or a divergence error when any is non-finite."""
        ...

    def real_images(self) -> np.ndarray:
        """The real images compared with, uint8 (N, C, H, W), prepared as the training images are."""
        ...

    def classifier(self) -> FashionClassifierFeatures:
        """Our Fashion-MNIST classifier, built once per evaluation object."""
        ...
