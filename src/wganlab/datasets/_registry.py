"""What a dataset module declares: a `Dataset` (what `wganlab datasets` says of it, and how `datasets get` builds
it) with its `Option`s.

Nothing here, nor in any dataset module at import time, loads numpy, Pillow or torch: listing the datasets and
`wganlab datasets --help` stay instant. A builder imports what it needs when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """One option of `wganlab datasets get NAME`, passed to the builder as the keyword `dest`."""

    flag: str
    """As typed, e.g. --size."""
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    metavar: str | None = None
    """How the help names its value (default: the type's name, INT)."""

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


@dataclass(frozen=True)
class Dataset:
    """What `wganlab datasets` says about one dataset, and how `wganlab datasets get` builds it (if it can)."""

    name: str
    source: str
    """Where it comes from: a package, a wheel, a web page to download it by hand."""
    licence: str
    size: str
    """Images and pixels, e.g. "70,000 images, 28x28 gray"."""
    get: str
    """The command (or the steps) that give it, and how a run reads it."""
    build: Callable[..., dict] | None = None
    """build(out, **options) -> the dataset.json it wrote in `out`; None for datasets obtained by hand."""
    options: tuple[Option, ...] = ()
