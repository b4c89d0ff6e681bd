"""Low-dimensional toy distributions from the papers, sampled fresh for every batch (no downloads).

Sizes follow the WGAN-GP reference toy code (2-D mixtures rescaled to roughly unit spread) and seed 002
(the S-curve with noise 0.01; the 1-D Gaussian at -1 of its critic-response appendix).
Every draw takes an explicit torch.Generator.
"""

import math

import torch
from torch import Tensor

from wganlab.config import DataConfig
from wganlab.data.sources import TOYS as SPECS  # the one list of toys (torch-free: data.source's choices)


def mode_centres(name: str) -> Tensor | None:
    """Centres of a mixture toy in sample space (after rescaling), or None for toys without discrete modes."""
    spec = SPECS[name]
    if name == "eight_gaussians":
        angles = torch.arange(8) * (math.pi / 4)
        return 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1) / spec.scale
    if name == "twenty_five_gaussians":
        grid = torch.arange(-2, 3, dtype=torch.float32) * 2.0
        return torch.cartesian_prod(grid, grid) / spec.scale
    if name == "two_gaussians_1d":
        return torch.tensor([[-1.0], [1.0]])
    return None


def unscaled_centres(name: str, device: torch.device) -> Tensor | None:
    """Mixture centres before the toy's rescaling, on `device` (what `sample_toy` adds the noise to)."""
    centres = mode_centres(name)
    return None if centres is None else centres.to(device) * SPECS[name].scale


def sample_toy(
    name: str,
    n: int,
    noise_std: float,
    rng: torch.Generator,
    device: torch.device,
    *,
    centres: Tensor | None = None,
) -> Tensor:
    """n samples of toy `name` (float32, shape (n, dims)); noise_std 0 means the toy's published default.

    `centres`: `unscaled_centres(name, device)` made once by a caller that samples every step.
    """
    spec = SPECS[name]
    std = noise_std or spec.default_noise
    kw = {"generator": rng, "device": device}
    if name in ("eight_gaussians", "twenty_five_gaussians", "two_gaussians_1d"):
        centres = unscaled_centres(name, device) if centres is None else centres
        picks = torch.randint(0, len(centres), (n,), **kw)
        points = centres[picks] + std * torch.randn(n, spec.dims, **kw)
    elif name == "swiss_roll":
        # scikit-learn's make_swiss_roll, keeping the (x, z) plane.
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, **kw))
        points = torch.stack([t * t.cos(), t * t.sin()], dim=1) + std * torch.randn(n, 2, **kw)
    elif name == "s_curve":
        # scikit-learn's make_s_curve, keeping the (x, z) plane.
        t = 3 * math.pi * (torch.rand(n, **kw) - 0.5)
        points = torch.stack([t.sin(), t.sign() * (t.cos() - 1)], dim=1) + std * torch.randn(n, 2, **kw)
    elif name == "gaussian_1d":
        points = -1.0 + std * torch.randn(n, 1, **kw)
    else:
        raise KeyError(name)
    return points / spec.scale


def mode_std(name: str, noise_std: float) -> float:
    """Standard deviation of each mixture component in sample space."""
    spec = SPECS[name]
    return (noise_std or spec.default_noise) / spec.scale


class ToyBatches:
    """Endless batches from a toy distribution.

    Every process draws the whole global batch and keeps its own slice, so a run on N processes sees exactly
    the samples a single process would (and resume works across a changed world size).
    """

    def __init__(
        self,
        config: DataConfig,
        *,
        device: torch.device,
        rng: torch.Generator,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.name = config.source
        self.noise_std = config.noise_std
        self.device = device
        self.rng = rng
        self.rank = rank
        self.world_size = world_size
        self.sample_shape: tuple[int, ...] = (SPECS[self.name].dims,)
        self.centres = unscaled_centres(self.name, device)  # made once, not at every batch

    def next_batch(self, batch_size: int) -> Tensor:
        everyone = sample_toy(
            self.name, batch_size * self.world_size, self.noise_std, self.rng, self.device, centres=self.centres
        )
        # Rows rank, rank + world_size, ...: as ImageBatches, the noise z and the penalty's mixes do.
        return everyone[self.rank :: self.world_size]

    def reference(self, n: int, rng: torch.Generator) -> Tensor:
        return sample_toy(self.name, n, self.noise_std, rng, rng.device)

    def state_dict(self) -> dict:
        return {}  # the caller checkpoints `rng`, which is all the state a fresh-sample stream has

    def load_state_dict(self, state: dict) -> None:
        pass
