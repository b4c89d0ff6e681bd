"""DCGAN generator and critic (Radford et al. 2016), as seed 002 section 4.2 draws them.

Generator: z, viewed as (batch, z_dim, 1, 1), goes through a transposed conv k4 s1 p0 to a 4x4 map with
channels·2^(levels-1) maps, then transposed convs k4 s2 p1 that double the size and halve the channels, ReLU
between, tanh out; batch norm after every layer but the last when generator_norm='batch' (the seeds' "DCGAN
with/without batch norm"). At 64 px and channels=64 that is seed 002's five layers, 512->256->128->64->3.
Critic: the mirror image. Convs k4 s2 p1 halve the size and double the channels from `channels`, each followed
by LeakyReLU(0.2) and, except the first, by critic_norm; a last conv k4 s1 p0 turns the 4x4 map into one raw
score per sample. levels = log2(size / 4) stride-2 layers on each side.

Other sizes: the narrow end may be 4x4 to 7x7, so 28 px (MNIST) ends at 7x7 with two stride-2 stages and
96 px (anime faces, seed 003) at 6x6 with four; the generator projects z with a k=end transposed conv and the
critic's last conv has k=end.

Biases: a conv followed by batch or instance norm has none (the norm subtracts a per-channel mean, which
would cancel it); every other conv has one. So at z_dim 100, 64 px, channels 64 and batch norm the counts are
the classic PyTorch DCGAN's 3,576,704 (G) and 2,765,568 (D) plus the 3 and 65 biases of the layers no norm
follows.

The WGAN-GP paper's random architectures (Gulrajani et al. 2017, sec. 5.1; `models.random_architectures` draws
them) vary these settings, separately in G and D; their defaults give the networks above:
- nonlinearity: generator_activation (ReLU) and dcgan_critic_activation (LeakyReLU 0.2); either may be relu,
  leaky_relu, softplus (the paper's softplus(2x+2)/2 - 1) or tanh. The generator's output tanh stays.
- base filter count: generator_channels and critic_channels (0: `channels`) play `channels`' role above.
- normalisation: generator_norm and critic_norm as above (the paper: batch norm in D, layer norm for WGAN-GP).
- depth: generator_depth and critic_depth count the layers with weights, first and last included. DCGAN has
  base = levels + 1 of them (4 at 32 px, the paper's smallest depth; 3 at 28 px; 5 at 64 px), and 0 means
  exactly those. A depth d > base adds e = d - base conv layers k3 s1 p1 that keep size and width, each followed
  by the network's norm (with the bias rule above) and nonlinearity. They sit on the `levels` maps below the
  image size, right after the layer that makes each map (G: the projection, then each upsampling; D: each
  downsampling), narrowest map first: the j-th narrowest gets e // levels layers, plus one when j < e % levels.
  So at 32 px (levels 3: 4x4, 8x8, 16x16 maps) depth 8 adds 2, 1, 1 layers, depth 12 adds 3, 3, 2 and depth 20
  adds 6, 5, 5; a depth between 1 and base - 1 is a ConfigError. The paper does not say where its deeper
  networks put their layers; this spreading is our choice.
"""

from torch import Tensor, nn

from wganlab.config import ModelConfig
from wganlab.errors import ConfigError
from wganlab.models.activations import activation


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Per-channel normalisation of a (batch, channels, H, W) map: none, batch, layer or instance.

    'layer' normalises each sample over (C, H, W) with a per-channel scale and shift, as the WGAN-GP
    reference's Layernorm(axes [1, 2, 3]) does; GroupNorm with one group is exactly that.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def _cancels_bias(kind: str) -> bool:
    return kind in ("batch", "instance")


def _geometry(sample_shape: tuple[int, ...]) -> tuple[int, int]:
    """(end, levels): the networks' narrow end is end x end (4 to 7), `levels` >= 2 halvings away.

    So 64 px ends at 4x4 after 4 halvings, 28 px (MNIST) at 7x7 after 2, 96 px (anime faces) at 6x6 after 4.
    """
    if len(sample_shape) == 3:
        _, height, width = sample_shape
        end, levels = height, 0
        while end % 2 == 0 and end // 2 >= 4:
            end, levels = end // 2, levels + 1
        if height == width and 4 <= end <= 7 and levels >= 2:
            return end, levels
    size = "x".join(str(n) for n in sample_shape[1:]) if len(sample_shape) == 3 else str(sample_shape)
    raise ConfigError(
        f"model.architecture='dcgan' cannot make {size} images (data.image_size); it takes square images whose "
        "side is 4, 5, 6 or 7 times a power of two >= 4 (16, 28, 32, 48, 64, 96, 128, ...)"
    )


def _extra_layers(depth: int, levels: int, player: str, size: int) -> list[int]:
    """Extra 3x3 stride-1 layers per resolution, narrowest first, for a network of `depth` weight layers."""
    base = levels + 1
    if depth == 0:
        return [0] * levels
    if depth < base:
        raise ConfigError(
            f"model.{player}_depth={depth} is below the {base} layers a dcgan {player} has at {size} px; "
            f"use 0 (DCGAN's own) or a depth >= {base}"
        )
    extra = depth - base
    return [extra // levels + (1 if i < extra % levels else 0) for i in range(levels)]


class DCGANGenerator(nn.Module):
    """z (batch, z_dim) -> image (batch, C, H, W) in [-1, 1]. `extra[i]`: 3x3 stride-1 layers added after the
    i-th layer (i = 0 at the end x end map)."""

    def __init__(
        self,
        z_dim: int,
        image_channels: int,
        channels: int,
        end: int,
        levels: int,
        *,
        use_batch_norm: bool,
        nonlinearity: str = "relu",
        extra: list[int] | None = None,
    ):
        super().__init__()
        widths = [channels * 2 ** (levels - 1 - i) for i in range(levels)]  # 64 px, channels 64: 512 ... 64
        extra = extra or [0] * levels

        def norm_and_activation(width: int) -> list[nn.Module]:
            return [nn.BatchNorm2d(width), activation(nonlinearity)] if use_batch_norm else [activation(nonlinearity)]

        layers: list[nn.Module] = []
        for i, width in enumerate(widths):
            if i == 0:  # z -> end x end
                layers.append(nn.ConvTranspose2d(z_dim, width, end, 1, 0, bias=not use_batch_norm))
            else:
                layers.append(nn.ConvTranspose2d(widths[i - 1], width, 4, 2, 1, bias=not use_batch_norm))
            layers += norm_and_activation(width)
            for _ in range(extra[i]):
                layers += [nn.Conv2d(width, width, 3, 1, 1, bias=not use_batch_norm), *norm_and_activation(width)]
        layers += [nn.ConvTranspose2d(widths[-1], image_channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(z[:, :, None, None])  # (batch, z_dim, 1, 1): the projection is a transposed conv


class DCGANCritic(nn.Module):
    """image (batch, C, H, W) -> raw score (batch,); no sigmoid, the GAN objective applies it in its loss.
    `extra[i]`: 3x3 stride-1 layers added after the i-th stride-2 layer (i = 0 at the largest map)."""

    def __init__(
        self,
        image_channels: int,
        channels: int,
        end: int,
        levels: int,
        *,
        norm: str,
        nonlinearity: str = "leaky_relu",
        extra: list[int] | None = None,
    ):
        super().__init__()
        widths = [channels * 2**i for i in range(levels)]  # 64 px, channels 64: 64 ... 512
        extra = extra or [0] * levels

        def hidden(fan_in: int, width: int, *conv: int) -> list[nn.Module]:
            """conv, then norm (when there is one), then the nonlinearity."""
            layers = [nn.Conv2d(fan_in, width, *conv, bias=not _cancels_bias(norm))]
            return layers + ([norm_layer(norm, width)] if norm != "none" else []) + [activation(nonlinearity)]

        layers: list[nn.Module] = [nn.Conv2d(image_channels, widths[0], 4, 2, 1), activation(nonlinearity)]
        for i, width in enumerate(widths):
            if i > 0:
                layers += hidden(widths[i - 1], width, 4, 2, 1)
            for _ in range(extra[i]):
                layers += hidden(width, width, 3, 1, 1)
        layers.append(nn.Conv2d(widths[-1], 1, end, 1, 0))  # (batch, 1, 1, 1)
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).view(len(x))


def build_dcgan(config: ModelConfig, sample_shape: tuple[int, int, int]) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) for (C, H, W) images with H = W = 28 or a power of two >= 16."""
    end, levels = _geometry(sample_shape)
    image_channels, size = sample_shape[0], sample_shape[1]
    generator = DCGANGenerator(
        config.z_dim,
        image_channels,
        config.generator_base,
        end,
        levels,
        use_batch_norm=config.generator_norm == "batch",
        nonlinearity=config.generator_activation,
        extra=_extra_layers(config.generator_depth, levels, "generator", size),
    )
    critic = DCGANCritic(
        image_channels,
        config.critic_base,
        end,
        levels,
        norm=config.critic_norm,
        nonlinearity=config.dcgan_critic_activation,
        extra=_extra_layers(config.critic_depth, levels, "critic", size)[::-1],  # the critic narrows as i grows
    )
    return generator, critic
