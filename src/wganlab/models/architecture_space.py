"""Random DCGAN-family architectures, as in the WGAN-GP paper (Gulrajani et al. 2017, sec. 5.1: "Training random
architectures within a set"). Starting from DCGAN, the paper draws each setting of its table of choices at random,
separately for G and D, samples 200 architectures and trains each with the standard GAN and with WGAN-GP on 32 px
ImageNet:

    nonlinearity (G), (D)   ReLU, LeakyReLU, softplus(2x+2)/2 - 1, tanh
    depth (G), (D)          4, 8, 12, 20
    batch norm (G)          yes, no
    batch norm (D)          yes, no (layer norm for WGAN-GP)
    base filter count (G), (D)  32, 64, 128

(Values as recalled from arXiv:1704.00028; the stored copies searched while writing this lacked the table, so
the depth and filter rows still want checking against the PDF.) `SPACES["paper"]` is that table. `SPACES["cpu"]`
keeps the nonlinearities and norms, divides every base filter count by 4 (8, 16, 32: the paper's ratios, with
the widest equal to the 32 channels of the other CPU-sized image studies) and makes the networks shallower (depths
4, 6, 8) for a 2-core machine. Its first choice, 16, 32, 48 filters, was dropped before any study ran: measured
on an AMD EPYC core (one thread, WGAN-GP, n_critic 5, batch 64), a depth-8 critic of 48 filters takes 3.1 s per
generator step, and the 24-architecture study would have needed about 9 hours on 2 cores.

Depth counts the layers with weights as `models.dcgan` defines it (DCGAN at 32 px has 4), so both spaces are
meant for 32 px images; at 28 px DCGAN has 3 layers and every depth fits too, at 64 px (5 layers) depth 4 is a
ConfigError.

Draws use only `random.Random.random()`, whose sequence Python guarantees for a seed, so `random_architectures(
seed, n)` lists the same architectures on every machine and version, and its first k entries do not depend on n.
"""

import random
from dataclasses import dataclass

from wganlab.config import ACTIVATIONS


@dataclass(frozen=True)
class ArchitectureSpace:
    """The choices each setting is drawn from, uniformly and independently."""

    name: str
    activations: tuple[str, ...]
    depths: tuple[int, ...]
    channels: tuple[int, ...]


SPACES = {
    "paper": ArchitectureSpace("paper", ACTIVATIONS, depths=(4, 8, 12, 20), channels=(32, 64, 128)),
    "cpu": ArchitectureSpace("cpu", ACTIVATIONS, depths=(4, 6, 8), channels=(8, 16, 32)),
}


@dataclass(frozen=True)
class RandomArchitecture:
    """One draw from a space: a DCGAN generator and critic."""

    generator_activation: str
    critic_activation: str
    generator_depth: int
    critic_depth: int
    generator_batch_norm: bool
    critic_normalised: bool
    """Batch norm in the critic, or layer norm under WGAN-GP (the paper's one row for both)."""
    generator_channels: int
    critic_channels: int

    def overrides(self, critic_norm: str) -> dict[str, str | int]:
        """`model.*` config overrides for this architecture. `critic_norm` is what a normalised critic uses: the
        paper's 'batch' for the GAN and 'layer' for WGAN-GP, whose penalty batch norm would break."""
        return {
            "model.architecture": "dcgan",
            "model.generator_activation": self.generator_activation,
            "model.dcgan_critic_activation": self.critic_activation,
            "model.generator_depth": self.generator_depth,
            "model.critic_depth": self.critic_depth,
            "model.generator_norm": "batch" if self.generator_batch_norm else "none",
            "model.critic_norm": critic_norm if self.critic_normalised else "none",
            "model.generator_channels": self.generator_channels,
            "model.critic_channels": self.critic_channels,
        }

    @property
    def label(self) -> str:
        """e.g. "G relu d8 bn c64 / D tanh d4 norm c32", for tables."""
        generator = f"G {self.generator_activation} d{self.generator_depth}"
        generator += f"{' bn' if self.generator_batch_norm else ''} c{self.generator_channels}"
        critic = f"D {self.critic_activation} d{self.critic_depth}"
        critic += f"{' norm' if self.critic_normalised else ''} c{self.critic_channels}"
        return f"{generator} / {critic}"


def _pick(rng: random.Random, options: tuple):
    return options[int(rng.random() * len(options))]  # random() is in [0, 1), so the index is < len(options)


def random_architecture(rng: random.Random, space: str | ArchitectureSpace = "paper") -> RandomArchitecture:
    """One architecture drawn from `space` ("paper", "cpu" or an ArchitectureSpace), eight draws from `rng`."""
    space = SPACES[space] if isinstance(space, str) else space
    return RandomArchitecture(
        generator_activation=_pick(rng, space.activations),
        critic_activation=_pick(rng, space.activations),
        generator_depth=_pick(rng, space.depths),
        critic_depth=_pick(rng, space.depths),
        generator_batch_norm=_pick(rng, (True, False)),
        critic_normalised=_pick(rng, (True, False)),
        generator_channels=_pick(rng, space.channels),
        critic_channels=_pick(rng, space.channels),
    )


def random_architectures(seed: int, count: int, space: str | ArchitectureSpace = "paper") -> list[RandomArchitecture]:
    """The first `count` architectures of `seed`'s sequence (the paper samples 200)."""
    rng = random.Random(seed)
    return [random_architecture(rng, space) for _ in range(count)]
