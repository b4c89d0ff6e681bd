"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"): every image the
critic sees, real or fake, is transformed by the same random, differentiable operations, so the critic cannot
memorise a small training set and the generator's gradients flow back through the transformation.

The policy is the paper's (its reference code, DiffAugment_pytorch.py):

    color        brightness  x + b,                       b ~ U[-0.5, 0.5) per image
                 saturation  (x - mean_c x) * s + mean_c x, s ~ U[0, 2)  (mean over channels, per pixel)
                 contrast    (x - mean x) * c + mean x,     c ~ U[0.5, 1.5) (mean over the whole image)
    translation  shift by (dy, dx), each an integer in [-H // 8, H // 8] ([-W // 8, W // 8]); zeros come in
    cutout       a square of H // 2 x W // 2 set to 0, its centre anywhere in the image (partly outside is fine)

Each image gets its own draws, from the run's "augment" stream, on the device. Under torchrun every process
draws the parameters of the global batch and keeps its rows (rank, rank + world_size, ...), as the noise and the
penalty's mixes are drawn, so a run does not depend on how many processes share it.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

OPERATIONS = {"color": ("brightness", "saturation", "contrast"), "translation": ("translation",), "cutout": ("cutout",)}


def brightness(x: Tensor, shift: Tensor) -> Tensor:
    """x + shift, one shift per image (shift: (batch,))."""
    return x + shift.view(-1, 1, 1, 1)


def saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Each pixel's distance from its mean over the channels times `factor` (grey images: unchanged)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * factor.view(-1, 1, 1, 1) + mean


def contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Each value's distance from the image's mean (over channels and pixels) times `factor`."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * factor.view(-1, 1, 1, 1) + mean


def translate(x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """Image b moved down by rows[b] and right by cols[b] pixels (negative: up, left); what comes in is 0:
    out[b, :, i, j] = x[b, :, i - rows[b], j - cols[b]], or 0 where that lies outside the image."""
    n, _, height, width = x.shape
    padded = F.pad(x, (1, 1, 1, 1))  # one ring of zeros: every source index outside the image reads it
    source_rows = (torch.arange(height, device=x.device) - rows.view(-1, 1) + 1).clamp(0, height + 1)  # (batch, H)
    source_cols = (torch.arange(width, device=x.device) - cols.view(-1, 1) + 1).clamp(0, width + 1)  # (batch, W)
    batch = torch.arange(n, device=x.device).view(-1, 1, 1)
    # (batch, H, W, C): the advanced indices come first, the channel slice last.
    moved = padded[batch, :, source_rows.unsqueeze(2), source_cols.unsqueeze(1)]
    return moved.permute(0, 3, 1, 2)


def cutout(x: Tensor, top: Tensor, left: Tensor, size: tuple[int, int]) -> Tensor:
    """Image b with rows top[b] .. top[b] + size[0] - 1 and columns left[b] .. left[b] + size[1] - 1 set to 0
    (the part of that square inside the image)."""
    _, _, height, width = x.shape
    rows = torch.arange(height, device=x.device).view(1, -1)
    cols = torch.arange(width, device=x.device).view(1, -1)
    inside_rows = (rows >= top.view(-1, 1)) & (rows < top.view(-1, 1) + size[0])  # (batch, H)
    inside_cols = (cols >= left.view(-1, 1)) & (cols < left.view(-1, 1) + size[1])  # (batch, W)
    keep = ~(inside_rows.unsqueeze(2) & inside_cols.unsqueeze(1))  # (batch, H, W)
    return x * keep.unsqueeze(1).to(x.dtype)


class DiffAugment:
    """`policy` (names of OPERATIONS, applied in that order) with its random parameters drawn from `rng`."""

    def __init__(self, policy: tuple[str, ...], rng: torch.Generator, *, rank: int = 0, world_size: int = 1):
        self.policy = policy
        self.rng = rng
        self.rank, self.world_size = rank, world_size

    def _uniform(self, n: int, low: float, high: float, device: torch.device) -> Tensor:
        draw = torch.rand(n * self.world_size, generator=self.rng, device=device)[self.rank :: self.world_size]
        return draw * (high - low) + low

    def _integers(self, n: int, low: int, high: int, device: torch.device) -> Tensor:
        """Integers in [low, high], both included."""
        draw = torch.randint(low, high + 1, (n * self.world_size,), generator=self.rng, device=device)
        return draw[self.rank :: self.world_size]

    def __call__(self, x: Tensor) -> Tensor:
        n, _, height, width = x.shape
        for name in self.policy:
            for operation in OPERATIONS[name]:
                if operation == "brightness":
                    x = brightness(x, self._uniform(n, -0.5, 0.5, x.device).to(x.dtype))
                elif operation == "saturation":
                    x = saturation(x, self._uniform(n, 0.0, 2.0, x.device).to(x.dtype))
                elif operation == "contrast":
                    x = contrast(x, self._uniform(n, 0.5, 1.5, x.device).to(x.dtype))
                elif operation == "translation":
                    rows = self._integers(n, -(height // 8), height // 8, x.device)
                    cols = self._integers(n, -(width // 8), width // 8, x.device)
                    x = translate(x, rows, cols)
                else:
                    size = (height // 2, width // 2)
                    # The centre anywhere in the image (for an even side also one past it, as the reference
                    # draws it); the square's top-left corner is the centre less half the side.
                    centre_rows = self._integers(n, 0, height - size[0] % 2, x.device)
                    centre_cols = self._integers(n, 0, width - size[1] % 2, x.device)
                    x = cutout(x, centre_rows - size[0] // 2, centre_cols - size[1] // 2, size)
        return x
