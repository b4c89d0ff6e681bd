"""What the toy studies and `wganlab demo` share: the toys and objectives, their presets and titles, the
toy x objective x seed plan of training runs, and reading those runs back (curves, snapshots)."""

import torch

from wganlab.data.toy import SPECS, sample_toy
from wganlab.studies.common.runner import Run
from wganlab.training.run_folder import RunFolder
from wganlab.training.state import make_rng

TOY_TITLES = {
    "eight_gaussians": "8 Gaussians",
    "twenty_five_gaussians": "25 Gaussians",
    "swiss_roll": "Swiss roll",
    "s_curve": "S-curve",
    "gaussian_1d": "1-D Gaussian",
    "two_gaussians_1d": "two 1-D Gaussians",
}
OBJECTIVES = ("gan", "wgan", "wgan-gp", "sngan")
# Seconds per generator step of the toy presets (MLP 2-512-512-512, batch 256) on one CPU thread, measured by
# timing `train_step` (15 steps after 3 warm-up); only the runner's ordering uses them, so relative values matter.
SECONDS_PER_STEP = {"gan": 0.048, "wgan": 0.161, "wgan-gp": 0.278, "sngan": 0.190}


def preset(toy: str, objective: str) -> str:
    return f"{toy}/{objective}"


def dimensions(toy: str) -> int:
    return SPECS[toy].dims


def training_runs(
    toys: tuple[str, ...],
    objectives: tuple[str, ...],
    seeds: int,
    *,
    steps: int,
    eval_every: int,
    eval_samples: int,
    snapshots: int = 4,
    checkpoint_every: int | None = None,
    extra: tuple[str, ...] = (),
) -> list[Run]:
    """One run per (toy, objective, seed) from the shipped preset, evaluated every `eval_every` steps with a
    train record at the same steps (log_every = eval_every, so estimate and quality pair up), and `snapshots`
    step checkpoints kept for scatter plots. Runs whose length a stop rule decides give `checkpoint_every`
    instead: they keep a checkpoint every that many steps (all of them, a few MB each), so a study stopped
    mid-run loses at most that much of it, and the pictures pick `snapshots` of them (`spread`)."""
    runs = []
    interval = checkpoint_every or max(1, steps // snapshots)
    keep = steps // interval + 1 if checkpoint_every else snapshots + 1
    for toy in toys:
        for objective in objectives:
            for seed in range(seeds):
                overrides = (
                    f"train.steps={steps}",
                    f"train.seed={seed}",
                    f"log.log_every={eval_every}",
                    f"log.eval_every={eval_every}",
                    f"log.eval_samples={eval_samples}",
                    f"log.sample_every={steps}",
                    f"log.checkpoint_every={interval}",
                    f"log.keep_checkpoints={keep}",
                    "log.tensorboard=false",
                    *extra,
                )
                runs.append(
                    Run(
                        key=f"{toy}/{objective}/seed-{seed}",
                        preset=preset(toy, objective),
                        overrides=overrides,
                        cost=SECONDS_PER_STEP[objective] * steps,
                        labels=(("toy", toy), ("objective", objective), ("seed", seed)),
                    )
                )
    return runs


def snapshots(folder, n: int = 1000) -> list[tuple[int, torch.Tensor]]:
    """(step, samples) from every kept step checkpoint of a run, all drawn from the run's fixed grid z."""
    run = RunFolder(folder)
    config = run.read_config()
    z = torch.randn(n, config.model.z_dim, generator=make_rng(config.train.seed, "grid"))
    with torch.no_grad():
        return [(step, generator(z)) for step, generator in run.generator_snapshots()]


def spread(items: list, n: int) -> list:
    """`n` of `items`, evenly spaced from the first to the last (all of them when there are no more than `n`)."""
    if len(items) <= n:
        return list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)] if n > 1 else [items[-1]]


def real_points(toy: str, n: int = 1000, seed: int = 0) -> torch.Tensor:
    """Real samples for pictures (the "grid" stream, offset 1, as the run folders' reals.png)."""
    return sample_toy(toy, n, 0.0, make_rng(seed, "grid", offset=1), torch.device("cpu"))
