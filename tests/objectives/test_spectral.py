import pytest
import torch
from torch import nn
from torch.testing import assert_close

from wganlab.config import ModelConfig
from wganlab.models import build_networks
from wganlab.objectives import CONSTRAINTS, SpectralNorm
from wganlab.objectives.constraints.spectral import NORMALISED_LAYERS, largest_singular_values
from wganlab.training import loop


def test_attach_normalises_every_linear_and_conv_layer_reproducibly():
    config = ModelConfig(architecture="dcgan", channels=8, critic_norm="none")
    critics = []
    for _ in range(2):
        _, critic = build_networks(config, (1, 16, 16), torch.Generator().manual_seed(0), is_image=True)
        SpectralNorm().attach(critic, torch.Generator().manual_seed(1))
        critics.append(critic)
    layers = [m for m in critics[0].modules() if isinstance(m, nn.Conv2d)]
    assert len(layers) == 3 and all(hasattr(m, "parametrizations") for m in layers)
    # u and v are buffers (checkpointed) and drawn from the given rng, not the global one.
    for (name, a), (_, b) in zip(critics[0].state_dict().items(), critics[1].state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert any(name.endswith("_u") for name in critics[0].state_dict())


def test_power_iteration_makes_each_layer_unit_norm_for_fixed_weights():
    critic = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    SpectralNorm().attach(critic, torch.Generator().manual_seed(0))
    x = torch.randn(4, 5)
    for _ in range(100):  # each training-mode forward is one power-iteration step
        critic(x)
    for sigma in largest_singular_values(critic):
        assert_close(sigma, torch.tensor(1.0, dtype=torch.float64), rtol=0, atol=1e-4)


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_after_training_every_critic_layer_has_largest_singular_value_one(tiny_config, tmp_path, seed):
    # With the power iteration given enough steps per forward to follow the weights (16 here; the 32-wide test
    # critic's top singular values are within a few percent of each other), the constraint holds to 1e-2.
    overrides = ("train.steps=150", f"train.seed={seed}", "objective.power_iterations=16")
    s = loop.train(tiny_config("sngan", *overrides, "log.checkpoint_every=1000"), tmp_path / "run", progress=False)
    sigmas = largest_singular_values(s.critic.network)
    assert len(sigmas) == 3  # 2 -> 32 -> 32 -> 1
    for sigma in sigmas:
        assert_close(sigma, torch.tensor(1.0, dtype=torch.float64), rtol=0, atol=1e-2)


def test_the_papers_single_iteration_only_ever_overestimates_by_little(tiny_config, tmp_path):
    # One iteration (the paper, the recipe's default): in exact arithmetic u^T W v <= sigma(W), so every layer is at
    # or above 1; measured up to 7.4 % above on 32-wide critics (see spectral.py), bounded here at 10 %. In float32
    # the estimate is a matrix-vector product (length `columns`) then a dot product (length `rows`), each off by at
    # most its length in units of float32 rounding (2^-24, Higham's gamma_n), and W / estimate rounds once more: the
    # effective sigma can fall below 1 by that much, and by how much on a given CPU depends on its summation order.
    s = loop.train(
        tiny_config("sngan", "train.steps=150", "log.checkpoint_every=1000"), tmp_path / "run", progress=False
    )
    layers = [m for m in s.critic.network.modules() if isinstance(m, NORMALISED_LAYERS)]
    sigmas = largest_singular_values(s.critic.network)
    assert len(sigmas) == len(layers) == 3
    for layer, sigma in zip(layers, sigmas, strict=True):
        rows, columns = layer.weight.flatten(1).shape
        rounding = (rows + columns + 1) * 2.0**-24
        assert 1.0 - rounding <= float(sigma) <= 1.10, (layer, float(sigma), rounding)


def test_spectral_is_registered_and_adds_no_penalty():
    assert CONSTRAINTS["spectral"] is SpectralNorm
    assert SpectralNorm().logs_penalty is False
