"""MLP generator and critic: shapes, widths, seed 002's parameter counts, init through build_networks."""

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from wganlab.config import ModelConfig
from wganlab.models import build_networks
from wganlab.models.mlp import MLPCritic, MLPGenerator

# Seed 002, section 4.2: G 128 -> 512, 512, 1024, 2048 -> 12288 (64 x 64 x 3, tanh); D 12288 -> 4096, 2048,
# 1024, 512 -> 1 with LeakyReLU(0.2).
SEED_002 = ModelConfig(
    z_dim=128,
    generator_widths=(512, 512, 1024, 2048),
    critic_widths=(4096, 2048, 1024, 512),
    critic_activation="leaky_relu",
)


def build(config: ModelConfig, shape: tuple[int, ...], *, is_image: bool, seed: int = 0):
    return build_networks(config, shape, torch.Generator().manual_seed(seed), is_image=is_image)


def count(network: nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())


def linear_shapes(network: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in network.modules() if isinstance(m, nn.Linear)]


def test_toy_networks_are_2_512_512_512_out():
    generator, critic = build(ModelConfig(), (2,), is_image=False)
    assert linear_shapes(generator) == [(2, 512), (512, 512), (512, 512), (512, 2)]
    assert linear_shapes(critic) == [(2, 512), (512, 512), (512, 512), (512, 1)]
    assert generator(torch.zeros(5, 2)).shape == (5, 2)
    assert critic(torch.zeros(5, 2)).shape == (5,)
    # 2·512 + 512 + 2 · (512·512 + 512) + 512·out + out
    assert count(generator) == 527_874
    assert count(critic) == 527_361


def test_toy_generator_output_is_unbounded_and_image_generator_is_tanh():
    toy, _ = build(ModelConfig(z_dim=2, init_std=1.0), (2,), is_image=False)
    image, _ = build(ModelConfig(z_dim=2, init_std=1.0), (1, 4, 4), is_image=True)
    z = torch.full((1, 2), 10.0)
    assert not any(isinstance(m, nn.Tanh) for m in toy.modules())
    assert torch.equal(toy(z), toy.body(z))  # the last linear layer's output, unsquashed
    fake = image(z)
    assert fake.shape == (1, 1, 4, 4)
    assert torch.equal(fake.clamp(-1, 1), fake)


def test_seed_002_parameter_counts():
    with torch.device("meta"):
        generator = MLPGenerator(128, SEED_002.generator_widths, (3, 64, 64), tanh_out=True)
        critic = MLPCritic((3, 64, 64), SEED_002.critic_widths, nonlinearity="leaky_relu")
    # 128·512+512 + 512·512+512 + 512·1024+1024 + 1024·2048+2048 + 2048·12288+12288
    assert count(generator) == 28_131_328
    # 12288·4096+4096 + 4096·2048+2048 + 2048·1024+1024 + 1024·512+512 + 512+1
    assert count(critic) == 61_349_889
    assert linear_shapes(critic)[0] == (12288, 4096)
    slopes = {m.negative_slope for m in critic.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}


def test_image_mlps_flatten_and_reshape():
    config = ModelConfig(z_dim=8, generator_widths=(16,), critic_widths=(16,))
    generator, critic = build(config, (3, 4, 4), is_image=True)
    fake = generator(torch.zeros(2, 8))
    assert fake.shape == (2, 3, 4, 4)
    assert critic(fake).shape == (2,)


@pytest.mark.parametrize("is_image", [False, True])
def test_init_is_normal_002_with_zero_biases(is_image):
    shape = (1, 8, 8) if is_image else (2,)
    for network in build(ModelConfig(), shape, is_image=is_image):
        layers = [m for m in network.modules() if isinstance(m, nn.Linear)]
        weights = torch.cat([m.weight.flatten() for m in layers])
        # ~530k draws: the sample std of N(0, 0.02) is within ~3e-5 of 0.02.
        assert_close(weights.std(), torch.tensor(0.02), atol=2e-4, rtol=0)
        assert_close(weights.mean(), torch.tensor(0.0), atol=2e-4, rtol=0)
        for m in layers:
            assert torch.equal(m.bias, torch.zeros_like(m.bias))


def test_same_seed_builds_identical_networks_and_other_seeds_differ():
    first = build(ModelConfig(), (2,), is_image=False, seed=3)
    second = build(ModelConfig(), (2,), is_image=False, seed=3)
    other = build(ModelConfig(), (2,), is_image=False, seed=4)
    for a, b, c in zip(first, second, other, strict=True):
        for key, value in a.state_dict().items():
            assert torch.equal(value, b.state_dict()[key]), key
        weight = next(iter(a.state_dict()))
        assert not torch.equal(a.state_dict()[weight], c.state_dict()[weight])


def test_critic_supports_double_backward():
    _, critic = build(ModelConfig(critic_activation="leaky_relu"), (2,), is_image=False)
    points = torch.randn(6, 2, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    scores = critic(points)
    (gradient,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    (scores.mean() + 10 * ((gradient.norm(dim=1) - 1) ** 2).mean()).backward()
    for name, parameter in critic.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
