"""The random-architecture sampler: the paper's table, reproducible draws, and every draw builds and trains."""

import random

import pytest
import torch
from critic_checks import noise

from wganlab.config import load_config
from wganlab.models import SPACES, build_networks, random_architecture, random_architectures
from wganlab.models.dcgan import build_dcgan


def test_paper_space_is_the_wgan_gp_table():
    paper = SPACES["paper"]
    assert paper.activations == ("relu", "leaky_relu", "softplus", "tanh")
    assert paper.depths == (4, 8, 12, 20)
    assert paper.channels == (32, 64, 128)


def test_same_seed_same_list_and_a_longer_list_extends_it():
    first = random_architectures(7, 20)
    assert random_architectures(7, 20) == first
    assert random_architectures(7, 50)[:20] == first
    assert random_architectures(8, 20) != first
    rng = random.Random(7)
    assert [random_architecture(rng) for _ in range(3)] == first[:3]


def test_a_known_seed_gives_a_known_architecture():
    # Pins the draw order (eight picks via random.Random(0).random()) so a change to the sampler shows up.
    draws = random.Random(0)
    values = [draws.random() for _ in range(8)]
    expected_indices = [int(v * n) for v, n in zip(values, (4, 4, 4, 4, 2, 2, 3, 3), strict=True)]
    architecture = random_architectures(0, 1)[0]
    paper = SPACES["paper"]
    assert architecture.generator_activation == paper.activations[expected_indices[0]]
    assert architecture.critic_activation == paper.activations[expected_indices[1]]
    assert architecture.generator_depth == paper.depths[expected_indices[2]]
    assert architecture.critic_depth == paper.depths[expected_indices[3]]
    assert architecture.generator_batch_norm is (True, False)[expected_indices[4]]
    assert architecture.critic_normalised is (True, False)[expected_indices[5]]
    assert architecture.generator_channels == paper.channels[expected_indices[6]]
    assert architecture.critic_channels == paper.channels[expected_indices[7]]


def test_draws_cover_every_choice_of_the_space():
    architectures = random_architectures(0, 200, "cpu")
    space = SPACES["cpu"]
    for field, choices in [
        ("generator_activation", space.activations),
        ("critic_activation", space.activations),
        ("generator_depth", space.depths),
        ("critic_depth", space.depths),
        ("generator_batch_norm", (True, False)),
        ("critic_normalised", (True, False)),
        ("generator_channels", space.channels),
        ("critic_channels", space.channels),
    ]:
        assert {getattr(a, field) for a in architectures} == set(choices), field


@pytest.mark.parametrize(("critic_norm", "objective"), [("layer", "wgan-gp"), ("batch", "gan")])
def test_overrides_make_a_valid_config_with_the_drawn_settings(critic_norm, objective):
    for architecture in random_architectures(3, 10):
        overrides = architecture.overrides(critic_norm)
        config = load_config(
            None, [f"objective.name={objective}", "data.source=cifar10", *(f"{k}={v}" for k, v in overrides.items())]
        )
        model = config.model
        assert model.architecture == "dcgan"
        assert (model.generator_activation, model.dcgan_critic_activation) == (
            architecture.generator_activation,
            architecture.critic_activation,
        )
        assert (model.generator_depth, model.critic_depth) == (architecture.generator_depth, architecture.critic_depth)
        assert model.generator_norm == ("batch" if architecture.generator_batch_norm else "none")
        assert model.critic_norm == (critic_norm if architecture.critic_normalised else "none")
        assert (model.generator_base, model.critic_base) == (
            architecture.generator_channels,
            architecture.critic_channels,
        )


def test_every_cpu_draw_builds_and_takes_a_penalised_step_at_32px():
    for architecture in random_architectures(0, 6, "cpu"):
        config = load_config(
            None,
            ["data.source=cifar10", "model.z_dim=8", *(f"{k}={v}" for k, v in architecture.overrides("layer").items())],
        )
        generator, critic = build_networks(config.model, (3, 32, 32), torch.Generator().manual_seed(0), is_image=True)
        fake = generator(noise(2, 8))
        interpolates = (0.5 * fake + 0.5 * noise(2, 3, 32, 32)).detach().requires_grad_(True)
        (gradient,) = torch.autograd.grad(critic(interpolates).sum(), interpolates, create_graph=True)
        loss = critic(fake).mean() + 10 * ((gradient.flatten(1).norm(dim=1) - 1) ** 2).mean()
        loss.backward()
        for network in (generator, critic):
            for name, parameter in network.named_parameters():
                assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), (architecture.label, name)


def test_every_paper_draw_builds_with_the_depth_and_widths_drawn():
    for architecture in random_architectures(0, 20):
        config = load_config(
            None, ["data.source=cifar10", *(f"{k}={v}" for k, v in architecture.overrides("layer").items())]
        )
        # Built without storage: the paper's widest, deepest draws are slow to run on a CPU (the cpu space's draws
        # run above, and every combination of settings runs in test_dcgan.py).
        with torch.device("meta"):
            generator, critic = build_dcgan(config.model, (3, 32, 32))
        for network, depth, base in [
            (generator, architecture.generator_depth, architecture.generator_channels),
            (critic, architecture.critic_depth, architecture.critic_channels),
        ]:
            layers = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]
            assert len(layers) == depth, architecture.label
            assert min(m.out_channels for m in layers if m.out_channels > 3) == base, architecture.label
