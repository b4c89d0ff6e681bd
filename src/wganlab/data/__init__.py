"""Data for training. `build_data` gives endless batches on the device with a checkpointable position.

What it serves has `sample_shape`, `next_batch(local_batch_size) -> Tensor`, `reference(n, rng) -> Tensor`,
`state_dict()` and `load_state_dict(state)`. Toys (`toy.py`) yield raw coordinates; images (`images.py`, read by
the image source modules of `sources/`) yield floats in [-1, 1]. This package imports no torch until its functions
run: `sources` lists data.source's choices for the CLI's help.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from wganlab.config import DataConfig


class DataSource(Protocol):
    sample_shape: tuple[int, ...]

    def next_batch(self, batch_size: int) -> Tensor: ...
    def reference(self, n: int, rng: torch.Generator) -> Tensor: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


def data_rng_device(config: DataConfig, device: torch.device) -> torch.device:
    """Toys draw on the device; image order is drawn on the CPU (indices then move to the data)."""
    import torch

    return device if config.is_toy else torch.device("cpu")


def build_data(
    config: DataConfig,
    *,
    device: torch.device,
    rng: torch.Generator,
    rank: int = 0,
    world_size: int = 1,
    progress: bool = True,
) -> DataSource:
    if config.is_toy:
        from wganlab.data.toy import ToyBatches

        return ToyBatches(config, device=device, rng=rng, rank=rank, world_size=world_size)
    from wganlab.data.images import ImageBatches, load_image_array

    images = limit_images(load_image_array(config, progress=progress), config.max_images)
    return ImageBatches(images, device=device, rng=rng, flip=config.flip, rank=rank, world_size=world_size)


def limit_images(images, max_images: int):
    """At most `max_images` of `images` (data.max_images; 0: all): a subset drawn with a fixed seed (0), so every
    run and seed trains on the same images, kept in dataset order."""
    if not max_images or max_images >= len(images):
        return images
    import numpy as np

    chosen = np.sort(np.random.default_rng(0).choice(len(images), max_images, replace=False))
    return np.ascontiguousarray(images[chosen])
