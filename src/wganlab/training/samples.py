"""Pictures of samples: image grids, 2-D scatter plots over the real data, 1-D histograms."""

import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image
from torch import Tensor

from wganlab.errors import ConfigError
from wganlab.files import atomic_write, storage_error


def image_grid(images: Tensor, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> one uint8 (rows*H, cols*W, C) picture with white gutters."""
    n, channels, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    pixels = to_pixels(images)
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels), 255, np.uint8
    )
    for index in range(n):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = pixels[index]
    return grid


def grid_scale(width: int) -> int:
    """How much a grid of `width`-pixel images is enlarged on disk: small images (28-32 px) so a reader sees them."""
    return max(1, 64 // width)


def save_image_grid(images: Tensor, path: Path, columns: int | None = None) -> None:
    grid = image_grid(images, columns)
    picture = Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid)
    scale = grid_scale(images.shape[-1])
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    kind = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
    atomic_write(path, lambda temp: picture.save(temp, format=kind), durable=False)


def read_image_grid(path: Path, shape: tuple[int, int, int], count: int, n: int | None = None) -> np.ndarray:
    """The first `n` (default all) of the `count` images a `save_image_grid` picture holds, as uint8 (n, H, W, C):
    the inverse of `save_image_grid(images, path)` for images of `shape` (C, H, W), exactly `to_pixels(images)`.

    A run's sample pictures are lossless PNGs of its fixed grid z, so a figure drawn from them needs no weights.
    """
    channels, height, width = shape
    scale, padding = grid_scale(width), 2
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    with Image.open(path) as picture:
        pixels = np.asarray(picture.convert("L" if channels == 1 else "RGB"))
    expected = (scale * (rows * (height + padding) + padding), scale * (columns * (width + padding) + padding))
    if pixels.shape[:2] != expected:
        raise ValueError(
            f"{path} is {pixels.shape[1]}x{pixels.shape[0]} pixels, not a grid of {count} images of "
            f"{width}x{height} ({expected[1]}x{expected[0]})"
        )
    pixels = pixels[::scale, ::scale].reshape(expected[0] // scale, expected[1] // scale, channels)
    out = np.empty((count if n is None else n, height, width, channels), np.uint8)
    for index in range(len(out)):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        out[index] = pixels[top : top + height, left : left + width]
    return out


# The house colours (studies/common/style.py): real data grey, samples blue.
REAL_COLOUR, SAMPLE_COLOUR = "#7F7F7F", "#0072B2"


def plot_points(
    axis, fake: Tensor, real: Tensor | None, title: str = "", *, legend: bool = True, label: str = "generated"
) -> None:
    """Generated points over the real data: a scatter for 2-D, overlaid histograms for 1-D. `label` names what
    `fake` is ("real" for a picture of the data)."""
    colour = REAL_COLOUR if label == "real" else SAMPLE_COLOUR
    fake_np = fake.detach().float().cpu().numpy()
    real_np = real.detach().float().cpu().numpy() if real is not None else None
    if fake_np.shape[1] == 1:
        values = fake_np[:, 0] if real_np is None else np.concatenate([fake_np[:, 0], real_np[:, 0]])
        bins = np.linspace(values.min(), values.max(), 60)
        if real_np is not None:
            axis.hist(real_np[:, 0], bins=bins, alpha=0.5, density=True, label="real", color=REAL_COLOUR)
        axis.hist(fake_np[:, 0], bins=bins, alpha=0.5, density=True, label=label, color=colour)
        axis.set_xlabel("x")
        axis.set_ylabel("density")
    else:
        if real_np is not None:
            axis.scatter(real_np[:, 0], real_np[:, 1], s=2, alpha=0.35, color=REAL_COLOUR, label="real")
        axis.scatter(fake_np[:, 0], fake_np[:, 1], s=2, alpha=0.35, color=colour, label=label)
        axis.set(xlabel="x₁", ylabel="x₂")
        axis.set_aspect("equal", adjustable="box")  # callers may still fix the limits
    if title:
        axis.set_title(title, fontsize=10)
    if legend:
        axis.legend(loc="upper right", fontsize=7, markerscale=4)


def save_points(fake: Tensor, real: Tensor | None, path: Path, title: str = "", label: str = "generated") -> None:
    # A Figure object renders to a file without pyplot, so a notebook's backend is never touched.
    figure = Figure(figsize=(5, 5), dpi=110, layout="tight")
    plot_points(figure.subplots(), fake, real, title, label=label)
    atomic_write(path, lambda temp: figure.savefig(temp, format=Path(path).suffix.lstrip(".") or "png"), durable=False)


def to_pixels(images: Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> uint8 (N, H, W, C), as the grids quantise them."""
    return (
        ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    )


def save_png_folder(images: Tensor, folder: Path) -> int:
    """One PNG per image at its own size, 000000.png, 000001.png, ... (the layout other FID tools read).

    Refuses a folder that already holds PNGs: a mix of old and new samples would be measured as one set.
    """
    if images.dim() != 4:
        raise ConfigError(f"--out {folder}/ writes one PNG per image, but these samples are points of shape "
                          f"{tuple(images.shape)}; use FILE.npy or FILE.png")  # fmt: skip
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise (storage_error(err, folder / "000000.png") or err) from None
    old = sum(1 for _ in folder.glob("*.png"))
    if old:
        raise ConfigError(f"--out {folder}/ already holds {old} PNG files; choose an empty or new folder")
    pixels = to_pixels(images)
    for index, picture in enumerate(pixels):
        image = Image.fromarray(picture[:, :, 0] if picture.shape[2] == 1 else picture)
        # durable=False: thousands of derived files; each is still never torn.
        atomic_write(
            folder / f"{index:06d}.png", lambda temp, image=image: image.save(temp, format="PNG"), durable=False
        )
    return len(pixels)


def save_samples(
    samples: Tensor, path: Path, real: Tensor | None = None, title: str = "", label: str = "generated"
) -> None:
    """Write samples as the picture that suits them: PNG grid for images, a plot for toys."""
    if samples.dim() == 4:
        save_image_grid(samples, path)
    else:
        save_points(samples, real, path, title, label)
