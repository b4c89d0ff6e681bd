"""Datasets wganlab can build or read offline, one module each (`wganlab datasets` lists them).

A dataset is a plug-in found by file name like every other extension point (`wganlab.plugins`): a module of this
package declares

    NAME: str          its name, the file's name with dashes for underscores (checked): `cifar_10.py` is cifar-10
    DATASET: Dataset   what `wganlab datasets` says of it (source, licence, size, how to get it) and, when
                       `wganlab datasets get NAME` builds it, its builder and options (`_registry.Dataset`)

Modules import only the standard library at import time and the builders import what they need when they run, so
listing the datasets loads no numpy, Pillow or torch. Files starting with "_" are not datasets.
"""

import sys
from collections.abc import Mapping

from wganlab.datasets._registry import Dataset, Option
from wganlab.plugins import PluginTable

DASHED_NAMES = True

DATASETS: Mapping[str, Dataset] = PluginTable(sys.modules[__name__], "DATASET", "a dataset module")


def listing() -> list[str]:
    """One line per dataset, sorted by name: the name (aligned), then size | licence | source | how to get it."""
    datasets = {name: DATASETS[name] for name in DATASETS}
    width = max(map(len, datasets))
    return [f"{name:<{width}}  {d.size} | {d.licence} | {d.source} | {d.get}" for name, d in datasets.items()]


__all__ = ["DATASETS", "Dataset", "Option", "listing"]
