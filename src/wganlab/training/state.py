"""Everything a training run holds, built from the config; the loop reads and updates it."""

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from wganlab.config import RunConfig
from wganlab.data import DataSource, build_data, data_rng_device
from wganlab.errors import ConfigError
from wganlab.models import build_networks, warn_if_batch_norm_critic
from wganlab.objectives import GradientPenalty, LipschitzConstraint, Objective, build_objective
from wganlab.training.distributed import DistContext
from wganlab.training.precision import autocast, loss_scale, make_scaler

STREAMS = ("init", "data", "noise", "grid", "eval")


def make_generator(
    seed: int, stream: str, device: torch.device | str = "cpu", offset: int = 0
) -> torch.Generator:
    """A generator seeded from (seed, stream, offset): independent streams that do not shift when another
    stream draws more or less."""
    words = np.random.SeedSequence([seed, STREAMS.index(stream), offset]).generate_state(2, np.uint32)
    return torch.Generator(device=device).manual_seed(int(words[0]) << 32 | int(words[1]))


class RunningStats:
    """Sums of logged scalars kept on the device; read back (one sync) only when a record is written.

    With `skip_non_finite` (fp16: the loss scaler skips a step whose gradients overflowed, which happens by
    design while the scale settles) non-finite values are left out of the means, counted on the device; a
    name whose every value in an interval was non-finite reads back as NaN, so divergence is still caught.
    """

    def __init__(self, skip_non_finite: bool = False) -> None:
        self.skip_non_finite = skip_non_finite
        self.sums: dict[str, Tensor] = {}
        self.counts: dict[str, Tensor | int] = {}

    def add(self, **values: Tensor) -> None:
        for name, value in values.items():
            value = value.detach().float()
            count: Tensor | int = 1
            if self.skip_non_finite:
                count = torch.isfinite(value)
                value = torch.where(count, value, 0.0)
                count = count.float()
            self.sums[name] = self.sums[name] + value if name in self.sums else value
            self.counts[name] = self.counts[name] + count if name in self.counts else count

    def means(self, reduce_over_ranks: bool = False) -> dict[str, float]:
        """Means since the last call (averaged over processes when asked); resets the sums."""
        if not self.sums:
            return {}
        names = sorted(self.sums)
        stacked = torch.stack([self.sums[n] / self.counts[n] for n in names])
        if reduce_over_ranks:
            torch.distributed.all_reduce(stacked)
            stacked = stacked / torch.distributed.get_world_size()
        values = stacked.tolist()  # the one host sync per log interval
        self.sums, self.counts = {}, {}
        return dict(zip(names, values, strict=True))


@dataclass
class TrainState:
    config: RunConfig
    dist: DistContext
    generator: nn.Module  # what the loop calls: DDP-wrapped under torchrun
    critic: nn.Module
    generator_module: nn.Module  # the plain networks (for checkpoints, sampling and frozen use)
    critic_module: nn.Module
    generator_opt: torch.optim.Optimizer
    critic_opt: torch.optim.Optimizer
    objective: Objective
    constraint: LipschitzConstraint
    data: DataSource
    data_rng: torch.Generator
    noise_rng: torch.Generator
    generator_scaler: torch.amp.GradScaler
    critic_scaler: torch.amp.GradScaler
    step: int = 0
    images_seen: int = 0
    best_metric: float = float("inf")
    stats: RunningStats = field(default_factory=RunningStats)

    @property
    def device(self) -> torch.device:
        return self.dist.device

    @property
    def local_batch_size(self) -> int:
        return self.config.train.batch_size // self.dist.world_size

    @property
    def z_dim(self) -> int:
        return self.config.model.z_dim

    def noise(self, batch_size: int) -> Tensor:
        """z ~ N(0, I) for this process: every process draws the global batch and keeps rows rank,
        rank + world, ... (the rows its real samples have in the global batch, see ImageBatches), so the run
        does not depend on how many processes share it."""
        world, rank = self.dist.world_size, self.dist.rank
        z = torch.randn(batch_size * world, self.z_dim, generator=self.noise_rng, device=self.device)
        return z[rank::world]

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.config.train.precision)

    def penalty_scale(self) -> Tensor | None:
        """fp16 only: the loss scale the penalty's inner gradient must be taken at (and divided out of)."""
        return loss_scale(self.critic_scaler, self.device)


def _optimizer(config: RunConfig, params, lr: float) -> torch.optim.Optimizer:
    # One fused kernel over all parameters (Adam: CPU and CUDA) or multi-tensor ops (RMSProp) instead of about
    # ten kernel launches per parameter tensor; the update is the same formula.
    if config.optim.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    return torch.optim.Adam(params, lr=lr, betas=config.optim.betas, fused=True)


def check_precision(config: RunConfig, device: torch.device) -> None:
    precision = config.train.precision
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("train.precision='fp16' needs a CUDA device; on CPU use 'bf16' or 'fp32'")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("train.precision='bf16' is not supported by this GPU; use 'fp16' or 'fp32'")


def build_state(config: RunConfig, dist: DistContext, *, progress: bool = True) -> TrainState:
    check_precision(config, dist.device)
    if config.train.compile:
        # Not silently ignored: compiling the critic breaks the penalty's double backward (aot_autograd), and
        # on CPU compiled steps were measured no faster (shared/research/ecosystem.md section 5).
        raise ConfigError("train.compile=true is not supported yet; set train.compile=false (eager)")
    if config.train.batch_size % dist.world_size:
        raise ConfigError(
            f"train.batch_size={config.train.batch_size} must be divisible by the {dist.world_size} processes"
        )
    seed = config.train.seed
    data_rng = make_generator(seed, "data", data_rng_device(config.data, dist.device))
    data = build_data(
        config.data,
        device=dist.device,
        rng=data_rng,
        rank=dist.rank,
        world_size=dist.world_size,
        progress=progress and dist.is_main,
    )
    # Same init on every process (DDP would broadcast rank 0's anyway; this keeps single and multi identical).
    generator, critic = build_networks(
        config.model, tuple(data.sample_shape), make_generator(seed, "init"), is_image=not config.data.is_toy
    )
    generator, critic = generator.to(dist.device), critic.to(dist.device)
    objective, constraint = build_objective(config.objective)
    if isinstance(constraint, GradientPenalty):
        warn_if_batch_norm_critic(critic)
        constraint.rank, constraint.world_size = dist.rank, dist.world_size
    generator_opt = _optimizer(config, generator.parameters(), config.optim.generator_lr)
    critic_opt = _optimizer(config, critic.parameters(), config.optim.critic_lr)
    wrapped_generator, wrapped_critic = generator, critic
    if dist.is_distributed:
        ids = [dist.device.index] if dist.device.type == "cuda" else None
        # Wrapped separately: each phase all-reduces only the gradients of the network it trains.
        wrapped_generator = DistributedDataParallel(generator, device_ids=ids)
        wrapped_critic = DistributedDataParallel(critic, device_ids=ids)
    return TrainState(
        config=config,
        dist=dist,
        generator=wrapped_generator,
        critic=wrapped_critic,
        generator_module=generator,
        critic_module=critic,
        generator_opt=generator_opt,
        critic_opt=critic_opt,
        objective=objective,
        constraint=constraint,
        data=data,
        data_rng=data_rng,
        noise_rng=make_generator(seed, "noise", dist.device),
        generator_scaler=make_scaler(dist.device, config.train.precision),
        critic_scaler=make_scaler(dist.device, config.train.precision),
        stats=RunningStats(skip_non_finite=config.train.precision == "fp16"),
    )
