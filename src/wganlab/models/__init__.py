"""Networks. Each returns raw values only: the generator a sample, the critic a score of shape (batch,).

Networks never know which objective trains them; `build_networks` picks the family from the config.
"""

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from wganlab.config import ModelConfig
from wganlab.models.architecture_space import (
    SPACES,
    ArchitectureSpace,
    RandomArchitecture,
    random_architecture,
    random_architectures,
)
from wganlab.models.init import init_weights
from wganlab.models.mlp import MLPCritic, MLPGenerator

__all__ = [
    "SPACES",
    "ArchitectureSpace",
    "RandomArchitecture",
    "build_networks",
    "build_shapes",
    "evaluating",
    "has_batch_norm",
    "random_architecture",
    "random_architectures",
]


def build_networks(
    config: ModelConfig, sample_shape: tuple[int, ...], rng: torch.Generator, *, is_image: bool
) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) for samples of `sample_shape`, initialised from `rng`."""
    if config.init_std == 0:
        # PyTorch's default init draws from the global RNG: seed it from `rng` inside a fork, so the init is
        # reproducible and the same on every process, and the caller's global RNG state is left as it was.
        seed = int(torch.randint(0, 2**62, (1,), generator=rng))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return _construct(config, sample_shape, is_image=is_image)
    generator, critic = _construct(config, sample_shape, is_image=is_image)
    init_weights(generator, config.init_std, rng)
    init_weights(critic, config.init_std, rng)
    return generator, critic


def build_shapes(config: ModelConfig, sample_shape: tuple[int, ...], *, is_image: bool) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) on the meta device: every parameter's shape and no memory, to size a config before
    building it (a layer too large to count raises RuntimeError: "Storage size calculation overflowed")."""
    with torch.device("meta"):
        return _construct(config, sample_shape, is_image=is_image)


def _construct(config: ModelConfig, sample_shape: tuple[int, ...], *, is_image: bool) -> tuple[nn.Module, nn.Module]:
    if config.architecture == "mlp":
        generator: nn.Module = MLPGenerator(
            config.z_dim,
            config.generator_widths,
            sample_shape,
            tanh_out=is_image,
            nonlinearity=config.generator_activation,
        )
        critic: nn.Module = MLPCritic(sample_shape, config.critic_widths, nonlinearity=config.critic_activation)
    elif config.architecture == "dcgan":
        from wganlab.models.dcgan import build_dcgan

        generator, critic = build_dcgan(config, sample_shape)
    elif config.architecture == "wgan_gp_mnist":
        from wganlab.models.wgan_gp_mnist import build_wgan_gp_mnist

        generator, critic = build_wgan_gp_mnist(config, sample_shape)
    else:
        from wganlab.models.resnet import build_resnet

        generator, critic = build_resnet(config, sample_shape)
    return generator, critic


def has_batch_norm(network: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in network.modules())


@contextlib.contextmanager
def evaluating(network: nn.Module) -> Iterator[nn.Module]:
    """`network` in eval mode (batch norm uses its running statistics) for the block, then as it was."""
    was_training = network.training
    network.eval()
    try:
        yield network
    finally:
        network.train(was_training)
