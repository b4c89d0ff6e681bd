"""Quality measured during training and by `wganlab eval`: exact W1 and mode coverage on toys."""

import json
from pathlib import Path

import torch
from torch import Tensor, nn

from wganlab.config import RunConfig
from wganlab.data.toy import mode_centres, mode_std
from wganlab.metrics.transport import exact_w1, mode_coverage, sliced_w2


@torch.no_grad()
def generate(
    generator: nn.Module,
    n: int,
    z_dim: int,
    rng: torch.Generator,
    device: torch.device,
    batch_size: int = 1024,
) -> Tensor:
    """n samples in eval mode (batch norm uses its running statistics), drawn in batches."""
    was_training = generator.training
    generator.eval()
    chunks = []
    for start in range(0, n, batch_size):
        z = torch.randn(min(batch_size, n - start), z_dim, generator=rng, device=device)
        chunks.append(generator(z).float())
    generator.train(was_training)
    return torch.cat(chunks)


def toy_quality(config: RunConfig, fake: Tensor, real: Tensor) -> dict[str, float]:
    """Exact W1 (POT), sliced W2, and for mixtures the modes hit and high-quality share."""
    values = {"w1": exact_w1(fake, real)}
    if fake.shape[1] > 1:
        values["sliced_w2"] = sliced_w2(fake, real)
    centres = mode_centres(config.data.source)
    if centres is not None:
        values.update(mode_coverage(fake, centres, mode_std(config.data.source, config.data.noise_std)))
    return values


def load_run_generator(run_dir: Path, device: torch.device) -> tuple[RunConfig, nn.Module, tuple[int, ...]]:
    """The trained generator of a run folder (eval mode), its config and sample shape."""
    from safetensors.torch import load_file

    from wganlab.config import load_config
    from wganlab.errors import CheckpointError
    from wganlab.models import build_networks

    config_path, facts_path = run_dir / "config.toml", run_dir / "run.json"
    weights = run_dir / "checkpoints" / "generator.safetensors"
    for needed in (config_path, facts_path, weights):
        if not needed.exists():
            raise CheckpointError(
                f"{needed} is missing; is {run_dir} a wganlab run folder with a checkpoint?"
            )
    config = load_config(config_path)
    sample_shape = tuple(json.loads(facts_path.read_text())["sample_shape"])
    generator, _ = build_networks(
        config.model, sample_shape, torch.Generator().manual_seed(0), is_image=not config.data.is_toy
    )
    try:
        generator.load_state_dict(load_file(weights))
    except Exception as err:
        raise CheckpointError(
            f"{weights} does not load into this run's generator ({type(err).__name__})"
        ) from None
    return config, generator.to(device).eval(), sample_shape


def reference_cache_dir() -> Path:
    """Where reference statistics of real data are kept between runs (XDG cache)."""
    import os

    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wganlab" / "reference"


def image_quality(
    config: RunConfig,
    generator: nn.Module,
    metrics: list[str],
    *,
    n: int,
    seed: int,
    device: torch.device,
    inception_path: Path | None = None,
    progress: bool = True,
) -> tuple[dict[str, float], str]:
    """FID/KID/PR/IS of `n` generated images against held-out real data, where the dataset has a test split
    (as published FIDs are), else against the training images. Real features are cached per dataset."""
    import dataclasses

    from wganlab.data.images import ImageBatches, load_image_array
    from wganlab.metrics.evaluate import evaluate_images
    from wganlab.metrics.features import resolve_inception_path
    from wganlab.metrics.reference import make_reference_key

    data_config = config.data
    if data_config.source in ("idx", "cifar10"):
        data_config = dataclasses.replace(data_config, split="test")
    images = load_image_array(data_config, progress=progress)
    count = min(n, len(images))
    feature_file = resolve_inception_path(inception_path)
    key = make_reference_key(
        source=data_config.source,
        path=data_config.path or "default",
        split=data_config.split,
        image_size=images.shape[-1],
        count=count,
        feature_file=feature_file,
    )
    real_source = ImageBatches(images, device=torch.device("cpu"), rng=torch.Generator().manual_seed(0))
    real = real_source.reference(count, torch.Generator().manual_seed(0))
    rng = torch.Generator(device).manual_seed(seed)
    was_training = generator.training
    generator.eval()

    @torch.no_grad()
    def draw(batch: int) -> Tensor:
        return generator(torch.randn(batch, config.model.z_dim, generator=rng, device=device)).float()

    try:
        values = evaluate_images(
            draw,
            real,
            metrics,
            n=n,
            reference_key=key,
            cache_dir=reference_cache_dir(),
            rng=torch.Generator().manual_seed(seed),
            device=device,
            progress=progress,
            inception_path=feature_file,
            kid_subset_size=min(1000, n, count),  # KID subsets cannot exceed the samples drawn
        )
    finally:
        generator.train(was_training)
    described = f"{data_config.source}:{data_config.path or 'default'}:{data_config.split} ({count} images)"
    return values, described
