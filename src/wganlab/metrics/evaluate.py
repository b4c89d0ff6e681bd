"""`evaluate_images`: the image metrics computed from Inception (FID, KID, precision/recall, Inception Score) of
generated images against real ones.

It makes the one Inception pass over the fakes that all of them share: pool features when any metric asked for
needs "inception_features", logits when any needs "inception_logits" (see `wganlab.metrics`), the real images'
features once (or from the cache); then each metric's module measures from that pass.
"""

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import Tensor, nn
from tqdm import tqdm

from wganlab.errors import MetricError
from wganlab.metrics import load_metric, metric_names
from wganlab.metrics.features import (
    NEEDS_WEIGHTS,
    InceptionFeatures,
    InceptionLogits,
    extract_features,
    generated_batches,
)
from wganlab.metrics.inputs import InceptionPass
from wganlab.metrics.reference import ReferenceStats, load_reference, reference_lock, save_reference


def check_metrics(metrics: Sequence[str]) -> list[str]:
    names = metric_names("image")
    unknown = [name for name in metrics if name not in names]
    if unknown or not metrics:
        raise MetricError(
            f"unknown image metric {', '.join(map(repr, unknown)) or '(none given)'}; choose from {', '.join(names)}"
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
    modules = [load_metric("image", name) for name in check_metrics(metrics)]
    own = [module.NAME for module in modules if module.NEEDS == "generator"]
    if own:
        raise MetricError(
            f"{', '.join(own)} draw their own samples from a generator; measure them with `wganlab eval` "
            "(training.quality.ImageQuality), not from given images"
        )
    names = [module.NAME for module in modules]
    needs_features = any(module.NEEDS == "inception_features" for module in modules)
    needs_logits = any(module.NEEDS == "inception_logits" for module in modules)
    if needs_logits and classifier is None and inception_weights is None:
        raise MetricError(NEEDS_WEIGHTS)
    if "kid" in names and n < kid_subset_size:
        raise MetricError(
            f"KID needs n >= kid subset_size={kid_subset_size} samples, got n={n}; raise n or lower the subset size"
        )
    if isinstance(fake, Tensor) and len(fake) < n:
        raise MetricError(f"asked for n={n} samples but only {len(fake)} fake images were given")
    if needs_features and extractor is None:
        extractor = InceptionFeatures(inception_path)
    if needs_logits and classifier is None:
        classifier = InceptionLogits(inception_weights)
    if isinstance(classifier, nn.Module):
        classifier.to(device)

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
            if needs_logits:
                fake_logits.append(classifier(batch).float().cpu())
            bar.update(len(batch))

    inception = InceptionPass(
        features=torch.cat(fake_features) if needs_features else None,
        reference=reference,
        logits=torch.cat(fake_logits) if needs_logits else None,
        rng=rng,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
        pr_k=pr_k,
        is_splits=is_splits,
    )
    values: dict[str, float] = {}
    for module in modules:
        values.update(module.measure(inception))
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
