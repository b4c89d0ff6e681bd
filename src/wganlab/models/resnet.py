"""The WGAN-GP paper's ResNets (Gulrajani et al. 2017), following its reference code; `channels` is DIM.

32 px (gan_cifar_resnet.py, DIM 128 in the paper): the generator maps z linearly to DIM x 4 x 4, then three
residual up-blocks (DIM -> DIM), BN, ReLU, 3x3 conv, tanh. The critic is the optimised first block (32 -> 16),
one residual down-block (16 -> 8), two residual blocks at 8 x 8, then ReLU, a global mean over H and W (the
reference's reduce_mean, not a sum) and a linear layer to the score.
64 px (gan_64x64.py's GoodGenerator / GoodDiscriminator, DIM 64 there): z -> 8·DIM x 4 x 4, four up-blocks
8->8->4->2->1 (x DIM), BN, ReLU, 3x3 conv, tanh; the critic is a 3x3 conv to DIM, four down-blocks
1->2->4->8->8 (x DIM), then the 4 x 4 map flattened into a linear layer, with no pooling and no last ReLU.
128 px (the paper's 128x128 LSUN bedroom samples in its sample-quality experiments, sec. 5): the reference has no
128 px model, so this is the 64 px one with one more block on each side, keeping its rule that the width
doubles from DIM at full resolution at each halving and stops at 8·DIM: up-blocks 8->8->8->4->2->1 (x DIM)
from 4 x 4 to 128 x 128, down-blocks 1->2->4->8->8->8, the 4 x 4 x 8·DIM map flattened into the linear layer.
The paper says only that it is a deep ResNet; its depth and widths are our derivation, not the authors'.
generator_channels and critic_channels (0: `channels`) give G and D their own DIM, as the reference's DIM_G
and DIM_D do.

Blocks are pre-activation: norm, ReLU, conv, norm, ReLU, conv, plus a shortcut (1x1 conv, or the identity when
neither size nor width changes). Up-blocks upsample (nearest) before their first conv, down-blocks mean-pool
(2x2) after their second. The norm is generator_norm (batch or none) in the generator and critic_norm (none,
batch, layer or instance) in the critic's residual blocks; the optimised block never has one. As in the
reference, the first conv of a block has a bias at 32 px and none at 64 px (nor at 128); every other conv and
linear layer has one.
"""

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wganlab.config import ModelConfig
from wganlab.errors import ConfigError
from wganlab.models.dcgan import norm_layer


class ResidualBlock(nn.Module):
    """Pre-activation residual block; `resample` is up (x2, nearest), down (/2, mean-pool) or none."""

    def __init__(self, fan_in: int, fan_out: int, resample: str, norm: str, *, conv1_bias: bool):
        super().__init__()
        self.resample = resample
        middle = fan_out if resample == "up" else fan_in  # the reference changes width in conv1 going up
        self.norm1 = norm_layer(norm, fan_in)
        self.conv1 = nn.Conv2d(fan_in, middle, 3, padding=1, bias=conv1_bias)
        self.norm2 = norm_layer(norm, middle)
        self.conv2 = nn.Conv2d(middle, fan_out, 3, padding=1)
        same_shape = fan_in == fan_out and resample == "none"
        self.shortcut = nn.Identity() if same_shape else nn.Conv2d(fan_in, fan_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.norm1(x))
        if self.resample == "up":
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h))))
        # A 1x1 conv commutes with nearest upsampling and with mean-pooling: apply it on the smaller map.
        if self.resample == "up":
            return F.interpolate(self.shortcut(x), scale_factor=2.0, mode="nearest") + h
        if self.resample == "down":
            return self.shortcut(F.avg_pool2d(x, 2)) + F.avg_pool2d(h, 2)
        return self.shortcut(x) + h


class OptimizedBlock(nn.Module):
    """The 32 px critic's first block (OptimizedResBlockDisc1): conv, ReLU, conv, mean-pool; no norm, and no
    ReLU on the raw image."""

    def __init__(self, image_channels: int, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(image_channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.shortcut = nn.Conv2d(image_channels, width, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return self.shortcut(F.avg_pool2d(x, 2)) + h


class ResNetGenerator(nn.Module):
    """z (batch, z_dim) -> image (batch, C, H, W) in [-1, 1]; `widths` run from the 4 x 4 map up, one up-block
    between each pair."""

    def __init__(self, z_dim: int, image_channels: int, widths: list[int], norm: str, *, conv1_bias: bool):
        super().__init__()
        self.input = nn.Linear(z_dim, 4 * 4 * widths[0])
        self.blocks = nn.Sequential(
            *(ResidualBlock(a, b, "up", norm, conv1_bias=conv1_bias) for a, b in pairwise(widths))
        )
        self.out_norm = norm_layer(norm, widths[-1])
        self.out = nn.Conv2d(widths[-1], image_channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        h = self.input(z).view(len(z), -1, 4, 4)
        return torch.tanh(self.out(F.relu(self.out_norm(self.blocks(h)))))


class ResNetCritic(nn.Module):
    """image (batch, C, H, W) -> raw score (batch,). `global_pool`: ReLU and mean over H, W before the linear
    layer (32 px); otherwise the final map is flattened into it (64 px)."""

    def __init__(self, stem: nn.Module, blocks: list[nn.Module], features: int, *, global_pool: bool):
        super().__init__()
        self.stem = stem
        self.blocks = nn.Sequential(*blocks)
        self.global_pool = global_pool
        self.out = nn.Linear(features, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.blocks(self.stem(x))
        h = F.relu(h).mean(dim=(2, 3)) if self.global_pool else h.flatten(1)
        return self.out(h).view(len(x))


def build_resnet(config: ModelConfig, sample_shape: tuple[int, int, int]) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) for (C, 32, 32), (C, 64, 64) or (C, 128, 128) images."""
    size = sample_shape[1] if len(sample_shape) == 3 and sample_shape[1] == sample_shape[2] else 0
    if size not in (32, 64, 128):
        shown = "x".join(str(n) for n in sample_shape[1:]) if len(sample_shape) == 3 else str(sample_shape)
        raise ConfigError(
            f"model.architecture='resnet' cannot make {shown} images (data.image_size); it takes square "
            "32 px (gan_cifar_resnet.py), 64 px (gan_64x64.py) or 128 px (one block more); use 'dcgan' for other "
            "sizes"
        )
    image_channels, norm = sample_shape[0], config.critic_norm
    dim_g, dim_d = config.generator_base, config.critic_base
    if size == 32:
        generator = ResNetGenerator(config.z_dim, image_channels, [dim_g] * 4, config.generator_norm, conv1_bias=True)
        blocks: list[nn.Module] = [
            ResidualBlock(dim_d, dim_d, "down", norm, conv1_bias=True),
            ResidualBlock(dim_d, dim_d, "none", norm, conv1_bias=True),
            ResidualBlock(dim_d, dim_d, "none", norm, conv1_bias=True),
        ]
        critic = ResNetCritic(OptimizedBlock(image_channels, dim_d), blocks, dim_d, global_pool=True)
        return generator, critic
    # 64 px: multiples 8, 8, 4, 2, 1 from the 4 x 4 map up; 128 px: 8, 8, 8, 4, 2, 1.
    multiples = [8, 8, 4, 2, 1] if size == 64 else [8, 8, 8, 4, 2, 1]
    generator = ResNetGenerator(
        config.z_dim,
        image_channels,
        [m * dim_g for m in multiples],
        config.generator_norm,
        conv1_bias=False,
    )
    widths = [m * dim_d for m in reversed(multiples)]
    blocks = [ResidualBlock(a, b, "down", norm, conv1_bias=False) for a, b in pairwise(widths)]
    stem = nn.Conv2d(image_channels, dim_d, 3, padding=1)
    critic = ResNetCritic(stem, blocks, 4 * 4 * 8 * dim_d, global_pool=False)
    return generator, critic
