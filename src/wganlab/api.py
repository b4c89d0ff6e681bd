"""The Python API: `wganlab train | sample | eval | metrics` as functions, for scripts and notebooks (docs/api.md).

    import wganlab
    run = wganlab.train("eight_gaussians/wgan-gp", out="runs/gp", train={"steps": 500})
    generator = wganlab.load_generator(run, checkpoint="best")
    points = wganlab.sample(generator, 1000, seed=0)
    wganlab.evaluate(run, metrics=["w1", "modes"])

This module sits at the top with `cli.py` (both call `training` and `metrics`, nothing imports them but
`wganlab/__init__`). torch is imported inside the functions, so `import wganlab` stays cheap; nothing here
touches matplotlib's backend (pictures are drawn on `Figure` objects without pyplot).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from wganlab.config import SECTIONS, RunConfig, load_config, with_overrides
from wganlab.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn


def override_strings(overrides: dict[str, Any]) -> list[str]:
    """Keyword overrides -> `section.key=value` strings, typed later against the fields as the CLI's are.

    Each keyword is a section holding a dict (`train={"steps": 50}`), `name`, or a dotted key passed as
    `**{"train.steps": 50}`.
    """

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list | tuple):
            return ",".join(text(item) for item in value)
        return str(value)

    strings = []
    for key, value in overrides.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{key}= must be a dict of that section's keys, e.g. {key}={{...: ...}}")
            strings += [f"{key}.{name}={text(item)}" for name, item in value.items()]
        elif key == "name" or "." in key:
            strings.append(f"{key}={text(value)}")
        else:
            raise ConfigError(
                f"unknown keyword {key}=; pass a section ({', '.join(SECTIONS)}) as a dict, name=, "
                "or a dotted key as **{'train.steps': 50}"
            )
    return strings


def resolve(config: RunConfig | str | Path | None, overrides: dict[str, Any]) -> RunConfig:
    """A RunConfig from a config object, a TOML file or a preset name ("eight_gaussians/wgan-gp"), plus
    keyword overrides; None starts from the defaults."""
    strings = override_strings(overrides)
    if isinstance(config, RunConfig):
        return with_overrides(config, strings) if strings else config
    return load_config(config, strings)


def check_device(value: str | torch.device) -> torch.device:
    """--device of sample and eval: cpu, cuda or cuda:N (or auto), checked against what this machine has."""
    import re

    import torch

    from wganlab.training.distributed import resolve_device

    if isinstance(value, torch.device):
        return value
    if not (value in ("cpu", "cuda", "auto") or re.fullmatch(r"cuda:\d+", value)):
        raise ConfigError(f"--device {value!r} must be cpu, cuda or cuda:N")
    if value.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {value}: no CUDA device is visible on this machine; use --device cpu")
    return resolve_device(value)


def train(
    config: RunConfig | str | Path | None,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool | None = None,
    **overrides: Any,
) -> Path:
    """Train a run as `wganlab train` does and return its folder.

    config: a preset name ("eight_gaussians/wgan-gp"; `wganlab.presets()` lists them), a TOML file, or a
        RunConfig. overrides: `train={"steps": 500}`, `model={"z_dim": 8}`, `name="gp"`, ...
    out: the run folder (default runs/NNNNN-<objective>-<data>-<model> in the working directory). A folder
        that already holds a run is refused (ConfigError), as the CLI refuses it, unless `resume=True`.
    progress: show the progress bar (default: the config's log.progress).
    """
    from wganlab.training.distributed import init_distributed, shutdown_distributed
    from wganlab.training.loop import train as train_loop
    from wganlab.training.run_folder import next_run_dir

    resolved = resolve(config, overrides)
    run_dir = Path(out) if out is not None else next_run_dir(Path("runs"), resolved.run_label)
    dist = init_distributed(resolved.train.device)
    try:
        train_loop(resolved, run_dir, resume=resume, dist=dist, progress=progress)
    finally:
        shutdown_distributed(dist)
    return run_dir


def load_generator(
    source: str | Path, checkpoint: str | int = "latest", *, ema: bool = False, device: str | torch.device = "cpu"
) -> nn.Module:
    """A trained generator in eval mode, from a run folder or from a generator.safetensors file alone.

    checkpoint (run folders): "latest" (checkpoints/generator.safetensors), "best" (best.pt, the best
    evaluation) or a step number (a kept step-XXXXXXXX.pt). ema: the exponential moving average of the
    generator's weights at that checkpoint instead (runs trained with train.ema_decay > 0; CheckpointError for
    others). The module carries `z_dim`, `sample_shape`, `step`, `config` (the run's RunConfig) and `ema` as
    attributes, which `sample` uses.
    """

    from wganlab.training.run_folder import RunFolder, load_generator_file

    path = Path(source)
    if path.suffix == ".safetensors" or path.is_file():
        if checkpoint != "latest":
            raise ConfigError(f"checkpoint={checkpoint!r} needs a run folder; {path} is one generator file")
        loaded = load_generator_file(path, check_device(device), ema=ema)
    else:
        loaded = RunFolder(path).load_generator(checkpoint, check_device(device), ema=ema)
    network = loaded.network
    network.z_dim = loaded.config.model.z_dim
    network.sample_shape = loaded.sample_shape
    network.step = loaded.step
    network.config = loaded.config
    network.ema = ema
    return network


def sample(
    generator: nn.Module | str | Path,
    n: int = 64,
    *,
    seed: int = 0,
    checkpoint: str | int = "latest",
    ema: bool = False,
    device: str | torch.device = "cpu",
    out: str | Path | None = None,
    z_dim: int | None = None,
) -> Tensor:
    """`n` samples (float32, on the CPU; images in [-1, 1] as (n, C, H, W), toys as (n, d)) from z drawn with
    `seed`, so a seed gives the same samples every time.

    generator: a module from `load_generator`, a run folder or a generator.safetensors (loaded with
        `checkpoint` and `ema`); a module of your own needs `z_dim`.
    out: also write them: FILE.png (an image grid, or a scatter over real data for toys), FILE.npy (the raw
        array), or a folder (a path ending in "/", an existing folder, or one without a suffix): one PNG per
        image, 000000.png, ..., the layout other FID tools read.
    """
    import torch

    from wganlab.training.quality import generate

    if n < 1:
        raise ConfigError(f"--n {n} must be at least 1")
    target = _sample_target(out) if out is not None else None
    device = check_device(device)
    if isinstance(generator, str | Path):
        generator = load_generator(generator, checkpoint, ema=ema, device=device)
    elif ema and not getattr(generator, "ema", False):
        raise ConfigError("ema=True picks the weights a run folder is loaded with; pass the run folder, or a module "
                          "from wganlab.load_generator(run, ema=True)")  # fmt: skip
    z_dim = z_dim or getattr(generator, "z_dim", None)
    if z_dim is None:
        raise ConfigError("sample() needs z_dim= for a generator that was not loaded with wganlab.load_generator")
    generator.to(device)
    samples = generate(generator, n, z_dim, torch.Generator(device).manual_seed(seed), device).cpu()
    if target is not None:
        _write_samples(samples, *target, getattr(generator, "config", None), seed)
    return samples


def _sample_target(out: str | Path) -> tuple[Path, str]:
    """(path, kind) with kind "folder", ".png" or ".npy"; ConfigError for anything else."""
    text = str(out)
    path = Path(text)
    if text.endswith("/") or path.is_dir() or not path.suffix:
        return path, "folder"
    if path.suffix not in (".png", ".npy"):
        raise ConfigError(f"--out {out} must end in .png (a picture), .npy (the raw samples) or / (a folder of PNGs)")
    return path, path.suffix


def _write_samples(samples: Tensor, path: Path, kind: str, config: RunConfig | None, seed: int) -> None:
    import numpy as np
    import torch

    from wganlab.files import atomic_write
    from wganlab.training.samples import save_png_folder, save_samples

    if kind == "folder":
        save_png_folder(samples, path)
        return
    if kind == ".npy":

        def write(temp: str) -> None:
            with open(temp, "wb") as handle:  # a file object: np.save would append .npy to the temp name
                np.save(handle, samples.numpy())

        atomic_write(path, write)
        return
    real = None
    if config is not None and config.data.is_toy:
        from wganlab.data.toy import sample_toy

        real = sample_toy(
            config.data.source,
            len(samples),
            config.data.noise_std,
            torch.Generator().manual_seed(seed),
            torch.device("cpu"),
        )
    label = config.run_label if config is not None else "generator"
    save_samples(samples, path, real=real, title=f"{label}: {len(samples)} samples, seed {seed}")


def evaluate(
    run_dir: str | Path,
    metrics: list[str] | tuple[str, ...] | None = None,
    *,
    n: int | None = None,
    seed: int = 0,
    checkpoint: str | int = "latest",
    ema: bool = False,
    device: str | torch.device = "cpu",
    inception: str | Path | None = None,
    inception_weights: str | Path | None = None,
) -> dict[str, Any]:
    """Measure a run's generator as `wganlab eval` does; returns what it writes to RUN_DIR/eval.json (or
    eval-best.json, eval-step-XXXXXXXX.json for other checkpoints; eval-ema.json, eval-best-ema.json, ... for the
    exponential moving average of the generator, `ema=True`).

    metrics: toys "w1", "sliced_w2", "modes"; images "fid", "kid", "pr", "is", "fd_fmnist", "cs_fmnist",
    "modes_stacked" (default: toys all, images fid and kid). n: samples (default 2000 toys, 10000 images, 26000
    for "modes_stacked" alone). inception: the FID feature file (default:
    found by `wganlab setup-metrics`). inception_weights: pytorch-fid's pt_inception-2015-12-05 weights,
    needed for "is" (never downloaded).
    """

    from wganlab.training.quality import evaluate_run

    return evaluate_run(
        Path(run_dir),
        metrics=None if metrics is None else list(metrics),  # [] (`--metrics ,`) is refused, not the defaults
        n=n,
        seed=seed,
        device=check_device(device),
        checkpoint=checkpoint,
        ema=ema,
        inception_path=Path(inception) if inception else None,
        inception_weights=Path(inception_weights) if inception_weights else None,
    )


def compare(
    a: str | Path,
    b: str | Path | None,
    metrics: list[str] | tuple[str, ...] = ("fid", "kid", "pr"),
    *,
    n: int = 10_000,
    seed: int = 0,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    image_size: int = 0,
    save_stats: str | Path | None = None,
    inception: str | Path | None = None,
    extractor: nn.Module | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """FID, KID and precision/recall of image set `a` against reference set `b`, as `wganlab metrics A B` computes
    them; returns {"a", "n_a", "b", "n_b", "seed", "metrics": {...}, "seconds"} (and "statistics" when saved).

    a, b: an image folder, a .zip of images, a .npy/.npz of uint8 images, a run folder or generator.safetensors
        (n samples, drawn as `evaluate` draws them), or a statistics .npz from `save_stats` (pytorch-fid's mu/sigma
        files give FID only). b may be None with `save_stats`. n: a run's samples, and at most this many of a set
        (a seeded random n of a larger one). save_stats: write a's statistics there (a new .npz). extractor: a
        feature network of your own instead of the TF Inception (images in [-1, 1] or uint8 -> (N, D)).
    """
    from wganlab.training.compare import compare_sets

    return compare_sets(
        a,
        b,
        metrics,
        n=n,
        seed=seed,
        device=check_device(device),
        batch_size=batch_size,
        image_size=image_size,
        save_stats=save_stats,
        extractor=extractor,
        inception_path=Path(inception) if inception else None,
        progress=progress,
    )
