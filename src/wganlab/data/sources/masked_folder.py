"""Image + mask pairs (Carvana-style) -> objects on white, cropped to their box, padded square, resized.

Pairs are matched by name: `x.jpg` with `x_mask.gif` (Carvana's train/ and train_masks/), or `masks/x.*`
with `images/x.*`. A mask's foreground is every pixel above half its maximum (so 0/1 and 0/255 masks both
work). The background becomes white, the image is cropped to the foreground's bounding box, padded with
white to a square around it and resized (Lanczos) to the target size.
"""

from pathlib import Path

import numpy as np
from PIL import Image

from wganlab.config import DataConfig
from wganlab.data import cache
from wganlab.data.decode import (
    decode_all,
    flatten_alpha,
    list_image_files,
    report_skipped,
    report_special,
    to_8_bits,
    to_chw,
)
from wganlab.errors import DataError
from wganlab.files import atomic_write

NAME = "masked_folder"
DECODES_AT_SIZE = True
TEST_SPLIT = False
MASK_FOLDERS = ("mask", "masks")
WHITE = 255


def _is_mask(relative: Path) -> bool:
    folders = [part.lower() for part in relative.parts[:-1]]
    return relative.stem.endswith("_mask") or any(f in MASK_FOLDERS or f.endswith("_masks") for f in folders)


def _names(paths: list[str]) -> str:
    return ", ".join(paths[:5]) + (", ..." if len(paths) > 5 else "")


def find_pairs(root: Path, option: str = "data.path", strict: bool = False) -> list[tuple[str, Path, Path]]:
    """[(name, image, mask)] sorted by name; DataError when a file has no partner or a name repeats. `option`
    names where `root` came from in messages (data.path, or prepare's SOURCE). Special files under image names
    (a FIFO, a device) are left out with one warning, or refused under `strict`."""
    files, special = list_image_files(root, option)
    report_special(root, special, strict, len(files) + len(special))
    if not files:
        raise DataError(f"no images found under {option}={str(root)!r}; expected x.jpg + x_mask.gif pairs")
    images: dict[str, Path] = {}
    masks: dict[str, Path] = {}
    for file in files:
        relative = file.relative_to(root)
        is_mask = _is_mask(relative)
        name = relative.stem.removesuffix("_mask") if is_mask else relative.stem
        table = masks if is_mask else images
        if name in table:
            other = table[name].relative_to(root).as_posix()
            raise DataError(f"two files under {root} pair as {name!r} ({other}, {relative.as_posix()}); rename one")
        table[name] = file
    lonely_masks = sorted(masks.keys() - images.keys())
    lonely_images = sorted(images.keys() - masks.keys())
    if lonely_masks:
        paths = [masks[name].relative_to(root).as_posix() for name in lonely_masks]
        raise DataError(f"{len(paths)} masks under {root} have no image: {_names(paths)}")
    if lonely_images:
        paths = [images[name].relative_to(root).as_posix() for name in lonely_images]
        raise DataError(
            f"{len(paths)} images under {root} have no mask (expected x_mask.* or masks/x.*): {_names(paths)}"
        )
    return [(name, images[name], masks[name]) for name in sorted(images)]


def apply_mask(image: Image.Image, mask: Image.Image, size: int, crop: int = 0) -> Image.Image:
    """RGB image on white, cropped to the mask's bounding box, padded to a white square, resized to `size`.

    With `crop` > 0 the square is instead `crop` pixels wide around the centre of the mask's box (seed 002's
    fixed 640 x 640 for Carvana), so every object keeps its size relative to the others.
    """
    rgb = np.array(flatten_alpha(image).convert("RGB"))
    alpha = np.asarray(mask.convert("L"))
    if alpha.shape != rgb.shape[:2]:
        raise ValueError(f"mask is {alpha.shape[1]}x{alpha.shape[0]} but image is {rgb.shape[1]}x{rgb.shape[0]}")
    peak = int(alpha.max())
    if peak == 0:
        raise ValueError("mask is empty")
    foreground = alpha > peak // 2
    rgb[~foreground] = WHITE
    rows, cols = np.flatnonzero(foreground.any(axis=1)), np.flatnonzero(foreground.any(axis=0))
    if crop:
        height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        if max(height, width) > crop:
            raise ValueError(f"the object is {width}x{height} px, larger than the {crop} px crop")
        top = (rows[0] + rows[-1] + 1) // 2 - crop // 2
        left = (cols[0] + cols[-1] + 1) // 2 - crop // 2
        side = crop
        square = np.full((side, side, 3), WHITE, dtype=np.uint8)
        # The part of the crop window that lies inside the image; the rest stays white.
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + crop, rgb.shape[0]), min(left + crop, rgb.shape[1])
        square[y0 - top : y1 - top, x0 - left : x1 - left] = rgb[y0:y1, x0:x1]
    else:
        box = rgb[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        side = max(box.shape[:2])
        square = np.full((side, side, 3), WHITE, dtype=np.uint8)
        top, left = (side - box.shape[0]) // 2, (side - box.shape[1]) // 2
        square[top : top + box.shape[0], left : left + box.shape[1]] = box
    result = Image.fromarray(square)
    return result if side == size else result.resize((size, size), Image.Resampling.LANCZOS)


def process_pair(image_path: Path, mask_path: Path, size: int, crop: int = 0) -> Image.Image:
    with Image.open(image_path) as image, Image.open(mask_path) as mask:
        image.load()
        mask.load()
        return apply_mask(to_8_bits(image), to_8_bits(mask), size, crop)


def load(config: DataConfig, *, progress: bool = True) -> np.ndarray:
    return load_masked_folder(config, progress=progress)


def load_masked_folder(config: DataConfig, *, progress: bool = True) -> np.ndarray:
    """Processed pairs under config.path as uint8 (N, C, S, S), memory-mapped from their cache."""
    if not config.path:
        raise DataError("data.path is empty; data.source='masked_folder' needs a folder of image + mask pairs")
    if not config.image_size:
        raise DataError("data.source='masked_folder' needs data.image_size (the objects' boxes differ in size)")
    root = Path(config.path)
    pairs = find_pairs(root, strict=config.strict)
    channels = config.channels or 3
    size = config.image_size

    def fill(out: np.ndarray) -> tuple[np.ndarray, dict]:
        kept, failures = decode_all(
            out,
            pairs,
            lambda pair: to_chw(process_pair(pair[1], pair[2], size), channels),
            progress=progress,
            description=f"masking {root.name}",
        )
        if len(kept) == 0:
            raise DataError(f"none of the {len(pairs)} pairs under {root} could be read ({failures[0][1]})")
        skipped = [pairs[index][1].relative_to(root).as_posix() for index, _ in failures]
        return kept, {"skipped": skipped, "reasons": [why for _, why in failures]}

    options = {"kind": "masked_folder", "image_size": size, "channels": channels}
    files = [file for _, image, mask in pairs for file in (image, mask)]
    array, manifest = cache.load_or_build(
        root, config.cache_dir, options, files, lambda: (len(pairs), channels, size, size), fill
    )
    report_skipped(root, manifest.get("skipped", []), config.strict, len(pairs), manifest.get("reasons"))
    return array


def prepare_masked_folder(
    src: Path,
    out: Path,
    size: int,
    *,
    crop: int = 0,
    strict: bool = False,
    progress: bool = True,
    grid_columns: int = 8,
) -> Path:
    """Write every processed pair under `src` to `out/images/<name>.png` and a `out/before_after.png` grid.

    Returns `out/images`, a folder to train on with data.source='folder' (the grid sits outside it).
    The grid's top row shows the first `grid_columns` originals (padded square), the bottom row the results.
    """
    if size < 8:
        raise DataError(f"--size {size} must be at least 8")
    if crop < 0:
        raise DataError(f"--crop {crop} must be 0 (crop to each object's box) or a side in pixels")
    pairs = find_pairs(Path(src), "SOURCE", strict)
    images_out = Path(out) / "images"
    try:
        images_out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"--out {out} cannot be written ({err.strerror}); choose a writable folder") from None

    def write(pair: tuple[str, Path, Path]) -> np.ndarray:
        name, image, mask = pair
        result = process_pair(image, mask, size, crop)
        # Thousands of derived files: renamed into place (never torn) without an fsync each.
        atomic_write(images_out / f"{name}.png", lambda temp: result.save(temp, format="PNG"), durable=False)
        return np.empty(0)

    kept, failures = decode_all(None, pairs, write, progress=progress, description=f"preparing {Path(src).name}")
    skipped = [pairs[index][1].relative_to(src).as_posix() for index, _ in failures]
    if len(kept) == 0:
        raise DataError(f"none of the {len(pairs)} pairs under {src} could be read ({failures[0][1]})")
    report_skipped(Path(src), skipped, strict, len(pairs), [why for _, why in failures], how="fix them")
    shown = [pairs[index] for index in kept[:grid_columns]]
    grid = Image.new("RGB", (size * len(shown), size * 2), (WHITE,) * 3)
    for column, (name, image_path, _) in enumerate(shown):
        with Image.open(image_path) as image:
            before = flatten_alpha(image).convert("RGB")
            before.thumbnail((size, size), Image.Resampling.LANCZOS)
        grid.paste(before, (column * size + (size - before.width) // 2, (size - before.height) // 2))
        with Image.open(images_out / f"{name}.png") as after:
            grid.paste(after.convert("RGB"), (column * size, size))
    grid_path = Path(out) / "before_after.png"
    atomic_write(grid_path, lambda temp: grid.save(temp, format="PNG"))
    return images_out
