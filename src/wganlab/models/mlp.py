"""Fully connected generator and critic: the toys' 2→512→512→512→out and seed 002's image MLPs."""

import math

from torch import Tensor, nn

from wganlab.models.activations import activation


def _stack(n_in: int, widths: tuple[int, ...], n_out: int, nonlinearity: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip((n_in, *widths), widths, strict=False):
        layers += [nn.Linear(fan_in, fan_out), activation(nonlinearity)]
    layers.append(nn.Linear(widths[-1], n_out))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z -> sample. Toys get a linear output (the data is unbounded); images get tanh into [-1, 1]."""

    def __init__(
        self,
        z_dim: int,
        widths: tuple[int, ...],
        sample_shape: tuple[int, ...],
        *,
        tanh_out: bool,
        nonlinearity: str = "relu",
    ):
        super().__init__()
        self.sample_shape = sample_shape
        self.body = _stack(z_dim, widths, math.prod(sample_shape), nonlinearity)
        self.out = nn.Tanh() if tanh_out else nn.Identity()

    def forward(self, z: Tensor) -> Tensor:
        return self.out(self.body(z)).view(len(z), *self.sample_shape)


class MLPCritic(nn.Module):
    """sample -> raw score of shape (batch,). No sigmoid: the GAN objective applies it inside its loss."""

    def __init__(self, sample_shape: tuple[int, ...], widths: tuple[int, ...], *, nonlinearity: str = "relu"):
        super().__init__()
        self.body = _stack(math.prod(sample_shape), widths, 1, nonlinearity)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x.flatten(1)).squeeze(1)
