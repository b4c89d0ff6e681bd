"""Sample quality of a generator, one object per kind of data, used by the loop's evaluations, `wganlab eval`
and the studies alike.

`build_quality(config)` gives `ToyQuality` or `ImageQuality`. Each offers the metrics of its kind (the modules of
`wganlab.metrics.toy` / `.image`, found by file name), gives each metric what its NEEDS says, says which it measures
during training, and its headline key, the number a run is judged by (lower is better). Evaluations of a run
(`training/evaluation.py`) and `wganlab eval` (`evaluate_run`) measure through them.
"""

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor, nn

from wganlab.config import RunConfig
from wganlab.errors import ConfigError, TrainingDiverged
from wganlab.files import atomic_write_text, user_cache_dir
from wganlab.metrics import load_metric, metric_keys
from wganlab.models import evaluating


@torch.no_grad()
def generate(
    generator: nn.Module, n: int, z_dim: int, rng: torch.Generator, device: torch.device, batch_size: int = 1024
) -> Tensor:
    """n samples in eval mode (batch norm uses its running statistics), drawn in batches of z from `rng`."""
    with evaluating(generator):
        chunks = []
        for start in range(0, n, batch_size):
            z = torch.randn(min(batch_size, n - start), z_dim, generator=rng, device=device)
            chunks.append(generator(z).float())
    return torch.cat(chunks)


def kid_subsets_rng(rng: torch.Generator) -> torch.Generator:
    """KID draws its subsets on the CPU: a second generator seeded by one draw from `rng`, so one seed decides all.
    An Inception evaluation takes this draw first, then its z (`sample_drawer`): `wganlab eval` and `wganlab
    metrics` keep that order, so the same seed gives both the same samples and subsets."""
    return torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=rng, device=rng.device)))


def sample_drawer(generator: nn.Module, z_dim: int, rng: torch.Generator) -> Callable[[int], Tensor]:
    """`draw(count)`: `count` finite samples of `generator` (float32, on its device), their z drawn from `rng`."""

    @torch.no_grad()
    def draw(count: int) -> Tensor:
        return check_finite_samples(generator(torch.randn(count, z_dim, generator=rng, device=rng.device)).float())

    return draw


class NonFiniteSamples(TrainingDiverged):
    """The generator's samples hold NaN or infinity: no metric of them means anything (POT's W1 says 0)."""


def check_finite_samples(samples: Tensor) -> Tensor:
    if not bool(torch.isfinite(samples).all()):
        bad = int((~torch.isfinite(samples)).sum())
        raise NonFiniteSamples(f"the generator's samples are non-finite ({bad} of {samples.numel()} values)")
    return samples


class Quality(Protocol):
    headline: str
    """The key a run is judged by (lower is better); best.pt keeps the checkpoint with the lowest."""
    options: dict[str, tuple[str, ...]]
    """Metric names a user may ask for -> the keys each writes."""
    during_training: tuple[str, ...]
    """The metrics measured at every log.eval_every."""
    for_eval: tuple[str, ...]
    """What `wganlab eval` measures when no --metrics are given."""

    def measure(
        self,
        generator: nn.Module,
        metrics: tuple[str, ...],
        *,
        n: int,
        rng: torch.Generator,
        progress: bool = False,
        inception_path: Path | None = None,
        inception_weights: Path | None = None,
    ) -> dict[str, float]:
        """The values of `metrics` for `n` samples of `generator`, their z (and any real draws) from `rng`."""
        ...

    def reference(self, n: int) -> str:
        """What the samples were compared with, in words."""
        ...


def check_metrics(quality: Quality, metrics: list[str] | tuple[str, ...], kind: str) -> tuple[str, ...]:
    unknown = [m for m in metrics if m not in quality.options]
    choices = ", ".join(quality.options)
    if not metrics:
        raise ConfigError(f"--metrics names no metric; choose from {choices}")
    if unknown:
        raise ConfigError(f"--metrics: unknown {kind} metric {', '.join(unknown)}; choose from {choices}")
    return tuple(dict.fromkeys(metrics))


class ToyQuality:
    """The toy metrics (exact W1, sliced W2, modes, ...) of n samples against n fresh real ones; all by default."""

    headline = "w1"

    def __init__(self, config: RunConfig):
        self.config = config
        self.options = metric_keys("toy")
        self.during_training = self.for_eval = tuple(self.options)

    def measure(
        self, generator, metrics, *, n, rng, progress=False, inception_path=None, inception_weights=None
    ) -> dict[str, float]:
        from wganlab.data.toy import mode_centres, mode_std, sample_toy
        from wganlab.metrics.inputs import ToySamples

        source, noise_std = self.config.data.source, self.config.data.noise_std
        # POT returns a perfect 0 for NaN input: non-finite samples are a divergence, never a score.
        fake = check_finite_samples(generate(generator, n, self.config.model.z_dim, rng, rng.device))
        real = sample_toy(source, n, noise_std, rng, rng.device)
        samples = ToySamples(fake, real, source, mode_centres(source), mode_std(source, noise_std))
        values: dict[str, float] = {}
        for metric in metrics:
            values.update(load_metric("toy", metric).measure(samples))
        return values

    def reference(self, n: int) -> str:
        return f"{self.config.data.source} ({n} fresh samples)"


def reference_cache_dir() -> Path:
    """Where reference statistics of real data are kept between runs (the user cache, `files.user_cache_dir`)."""
    return user_cache_dir("reference")


DRAWING_ORDER = ("fd_fmnist", "cs_fmnist", "modes_stacked")


def drawing_order(metric: str) -> tuple[int, str]:
    return (DRAWING_ORDER.index(metric) if metric in DRAWING_ORDER else len(DRAWING_ORDER), metric)


class ImageQuality:
    """The image metrics: those from Inception features or logits (FID, KID, precision/recall, IS) in one shared pass
    (`metrics/evaluate.py`), and those that draw their own samples (fd_fmnist, cs_fmnist, modes_stacked: our
    Fashion-MNIST classifier), against held-out real images where the source has a test split (as published FIDs
    are), else against the training images. The real images and their features are computed once per object (a
    run's evaluations share them) and the Inception statistics are cached on disk per dataset."""

    headline = "fid"
    during_training = ("fid",)
    for_eval = ("fid", "kid")

    def __init__(self, config: RunConfig):
        from wganlab.data.sources import load_source

        self.config = config
        self.options = metric_keys("image")
        data = config.data
        has_test = load_source(data.source).TEST_SPLIT
        self.data = dataclasses.replace(data, split="test", max_images=0) if has_test else data
        self._images = None
        self._classifier = None

    def real_images(self, progress: bool = False):
        """The reference images as uint8 (N, C, H, W), prepared exactly as the training images are."""
        if self._images is None:
            from wganlab.data.images import load_image_array

            self._images = load_image_array(self.data, progress=progress)
        return self._images

    def classifier(self):
        """Our Fashion-MNIST classifier, built on first use and shared by this object's measurements."""
        if self._classifier is None:
            from wganlab.metrics.classifier import FashionClassifierFeatures

            self._classifier = FashionClassifierFeatures()
        return self._classifier

    def measure(
        self, generator, metrics, *, n, rng, progress=False, inception_path=None, inception_weights=None
    ) -> dict[str, float]:
        """The metrics that draw their own samples first, then the Inception pass: all from `rng`, so the same seed
        gives the same values. They draw one after another, so they run in one fixed order whatever order they are
        asked in (fd_fmnist, cs_fmnist, modes_stacked as they always ran, then any other by name): asking for the
        same metrics differently never changes their values."""
        values: dict[str, float] = {}
        modules = [load_metric("image", metric) for metric in sorted(metrics, key=drawing_order)]
        inception = [module.NAME for module in modules if module.NEEDS != "generator"]
        with evaluating(generator):
            for module in modules:
                if module.NEEDS == "generator":
                    values.update(module.measure(_Access(self, generator, n, rng)))
            if inception:
                values.update(
                    self._inception_metrics(generator, inception, n, rng, progress, inception_path, inception_weights)
                )
        return {key: values[key] for metric in metrics for key in self.options[metric] if key in values}

    def _inception_metrics(
        self, generator, metrics, n, rng, progress, inception_path, inception_weights
    ) -> dict[str, float]:
        from wganlab.data.images import ImageBatches
        from wganlab.metrics.evaluate import evaluate_images
        from wganlab.metrics.features import resolve_inception_path
        from wganlab.metrics.reference import make_reference_key

        real, key, feature_file, count = None, None, None, n
        if any(load_metric("image", name).NEEDS == "inception_features" for name in metrics):  # IS needs no reals
            images = self.real_images(progress)
            count = min(n, len(images))
            feature_file = resolve_inception_path(inception_path)
            key = make_reference_key(
                source=self.data.source,
                path=self.data.path or "default",
                split=self.data.split,
                image_size=images.shape[-1],
                count=count,
                feature_file=feature_file,
                preparation=f"pad={self.data.pad},channels={images.shape[1]}" if self.data.pad else "",
            )
            real_source = ImageBatches(images, device=torch.device("cpu"), rng=torch.Generator().manual_seed(0))
            real = real_source.reference(count, torch.Generator().manual_seed(0))
        subsets_rng = kid_subsets_rng(rng)
        draw = sample_drawer(generator, self.config.model.z_dim, rng)
        return evaluate_images(
            draw,
            real,
            list(metrics),
            n=n,
            reference_key=key,
            cache_dir=reference_cache_dir(),
            rng=subsets_rng,
            device=rng.device,
            progress=progress,
            inception_path=feature_file,
            inception_weights=inception_weights,
            kid_subset_size=min(1000, n, count),  # KID subsets cannot exceed the samples drawn
        )

    def reference(self, n: int) -> str:
        data = self.data
        return f"{data.source}:{data.path or 'default'}:{data.split} (up to {n} images)"


class _Access:
    """What a metric that draws its own samples may use (`metrics.inputs.GeneratorAccess`): `ImageQuality`'s real
    images and classifier, and the generator under measurement with the evaluation's rng."""

    def __init__(self, quality: ImageQuality, generator: nn.Module, n: int, rng: torch.Generator):
        self.quality, self.generator, self.n, self.rng = quality, generator, n, rng
        self.data_key = repr(quality.data)

    def generate(self, count: int, batch_size: int = 1024) -> Tensor:
        return generate(self.generator, count, self.quality.config.model.z_dim, self.rng, self.rng.device, batch_size)

    def check_finite(self, samples: Tensor) -> Tensor:
        return check_finite_samples(samples)

    def real_images(self):
        return self.quality.real_images()

    def classifier(self):
        return self.quality.classifier()


def build_quality(config: RunConfig) -> Quality:
    """The quality object of a run; log.eval_metrics, when set, chooses what each evaluation measures (its first
    metric's first key becomes the headline best.pt follows)."""
    quality = ToyQuality(config) if config.data.is_toy else ImageQuality(config)
    if config.log.eval_metrics:
        quality.during_training = tuple(config.log.eval_metrics)
        quality.headline = quality.options[config.log.eval_metrics[0]][0]
    return quality


def evaluate_run(
    run_dir: Path,
    *,
    metrics: list[str] | None,
    n: int | None,
    seed: int,
    device: torch.device,
    checkpoint: str | int = "latest",
    ema: bool = False,
    inception_path: Path | None = None,
    inception_weights: Path | None = None,
) -> dict:
    """`wganlab eval RUN_DIR`: measure a run's generator (`ema`: its exponential moving average) and write
    RUN_DIR/eval.json (eval-best.json or eval-step-XXXXXXXX.json for another checkpoint, with -ema before .json for
    the average, so measurements of different weights never overwrite)."""
    from wganlab.training.run_folder import RunFolder

    folder = RunFolder(run_dir)
    loaded = folder.load_generator(checkpoint, device, ema=ema)
    quality = build_quality(loaded.config)
    kind = "toy" if loaded.config.data.is_toy else "image"
    chosen = check_metrics(quality, quality.for_eval if metrics is None else metrics, kind)
    if n is None:  # modes_stacked alone: the 26,000 samples of its protocol (metrics/stacked_modes.py)
        n = 2000 if loaded.config.data.is_toy else 26_000 if chosen == ("modes_stacked",) else 10_000
    if n < 2:
        raise ConfigError(f"--n {n} must be at least 2")
    started = time.perf_counter()
    values = quality.measure(
        loaded.network,
        chosen,
        n=n,
        rng=torch.Generator(device).manual_seed(seed),
        progress=True,
        inception_path=inception_path,
        inception_weights=inception_weights,
    )
    results = {
        "step": loaded.step,
        "checkpoint": str(checkpoint),
        "ema": ema,
        "n": n,
        "seed": seed,
        "reference": quality.reference(n),
        "seconds": round(time.perf_counter() - started, 2),
        "metrics": values,
    }
    atomic_write_text(folder.path / eval_file_name(checkpoint, ema), json.dumps(results, indent=2) + "\n")
    return results


def eval_file_name(checkpoint: str | int, ema: bool = False) -> str:
    """eval.json for the latest weights, eval-best.json, eval-step-00001000.json; eval-ema.json, eval-best-ema.json,
    eval-step-00001000-ema.json for the EMA generator."""
    suffix = "-ema" if ema else ""
    if checkpoint == "latest":
        return f"eval{suffix}.json"
    if checkpoint == "best":
        return f"eval-best{suffix}.json"
    return f"eval-step-{int(checkpoint):08d}{suffix}.json"
