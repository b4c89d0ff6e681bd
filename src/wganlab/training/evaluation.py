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
