"""DCGAN networks: shapes for every size and norm, parameter counts, per-sample critics, double backward."""

import pytest
import torch
from critic_checks import (
    assert_batch_norm_couples_in_training_only,
    assert_double_backward_reaches_every_parameter,
    assert_scores_each_sample_independently,
    noise,
)
from torch import nn

from wganlab.config import ModelConfig
from wganlab.errors import ConfigError
from wganlab.models import build_networks, has_batch_norm
from wganlab.models.activations import activation
from wganlab.models.dcgan import build_dcgan

SIZES = [16, 28, 32, 64, 128]
NORMS = ["none", "batch", "layer", "instance"]


def small(**overrides) -> ModelConfig:
    return ModelConfig(**{"architecture": "dcgan", "z_dim": 8, "channels": 4, **overrides})


def count(network: nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("image_channels", [1, 3])
@pytest.mark.parametrize("generator_norm", ["batch", "none"])
def test_generator_makes_images_in_tanh_range(size, image_channels, generator_norm):
    generator, _ = build_dcgan(small(generator_norm=generator_norm), (image_channels, size, size))
    fake = generator(noise(2, 8) * 50)  # large z saturates the tanh somewhere
    assert fake.shape == (2, image_channels, size, size)
    assert torch.equal(fake.clamp(-1, 1), fake)
    assert has_batch_norm(generator) is (generator_norm == "batch")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("image_channels", [1, 3])
@pytest.mark.parametrize("norm", NORMS)
def test_critic_gives_one_score_per_image(size, image_channels, norm):
    _, critic = build_dcgan(small(critic_norm=norm), (image_channels, size, size))
    scores = critic(noise(3, image_channels, size, size))
    assert scores.shape == (3,)
    assert has_batch_norm(critic) is (norm == "batch")


def test_64px_layout_is_seed_002_figure_5():
    """Five transposed convs 128 -> 512 -> 256 -> 128 -> 64 -> 3 with BN after the first four; the critic's
    four stride-2 convs 3 -> 64 -> ... -> 512 with LeakyReLU(0.2) and a last k4 conv to one score."""
    generator, critic = build_dcgan(small(z_dim=128, channels=64), (3, 64, 64))
    convs = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [
        (128, 512),
        (512, 256),
        (256, 128),
        (128, 64),
        (64, 3),
    ]
    assert [m.stride for m in convs] == [(1, 1)] + [(2, 2)] * 4
    assert [m.num_features for m in generator.modules() if isinstance(m, nn.BatchNorm2d)] == [
        512,
        256,
        128,
        64,
    ]
    assert isinstance(list(generator.body)[-1], nn.Tanh)
    convs = [m for m in critic.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [
        (3, 64),
        (64, 128),
        (128, 256),
        (256, 512),
        (512, 1),
    ]
    assert [(m.kernel_size, m.stride, m.padding) for m in convs] == [((4, 4), (2, 2), (1, 1))] * 4 + [
        ((4, 4), (1, 1), (0, 0))
    ]
    slopes = [m.negative_slope for m in critic.modules() if isinstance(m, nn.LeakyReLU)]
    assert slopes == [0.2] * 4


def test_28px_variant_ends_at_7x7():
    generator, critic = build_dcgan(small(), (1, 28, 28))
    first = next(m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d))
    last = [m for m in critic.modules() if isinstance(m, nn.Conv2d)][-1]
    assert (first.kernel_size, last.kernel_size) == ((7, 7), (7, 7))
    assert generator.body[:3](noise(2, 8)[:, :, None, None]).shape == (2, 8, 7, 7)


def test_parameter_counts_classic_64px():
    """z 100, 64 px RGB, channels 64: the PyTorch DCGAN's 3,576,704 / 2,765,568 plus unnormalised biases."""
    with torch.device("meta"):
        generator, critic = build_dcgan(small(z_dim=100, channels=64, critic_norm="batch"), (3, 64, 64))
    # weights 100·512·16 + 512·256·16 + 256·128·16 + 128·64·16 + 64·3·16 = 3,574,784; BN 2·(512+256+128+64)
    # = 1,920; output bias 3.
    assert count(generator) == 3_576_707
    # weights 3·64·16 + 64·128·16 + 128·256·16 + 256·512·16 + 512·16 = 2,763,776; BN 2·(128+256+512)
    # = 1,792; biases of the first and last conv 64 + 1.
    assert count(critic) == 2_765_633


def test_parameter_counts_without_batch_norm():
    with torch.device("meta"):
        generator, _ = build_dcgan(small(z_dim=100, channels=64, generator_norm="none"), (3, 64, 64))
        _, layer_critic = build_dcgan(small(z_dim=100, channels=64, critic_norm="layer"), (3, 64, 64))
        _, plain_critic = build_dcgan(small(z_dim=100, channels=64, critic_norm="none"), (3, 64, 64))
    assert count(generator) == 3_574_784 + (512 + 256 + 128 + 64 + 3)  # every layer keeps its bias
    # layer norm keeps the biases (it subtracts one mean over all channels) and adds 2·C per norm.
    assert count(layer_critic) == 2_763_776 + (64 + 128 + 256 + 512 + 1) + 2 * (128 + 256 + 512)
    assert count(plain_critic) == 2_763_776 + (64 + 128 + 256 + 512 + 1)


def test_parameter_counts_28px():
    with torch.device("meta"):
        generator, critic = build_dcgan(small(z_dim=100, channels=64, critic_norm="layer"), (1, 28, 28))
    # 100·128·49 + BN 256 + 128·64·16 + BN 128 + 64·1·16 + 1
    assert count(generator) == 759_681
    # 1·64·16 + 64 + 64·128·16 + 128 + GN 256 + 128·1·49 + 1
    assert count(critic) == 138_817


@pytest.mark.parametrize("norm", ["none", "layer", "instance"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("size", [16, 28])
def test_critic_scores_each_sample_independently(norm, training, size):
    _, critic = build_dcgan(small(critic_norm=norm), (3, size, size))
    critic.train(training)
    assert_scores_each_sample_independently(critic, noise(4, 3, size, size))


def test_batch_norm_critic_couples_the_batch_in_training_only():
    torch.manual_seed(0)  # PyTorch's default init draws from the global RNG
    _, critic = build_dcgan(small(critic_norm="batch"), (3, 16, 16))
    assert_batch_norm_couples_in_training_only(critic, (3, 16, 16))


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("size", [16, 28])
def test_critic_supports_double_backward(norm, size):
    _, critic = build_dcgan(small(critic_norm=norm), (3, size, size))
    assert_double_backward_reaches_every_parameter(critic, noise(3, 3, size, size))


@pytest.mark.parametrize("shape", [(3, 8, 8), (3, 36, 36), (3, 100, 100), (1, 32, 64), (3, 27, 27), (2,)])
def test_unsupported_sizes_raise_config_error(shape):
    with pytest.raises(ConfigError, match=r"model\.architecture='dcgan'.*data\.image_size.*power of two"):
        build_dcgan(small(), shape)


@pytest.mark.parametrize(("size", "end"), [(96, 6), (48, 6), (20, 5)])
def test_sizes_between_powers_of_two_end_at_5_6_or_7(size, end):
    generator, critic = build_dcgan(small(), (3, size, size))
    assert generator(torch.randn(2, small().z_dim)).shape == (2, 3, size, size)
    assert critic(torch.zeros(2, 3, size, size)).shape == (2,)
    assert list(critic.modules())[-1].kernel_size == (end, end)


def test_build_networks_initialises_dcgan_reproducibly():
    builds = [build_networks(small(), (3, 32, 32), torch.Generator().manual_seed(0), is_image=True) for _ in range(2)]
    for first, second in zip(builds[0], builds[1], strict=True):
        for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
            assert torch.equal(a, b), name
    generator, _ = builds[0]
    bias = next(m.bias for m in generator.modules() if isinstance(m, nn.ConvTranspose2d) and m.bias is not None)
    assert torch.equal(bias, torch.zeros_like(bias))


# -- the WGAN-GP paper's random-architecture settings: nonlinearity, depth, per-network base channels ---------------


def weight_layers(network: nn.Module) -> list[nn.Module]:
    return [m for m in network.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]


def test_default_32px_networks_keep_todays_parameter_names():
    generator, critic = build_dcgan(small(), (3, 32, 32))
    # G: ConvT (no bias) BN ReLU, twice more, then ConvT with bias and tanh; D: conv LReLU, (conv LReLU) x 2, conv.
    assert [name for name, _ in generator.named_parameters()] == [
        "body.0.weight",
        "body.1.weight",
        "body.1.bias",
        "body.3.weight",
        "body.4.weight",
        "body.4.bias",
        "body.6.weight",
        "body.7.weight",
        "body.7.bias",
        "body.9.weight",
        "body.9.bias",
    ]
    assert [name for name, _ in critic.named_parameters()] == [
        f"body.{i}.{kind}" for i in (0, 2, 4, 6) for kind in ("weight", "bias")
    ]
    assert [type(m) for m in generator.body if not list(m.parameters())] == [nn.ReLU] * 3 + [nn.Tanh]
    assert [type(m) for m in critic.body if not list(m.parameters())] == [nn.LeakyReLU] * 3


@pytest.mark.parametrize("size", [28, 32, 64])
def test_depth_equal_to_dcgans_own_is_the_default_network(size):
    levels = {28: 2, 32: 3, 64: 4}[size]
    default, same = (
        build_dcgan(small(**depths), (3, size, size))
        for depths in ({}, {"generator_depth": levels + 1, "critic_depth": levels + 1})
    )
    for a, b in zip(default, same, strict=True):
        assert [(n, p.shape) for n, p in a.named_parameters()] == [(n, p.shape) for n, p in b.named_parameters()]


def test_parameter_count_of_a_deep_narrow_mixed_network():
    """32 px, z 8; G: base 4, depth 8, batch norm; D: base 6, depth 6, layer norm (counts by hand)."""
    config = small(generator_channels=4, critic_channels=6, generator_depth=8, critic_depth=6, critic_norm="layer")
    generator, critic = build_dcgan(config, (3, 32, 32))
    # G widths 16, 8, 4 at 4x4, 8x8, 16x16; depth 8 = DCGAN's 4 + 4 extra 3x3 layers: 2 at 4x4, 1 at 8x8, 1 at 16x16.
    # ConvT 8·16·16 + BN 32; 2 x (16·16·9 + 32); ConvT 16·8·16 + BN 16; 8·8·9 + 16; ConvT 8·4·16 + BN 8;
    # 4·4·9 + 8; output ConvT 4·3·16 + 3.
    assert count(generator) == 2080 + 4672 + 2064 + 592 + 520 + 152 + 195 == 10_275
    assert len(weight_layers(generator)) == 8
    # D widths 6, 12, 24 at 16x16, 8x8, 4x4; depth 6 = 4 + 2 extra: 1 at 4x4, 1 at 8x8 (narrowest first). Layer
    # norm keeps every bias and adds 2·C. conv 3·6·16 + 6; conv 6·12·16 + 12 + GN 24; 12·12·9 + 12 + GN 24;
    # conv 12·24·16 + 24 + GN 48; 24·24·9 + 24 + GN 48; last conv 24·16 + 1.
    assert count(critic) == 294 + 1188 + 1332 + 4680 + 5256 + 385 == 13_135
    assert len(weight_layers(critic)) == 6
    extra = [m for m in weight_layers(critic) if m.kernel_size == (3, 3)]
    assert [(m.in_channels, m.stride) for m in extra] == [(12, (1, 1)), (24, (1, 1))]


@pytest.mark.parametrize(
    ("depth", "per_resolution"),
    [(4, [0, 0, 0]), (5, [1, 0, 0]), (8, [2, 1, 1]), (12, [3, 3, 2]), (20, [6, 5, 5])],
)
def test_depth_spreads_extra_layers_narrowest_first(depth, per_resolution):
    generator, critic = build_dcgan(small(generator_depth=depth, critic_depth=depth), (3, 32, 32))
    for network in (generator, critic):
        layers = weight_layers(network)
        assert len(layers) == depth
        extra_widths = [m.out_channels for m in layers if m.kernel_size == (3, 3)]
        # base 4: the 4x4 map has 16 channels, 8x8 8 and 16x16 4, in both networks.
        assert [extra_widths.count(width) for width in (16, 8, 4)] == per_resolution


@pytest.mark.parametrize("player", ["generator", "critic"])
def test_depth_below_dcgans_own_is_refused(player):
    with pytest.raises(ConfigError, match=rf"model\.{player}_depth=3 is below the 4 layers .* 32 px"):
        build_dcgan(small(**{f"{player}_depth": 3}), (3, 32, 32))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "softplus", "tanh"])
def test_each_activation_reaches_every_hidden_layer(name):
    generator, critic = build_dcgan(
        small(generator_activation=name, dcgan_critic_activation=name, generator_depth=5, critic_depth=5),
        (3, 32, 32),
    )
    expected = type(activation(name))
    # Every weight layer but the output is followed (after its norm) by the nonlinearity; G ends in tanh.
    generator_nonlinear = [type(m) for m in generator.body if not list(m.parameters())]
    assert generator_nonlinear == [expected] * 4 + [nn.Tanh]
    assert [type(m) for m in critic.body if not list(m.parameters())] == [expected] * 4


@pytest.mark.parametrize(
    ("size", "overrides"),
    [
        (32, {"generator_activation": "softplus", "dcgan_critic_activation": "tanh", "critic_norm": "layer"}),
        (32, {"generator_depth": 12, "critic_depth": 8, "generator_channels": 2, "critic_channels": 3}),
        (28, {"generator_depth": 6, "critic_depth": 4, "generator_norm": "none", "critic_norm": "instance"}),
        (64, {"generator_activation": "tanh", "dcgan_critic_activation": "relu", "critic_depth": 9}),
    ],
)
def test_random_architecture_settings_give_images_scores_and_penalty_gradients(size, overrides):
    generator, critic = build_dcgan(small(**overrides), (3, size, size))
    fake = generator(noise(2, 8))
    assert fake.shape == (2, 3, size, size)
    assert critic(fake).shape == (2,)
    assert_double_backward_reaches_every_parameter(critic, noise(2, 3, size, size))
