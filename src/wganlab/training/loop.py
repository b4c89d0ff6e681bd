"""The training loop: n_critic critic updates, the Lipschitz constraint, one generator update, then logging,
evaluation, samples and checkpoints on their own intervals. Read it top to bottom."""

import contextlib
import time
from pathlib import Path

import torch
from torch import Tensor

from wganlab.config import RunConfig
from wganlab.errors import TrainingDiverged
from wganlab.models import evaluating
from wganlab.objectives import critic_updates
from wganlab.training.checkpoint import Checkpointer, load_checkpoint
from wganlab.training.distributed import DistContext, init_distributed
from wganlab.training.logbook import Logbook, console_log
from wganlab.training.quality import Quality, build_quality
from wganlab.training.run_folder import RunFolder, run_facts
from wganlab.training.samples import save_samples
from wganlab.training.state import TrainState, build_state, make_rng


def critic_step(s: TrainState, real: Tensor) -> None:
    """WGAN Algorithm 1 lines 3-7 (WGAN-GP lines 3-9); the GAN's discriminator update is the same shape."""
    with torch.no_grad(), s.autocast():  # the critic update needs no generator graph
        fake = s.generator.network(s.noise(len(real)))
    with s.autocast():
        real_scores, fake_scores = s.critic(real), s.critic(fake)
        adversarial = s.loss.critic_loss(real_scores, fake_scores)
        penalty = s.constraint.penalty(s.critic.wrapped, real, fake, s.noise_rng)
    s.critic.update(adversarial + penalty)
    s.constraint.after_critic_step(s.critic.network)  # WGAN clips after every critic update
    s.images_seen += len(real) * s.dist.world_size
    s.stats.add(critic_loss=adversarial, **{s.loss.estimate_name: s.loss.estimate(real_scores, fake_scores)})
    if s.constraint.logs_penalty:
        s.stats.add(penalty=penalty)


def generator_step(s: TrainState) -> None:
    """WGAN Algorithm 1 lines 9-11: the critic is frozen, so no gradient reaches its parameters."""
    s.critic.network.requires_grad_(False)
    with s.autocast():
        loss = s.loss.generator_loss(s.critic.network(s.generator(s.noise(s.local_batch_size))))
    s.generator.update(loss)
    s.critic.network.requires_grad_(True)
    s.stats.add(generator_loss=loss)


def train_step(s: TrainState) -> None:
    """One step: the schedule's critic updates (n_critic), then one generator update."""
    for _ in range(critic_updates(s.config.objective, s.step)):
        critic_step(s, s.data.next_batch(s.local_batch_size))
    generator_step(s)
    s.step += 1


def train(
    config: RunConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    dist: DistContext | None = None,
    progress: bool | None = None,
) -> TrainState:
    """Train a new run in `run_dir` (refused if it already holds one), or resume it; returns the final state."""
    dist = dist or init_distributed(config.train.device)
    folder = RunFolder(run_dir)
    with folder.lock() if dist.is_main else contextlib.nullcontext():
        if resume:
            folder.check_resume(config)
        else:
            folder.check_new()
        # log.txt copies the console from here: a refused start leaves an existing run's log as it was.
        with console_log(folder.log_path) if dist.is_main else contextlib.nullcontext():
            return _train(config, folder, resume, dist, progress)


def _train(config: RunConfig, folder: RunFolder, resume: bool, dist: DistContext, progress: bool | None) -> TrainState:
    show_progress = config.log.progress if progress is None else progress
    s = build_state(config, dist, progress=show_progress)
    quality = build_quality(config)
    checkpoints = Checkpointer(folder.checkpoints, config.log.keep_checkpoints)
    if resume:
        s.load_state_dict(load_checkpoint(checkpoints.latest))
        if dist.is_main:
            folder.write_config(config)  # e.g. a longer train.steps
            folder.outcome_path.unlink(missing_ok=True)  # the run goes on: how it ended before no longer holds
    elif dist.is_main:
        folder.start(config, run_facts(config, s.device, dist.world_size, tuple(s.data.sample_shape)))
        save_reals(s, folder.samples / "reals.png")
    book = Logbook(
        folder,
        total_steps=config.train.steps,
        start_step=s.step,
        enabled=dist.is_main,
        progress=show_progress,
        tensorboard=config.log.tensorboard,
        shown=(s.loss.estimate_name, quality.headline),
    )
    book.add_config(config)
    clock = Clock(s)
    try:
        while s.step < config.train.steps:
            train_step(s)
            book.advance()
            is_last = s.step == config.train.steps
            if s.step % config.log.log_every == 0 or is_last:
                log_training(s, book, checkpoints, clock)
            with clock.overhead():
                if config.log.eval_every and (s.step % config.log.eval_every == 0 or is_last):
                    evaluate(s, quality, book, checkpoints)
                if dist.is_main and (s.step % config.log.sample_every == 0 or is_last):
                    save_sample_grid(s, folder.samples / f"step-{s.step:08d}.png")
                    book.add_picture(s.step, folder.samples / f"step-{s.step:08d}.png")
                if s.step % config.log.checkpoint_every == 0 or is_last:
                    if dist.is_distributed and not s.parameters_finite():
                        # Checked on every rank (the parameters are the same everywhere), so no rank is left
                        # waiting at the barrier below while rank 0 stops in Checkpointer.save.
                        raise checkpoints.diverged(s.step, "parameters became non-finite")
                    clock.update()  # the checkpoint carries the time trained so far
                    if dist.is_main:
                        checkpoints.save(s)
                    if dist.is_distributed:
                        torch.distributed.barrier()  # nobody runs ahead of a checkpoint being written
    except TrainingDiverged as err:
        if dist.is_main:
            clock.update()
            folder.write_outcome("diverged", s.step, s.seconds, s.seconds - s.overhead_seconds, str(err))
        raise
    finally:
        book.close()
    if dist.is_main:
        clock.update()
        folder.write_outcome("finished", s.step, s.seconds, s.seconds - s.overhead_seconds)
    return s


class Clock:
    """Keeps `s.seconds` (wall-clock trained, across resumes) and `s.overhead_seconds` (evaluations, pictures,
    checkpoints) current. Read at log intervals, where the loss read-back has already synchronised the device."""

    def __init__(self, s: TrainState):
        self.s = s
        self.start, self.base = time.perf_counter(), s.seconds

    def update(self) -> None:
        self.s.seconds = self.base + time.perf_counter() - self.start

    @contextlib.contextmanager
    def overhead(self):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.s.overhead_seconds += time.perf_counter() - started


def log_training(s: TrainState, book: Logbook, checkpoints: Checkpointer, clock: Clock) -> None:
    values = s.stats.means(reduce_over_ranks=s.dist.is_distributed)
    bad = {k: v for k, v in values.items() if not torch.isfinite(torch.tensor(v))}
    if bad:
        raise checkpoints.diverged(s.step, "non-finite loss (" + ", ".join(f"{k}={v}" for k, v in bad.items()) + ")")
    book.record(s.step, s.images_seen, "train", values)
    book.add_histograms(s.step, s.critic.network)
    clock.update()
    book.record_timing(s.step, s.seconds, s.seconds - s.overhead_seconds, book.seconds_per_step(s.step))


def evaluate(s: TrainState, quality: Quality, book: Logbook, checkpoints: Checkpointer) -> None:
    """Sample quality every eval_every steps; a better headline value than any before also writes best.pt."""
    if not s.dist.is_main:
        return
    rng = make_rng(s.config.train.seed, "eval", s.device, offset=s.step)
    values = quality.measure(s.generator.network, quality.during_training, n=s.config.log.eval_samples, rng=rng)
    book.record(s.step, s.images_seen, "eval", values)
    if values[quality.headline] < s.best_metric:
        s.best_metric = values[quality.headline]
        checkpoints.save_best(s)


def grid_count(s: TrainState) -> int:
    """Samples in a picture: grid_size images, or 16 times as many points for a toy scatter."""
    return s.config.log.grid_size * (1 if len(s.data.sample_shape) == 3 else 16)


@torch.no_grad()
def save_sample_grid(s: TrainState, path: Path) -> None:
    """The same z in every picture of a run (from the "grid" stream), so pictures at different steps compare."""
    z = torch.randn(grid_count(s), s.z_dim, generator=make_rng(s.config.train.seed, "grid", s.device), device=s.device)
    with evaluating(s.generator.network) as generator:
        fake = generator(z).float()
    real = None
    if len(s.data.sample_shape) < 3:
        real = s.data.reference(len(fake), make_rng(s.config.train.seed, "grid", s.device, offset=1))
    save_samples(fake, path, real=real, title=f"{s.config.run_label}, step {s.step}")


def save_reals(s: TrainState, path: Path) -> None:
    real = s.data.reference(grid_count(s), make_rng(s.config.train.seed, "grid", s.device, offset=1))
    save_samples(real, path, title=f"real data: {s.config.data.source}")
