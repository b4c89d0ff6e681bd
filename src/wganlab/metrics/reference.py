"""Reference statistics of a real dataset, computed once and cached on disk.

A cache file holds the float64 mean and covariance (FID) and the float32 features (KID, precision/recall)
of one dataset under one feature extractor. Its name is a digest of the dataset's source, path, split,
image size and image count and of the sha256 of the feature file, so a different Inception file, size or
count never reuses stale statistics. Files are written to a temporary name, then `os.replace`d.
"""

import fcntl
import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from wganlab.errors import MetricError
from wganlab.files import atomic_write, sha256_hex
from wganlab.metrics.fid import feature_statistics

FORMAT_VERSION = 1


@cache
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_hex(path)


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) for the life of the process."""
    stat = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def make_reference_key(
    *, source: str, path: str, split: str, image_size: int, count: int, feature_file: Path, preparation: str = ""
) -> str:
    """The cache key of a dataset's reference statistics under the feature network in `feature_file`;
    `preparation` names anything else that shaped the images (padding, channels)."""
    fields = {
        "version": FORMAT_VERSION,
        "source": source,
        "path": str(path),
        "split": split,
        "image_size": int(image_size),
        "count": int(count),
        "feature_sha256": file_sha256(feature_file),
    }
    if preparation:
        fields["preparation"] = preparation
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ReferenceStats:
    mean: np.ndarray  # (D,) float64
    covariance: np.ndarray  # (D, D) float64
    features: Tensor  # (N, D) float32, for KID and precision/recall

    @classmethod
    def from_features(cls, features: Tensor) -> "ReferenceStats":
        mean, covariance = feature_statistics(features)
        return cls(mean=mean, covariance=covariance, features=features.float().contiguous())


def cache_file(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / f"reference-{key}.pt"


@contextmanager
def reference_lock(cache_dir: Path, key: str):
    """Hold an exclusive lock on `key` while its statistics are computed: two processes that need the same
    reference (the first runs of a study with --jobs 2) compute it once, the second waits and then loads the cached
    file. flock is released by the kernel when a process dies, so a killed run never leaves it held."""
    lock = Path(cache_dir) / f"reference-{key}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_reference(cache_dir: Path, key: str) -> ReferenceStats | None:
    """The cached statistics for `key`, or None when there are none; MetricError when the file is corrupt."""
    file = cache_file(cache_dir, key)
    if not file.is_file():
        return None
    try:
        stored = torch.load(file, map_location="cpu", weights_only=True)
        stats = ReferenceStats(
            mean=stored["mean"].numpy(), covariance=stored["covariance"].numpy(), features=stored["features"]
        )
    except Exception as err:
        raise MetricError(
            f"reference statistics {file} are unreadable ({type(err).__name__}); delete the file to recompute"
        ) from None
    if stored.get("key") != key:
        raise MetricError(f"reference statistics {file} belong to another key; delete the file to recompute")
    return stats


def save_reference(cache_dir: Path, key: str, stats: ReferenceStats) -> Path:
    """Write atomically: a crash leaves either the old file or none, never a half-written one."""
    file = cache_file(cache_dir, key)
    payload = {
        "key": key,
        "mean": torch.from_numpy(stats.mean),
        "covariance": torch.from_numpy(stats.covariance),
        "features": stats.features,
    }
    atomic_write(file, lambda temp: torch.save(payload, temp))
    return file
