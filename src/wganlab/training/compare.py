"""`wganlab metrics A B` and `wganlab fid A B`: FID, KID and precision/recall of any two image sets.

A set is one of these, chosen by its path (`open_set`):
    run folder (config.toml + checkpoints/) or a generator.safetensors: n samples of its generator, drawn as `wganlab
        eval` draws them (the seed's first draw seeds KID's subsets, then z batch by batch)
    folder of images (searched recursively), .zip of images: decoded by data.source=folder / zip, at the images' own
        size (they must share one) or at --image-size (short side resized, centre-cropped)
    .npy or .npz of uint8 images: as data.source=array reads them
    .npz holding mu and sigma: saved statistics (`metrics/statistics_file.py`; pytorch-fid's files work too)
B, the reference, contributes the first min(n, N) of its N images in a permutation seeded 0: the real images
`wganlab eval` compares a run with, in its order, when B is the run's data. A contributes its images in its own
order, as eval's samples come, or a seeded random n of them when it has more.
Every image set then goes through the Inception feature network at its own size, as `wganlab eval` feeds it
(`metrics.features.to_inception_input`: 8-bit levels, gray to RGB, resized to 299 px), in batches of
`batch_size` from its first image, and the metrics come from the same functions eval uses: with the same images,
seed and batch size the numbers are eval's, bit for bit (tests/training/test_compare.py).

A is the set measured, B the reference: precision is the share of A inside B's manifold, recall the reverse.
"""

import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from wganlab.errors import DataError, MetricError
from wganlab.metrics.statistics_file import (
    SetStatistics,
    check_new_statistics_file,
    is_statistics_file,
    load_statistics,
    save_statistics,
)

DEFAULT_N = 10_000
SMALL_N = 5_000
"""Below this many images in either set, FID gets a warning quoting the bias measured in docs/metrics.md."""
MEASURED_FID_BIAS = {500: 38.3, 1_000: 23.0, 2_000: 12.4, 5_000: 5.2, 10_000: 2.5}
"""FID of two disjoint samples of n Fashion-MNIST images (docs/metrics.md, "FID's bias at small n"): what FID says
when the two sets come from one distribution, where the true FID is 0."""
SET_KINDS = "an image folder, a .zip of images, a .npy/.npz of uint8 images, a run folder or a statistics .npz"


def feature_metric_names() -> list[str]:
    """The image metrics computed from two sets' Inception features (NEEDS "inception_features")."""
    from wganlab.metrics import load_metric, metric_names

    return [name for name in metric_names("image") if load_metric("image", name).NEEDS == "inception_features"]


def check_metrics(metrics: list[str] | tuple[str, ...]) -> list[str]:
    names = feature_metric_names()
    unknown = [name for name in metrics if name not in names]
    if unknown or not metrics:
        what = f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not" if unknown else "none given;"
        raise MetricError(
            f"--metrics: {what} a metric of two image sets; choose from {', '.join(names)} "
            "(the others need a generator or one set: `wganlab eval RUN`)"
        )
    return list(dict.fromkeys(metrics))


def compare_sets(
    a: str | Path,
    b: str | Path | None,
    metrics: list[str] | tuple[str, ...] = ("fid",),
    *,
    n: int = DEFAULT_N,
    seed: int = 0,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
    image_size: int = 0,
    save_stats: str | Path | None = None,
    extractor: nn.Module | None = None,
    inception_path: Path | None = None,
    progress: bool = True,
) -> dict:
    """The metrics of set A against set B (module docstring), and A's statistics saved to `save_stats` when given
    (B may then be None: nothing is measured).

    extractor: maps images (N, C, H, W) in [-1, 1] or uint8 to (N, D) features (default: the TF Inception of
        `inception_path` or `wganlab setup-metrics`). seed: KID's subsets and a run's z (B's z, when B is a run
        too, from seed + 1, so a run against itself compares two samples). n: images per set (module docstring).
    """
    from wganlab.metrics.features import InceptionFeatures, resolve_inception_path
    from wganlab.metrics.reference import file_sha256
    from wganlab.training.quality import kid_subsets_rng

    chosen = check_metrics(metrics) if b is not None else []
    if b is None and save_stats is None:
        raise DataError("give B, the set to compare A with, or --save-stats OUT.npz to save A's statistics alone")
    if n < 2:
        raise MetricError(f"--n {n} must be at least 2")
    if batch_size < 1:
        raise MetricError(f"--batch-size {batch_size} must be at least 1")
    if save_stats is not None:
        check_new_statistics_file(Path(save_stats))  # now, not after minutes of Inception
    device = torch.device(device)
    started = time.perf_counter()
    sets = [
        open_set(path, role, n, image_size, device, progress) for role, path in (("A", a), ("B", b)) if path is not None
    ]
    for role, found in zip(("A", "B"), sets, strict=False):
        if isinstance(found, SetStatistics) and found.features is None and set(chosen) - {"fid"}:
            raise MetricError(
                f"{role} ({found.source}) holds mu and sigma only, enough for FID; "
                f"{', '.join(sorted(set(chosen) - {'fid'}))} need the features: save them with "
                "`wganlab metrics SET --save-stats OUT.npz`, or pass the images"
            )

    feature_sha256 = ""
    if any(not isinstance(found, SetStatistics) for found in sets):
        if extractor is None:
            inception_path = resolve_inception_path(inception_path)
            extractor = InceptionFeatures(inception_path)
        if inception_path is not None:
            feature_sha256 = file_sha256(inception_path)
    rng = torch.Generator(device).manual_seed(seed)
    subsets_rng = kid_subsets_rng(rng)  # first, as `wganlab eval` draws it: then a run's z come from `rng`
    rngs = {"A": rng, "B": torch.Generator(device).manual_seed(seed + 1)}
    statistics = []
    for role, found in zip(("A", "B"), sets, strict=False):
        if not isinstance(found, SetStatistics):
            found = found.statistics(extractor, feature_sha256, rngs[role], device, batch_size, progress)
        statistics.append(found)
    check_same_features(statistics)

    results: dict = {"a": statistics[0].source, "n_a": statistics[0].count}
    if save_stats is not None:
        results["statistics"] = str(save_statistics(Path(save_stats), statistics[0]))
    if b is not None:
        results.update(b=statistics[1].source, n_b=statistics[1].count, seed=seed)
        results["metrics"] = measure(statistics[0], statistics[1], chosen, subsets_rng)
        if "fid" in chosen:
            warn_small_n(statistics[0].count, statistics[1].count)
    results["seconds"] = round(time.perf_counter() - started, 2)
    return results


def measure(a: SetStatistics, b: SetStatistics, metrics: list[str], subsets_rng: torch.Generator) -> dict[str, float]:
    """FID from the two sets' means and covariances (what metrics/image/fid.py computes from features); every other
    metric through its module, given A's features as the fakes and B as the reference, as `evaluate_images` does."""
    from wganlab.metrics import load_metric
    from wganlab.metrics.fid import frechet_distance
    from wganlab.metrics.inputs import InceptionPass
    from wganlab.metrics.reference import ReferenceStats

    values: dict[str, float] = {}
    for name in metrics:
        if name == "fid":
            values["fid"] = frechet_distance(a.mean, a.covariance, b.mean, b.covariance)
            continue
        inception = InceptionPass(
            features=a.features,
            reference=ReferenceStats(mean=b.mean, covariance=b.covariance, features=b.features),
            logits=None,
            rng=subsets_rng,
            kid_subsets=100,
            kid_subset_size=min(1000, a.count, b.count),  # as `wganlab eval`: subsets cannot exceed either set
            pr_k=3,
            is_splits=10,
        )
        values.update(load_metric("image", name).measure(inception))
    return values


def check_same_features(statistics: list[SetStatistics]) -> None:
    """Refuse statistics made by another Inception file than the other set's; warn about files that do not say."""
    known = {found.feature_sha256 for found in statistics if found.feature_sha256}
    if len(known) > 1:
        raise MetricError(
            "A and B were made by different Inception feature files (sha256 "
            + " vs ".join(sorted(sha[:12] for sha in known))
            + "); compute both with the same one"
        )
    if len(statistics) == 2 and statistics[0].mean.shape != statistics[1].mean.shape:
        raise MetricError(
            f"A has {statistics[0].mean.shape[0]}-d features and B {statistics[1].mean.shape[0]}-d; compute "
            "both with the same feature network"
        )
    for role, found in zip(("A", "B"), statistics, strict=False):
        if found.count is None:
            warnings.warn(
                f"{role} ({found.source}) does not say how its statistics were made (pytorch-fid's format): its FID "
                "is comparable only if the same Inception network and preprocessing made both sets",
                stacklevel=3,
            )


def warn_small_n(*counts: int | None) -> None:
    known = [count for count in counts if count is not None]
    if known and min(known) < SMALL_N:
        measured = ", ".join(f"{value:.1f} at n = {n:,}" for n, value in MEASURED_FID_BIAS.items())
        warnings.warn(
            f"FID of {min(known):,} images is biased upwards: two disjoint samples of real Fashion-MNIST images, "
            f"whose true FID is 0, score {measured} (docs/metrics.md); compare FIDs only at equal n",
            stacklevel=3,
        )


class ImageSet:
    """Images of a folder, zip or array: uint8 (N, C, H, W), possibly memory-mapped; min(n, N) of them are used.

    The reference (B) is taken as `wganlab eval` takes its real images (`ImageBatches.reference` with seed 0): the
    first min(n, N) of a permutation seeded 0, in that order. The set measured (A) is taken as eval takes its
    samples, in its own order; a seeded random n of it when it has more. KID's subsets are drawn by position, so
    the order, not only the choice, decides its value."""

    def __init__(self, images: np.ndarray, n: int, source: str, reference: bool):
        self.images, self.source = images, source
        total = len(images)
        if reference or total > n:
            self.index = torch.randperm(total, generator=torch.Generator().manual_seed(0))[:n]
        else:
            self.index = torch.arange(total)

    def batches(self, batch_size: int):
        for start in range(0, len(self.index), batch_size):
            rows = self.index[start : start + batch_size].numpy()
            yield torch.from_numpy(np.ascontiguousarray(self.images[rows]))

    def statistics(self, extractor, feature_sha256, rng, device, batch_size, progress) -> SetStatistics:
        from wganlab.metrics.features import extract_features

        count = len(self.index)
        features = extract_features(
            self.batches(batch_size),
            extractor,
            batch_size,
            device,
            progress,
            total=count,
            description=f"{Path(self.source).name}: {count} images",
        )
        return from_features(features, feature_sha256, f"{self.source} ({count} of {len(self.images)} images)")


class GeneratorSet:
    """n samples of a run's generator (loaded when the set is opened, so a wrong path stops before any Inception
    work), drawn as `wganlab eval` draws them."""

    def __init__(self, path: Path, n: int, role: str, device: torch.device):
        from wganlab.training.run_folder import RunFolder, load_generator_file

        loaded = (
            RunFolder(path).load_generator("latest", device) if path.is_dir() else load_generator_file(path, device)
        )
        if loaded.config.data.is_toy:
            raise DataError(
                f"{role} {path} is a run on {loaded.config.data.source} points, not images; "
                f"measure it with `wganlab eval {path}`"
            )
        self.path, self.n, self.loaded = path, n, loaded

    def statistics(self, extractor, feature_sha256, rng, device, batch_size, progress) -> SetStatistics:
        from wganlab.metrics.features import extract_features, generated_batches
        from wganlab.models import evaluating
        from wganlab.training.quality import sample_drawer

        network, z_dim = self.loaded.network, self.loaded.config.model.z_dim
        with evaluating(network):
            features = extract_features(
                generated_batches(sample_drawer(network, z_dim, rng), self.n, batch_size),
                extractor,
                batch_size,
                device,
                progress,
                total=self.n,
                description=f"{self.path.name}: {self.n} samples",
            )
        return from_features(features, feature_sha256, f"{self.path} (step {self.loaded.step}, {self.n} samples)")


def from_features(features: Tensor, feature_sha256: str, source: str) -> SetStatistics:
    from wganlab.metrics.fid import feature_statistics

    mean, covariance = feature_statistics(features)
    return SetStatistics(mean, covariance, features, len(features), feature_sha256, source)


def open_set(
    path: str | Path, role: str, n: int, image_size: int, device: torch.device, progress: bool = True
) -> "ImageSet | GeneratorSet | SetStatistics":
    """What `path` names (module docstring), opened: images are decoded (or memory-mapped) here, features later."""
    import dataclasses

    from wganlab.config import DataConfig
    from wganlab.data.images import load_image_array

    path = Path(path)
    if not path.exists():
        raise DataError(f"{role} {path} does not exist; pass {SET_KINDS}")
    if path.is_dir() and (path / "config.toml").is_file() and (path / "checkpoints").is_dir():
        return GeneratorSet(path, n, role, device)
    if path.suffix == ".safetensors":
        return GeneratorSet(path, n, role, device)
    if is_statistics_file(path):
        return load_statistics(path, role)
    if path.is_dir():
        source = "folder"
    elif path.suffix == ".zip":
        source = "zip"
    elif path.suffix in (".npy", ".npz"):
        source = "array"
    else:
        raise DataError(f"{role} {path} is not {SET_KINDS}")
    config = dataclasses.replace(DataConfig(), source=source, path=str(path), image_size=image_size)
    try:
        images = load_image_array(config, progress=progress)
    except DataError as err:
        message = str(err).replace("set data.image_size", "pass --image-size S").replace("data.path=", "")
        raise DataError(f"{role}: {message}") from None
    return ImageSet(images, n, str(path), reference=role == "B")
