"""Data sources, the values of data.source: the toys (one table, `TOYS`) and the image sources, one module each.

Every module of this package is one image source, named after its file (see `wganlab.plugins`). It defines:

    NAME: str              its file's name (checked): what data.source names
    load(config, *, progress) -> np.ndarray
                           the images as uint8 (N, C, H, W), C in {1, 3}
    DECODES_AT_SIZE: bool  True when `load` already gives data.image_size and data.channels (folders and zips are
                           decoded at that size, so their cache holds what training reads); False when
                           `data.images.load_image_array` pads, resizes and converts the channels afterwards
    TEST_SPLIT: bool       whether data.split=test gives held-out images: evaluations then compare with them (as
                           published FIDs do) and the critic's held-out estimate is logged

Names are listed from the files without importing them, so this package and the listing load no numpy or torch;
a source module is imported when a run reads it. Toys are sampled by `data/toy.py`; this table is their one list.
"""

from dataclasses import dataclass
from types import ModuleType

from wganlab.errors import DataError
from wganlab.plugins import load_plugin, plugin_names


@dataclass(frozen=True)
class ToySpec:
    dims: int
    default_noise: float
    scale: float  # samples are divided by this after noise, as in the reference code


TOYS = {
    "eight_gaussians": ToySpec(2, 0.02, 1.414),
    "twenty_five_gaussians": ToySpec(2, 0.05, 2.828),
    "swiss_roll": ToySpec(2, 0.25, 7.5),
    "s_curve": ToySpec(2, 0.01, 1.0),
    "gaussian_1d": ToySpec(1, 1.0, 1.0),
    "two_gaussians_1d": ToySpec(1, 0.25, 1.0),
}
REQUIRED = ("load", "DECODES_AT_SIZE", "TEST_SPLIT")


def image_source_names() -> list[str]:
    """Every image source's name, sorted, from this package's module files (nothing imported)."""
    import wganlab.data.sources

    return plugin_names(wganlab.data.sources)


def source_names() -> tuple[str, ...]:
    """Every value data.source takes: the toys, then the image sources."""
    return (*TOYS, *image_source_names())


def load_source(name: str) -> ModuleType:
    """The image source module of `name`; DataError naming the choices for an unknown name."""
    import wganlab.data.sources

    names = image_source_names()
    if name not in names:
        raise DataError(f"data.source={name!r} is not an image source ({', '.join(names)})")
    return load_plugin(wganlab.data.sources, name, REQUIRED, "an image source module")
