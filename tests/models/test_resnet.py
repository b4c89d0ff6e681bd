"""WGAN-GP ResNets: shapes, parameter counts, per-sample scores, double backward; training at 64 and 128 px."""

import json
import math

import pytest
import torch
from critic_checks import (
    assert_batch_norm_couples_in_training_only,
    assert_double_backward_reaches_every_parameter,
    assert_scores_each_sample_independently,
    noise,
)
from torch import nn

from wganlab.config import ModelConfig, load_config
from wganlab.errors import ConfigError
from wganlab.models import build_networks, has_batch_norm
from wganlab.models.resnet import OptimizedBlock, ResidualBlock, build_resnet

NORMS = ["none", "batch", "layer", "instance"]


def small(**overrides) -> ModelConfig:
    return ModelConfig(**{"architecture": "resnet", "z_dim": 8, "channels": 4, **overrides})


def count(network: nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("image_channels", [1, 3])
@pytest.mark.parametrize("generator_norm", ["batch", "none"])
def test_generator_makes_images_in_tanh_range(size, image_channels, generator_norm):
    generator, _ = build_resnet(small(generator_norm=generator_norm), (image_channels, size, size))
    fake = generator(noise(2, 8) * 50)
    assert fake.shape == (2, image_channels, size, size)
    assert torch.equal(fake.clamp(-1, 1), fake)
    assert has_batch_norm(generator) is (generator_norm == "batch")


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("image_channels", [1, 3])
@pytest.mark.parametrize("norm", NORMS)
def test_critic_gives_one_score_per_image(size, image_channels, norm):
    _, critic = build_resnet(small(critic_norm=norm), (image_channels, size, size))
    assert critic(noise(3, image_channels, size, size)).shape == (3,)
    assert has_batch_norm(critic) is (norm == "batch")


def test_32px_layout_is_gan_cifar_resnet():
    generator, critic = build_resnet(small(), (3, 32, 32))
    assert [type(block) for block in critic.blocks] == [ResidualBlock] * 3
    assert isinstance(critic.stem, OptimizedBlock)
    assert [block.resample for block in critic.blocks] == ["down", "none", "none"]
    assert [block.resample for block in generator.blocks] == ["up", "up", "up"]
    # The two blocks that keep size and width add their input back unchanged.
    assert [type(block.shortcut) for block in critic.blocks] == [nn.Conv2d, nn.Identity, nn.Identity]


def test_64px_widths_run_from_8_dim_to_dim():
    generator, critic = build_resnet(small(channels=2), (3, 64, 64))
    assert [(b.conv1.in_channels, b.conv2.out_channels) for b in generator.blocks] == [
        (16, 16),
        (16, 8),
        (8, 4),
        (4, 2),
    ]
    assert [(b.conv1.in_channels, b.conv2.out_channels) for b in critic.blocks] == [
        (2, 4),
        (4, 8),
        (8, 16),
        (16, 16),
    ]
    assert critic.out.in_features == 4 * 4 * 16


def test_parameter_counts_cifar_dim_128():
    with torch.device("meta"):
        generator, critic = build_resnet(small(z_dim=128, channels=128), (3, 32, 32))
        _, layer_critic = build_resnet(small(z_dim=128, channels=128, critic_norm="layer"), (3, 32, 32))
        plain_generator, _ = build_resnet(small(z_dim=128, channels=128, generator_norm="none"), (3, 32, 32))
    # linear 128·2048 + 2048 = 264,192; each up-block: BN 256 + conv 147,584 + BN 256 + conv 147,584
    # + 1x1 shortcut 16,512 = 312,192, three of them; output BN 256; output conv 128·3·9 + 3 = 3,459.
    assert count(generator) == 1_204_483
    assert count(plain_generator) == 1_204_483 - 7 * 256
    # optimised block 3,584 + 147,584 + 512 = 151,680; down-block 147,584 · 2 + 16,512 = 311,680; two
    # identity blocks 2 · 295,168; linear 129.
    assert count(critic) == 1_053_825
    assert count(layer_critic) == 1_053_825 + 3 * 2 * 256  # two layer norms per residual block


def test_parameter_counts_64px_dim_64():
    with torch.device("meta"):
        generator, critic = build_resnet(small(z_dim=128, channels=64), (3, 64, 64))
        _, layer_critic = build_resnet(small(z_dim=128, channels=64, critic_norm="layer"), (3, 64, 64))
    # linear 1,056,768; up-blocks 512->512 4,983,808, 512->256 1,902,592, 256->128 476,160,
    # 128->64 119,296 (first convs without bias); output BN 128 and conv 1,731.
    assert count(generator) == 8_540_483
    # stem 1,792; down-blocks 119,040 + 475,648 + 1,901,568 + 4,981,760; linear 8,192 + 1.
    assert count(critic) == 7_488_001
    assert count(layer_critic) == 7_488_001 + 4 * (64 + 128 + 256 + 512)


def test_128px_adds_one_8_dim_block_on_each_side_of_the_64px_networks():
    generator, critic = build_resnet(small(channels=2), (3, 128, 128))
    assert [(b.conv1.in_channels, b.conv2.out_channels) for b in generator.blocks] == [
        (16, 16),
        (16, 16),
        (16, 8),
        (8, 4),
        (4, 2),
    ]
    assert [(b.conv1.in_channels, b.conv2.out_channels) for b in critic.blocks] == [
        (2, 4),
        (4, 8),
        (8, 16),
        (16, 16),
        (16, 16),
    ]
    assert [b.resample for b in (*generator.blocks, *critic.blocks)] == ["up"] * 5 + ["down"] * 5
    assert critic.out.in_features == 4 * 4 * 16
    assert critic.stem(noise(1, 3, 128, 128)).shape == (1, 2, 128, 128)


def test_parameter_counts_128px_with_separate_generator_and_critic_dims():
    with torch.device("meta"):
        generator, critic = build_resnet(small(generator_channels=2, critic_channels=3), (3, 128, 128))
    # DIM_G 2, z 8, batch norm: widths 16, 16, 16, 8, 4, 2. Linear 8·256 + 256 = 2,304. An up-block a -> b is
    # BN 2a + conv1 9ab (no bias) + BN 2b + conv2 9b² + b + 1x1 shortcut ab + b: 16->16 4,960 (twice), 16->8
    # 1,920, 8->4 496, 4->2 132. Output BN 4 and conv 2·3·9 + 3 = 57.
    assert count(generator) == 2_304 + 2 * 4_960 + 1_920 + 496 + 132 + 4 + 57 == 14_833
    # DIM_D 3, no norm: stem 3·3·9 + 3 = 84; a down-block a -> b is conv1 9a² (no bias) + conv2 9ab + b + 1x1
    # shortcut ab + b: 3->6 273, 6->12 1,068, 12->24 4,224, 24->24 10,992 (twice); linear 4·4·24 + 1 = 385.
    assert count(critic) == 84 + 273 + 1_068 + 4_224 + 2 * 10_992 + 385 == 28_018


def test_parameter_counts_128px_dim_64_are_64px_plus_one_512_block_each():
    with torch.device("meta"):
        generator, critic = build_resnet(small(z_dim=128, channels=64), (3, 128, 128))
    # One more 512 -> 512 up-block (4,983,808, see the 64 px count) and down-block (9·512² + 10·512² + 1,024).
    assert count(generator) == 8_540_483 + 4_983_808
    assert count(critic) == 7_488_001 + 4_981_760


@pytest.mark.parametrize("norm", ["none", "layer", "instance"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("size", [32, 64])
def test_critic_scores_each_sample_independently(norm, training, size):
    _, critic = build_resnet(small(critic_norm=norm), (3, size, size))
    critic.train(training)
    assert_scores_each_sample_independently(critic, noise(3, 3, size, size))


def test_batch_norm_critic_couples_the_batch_in_training_only():
    torch.manual_seed(0)  # PyTorch's default init draws from the global RNG
    _, critic = build_resnet(small(critic_norm="batch"), (3, 32, 32))
    assert_batch_norm_couples_in_training_only(critic, (3, 32, 32))


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("size", [32, 64, 128])
def test_critic_supports_double_backward(norm, size):
    _, critic = build_resnet(small(critic_norm=norm), (3, size, size))
    assert_double_backward_reaches_every_parameter(critic, noise(2, 3, size, size))


def test_generator_gradients_reach_every_parameter():
    generator, critic = build_resnet(small(), (3, 32, 32))
    critic(generator(noise(2, 8))).mean().backward()
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name


@pytest.mark.parametrize("shape", [(3, 16, 16), (1, 28, 28), (3, 256, 256), (3, 32, 64), (2,)])
def test_unsupported_sizes_raise_config_error(shape):
    with pytest.raises(ConfigError, match=r"model\.architecture='resnet'.*data\.image_size.*32 px.*64 px.*128 px"):
        build_resnet(small(), shape)


def test_build_networks_initialises_resnet_reproducibly():
    builds = [build_networks(small(), (3, 32, 32), torch.Generator().manual_seed(0), is_image=True) for _ in range(2)]
    for first, second in zip(builds[0], builds[1], strict=True):
        for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
            assert torch.equal(a, b), name


def test_cifar10_preset_is_the_papers_resnet_and_builds():
    config = load_config("cifar10/wgan-gp-resnet")
    assert (config.data.source, config.model.architecture, config.model.channels) == ("cifar10", "resnet", 128)
    assert (config.model.generator_norm, config.model.critic_norm) == ("batch", "none")
    assert (config.objective.name, config.objective.n_critic, config.objective.penalty_weight) == ("wgan-gp", 5, 10.0)
    optim = config.optim
    assert (optim.optimizer, optim.generator_lr, optim.critic_lr, optim.betas) == ("adam", 2e-4, 2e-4, (0.0, 0.9))
    assert (optim.lr_decay, optim.lr_decay_steps, config.train.steps, config.train.batch_size) == (
        "linear",
        0,
        100_000,
        64,
    )
    generator, critic = build_networks(config.model, (3, 32, 32), torch.Generator().manual_seed(0), is_image=True)
    assert count(generator) == 1_204_483 and count(critic) == 1_053_825  # test_parameter_counts_cifar_dim_128
    fake = generator(noise(2, 128))
    assert fake.shape == (2, 3, 32, 32)
    assert critic(fake).shape == (2,)


@pytest.mark.parametrize("size", [64, 128])
def test_wgan_gp_trains_the_deep_resnets_and_resumes_them_exactly(tmp_path, size):
    """The 64 and 128 px ResNets through the training loop: WGAN-GP (layer-norm critic, batch-norm generator) on RGB
    images from a .npy; 2 steps then a resume to 3 give the same networks as 3 steps at once."""
    import numpy as np

    import wganlab

    np.save(tmp_path / "set.npy", np.random.default_rng(0).integers(0, 256, (8, size, size, 3), dtype=np.uint8))
    settings = {
        "data": {"source": "array", "path": str(tmp_path / "set.npy")},
        "model": {"architecture": "resnet", "channels": 2, "z_dim": 8, "critic_norm": "layer"},
        "objective": {"name": "wgan-gp", "n_critic": 2},
        "optim": {"optimizer": "adam", "generator_lr": 1e-4, "critic_lr": 1e-4, "betas": (0.0, 0.9)},
        "log": {"progress": False, "tensorboard": False, "log_every": 1, "checkpoint_every": 1, "eval_every": 0},
    }
    whole = wganlab.train(None, out=tmp_path / "whole", **settings, train={"steps": 3, "batch_size": 4})
    split = wganlab.train(None, out=tmp_path / "split", **settings, train={"steps": 2, "batch_size": 4})
    wganlab.train(None, out=split, resume=True, **settings, train={"steps": 3, "batch_size": 4})
    images = wganlab.sample(whole, 5, seed=1)
    assert images.shape == (5, 3, size, size) and images.abs().max() <= 1
    assert torch.equal(images, wganlab.sample(split, 5, seed=1))
    logged = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    penalties = [r["penalty"] for r in logged if r.get("kind") == "train"]
    assert len(penalties) == 3 and all(math.isfinite(p) and p >= 0 for p in penalties)
