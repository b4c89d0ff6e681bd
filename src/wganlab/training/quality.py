"""Sample quality of a generator, one object per kind of data, used by the loop's evaluations, `wganlab eval`
and the studies alike.

`build_quality(config)` gives `ToyQuality` (exact W1, sliced W2, modes) or `ImageQuality` (FID, KID,
precision/recall, IS). Each says which metric names it offers (from `wganlab.metrics`, defined once), which it
measures during training, and its headline key, the number a run is judged by (lower is better).
"""

import dataclasses
import json
import time
from pathlib import Path
from typing import Protocol

import numpy
import torch
from torch import Tensor, nn

from wganlab.config import RunConfig
from wganlab.errors import ConfigError, TrainingDiverged
from wganlab.files import atomic_write_text, user_cache_dir
from wganlab.metrics import IMAGE_METRICS, TOY_METRICS
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
    """Exact W1 (POT) and sliced W2 to fresh real samples; for mixtures the modes hit and high-quality share."""

    headline = "w1"
    options = TOY_METRICS
    during_training = tuple(TOY_METRICS)
    for_eval = tuple(TOY_METRICS)

    def __init__(self, config: RunConfig):
        self.config = config

    def measure(
        self, generator, metrics, *, n, rng, progress=False, inception_path=None, inception_weights=None
    ) -> dict[str, float]:
        from wganlab.data.toy import mode_centres, mode_std, sample_toy
        from wganlab.metrics.transport import exact_w1, mode_coverage, sliced_w2

        source, noise_std = self.config.data.source, self.config.data.noise_std
        fake = check_finite_samples(generate(generator, n, self.config.model.z_dim, rng, rng.device))
        real = sample_toy(source, n, noise_std, rng, rng.device)
        if not torch.isfinite(fake).all():
            # POT returns a perfect 0 for NaN input: non-finite samples get NaN, which the loop calls a divergence.
            return {key: float("nan") for metric in metrics for key in self.options[metric]}
        values: dict[str, float] = {}
        if "w1" in metrics:
            values["w1"] = exact_w1(fake, real)
        if "sliced_w2" in metrics and fake.shape[1] > 1:
            values["sliced_w2"] = sliced_w2(fake, real)
        centres = mode_centres(source)
        if "modes" in metrics and centres is not None:
            values.update(mode_coverage(fake, centres, mode_std(source, noise_std)))
        return values

    def reference(self, n: int) -> str:
        return f"{self.config.data.source} ({n} fresh samples)"


def reference_cache_dir() -> Path:
    """Where reference statistics of real data are kept between runs (the user cache, `files.user_cache_dir`)."""
    return user_cache_dir("reference")


_CLASSIFIER_REFERENCES: dict[str, Tensor] = {}


class ImageQuality:
    """FID, KID, precision/recall and IS (TF-Inception features) and fd_fmnist (our Fashion-MNIST classifier's
    features) against held-out real images where the dataset has a test split (as published FIDs are), else
    against the training images. The real images and their features are computed once per object (a run's
    evaluations share them) and the Inception statistics are cached on disk per dataset."""

    headline = "fid"
    options = IMAGE_METRICS
    during_training = ("fid",)
    for_eval = ("fid", "kid")

    def __init__(self, config: RunConfig):
        self.config = config
        data = config.data
        self.data = dataclasses.replace(data, split="test", max_images=0) if data.source in ("idx", "cifar10") else data
        self._images = None
        self._classifier = None
        self._classifier_reference: Tensor | None = None

    def real_images(self, progress: bool = False):
        """The reference images as uint8 (N, C, H, W), prepared exactly as the training images are."""
        if self._images is None:
            from wganlab.data.images import load_image_array

            self._images = load_image_array(self.data, progress=progress)
        return self._images

    def measure(
        self, generator, metrics, *, n, rng, progress=False, inception_path=None, inception_weights=None
    ) -> dict[str, float]:
        values: dict[str, float] = {}
        standard = [m for m in metrics if m not in ("fd_fmnist", "cs_fmnist", "modes_stacked")]
        with evaluating(generator):
            if "fd_fmnist" in metrics:
                values["fd_fmnist"] = self._fd_fmnist(generator, n, rng)
            if "cs_fmnist" in metrics:
                values["cs_fmnist_mean"], values["cs_fmnist_std"] = self._cs_fmnist(generator, n, rng)
            if "modes_stacked" in metrics:
                values.update(self._modes_stacked(generator, n, rng))
            if standard:
                values.update(
                    self._inception_metrics(generator, standard, n, rng, progress, inception_path, inception_weights)
                )
        return {key: values[key] for metric in metrics for key in self.options[metric] if key in values}

    def _fd_fmnist(self, generator: nn.Module, n: int, rng: torch.Generator) -> float:
        """Fréchet distance in the classifier's 128-d features: n generated images against every real one."""
        from wganlab.metrics.classifier import FashionClassifierFeatures, classifier_features, fd_fmnist

        # The classifier is small: it runs on the CPU whatever device trains, on 28 px copies of the images.
        if self._classifier is None:
            self._classifier = FashionClassifierFeatures()
            key = repr(self.data)
            if key not in _CLASSIFIER_REFERENCES:  # runs in one process (tests, notebooks) share the reference
                _CLASSIFIER_REFERENCES[key] = classifier_features(numpy.asarray(self.real_images()), self._classifier)
            self._classifier_reference = _CLASSIFIER_REFERENCES[key]
        fake = generate(generator, n, self.config.model.z_dim, rng, rng.device, batch_size=500).cpu()
        return fd_fmnist(classifier_features(fake, self._classifier), self._classifier_reference)

    def _cs_fmnist(self, generator: nn.Module, n: int, rng: torch.Generator) -> tuple[float, float]:
        """Classifier score (F-MNIST): exp E KL(p(y|x) || p(y)) over 10 splits with our classifier's 10-way softmax
        in place of Inception's 1008 (at most 10; the 10,000 real test images score 8.24, uniform noise 1.19). Not an
        Inception Score."""
        from wganlab.metrics.classifier import FashionClassifierFeatures
        from wganlab.metrics.inception_score import inception_score

        if self._classifier is None:
            self._classifier = FashionClassifierFeatures()
        fake = generate(generator, n, self.config.model.z_dim, rng, rng.device, batch_size=500).cpu()
        with torch.no_grad():
            logits = torch.cat([self._classifier.logits(fake[i : i + 500]) for i in range(0, len(fake), 500)])
        return inception_score(logits, splits=10)

    def _modes_stacked(self, generator: nn.Module, n: int, rng: torch.Generator) -> dict[str, float]:
        """Modes covered of Stacked Fashion-MNIST's 1,000 and KL to uniform, from our classifier's class per channel;
        the n samples are drawn and classified 1,000 at a time, so 26,000 never sit in memory as images."""
        from wganlab.metrics.classifier import FashionClassifierFeatures
        from wganlab.metrics.stacked_modes import channel_classes, mode_counts

        if self._classifier is None:
            self._classifier = FashionClassifierFeatures()
        z_dim, classes = self.config.model.z_dim, []
        for start in range(0, n, 1000):
            fake = check_finite_samples(generate(generator, min(1000, n - start), z_dim, rng, rng.device))
            classes.append(channel_classes(fake.cpu(), self._classifier))
        return mode_counts(torch.cat(classes))

    def _inception_metrics(
        self, generator, metrics, n, rng, progress, inception_path, inception_weights
    ) -> dict[str, float]:
        from wganlab.data.images import ImageBatches
        from wganlab.metrics.evaluate import FEATURE_METRICS, evaluate_images
        from wganlab.metrics.features import resolve_inception_path
        from wganlab.metrics.reference import make_reference_key

        real, key, feature_file, count = None, None, None, n
        if any(name in metrics for name in FEATURE_METRICS):  # the Inception Score needs no real images
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
        # KID draws its subsets on the CPU: a second generator seeded from `rng`, so one seed decides all.
        subsets_rng = torch.Generator().manual_seed(
            int(torch.randint(0, 2**62, (1,), generator=rng, device=rng.device))
        )
        z_dim = self.config.model.z_dim

        @torch.no_grad()
        def draw(batch: int) -> Tensor:
            return check_finite_samples(generator(torch.randn(batch, z_dim, generator=rng, device=rng.device)).float())

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
