"""The four nonlinearities of the WGAN-GP paper's random architectures, against their definitions."""

import math

import pytest
import torch
from torch.testing import assert_close

from wganlab.config import ACTIVATIONS
from wganlab.models.activations import ShiftedSoftplus, activation

X = torch.tensor([-10.0, -1.0, 0.0, 1.0, 3.0], dtype=torch.float64)


def test_softplus_is_the_papers_softplus_2x_plus_2_over_2_minus_1():
    # softplus(t) = ln(1 + e^t); at x: ln(1 + e^(2x+2)) / 2 - 1.
    expected = [
        math.log1p(math.exp(-18)) / 2 - 1,  # -1 + 7.6e-9: the ELU-like floor at -1
        math.log(2) / 2 - 1,  # -0.6534
        math.log1p(math.exp(2)) / 2 - 1,  # 0.0635
        math.log1p(math.exp(4)) / 2 - 1,  # 1.0091
        math.log1p(math.exp(8)) / 2 - 1,  # 3.0002: close to x for large x
    ]
    assert_close(ShiftedSoftplus()(X), torch.tensor(expected, dtype=torch.float64))


def test_softplus_has_the_second_derivative_the_penalty_needs():
    # d/dx = sigmoid(2x + 2); d2/dx2 = 2 sigmoid(2x + 2)(1 - sigmoid(2x + 2)), smooth at every x.
    x = X.clone().requires_grad_(True)
    (first,) = torch.autograd.grad(ShiftedSoftplus()(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), x)
    s = torch.sigmoid(2 * X + 2)
    assert_close(first.detach(), s)
    assert_close(second, 2 * s * (1 - s))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("relu", [0.0, 0.0, 0.0, 1.0, 3.0]),
        ("leaky_relu", [-2.0, -0.2, 0.0, 1.0, 3.0]),  # DCGAN's slope 0.2
        ("tanh", [math.tanh(v) for v in X.tolist()]),
    ],
)
def test_each_name_gives_its_function(name, expected):
    assert_close(activation(name)(X), torch.tensor(expected, dtype=torch.float64))


def test_every_configurable_name_is_built_and_others_are_refused():
    assert [type(activation(name)).__name__ for name in ACTIVATIONS] == ["ReLU", "LeakyReLU", "ShiftedSoftplus", "Tanh"]
    with pytest.raises(ValueError, match="elu"):
        activation("elu")
