"""The training loop: n_critic critic updates, the Lipschitz constraint, one generator update, then logging,
evaluation (`training/evaluation.py`), samples and checkpoints on their own intervals. Read it top to bottom."""

import contextlib
import dataclasses
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from wganlab import allocator
from wganlab.config import RunConfig
from wganlab.errors import CheckpointError, ConfigError, TrainingDiverged, UserError
from wganlab.models import evaluating
from wganlab.objectives import critic_updates
from wganlab.training.checkpoint import Checkpointer, EndOfRun, Found
from wganlab.training.distributed import DistContext, init_distributed
from wganlab.training.evaluation import Evaluation, listing
from wganlab.training.logbook import Logbook, console_log, parse_records
from wganlab.training.run_folder import RunFolder, run_facts
from wganlab.training.samples import save_samples
from wganlab.training.state import TrainState, build_state, make_rng, seeded_global_rngs
from wganlab.training.stopping import Stop, check, record_for_cap
from wganlab.training.threads import ThreadShare


def critic_step(s: TrainState, real: Tensor) -> None:
    """WGAN Algorithm 1 lines 3-7 (WGAN-GP lines 3-9); the GAN's discriminator update is the same shape."""
    with torch.no_grad(), s.autocast():  # the critic update needs no generator graph
        fake = s.generator.network(s.noise(len(real)))
    with s.autocast():
        # DiffAugment (train.augment): reals and fakes each through their own random draws. The penalty mixes the
        # un-augmented pair and differentiates the critic behind a fresh augmentation, as the reference's default
        # loss (ns_DiffAugment_r1) takes R1's gradient at the un-augmented reals, through the augmentation.
        real_scores, fake_scores = s.critic(s.augmented(real)), s.critic(s.augmented(fake))
        adversarial = s.loss.critic_loss(real_scores, fake_scores)
        critic = s.critic.wrapped if s.augment is None else s.augmented_critic
        penalty = s.constraint.penalty(critic, real, fake, s.noise_rng)
    s.critic.update(adversarial + penalty)
    s.constraint.after_critic_step(s.critic.network)  # WGAN clips after every critic update
    s.images_seen += len(real) * s.dist.world_size
    s.stats.add(critic_loss=adversarial, **{s.loss.estimate_name: s.loss.estimate(real_scores, fake_scores)})
    if s.constraint.logs_penalty:
        s.stats.add(penalty=penalty)


def generator_step(s: TrainState) -> None:
    """WGAN Algorithm 1 lines 9-11: the critic is frozen, so no gradient reaches its parameters. The fakes go
    through DiffAugment when it is on (its gradient reaches the generator through it); then the EMA follows."""
    s.critic.network.requires_grad_(False)
    with s.autocast():
        loss = s.loss.generator_loss(s.critic.network(s.augmented(s.generator(s.noise(s.local_batch_size)))))
    s.generator.update(loss)
    s.critic.network.requires_grad_(True)
    if s.ema is not None:
        s.ema.update(s.generator.network, s.step)
    s.stats.add(generator_loss=loss)


def train_step(s: TrainState) -> None:
    """One step: the schedule's critic updates (n_critic), then one generator update."""
    s.schedule_learning_rates()  # optim.lr_decay: this step's rates, for its critic and generator updates
    for _ in range(critic_updates(s.config.objective, s.step)):
        critic_step(s, s.real_batch())
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
    if resume:
        check_resume_folder(run_dir)
    allocator.fix_thresholds()  # glibc's mmap threshold fixed, whatever was freed before (allocator.py)
    dist = dist or init_distributed(config.train.device)
    folder = RunFolder(run_dir)
    # The process-wide RNGs seeded from train.seed, and the caller's put back afterwards.
    with seeded_global_rngs(config.train.seed), writing(folder, dist) as go_on:
        checkpoints = Checkpointer(folder.checkpoints, config.log.keep_checkpoints)
        found = checkpoints.newest() if resume else None
        if found is not None:
            folder.check_resume(config)
        elif not resume:
            folder.check_new()
        return _train(config, folder, checkpoints, found, resume, dist, progress, go_on)


@contextlib.contextmanager
def writing(folder: RunFolder, dist: DistContext):
    """Process 0 holds the folder's lock and copies the console into log.txt, but `.lock` and log.txt are written
    only once the block calls the function it is given (`go_on`): a refused start leaves the folder as it was."""
    if not dist.is_main:
        yield lambda: None
        return
    with folder.lock() as claim, console_log(folder.log_path, deferred=True) as begin_log:

        def go_on() -> None:
            claim()
            begin_log()

        yield go_on


def check_resume_folder(run_dir: Path) -> None:
    """--resume into a folder that does not exist is a typo: refused, where it would start a new run and exit 0."""
    if not Path(run_dir).is_dir():
        raise ConfigError(f"--resume: {run_dir} does not exist; give the run's folder (or leave out --resume)")


def _train(
    config: RunConfig,
    folder: RunFolder,
    checkpoints: Checkpointer,
    found: Found | None,
    resume: bool,
    dist: DistContext,
    progress: bool | None,
    go_on: Callable[[], None],
) -> TrainState:
    """`found`: the newest complete checkpoint when resuming (None: none was left, so the run starts again).
    Everything that can refuse comes first; `go_on()` marks the first change to the run folder."""
    show_progress = config.log.progress if progress is None else progress
    s = build_state(config, dist, progress=show_progress)
    config = s.config = resolve_epochs(config, s)
    if found is not None and config.train.steps < found.step:
        raise ConfigError(
            f"--resume: train.steps={config.train.steps} is below step {found.step} of {found.path}; "
            f"give train.steps >= {found.step}"
        )
    evaluation = Evaluation(s)
    if found is not None:
        load_into(s, found)
    refusal = None
    if dist.is_main:
        try:
            preflight(config, folder, found)
        except UserError as err:
            refusal = err
    if dist.is_distributed:
        # Process 0 owns the folder and checks it; every process stops with its answer, so none is left waiting at
        # the first collective after process 0 has refused.
        shared = [refusal]
        torch.distributed.broadcast_object_list(shared, src=0)
        refusal = shared[0]
    if refusal is not None:
        raise refusal
    go_on()
    if found is None and dist.is_main and (resume or folder.config_path.exists()):
        warnings.warn(f"{folder.path} holds no complete checkpoint; starting the run from step 0", stacklevel=2)
    dropped: frozenset[str] = frozenset()
    if found is not None:
        if dist.is_main:
            folder.clear_temps()
            if found.unreadable:
                checkpoints.set_aside([path for path, _ in found.unreadable])
                skipped = ", ".join(f"{path.name} ({why})" for path, why in found.unreadable)
                warnings.warn(f"resuming from {found.path.name}: set aside as *.corrupt: {skipped}", stacklevel=2)
            rebuilt = checkpoints.repair(s, found.path)
            if rebuilt:
                warnings.warn(f"rebuilt {' and '.join(rebuilt)} from {found.path.name}", stacklevel=2)
            folder.write_config(config)  # e.g. a longer train.steps
            folder.outcome_path.unlink(missing_ok=True)  # the run goes on: how it ended before no longer holds
            if config.train.steps > found.step:
                dropped = take_back_end(folder, checkpoints, found)
    elif dist.is_main:
        facts = run_facts(config, s.device, dist.world_size, s.data.sample_shape, getattr(s.data, "num_images", None))
        folder.start(config, facts)
        save_reals(s, folder.samples / "reals.png")
    book = Logbook(
        folder,
        total_steps=config.train.steps,
        start_step=s.step,
        dropped=dropped,
        enabled=dist.is_main,
        progress=show_progress,
        tensorboard=config.log.tensorboard,
        shown=(s.loss.estimate_name, evaluation.quality.headline),
    )
    book.add_config(config)
    clock = Clock(s)
    threads = ThreadShare.from_environment()  # a pool may lend this run the cores of runs that have finished
    # A run resumed after the evaluation that stopped it (killed while it finished) stops again at once.
    stop = stop_rule(s, folder, evaluation) if found is not None else None
    try:
        while s.step < config.train.steps and stop is None:
            threads.poll()
            train_step(s)
            book.advance()
            is_last = s.step == config.train.steps
            end = EndOfRun.at(s) if is_last else None  # what only the last step writes, for an extension
            if s.step % config.log.log_every == 0 or is_last:
                log_training(s, book, checkpoints, clock)
            with clock.overhead():
                if config.log.eval_every and (s.step % config.log.eval_every == 0 or is_last):
                    evaluation.periodic(book, checkpoints, end)
                    stop = None if is_last else stop_rule(s, folder, evaluation)
                    is_last = is_last or stop is not None  # a stopped run ends here as at its last step
                if dist.is_main and (s.step % config.log.sample_every == 0 or is_last):
                    for network, path in sample_pictures(s, folder):
                        save_sample_grid(s, path, network)
                        book.add_picture(s.step, path, "samples" if network is s.generator.network else "samples_ema")
                if s.step % config.log.checkpoint_every == 0 or is_last:
                    if dist.is_distributed:
                        s.stats.average_over_ranks()  # the checkpoint holds process 0's sums only
                        if end is not None and end.train:
                            end.stats.average_over_ranks()
                        # Checked on every rank (the state is the same everywhere), so no rank is left waiting at
                        # the barrier below while rank 0 stops in Checkpointer.save.
                        checkpoints.check_finite(s)
                    clock.update()  # the checkpoint carries the time trained so far
                    if dist.is_main:
                        checkpoints.save(s, end)
                    if dist.is_distributed:
                        torch.distributed.barrier()  # nobody runs ahead of a checkpoint being written
        if dist.is_main and config.log.final_metrics and not folder.records("final"):
            # After the last checkpoint, so a run killed here resumes straight to this measurement.
            with clock.overhead():
                evaluation.final(book)
    except TrainingDiverged as err:
        if dist.is_main:
            clock.update()
            folder.write_outcome("diverged", s.step, s.seconds, s.seconds - s.overhead_seconds, str(err))
        raise
    finally:
        book.close()
    if dist.is_main:
        clock.update()
        note = {}
        if config.train.stop_rule != "none":
            note = stop.record(config.train.stop_tolerance) if stop is not None else record_for_cap(s.step)
        folder.write_outcome("finished", s.step, s.seconds, s.seconds - s.overhead_seconds, extra=note)
    return s


def stop_rule(s: TrainState, folder: RunFolder, evaluation: "Evaluation") -> Stop | None:
    """train.stop_rule after an evaluation (training/stopping.py): process 0 decides from the evaluations in
    metrics.jsonl (a resumed run's included) and, under torchrun, tells the others, so that all stop together."""
    train = s.config.train
    if train.stop_rule == "none":
        return None
    found = None
    if s.dist.is_main:
        evals = folder.records("eval")
        headline = evaluation.quality.headline
        found = check(train.stop_rule, [r["step"] for r in evals], [r[headline] for r in evals],
                      min_evaluations=train.stop_min_evaluations, tolerance=train.stop_tolerance)  # fmt: skip
    if s.dist.is_distributed:
        flag = torch.tensor([found is not None], dtype=torch.int32, device=s.device)
        torch.distributed.broadcast(flag, src=0)
        if flag.item() and found is None:
            found = Stop(step=s.step, evaluations=0, recent_best=math.nan, earlier_best=math.nan)
    return found


def preflight(config: RunConfig, folder: RunFolder, found: Found | None) -> None:
    """What would refuse a start after it had changed the run folder, checked before: the folders and files it
    writes, the records a resume keeps (read, not changed) and TensorBoard's package."""
    folder.check_writable()
    if found is not None:
        for path in (folder.metrics_path, folder.timing_path):
            if path.is_file():
                parse_records(path)
    if config.log.tensorboard:
        try:
            import torch.utils.tensorboard  # noqa: F401
        except ImportError:
            raise ConfigError(
                "log.tensorboard=true needs the tensorboard package: pip install tensorboard, or set "
                "log.tensorboard=false"
            ) from None


def take_back_end(folder: RunFolder, checkpoints: Checkpointer, found: Found) -> frozenset[str]:
    """Extending a finished run: take back what its last step wrote only because it was the last (`EndOfRun`),
    so that the run goes on as an uninterrupted longer run would. Removes the picture and puts best.pt back here;
    returns the kinds of record at that step for the Logbook to drop (the final record always). A checkpoint
    from before end-of-run notes brings back only that much."""
    ended = found.payload.get("end_of_run")
    if ended is None:
        return frozenset({"final"})
    if ended["picture"]:
        for name in picture_names(found.step):
            (folder.samples / name).unlink(missing_ok=True)
    checkpoints.restore_best(found.step, ended["best"])
    if ended["checkpoint"]:
        checkpoints.superseded.append(checkpoints.directory / f"step-{found.step:08d}.pt")
    return frozenset({"final"} | {kind for kind in ("train", "eval") if ended[kind]})


def resolve_epochs(config: RunConfig, s: TrainState) -> RunConfig:
    """train.epochs > 0: the generator steps that make `epochs` passes of the critic over the data; then
    log.evaluations > 0: the log.eval_every that spreads that many evaluations over those steps."""
    if config.train.epochs:
        per_step = config.train.batch_size * config.objective.n_critic
        steps = max(1, math.ceil(config.train.epochs * len(s.data) / per_step))
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=steps))
    if config.log.evaluations:
        every = max(1, config.train.steps // config.log.evaluations)
        config = dataclasses.replace(config, log=dataclasses.replace(config.log, eval_every=every, evaluations=0))
    return config


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
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        raise checkpoints.diverged(s.step, f"non-finite loss ({listing(bad)})")
    book.record(s.step, s.images_seen, "train", values)
    book.add_histograms(s.step, s.critic.network)
    clock.update()
    book.record_timing(s.step, s.seconds, s.seconds - s.overhead_seconds, book.seconds_per_step(s.step))


def load_into(s: TrainState, found: Found) -> None:
    try:
        s.load_state_dict(found.payload)
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise CheckpointError(
            f"{found.path} does not fit this run ({type(err).__name__}); was it written by another run?"
        ) from None


def grid_count(s: TrainState) -> int:
    """Samples in a picture: grid_size images, or 16 times as many points for a toy scatter."""
    return s.config.log.grid_size * (1 if len(s.data.sample_shape) == 3 else 16)


def picture_names(step: int) -> tuple[str, str]:
    """The sample pictures of a step: the generator's, and the EMA's where there is one."""
    return f"step-{step:08d}.png", f"ema-step-{step:08d}.png"


def sample_pictures(s: TrainState, folder: RunFolder) -> list[tuple[torch.nn.Module, Path]]:
    """(network, picture) at this step: samples/step-XXXXXXXX.png, and with an EMA samples/ema-step-XXXXXXXX.png
    of the averaged generator on the same z."""
    raw, averaged = picture_names(s.step)
    pictures = [(s.generator.network, folder.samples / raw)]
    if s.ema is not None:
        pictures.append((s.ema.network, folder.samples / averaged))
    return pictures


@torch.no_grad()
def save_sample_grid(s: TrainState, path: Path, network: torch.nn.Module | None = None) -> None:
    """The same z in every picture of a run (from the "grid" stream), so pictures at different steps compare;
    `network` defaults to the generator (the EMA's pictures pass its average)."""
    z = torch.randn(grid_count(s), s.z_dim, generator=make_rng(s.config.train.seed, "grid", s.device), device=s.device)
    with evaluating(network or s.generator.network) as generator:
        fake = generator(z).float()
    real = None
    if len(s.data.sample_shape) < 3:
        real = s.data.reference(len(fake), make_rng(s.config.train.seed, "grid", s.device, offset=1))
    save_samples(fake, path, real=real, title=f"{s.config.run_label}, step {s.step}")


def save_reals(s: TrainState, path: Path) -> None:
    real = s.data.reference(grid_count(s), make_rng(s.config.train.seed, "grid", s.device, offset=1))
    save_samples(real, path, title=f"real data: {s.config.data.source}", label="real")
