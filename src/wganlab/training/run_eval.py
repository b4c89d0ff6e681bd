"""`wganlab eval RUN_DIR`: measure a trained generator and write RUN_DIR/eval.json."""

import json
import time
from pathlib import Path

import torch

from wganlab.errors import ConfigError
from wganlab.training.checkpoint import atomic_write
from wganlab.training.evaluation import generate, image_quality, load_run_generator, toy_quality

TOY_METRICS = ("w1", "sliced_w2", "modes")
IMAGE_METRICS = ("fid", "kid", "pr", "is")


def evaluate_run(
    run_dir: Path,
    *,
    metrics: list[str] | None,
    n: int | None,
    seed: int,
    device: torch.device,
    inception_path: Path | None = None,
) -> dict:
    config, generator, _ = load_run_generator(run_dir, device)
    is_toy = config.data.is_toy
    valid = TOY_METRICS if is_toy else IMAGE_METRICS
    chosen = metrics or (list(TOY_METRICS) if is_toy else ["fid", "kid"])
    unknown = [m for m in chosen if m not in valid]
    if unknown:
        kind = "toy" if is_toy else "image"
        raise ConfigError(
            f"--metrics: unknown {kind} metric {', '.join(unknown)}; choose from {', '.join(valid)}"
        )
    n = n or (2000 if is_toy else 10_000)
    if n < 2:
        raise ConfigError(f"--n {n} must be at least 2")
    rng = torch.Generator(device).manual_seed(seed)
    started = time.perf_counter()
    if is_toy:
        from wganlab.data.toy import sample_toy

        fake = generate(generator, n, config.model.z_dim, rng, device)
        real = sample_toy(
            config.data.source,
            n,
            config.data.noise_std,
            torch.Generator().manual_seed(seed + 1),
            torch.device("cpu"),
        )
        everything = toy_quality(config, fake, real)
        values = {
            k: v
            for k, v in everything.items()
            if k in chosen or (k in ("modes_hit", "modes_total", "high_quality_share") and "modes" in chosen)
        }
        reference = f"{config.data.source} ({n} fresh samples)"
    else:
        values, reference = image_quality(
            config, generator, chosen, n=n, seed=seed, device=device, inception_path=inception_path
        )
    results = {
        "step": _checkpoint_step(run_dir),
        "n": n,
        "seed": seed,
        "reference": reference,
        "seconds": round(time.perf_counter() - started, 2),
        "metrics": values,
    }
    atomic_write(
        run_dir / "eval.json", lambda temp: Path(temp).write_text(json.dumps(results, indent=2) + "\n")
    )
    return results


def _checkpoint_step(run_dir: Path) -> int | None:
    """The step the evaluated generator weights come from (stored in their metadata)."""
    from safetensors import safe_open

    with safe_open(run_dir / "checkpoints" / "generator.safetensors", "pt") as weights:
        step = (weights.metadata() or {}).get("step")
    return int(step) if step is not None else None
