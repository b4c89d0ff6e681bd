"""Datasets wganlab can build or read offline, one module each (`wganlab datasets` lists them).

Every module of this package registers one `Dataset` on import (see `registry`); the package imports them all,
so a new file is picked up without being listed anywhere. Modules import only the standard library at import
time: listing the datasets loads no numpy, Pillow or torch.
"""

import pkgutil
from importlib import import_module

from wganlab.datasets.registry import DATASETS, Dataset, Option, listing, register_dataset

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):  # _output.py: what the builders share, not a dataset
        import_module(f"{__name__}.{_module.name}")

__all__ = ["DATASETS", "Dataset", "Option", "listing", "register_dataset"]
