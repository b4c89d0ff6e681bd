"""Image data for the training loop: `load_image_array` reads any image source, `ImageBatches` serves it.

Sizes: IDX and CIFAR arrays are resized per image with Pillow's Lanczos filter (antialiased) when
data.image_size differs from the native size (Fashion-MNIST 28 -> 32 for the DCGAN nets, as the WGAN-GP
code does); folders are resized while they are decoded, short side to the size, then centre-cropped.
"""

import dataclasses
import math
import os

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from wganlab.config import DataConfig
from wganlab.data.guards import available_memory_bytes, check_fits
from wganlab.data.sources import load_source
from wganlab.errors import DataError
from wganlab.files import CACHE_PREFIX, resolve_user_path


def resize_array(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, C, size, size), each image resized on its own (Lanczos, antialiased)."""
    count, channels, height, width = images.shape
    if (height, width) == (size, size):
        return images
    out = np.empty((count, channels, size, size), dtype=np.uint8)
    for index in range(count):
        for channel in range(channels):
            # Per channel in mode "L": Pillow's per-band filter, so 1 and 3 channels are treated alike.
            image = Image.fromarray(images[index, channel])
            out[index, channel] = np.asarray(image.resize((size, size), Image.Resampling.LANCZOS))
    return out


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, channels, H, W): RGB -> luma (ITU-R 601-2, as Pillow's "L"), gray -> RGB."""
    have = images.shape[1]
    if channels in (0, have):
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=1)
    out = np.empty((images.shape[0], 1, *images.shape[2:]), dtype=np.uint8)
    for start in range(0, len(images), 4096):
        rgb = images[start : start + 4096].astype(np.uint32)
        # Pillow's fixed-point luma: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.
        luma = (19595 * rgb[:, 0] + 38470 * rgb[:, 1] + 7471 * rgb[:, 2] + 0x8000) >> 16
        out[start : start + 4096, 0] = luma.astype(np.uint8)
    return out


def check_transformed_size(images: np.ndarray, config: DataConfig) -> None:
    """Refuse a data.pad, data.image_size or data.channels whose new array would not fit in the memory available
    (data.image_size=4096 on Fashion-MNIST asks for about 1 TB), before allocating it."""
    count, channels, height, width = images.shape
    height, width = height + 2 * config.pad, width + 2 * config.pad
    changed = [f"data.pad={config.pad}"] if config.pad else []
    if config.image_size and (config.image_size, config.image_size) != (height, width):
        height = width = config.image_size
        changed.append(f"data.image_size={config.image_size}")
    if config.channels and config.channels != channels:
        channels = config.channels
        changed.append(f"data.channels={config.channels}")
    if changed:
        check_fits(
            count * channels * height * width,
            f"{', '.join(changed)} makes {count:,} images of {channels}x{height}x{width} uint8, which",
            "lower data.image_size" if config.image_size else "lower data.pad" if config.pad else "use data.channels=0",
        )


def load_image_array(config: DataConfig, *, progress: bool = True) -> np.ndarray:
    """uint8 (N, C, H, W), C in {1, 3}, from the image source module config.source names (`data/sources/`).

    A source that decodes at size (folders, zips) gives its array as it is; the others' arrays are padded, resized
    and converted here. Folders and zips come back memory-mapped from their cache, a (N, C, H, W) .npy
    memory-mapped from itself (when no resize or channel change is asked); IDX, CIFAR and other arrays in memory.
    """
    source = load_source(config.source)
    if config.path.startswith(CACHE_PREFIX):
        config = dataclasses.replace(config, path=resolve_user_path(config.path))
    images = source.load(config, progress=progress)
    if source.DECODES_AT_SIZE:
        return images
    check_transformed_size(images, config)
    if config.pad:
        images = np.pad(images, ((0, 0), (0, 0), (config.pad, config.pad), (config.pad, config.pad)))
    if config.image_size:
        images = resize_array(images, config.image_size)
    return convert_channels(images, config.channels)


class ImageBatches:
    """Batches of real images in [-1, 1], in epochs of random permutations drawn from the caller's `rng`.

    In memory (the usual case) the whole set sits on `device` as one uint8 tensor and a batch is a
    device-side gather, made float there. A memory-mapped array larger than `memory_fraction` of the
    available RAM (or any array with `stream=True`) stays on disk: each batch reads its rows, in sorted
    order, straight from the file. Both modes give identical batches.

    Under world_size > 1 every rank draws the same permutation from an identically seeded `rng` and takes
    every world_size-th index from position `rank`, so the ranks' shares are disjoint; the tail that does
    not divide evenly is dropped each epoch. A batch that runs past the end of an epoch continues into the
    next one. The flips (when on) are drawn from `rng` with the permutation, one per image per epoch.
    """

    def __init__(
        self,
        images: np.ndarray,
        *,
        device: torch.device,
        rng: torch.Generator,
        flip: bool = False,
        rank: int = 0,
        world_size: int = 1,
        stream: bool | None = None,
        memory_fraction: float = 0.5,
    ) -> None:
        if images.ndim != 4 or images.shape[1] not in (1, 3) or images.dtype != np.uint8:
            raise DataError(f"images must be uint8 (N, 1 or 3, H, W), got {images.dtype} {images.shape}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        if len(images) < world_size:
            raise DataError(f"{len(images)} images cannot be shared by {world_size} processes")
        self.device = device
        self.rng = rng
        self.flip = flip
        self.rank = rank
        self.world_size = world_size
        self.sample_shape: tuple[int, int, int] = tuple(images.shape[1:])  # type: ignore[assignment]
        self.num_images = len(images)
        self.per_epoch = self.num_images // world_size
        if stream is None:
            stream = isinstance(images, np.memmap) and images.nbytes > memory_fraction * available_memory_bytes()
        self.streaming = stream
        if stream:
            self._file = _RowReader(images)
            self.images = None
        else:
            self.images = torch.from_numpy(np.array(images, copy=True)).to(device)
        self._index_device = device if not stream else torch.device("cpu")
        self.epoch = 0
        self.position = 0
        self.permutation = torch.empty(0, dtype=torch.int64)
        self.flips = torch.empty(0, dtype=torch.bool)
        self._share = torch.empty(0, dtype=torch.int64, device=self._index_device)
        self._share_flips = torch.empty(0, dtype=torch.bool, device=self._index_device)

    def __len__(self) -> int:
        """Images in the whole set (all ranks together)."""
        return self.num_images

    def _new_epoch(self) -> None:
        self.permutation = torch.randperm(self.num_images, generator=self.rng)
        if self.flip:
            self.flips = torch.rand(self.num_images, generator=self.rng) < 0.5
        self.position = 0
        self.epoch += 1
        self._split_share()

    def _split_share(self) -> None:
        stop = self.per_epoch * self.world_size
        share = self.permutation[self.rank : stop : self.world_size]
        self._share = share.to(self._index_device)
        if self.flip:
            self._share_flips = self.flips[self.rank : stop : self.world_size].to(self._index_device)

    def next_batch(self, batch_size: int) -> Tensor:
        """float32 (batch_size, C, H, W) in [-1, 1] on the device: this rank's next `batch_size` images."""
        indices, flips = [], []
        wanted = batch_size
        while wanted:
            if self.position >= self.per_epoch or self.epoch == 0:
                self._new_epoch()
            take = min(wanted, self.per_epoch - self.position)
            indices.append(self._share[self.position : self.position + take])
            if self.flip:
                flips.append(self._share_flips[self.position : self.position + take])
            self.position += take
            wanted -= take
        index = indices[0] if len(indices) == 1 else torch.cat(indices)
        batch = self._gather(index)
        if self.flip:
            mirror = flips[0] if len(flips) == 1 else torch.cat(flips)
            mirror = mirror.to(batch.device, non_blocking=True).view(-1, 1, 1, 1)
            batch = torch.where(mirror, batch.flip(-1), batch)
        return batch

    def _gather(self, index: Tensor) -> Tensor:
        if self.images is not None:
            rows = self.images.index_select(0, index)
        else:
            rows = torch.from_numpy(self._file.read(index.numpy())).to(self.device, non_blocking=True)
        # x / 127.5 - 1 maps 0 -> -1 and 255 -> 1 exactly.
        return rows.to(torch.float32).div_(127.5).sub_(1.0)

    def reference(self, n: int, rng: torch.Generator) -> Tensor:
        """`n` real images in [-1, 1] on the device, unflipped, from `rng`; the batch order is untouched.

        Without replacement while n <= len(self); beyond that, whole permutations are concatenated.
        """
        rounds = math.ceil(n / self.num_images)
        index = torch.cat([torch.randperm(self.num_images, generator=rng) for _ in range(rounds)])[:n]
        return torch.cat(
            [self._gather(index[start : start + 4096].to(self._index_device)) for start in range(0, n, 4096)]
        )

    def state_dict(self) -> dict:
        """Plain tensors and ints (loads under weights_only=True); restore `rng` too to continue exactly."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "permutation": self.permutation.clone(),
            "flips": self.flips.clone(),
            "num_images": self.num_images,
            "world_size": self.world_size,
            "rank": self.rank,
        }

    def load_state_dict(self, state: dict) -> None:
        # Not the rank: rank 0 writes the checkpoint and every rank restores it (epoch, position and
        # permutation are the same on all ranks; each takes its own share).
        for key, mine in (("num_images", self.num_images), ("world_size", self.world_size)):
            if int(state[key]) != mine:
                raise DataError(
                    f"the data position was saved with {key}={int(state[key])} but this run has {mine}; "
                    "resume with the same data and process count"
                )
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self.permutation = state["permutation"].to(torch.int64).cpu()
        self.flips = state["flips"].to(torch.bool).cpu()
        if self.flip and self.epoch and len(self.flips) != self.num_images:
            raise DataError("the data position was saved without flips but data.flip is on; resume with the same flip")
        if self.epoch:
            self._split_share()


class _RowReader:
    """Reads rows of a file-backed (N, ...) uint8 array with positioned reads, so pages never count as ours.

    Touching a memmap maps every page it reads into the process (its RSS grows with the data seen);
    os.pread goes through the page cache instead, which the kernel reclaims under pressure.
    """

    def __init__(self, images: np.ndarray) -> None:
        self.images = images
        self.row_shape = images.shape[1:]
        self.row_bytes = int(np.prod(self.row_shape))
        filename = getattr(images, "filename", None)
        self.descriptor = os.open(filename, os.O_RDONLY) if filename and images.flags.c_contiguous else None
        self.offset = int(getattr(images, "offset", 0))

    def read(self, index: np.ndarray) -> np.ndarray:
        order = np.argsort(index, kind="stable")
        rows = np.empty((len(index), *self.row_shape), dtype=np.uint8)
        if self.descriptor is None:
            rows[order] = self.images[index[order]]
            return rows
        flat = rows.reshape(len(index), -1)
        # Sorted reads keep the disk (and readahead) moving forwards.
        for slot in order:
            start = self.offset + int(index[slot]) * self.row_bytes
            data = os.pread(self.descriptor, self.row_bytes, start)
            flat[slot] = np.frombuffer(data, dtype=np.uint8)
        return rows

    def __del__(self) -> None:
        if getattr(self, "descriptor", None) is not None:
            os.close(self.descriptor)
