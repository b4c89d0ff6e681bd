"""The nonlinearities a network may use: the four of the WGAN-GP paper's random architectures (Gulrajani et al.
2017, sec. 5.1 and the appendix table of the architecture set: ReLU, LeakyReLU, softplus(2x+2)/2 - 1, tanh)."""

import torch.nn.functional as F
from torch import Tensor, nn

from wganlab.config import ACTIVATIONS


class ShiftedSoftplus(nn.Module):
    """softplus(2x + 2) / 2 - 1: a smooth ELU look-alike (-> -1 as x -> -inf, -> x as x -> +inf) whose second
    derivative exists everywhere, which the gradient penalty's double backward differentiates through."""

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(2 * x + 2) / 2 - 1


def activation(name: str) -> nn.Module:
    """A fresh module for `name`: relu, leaky_relu (slope 0.2, DCGAN's), softplus (the shifted one) or tanh."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    if name == "softplus":
        return ShiftedSoftplus()
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(f"unknown activation {name!r}; one of {', '.join(ACTIVATIONS)}")
