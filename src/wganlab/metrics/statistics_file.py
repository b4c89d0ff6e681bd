"""Inception statistics of one image set in a `.npz`, the file `wganlab metrics A --save-stats OUT.npz` writes and
`wganlab metrics` reads back in place of a set.

The layout is pytorch-fid's (`save_fid_stats`: `np.savez_compressed(out, mu=..., sigma=...)`), so its files work here
and ours there. Ours add, beside `mu` (D,) and `sigma` (D, D) in float64:
    features        (N, D) float32, the features themselves: KID and precision/recall need them, FID does not
    count           N, the number of images the statistics are of (pytorch-fid's files do not say)
    feature_sha256  sha256 of the Inception feature file that made them ("" when a caller's own extractor did)
    source          what the set was, in words
A file with `mu` and `sigma` alone (pytorch-fid's) gives FID only. Like pytorch-fid, an existing file is not
overwritten.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from wganlab.errors import DataError
from wganlab.files import atomic_write

KEYS = ("mu", "sigma")


@dataclass(frozen=True)
class SetStatistics:
    """The Inception statistics of one image set."""

    mean: np.ndarray  # (D,) float64
    covariance: np.ndarray  # (D, D) float64
    features: Tensor | None  # (N, D) float32; None in a file holding mu and sigma alone
    count: int | None  # N; None when a file does not say
    feature_sha256: str  # "" when unknown
    source: str


def is_statistics_file(path: Path) -> bool:
    """Whether `path` is a `.npz` holding `mu` and `sigma` (and so statistics, not images)."""
    if Path(path).suffix != ".npz" or not Path(path).is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as archive:
            return all(key in archive.files for key in KEYS)
    except (ValueError, OSError, EOFError):
        return False


def load_statistics(path: Path, argument: str) -> SetStatistics:
    """The statistics in `path`; DataError naming `argument` when they are malformed."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError) as err:
        raise DataError(f"{argument} {path} does not load as a statistics .npz ({type(err).__name__})") from None
    mean, covariance = np.asarray(stored["mu"], np.float64), np.asarray(stored["sigma"], np.float64)
    if mean.ndim != 1 or covariance.shape != (len(mean), len(mean)):
        raise DataError(
            f"{argument} {path}: mu has shape {mean.shape} and sigma {covariance.shape}; expected (D,) and (D, D)"
        )
    features = stored.get("features")
    if features is not None and (features.ndim != 2 or features.shape[1] != len(mean)):
        raise DataError(f"{argument} {path}: features have shape {features.shape}, not (N, {len(mean)})")
    count = int(stored["count"]) if "count" in stored else None
    if features is not None:
        count = len(features)
    return SetStatistics(
        mean=mean,
        covariance=covariance,
        features=None if features is None else torch.from_numpy(np.asarray(features, np.float32)),
        count=count,
        feature_sha256=str(stored.get("feature_sha256", "")),
        source=str(stored.get("source", path)),
    )


def check_new_statistics_file(path: Path, argument: str = "--save-stats") -> Path:
    """`path`, when it names a new `.npz`; DataError otherwise."""
    if path.suffix != ".npz":
        raise DataError(f"{argument} {path} must end in .npz (pytorch-fid's statistics format)")
    if path.exists():
        raise DataError(f"{argument} {path} already exists; choose a new name or delete it (it is never overwritten)")
    return path


def save_statistics(path: Path, statistics: SetStatistics, argument: str = "--save-stats") -> Path:
    """Write `statistics` to `path` (a new `.npz`) atomically; DataError for an existing file or another suffix."""
    path = check_new_statistics_file(Path(path), argument)
    arrays = {"mu": statistics.mean, "sigma": statistics.covariance}
    if statistics.features is not None:
        arrays["features"] = statistics.features.float().numpy()
    if statistics.count is not None:
        arrays["count"] = np.int64(statistics.count)
    arrays["feature_sha256"] = np.str_(statistics.feature_sha256)
    arrays["source"] = np.str_(statistics.source)

    def write(temp: str) -> None:
        with open(temp, "wb") as handle:  # a file object: numpy would append .npz to the temp name
            np.savez_compressed(handle, **arrays)

    atomic_write(path, write)
    return path
