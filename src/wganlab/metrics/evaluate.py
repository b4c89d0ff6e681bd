"""`evaluate_images`: FID, KID, precision/recall and Inception Score of generated images against real ones."""

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm import tqdm

from wganlab.errors import MetricError
from wganlab.metrics import IMAGE_METRICS as METRICS
from wganlab.metrics.features import (
    NEEDS_WEIGHTS,
    InceptionFeatures,
    InceptionLogits,
    extract_features,
    generated_batches,
)
from wganlab.metrics.fid import feature_statistics, frechet_distance
from wganlab.metrics.inception_score import inception_score
from wganlab.metrics.kid import kid_from_features
from wganlab.metrics.precision_recall import precision_recall
from wganlab.metrics.reference import ReferenceStats, load_reference, reference_lock, save_reference

FEATURE_METRICS = ("fid", "kid", "pr")


def check_metrics(metrics: Sequence[str]) -> list[str]:
    unknown = [name for name in metrics if name not in METRICS]
    if unknown or not metrics:
        raise MetricError(
            f"unknown image metric {', '.join(map(repr, unknown)) or '(none given)'}; choose from {', '.join(METRICS)}"
        )
    return list(dict.fromkeys(metrics))


def evaluate_images(
    fake: Tensor | Callable[[int], Tensor],
    real: Tensor | None,
    metrics: Sequence[str],
    *,
    n: int,
    extractor: nn.Module | None = None,
    classifier: Callable[[Tensor], Tensor] | None = None,
    reference_key: str | None = None,
    cache_dir: Path | None = None,
    rng: torch.Generator,
    device: torch.device | str,
    progress: bool = True,
    batch_size: int = 64,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    pr_k: int = 3,
    is_splits: int = 10,
    inception_path: Path | None = None,
    inception_weights: Path | None = None,
) -> dict[str, float]:
    """Image metrics of n fakes: {"fid", "kid_mean", "kid_std", "kid_subset_size", "kid_subsets", "precision",
    "recall", "is_mean", "is_std"} for the metrics asked.

    fake: images (N >= n, C, H, W) in [-1, 1], or a callable giving a batch of `count` such images, so that
        50k fakes never sit in memory as images (only their 2048-d float32 features do).
    real: real images in [-1, 1] (or uint8), all of them used; may be None when `reference_key` names
        statistics already cached in `cache_dir` (make the key with `reference.make_reference_key`), or when
        only "is" is asked.
    extractor: maps images to (N, D) features for fid/kid/pr (default: `InceptionFeatures(inception_path)`).
    classifier: maps images to (N, classes) logits for "is" (default: `InceptionLogits(inception_weights)`;
        MetricError without weights).
    rng: draws KID's subsets. device: where the networks run.
    kid_subset_size: KID's subset size; when it is both sets' whole size every subset is the whole set, so
        KID is computed once and reported without a std (`kid_subsets` 1).
    """
    names = check_metrics(metrics)
    needs_features = any(name in names for name in FEATURE_METRICS)
    if "is" in names and classifier is None and inception_weights is None:
        raise MetricError(NEEDS_WEIGHTS)
    if "kid" in names and n < kid_subset_size:
        raise MetricError(
            f"KID needs n >= kid subset_size={kid_subset_size} samples, got n={n}; raise n or lower the subset size"
        )
    if isinstance(fake, Tensor) and len(fake) < n:
        raise MetricError(f"asked for n={n} samples but only {len(fake)} fake images were given")
    if needs_features and extractor is None:
        extractor = InceptionFeatures(inception_path)
    if "is" in names and classifier is None:
        classifier = InceptionLogits(inception_weights)
    if isinstance(classifier, nn.Module):
        classifier.to(device)

    values: dict[str, float] = {}
    reference = None
    if needs_features:
        reference = _reference(real, extractor, reference_key, cache_dir, batch_size, device, progress)

    fake_features, fake_logits = [], []
    with (
        torch.no_grad(),
        tqdm(total=n, disable=not progress, desc="fake images", unit="img", leave=False) as bar,
    ):
        for batch in _fake_batches(fake, n, batch_size):
            batch = batch.to(device)
            if needs_features:
                fake_features.append(extract_features(batch, extractor, len(batch), device, progress=False))
            if "is" in names:
                fake_logits.append(classifier(batch).float().cpu())
            bar.update(len(batch))

    if needs_features:
        features = torch.cat(fake_features)
        if "fid" in names:
            values["fid"] = frechet_distance(*feature_statistics(features), reference.mean, reference.covariance)
        if "kid" in names:
            values.update(kid_values(features, reference.features, rng, kid_subsets, kid_subset_size))
        if "pr" in names:
            values["precision"], values["recall"] = precision_recall(reference.features, features, k=pr_k)
    if "is" in names:
        values["is_mean"], values["is_std"] = inception_score(torch.cat(fake_logits), splits=is_splits)
    return values


def kid_values(fake: Tensor, real: Tensor, rng: torch.Generator, subsets: int, subset_size: int) -> dict[str, float]:
    """KID's mean over random subsets and their std, with the subset size and count it used.

    When the subset size is both sets' whole size, every subset is the whole set (in another order): the
    "std" over them is float rounding (4.5e-16), not a spread. KID is then computed once and has no std.
    """
    if subset_size >= len(fake) and subset_size >= len(real):
        subsets = 1
    mean, std = kid_from_features(fake, real, rng=rng, num_subsets=subsets, subset_size=subset_size)
    values = {"kid_mean": mean, "kid_subset_size": subset_size, "kid_subsets": subsets}
    if subsets > 1:
        values["kid_std"] = std
    return values


def _fake_batches(fake: Tensor | Callable[[int], Tensor], n: int, batch_size: int):
    if isinstance(fake, Tensor):
        for start in range(0, n, batch_size):
            yield fake[start : min(start + batch_size, n)]
    else:
        yield from generated_batches(fake, n, batch_size)


def _reference(
    real: Tensor | None,
    extractor: nn.Module,
    key: str | None,
    cache_dir: Path | None,
    batch_size: int,
    device: torch.device | str,
    progress: bool,
) -> ReferenceStats:
    use_cache = key is not None and cache_dir is not None
    if use_cache and (cached := load_reference(cache_dir, key)) is not None:
        return cached  # without the lock: a read-only cache folder still serves its files
    with reference_lock(cache_dir, key) if use_cache else nullcontext():
        # Another process may have computed it while this one waited for the lock.
        if use_cache and (cached := load_reference(cache_dir, key)) is not None:
            return cached
        if real is None:
            raise MetricError(
                "no real images and no cached reference statistics"
                + (f" for key {key} in {cache_dir}" if use_cache else "")
                + "; pass real images (or the dataset) to compute them"
            )
        features = extract_features(real, extractor, batch_size, device, progress, description="real features")
        stats = ReferenceStats.from_features(features)
        if use_cache:
            save_reference(cache_dir, key, stats)
        return stats
