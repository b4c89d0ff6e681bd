"""Fully connected generator and critic: the toys' 2→512→512→512→out and seed 002's image MLPs."""

import math

from torch import Tensor, nn


def _stack(n_in: int, widths: tuple[int, ...], n_out: int, activation: type[nn.Module] | nn.Module) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip((n_in, *widths), widths, strict=False):
        layers += [nn.Linear(fan_in, fan_out), activation() if isinstance(activation, type) else activation]
    layers.append(nn.Linear(widths[-1], n_out))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z -> sample. Toys get a linear output (the data is unbounded); images get tanh into [-1, 1]."""

    def __init__(self, z_dim: int, widths: tuple[int, ...], sample_shape: tuple[int, ...], *, tanh_out: bool):
        super().__init__()
        self.sample_shape = sample_shape
        self.body = _stack(z_dim, widths, math.prod(sample_shape), nn.ReLU)
        self.out = nn.Tanh() if tanh_out else nn.Identity()

    def forward(self, z: Tensor) -> Tensor:
        return self.out(self.body(z)).view(len(z), *self.sample_shape)


class MLPCritic(nn.Module):
    """sample -> raw score of shape (batch,). No sigmoid: the GAN objective applies it inside its loss."""

    def __init__(self, sample_shape: tuple[int, ...], widths: tuple[int, ...], *, leaky: bool):
        super().__init__()
        activation = nn.LeakyReLU(0.2) if leaky else nn.ReLU()
        self.body = _stack(math.prod(sample_shape), widths, 1, activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x.flatten(1)).squeeze(1)
