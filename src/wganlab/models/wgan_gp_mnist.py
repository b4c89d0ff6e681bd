"""The WGAN-GP paper's small MNIST conv nets (Gulrajani et al. 2017, gan_mnist.py), `channels` is DIM (64).

Generator: linear z -> 4*4*4D, ReLU; transposed conv 4D -> 2D k5 (4 -> 8), ReLU, crop to 7x7; transposed
conv 2D -> D k5 (7 -> 11), ReLU; transposed conv D -> C k8 s2 (11 -> 28). The paper's code ends in a sigmoid
for pixels in [0, 1]; ours ends in tanh because our images are in [-1, 1] (the same cost).
Critic: conv C -> D, D -> 2D, 2D -> 4D, each k5 s2 p2 (28 -> 14 -> 7 -> 4) and ReLU; linear 4*4*4D -> 1.
No normalisation on either side, as in the paper's MNIST experiment.
"""

from torch import Tensor, nn

from wganlab.config import ModelConfig
from wganlab.errors import ConfigError


class MNISTGenerator(nn.Module):
    """z (batch, z_dim) -> image (batch, C, 28, 28) in [-1, 1]."""

    def __init__(self, z_dim: int, image_channels: int, dim: int):
        super().__init__()
        self.dim = dim
        self.project = nn.Linear(z_dim, 4 * 4 * 4 * dim)
        self.up1 = nn.ConvTranspose2d(4 * dim, 2 * dim, 5)
        self.up2 = nn.ConvTranspose2d(2 * dim, dim, 5)
        self.to_pixels = nn.ConvTranspose2d(dim, image_channels, 8, stride=2)

    def forward(self, z: Tensor) -> Tensor:
        x = self.project(z).relu().view(len(z), 4 * self.dim, 4, 4)
        x = self.up1(x).relu()[:, :, :7, :7]  # (batch, 2D, 8, 8) cropped to 7x7, as the paper's code does
        x = self.up2(x).relu()
        return self.to_pixels(x).tanh()


class MNISTCritic(nn.Module):
    """image (batch, C, 28, 28) -> raw score (batch,)."""

    def __init__(self, image_channels: int, dim: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(image_channels, dim, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv2d(dim, 2 * dim, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv2d(2 * dim, 4 * dim, 5, stride=2, padding=2),
            nn.ReLU(),
        )
        self.score = nn.Linear(4 * 4 * 4 * dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.features(x).flatten(1)).view(len(x))


def build_wgan_gp_mnist(config: ModelConfig, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    if len(sample_shape) != 3 or sample_shape[1:] != (28, 28):
        raise ConfigError(
            f"model.architecture='wgan_gp_mnist' takes 28x28 images, not {sample_shape}; "
            "set data.image_size=0 (native) for MNIST / Fashion-MNIST"
        )
    channels = sample_shape[0]
    return MNISTGenerator(config.z_dim, channels, config.generator_base), MNISTCritic(channels, config.critic_base)
