"""The training loop: n_critic critic updates, the Lipschitz constraint, one generator update, then logging,
evaluation, samples and checkpoints on their own intervals. Read it top to bottom."""

import json
import platform
import subprocess
import sys
from pathlib import Path

import torch
from torch import Tensor

import wganlab
from wganlab.config import RunConfig, differences, load_config, to_toml
from wganlab.errors import ConfigError, TrainingDiverged
from wganlab.objectives import critic_updates
from wganlab.training.checkpoint import Checkpointer, load_checkpoint, parameters_finite, restore
from wganlab.training.distributed import DistContext, init_distributed
from wganlab.training.evaluation import generate, image_quality, toy_quality
from wganlab.training.logbook import Logbook
from wganlab.training.samples import save_samples
from wganlab.training.state import TrainState, build_state, make_generator

# Settings that may change when resuming: how long to train and how to log it.
RESUMABLE_CHANGES = ("train.steps", "train.device", "log", "name")


def critic_step(s: TrainState, real: Tensor) -> None:
    """WGAN Algorithm 1 lines 3-7 (WGAN-GP lines 3-9); the GAN's discriminator update is the same shape."""
    with torch.no_grad(), s.autocast():  # the critic update needs no generator graph
        fake = s.generator_module(s.noise(len(real)))
    with s.autocast():
        adversarial = s.objective.critic_loss(s.critic(real), s.critic(fake))
        penalty = s.constraint.penalty(s.critic, real, fake, s.noise_rng, s.penalty_scale())
    s.critic_opt.zero_grad(set_to_none=True)
    s.critic_scaler.scale(adversarial + penalty).backward()
    s.critic_scaler.step(s.critic_opt)
    s.critic_scaler.update()
    s.constraint.after_critic_step(s.critic_module)  # WGAN clips after every critic update
    s.images_seen += len(real) * s.dist.world_size
    s.stats.add(critic_loss=adversarial, penalty=penalty)


def generator_step(s: TrainState) -> None:
    """WGAN Algorithm 1 lines 9-11: the critic is frozen, so no gradient reaches its parameters."""
    s.critic_module.requires_grad_(False)
    with s.autocast():
        fake = s.generator(s.noise(s.local_batch_size))
        loss = s.objective.generator_loss(s.critic_module(fake))
    s.generator_opt.zero_grad(set_to_none=True)
    s.generator_scaler.scale(loss).backward()
    s.generator_scaler.step(s.generator_opt)
    s.generator_scaler.update()
    s.critic_module.requires_grad_(True)
    s.stats.add(generator_loss=loss)


def train(
    config: RunConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    dist: DistContext | None = None,
    progress: bool | None = None,
) -> TrainState:
    """Train (or resume) the run in `run_dir`; returns the final state."""
    dist = dist or init_distributed(config.train.device)
    show_progress = config.log.progress if progress is None else progress
    s = build_state(config, dist, progress=show_progress)
    checkpoints = Checkpointer(run_dir, config.log.keep_checkpoints)
    if resume:
        restore(s, load_checkpoint(checkpoints.latest))
        if dist.is_main:
            (run_dir / "config.toml").write_text(to_toml(config))  # e.g. a longer train.steps
    elif dist.is_main:
        start_run_folder(s, run_dir)
    book = Logbook(
        run_dir,
        total_steps=config.train.steps,
        start_step=s.step,
        enabled=dist.is_main,
        progress=show_progress,
        tensorboard=config.log.tensorboard,
    )
    try:
        while s.step < config.train.steps:
            for _ in range(critic_updates(config.objective, s.step)):
                critic_step(s, s.data.next_batch(s.local_batch_size))
            generator_step(s)
            s.step += 1
            book.advance()
            is_last = s.step == config.train.steps
            if s.step % config.log.log_every == 0 or is_last:
                log_training(s, book, checkpoints)
            if config.log.eval_every and (s.step % config.log.eval_every == 0 or is_last):
                evaluate(s, book, checkpoints)
            if dist.is_main and (s.step % config.log.sample_every == 0 or is_last):
                save_sample_grid(s, run_dir / "samples" / f"step-{s.step:08d}.png")
            if s.step % config.log.checkpoint_every == 0 or is_last:
                if dist.is_distributed and not parameters_finite(s):
                    # Checked on every rank (the parameters are the same everywhere), so no rank is left
                    # waiting at the barrier below while rank 0 stops in Checkpointer.save.
                    raise TrainingDiverged(
                        f"step {s.step}: parameters became non-finite; training stopped, last good "
                        f"checkpoint {checkpoints.last_good()} left untouched"
                    )
                if dist.is_main:
                    checkpoints.save(s)
                if dist.is_distributed:
                    torch.distributed.barrier()  # nobody runs ahead of a checkpoint being written
    finally:
        book.close()
    return s


def log_training(s: TrainState, book: Logbook, checkpoints: Checkpointer) -> None:
    values = s.stats.means(reduce_over_ranks=s.dist.is_distributed)
    if not all(map(torch.isfinite, map(torch.tensor, values.values()))):
        bad = ", ".join(f"{k}={v}" for k, v in values.items() if not torch.isfinite(torch.tensor(v)))
        raise TrainingDiverged(
            f"step {s.step}: non-finite loss ({bad}); training stopped, last good checkpoint "
            f"{checkpoints.last_good()} left untouched"
        )
    values[s.objective.estimate_name] = float(s.objective.estimate(torch.tensor(values["critic_loss"])))
    if s.config.objective.resolved_constraint != "penalty":
        values.pop("penalty", None)
    values["sec_per_step"] = book.seconds_per_step(s.step)
    book.record(s.step, s.images_seen, "train", values)


def evaluate(s: TrainState, book: Logbook, checkpoints: Checkpointer) -> None:
    """Sample quality every eval_every steps; a better score than any before also writes best.pt."""
    if not s.dist.is_main:
        return
    n = s.config.log.eval_samples
    if s.config.data.is_toy:
        rng = make_generator(s.config.train.seed, "eval", s.device, offset=s.step)
        fake = generate(s.generator_module, n, s.z_dim, rng, s.device)
        values = toy_quality(s.config, fake, s.data.reference(n, rng))
        score = values["w1"]
    else:
        values, _ = image_quality(
            s.config, s.generator_module, ["fid"], n=n, seed=s.step, device=s.device, progress=False
        )
        score = values["fid"]
    book.record(s.step, s.images_seen, "eval", values)
    if score < s.best_metric:
        s.best_metric = score
        checkpoints.save_best(s)


def fixed_grid_noise(s: TrainState) -> Tensor:
    """The same z for every sample picture of a run, so pictures at different steps compare directly."""
    count = s.config.log.grid_size * (1 if s.data.sample_shape.__len__() == 3 else 16)
    return torch.randn(
        count, s.z_dim, generator=make_generator(s.config.train.seed, "grid", s.device), device=s.device
    )


@torch.no_grad()
def save_sample_grid(s: TrainState, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    generator = s.generator_module
    was_training = generator.training
    generator.eval()
    fake = generator(fixed_grid_noise(s)).float()
    generator.train(was_training)
    real = None
    if len(s.data.sample_shape) < 3:
        real = s.data.reference(len(fake), make_generator(s.config.train.seed, "grid", s.device, offset=1))
    save_samples(fake, path, real=real, title=f"{s.config.run_label}, step {s.step}")


def start_run_folder(s: TrainState, run_dir: Path) -> None:
    """config.toml (usable as input again), run.json, command.txt and a picture of the real data."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(to_toml(s.config))
    (run_dir / "command.txt").write_text(" ".join(sys.argv) + "\n")
    (run_dir / "run.json").write_text(json.dumps(run_facts(s), indent=2) + "\n")
    (run_dir / "metrics.jsonl").unlink(missing_ok=True)
    samples = run_dir / "samples"
    samples.mkdir(exist_ok=True)
    real = s.data.reference(
        s.config.log.grid_size * (1 if len(s.data.sample_shape) == 3 else 16),
        make_generator(s.config.train.seed, "grid", s.device, offset=1),
    )
    save_samples(real, samples / "reals.png", title=f"real data: {s.config.data.source}")


def run_facts(s: TrainState) -> dict:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "wganlab": wganlab.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "git_commit": commit or None,
        "device": str(s.device),
        "device_name": torch.cuda.get_device_name(s.device)
        if s.device.type == "cuda"
        else platform.processor(),
        "world_size": s.dist.world_size,
        "sample_shape": list(s.data.sample_shape),
        "threads": torch.get_num_threads(),
    }


def check_resume(run_dir: Path, config: RunConfig) -> None:
    """Refuse to resume a run whose settings changed in a way that matters."""
    stored_path = run_dir / "config.toml"
    if not stored_path.exists():
        raise ConfigError(f"--resume: {run_dir} has no config.toml; is it a wganlab run folder?")
    stored = load_config(stored_path)
    changed = differences(stored, config, ignore=RESUMABLE_CHANGES)
    if changed:
        raise ConfigError(
            f"--resume: settings differ from {stored_path}: {'; '.join(changed)} "
            "(only train.steps, train.device and log.* may change; start a new run instead)"
        )
