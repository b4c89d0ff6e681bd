"""Everything a training run holds, built from the config; the loop reads and updates it, and it saves itself.

`TrainState.state_dict()` is the whole of a checkpoint's training content (both players, every RNG, the data
position, counters), made of plain tensors, dicts and numbers so that it loads with `weights_only=True`.
"""

import contextlib
import math
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from wganlab.config import ModelConfig, RunConfig
from wganlab.data import DataSource, build_data, data_rng_device
from wganlab.errors import ConfigError
from wganlab.models import build_networks, build_shapes, evaluating
from wganlab.objectives import BuildContext, Constraint, Loss, build_objective
from wganlab.training.augment import DiffAugment
from wganlab.training.distributed import DistContext
from wganlab.training.ema import GeneratorEMA
from wganlab.training.precision import autocast, loss_scale, make_scaler, native_bf16

# Streams of randomness, each seeded from (seed, stream, offset); new streams go at the end, so existing
# streams keep their seeds.
STREAMS = ("init", "data", "noise", "grid", "eval", "heldout", "final", "global", "augment")


def make_rng(seed: int, stream: str, device: torch.device | str = "cpu", offset: int = 0) -> torch.Generator:
    """A torch.Generator seeded from (seed, stream, offset): independent streams that do not shift when
    another stream draws more or less."""
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

    def average_over_ranks(self) -> None:
        """Replace every process's sums and counts by their mean over the processes (before a checkpoint, which
        holds process 0's stats only). The next record's means are the same sums, added in another order."""
        for table in (self.sums, self.counts):
            for name in sorted(table):
                value = torch.as_tensor(table[name], dtype=torch.float32, device=self.sums[name].device).clone()
                torch.distributed.all_reduce(value)
                table[name] = value / torch.distributed.get_world_size()

    def state_dict(self) -> dict[str, Any]:
        """The sums since the last record: a checkpoint between two records carries them, so the record after a
        resume is the one an uninterrupted run writes."""
        return {"sums": dict(self.sums), "counts": dict(self.counts)}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.sums = {name: value.to(device) for name, value in state["sums"].items()}
        self.counts = {
            name: value.to(device) if isinstance(value, Tensor) else value for name, value in state["counts"].items()
        }


@dataclass
class Player:
    """One side of the game: its network, what the loop calls (DDP-wrapped under torchrun), its optimiser and
    its fp16 loss scaler (a pass-through unless train.precision is fp16)."""

    network: nn.Module
    wrapped: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler

    def __call__(self, x: Tensor) -> Tensor:
        return self.wrapped(x)

    def update(self, loss: Tensor) -> None:
        """Backward `loss` and step the optimiser (through the scaler, which unscales and may skip)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()


def _global_rng_states() -> dict[str, Any]:
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, python_state, gauss = random.getstate()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(position),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {
            "version": int(version),
            "state": torch.tensor(python_state, dtype=torch.int64),
            "gauss": gauss,
        },
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


@contextlib.contextmanager
def seeded_global_rngs(seed: int) -> Iterator[None]:
    """The process-wide torch (CUDA included), numpy and Python RNGs seeded from (seed, "global") while the block
    runs; the caller's states are put back afterwards, however the block ends.

    Training draws from its own generators, but code it calls may draw from the global ones (nn.Linear's default
    init, before ours replaces it): seeded, every process running a config draws the same, so the global states a
    checkpoint holds are the same in two independent runs, and a resume continues them.
    """
    saved = _global_rng_states()
    words = np.random.SeedSequence([seed, STREAMS.index("global")]).generate_state(4, np.uint32)
    torch.manual_seed(int(words[0]) << 32 | int(words[1]))
    np.random.seed(int(words[2]))
    random.seed(int(words[3]))
    try:
        yield
    finally:
        _restore_global_rng_states(saved)


def _restore_global_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    numpy_state = states["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached"],
        )
    )
    python_state = states["python"]
    random.setstate((python_state["version"], tuple(python_state["state"].tolist()), python_state["gauss"]))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


@dataclass
class TrainState:
    config: RunConfig
    dist: DistContext
    generator: Player
    critic: Player
    loss: Loss
    constraint: Constraint
    data: DataSource
    data_rng: torch.Generator
    noise_rng: torch.Generator
    step: int = 0
    images_seen: int = 0
    best_metric: float = float("inf")
    seconds: float = 0.0
    """Wall-clock seconds of training so far (across resumes), evaluations, samples and checkpoints included."""
    overhead_seconds: float = 0.0
    """The part of `seconds` spent on evaluations, sample pictures and checkpoints."""
    stats: RunningStats = field(default_factory=RunningStats)
    ema: GeneratorEMA | None = None
    """The generator's exponential moving average (train.ema_decay > 0)."""
    augment: DiffAugment | None = None
    """DiffAugment of every critic input (train.augment), with its own RNG stream."""

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

    def real_batch(self) -> Tensor:
        """This process's next batch of real samples; image batches in channels-last layout when
        train.channels_last is on (the layout the networks' weights are then kept in)."""
        batch = self.data.next_batch(self.local_batch_size)
        if self.config.train.channels_last and batch.dim() == 4:
            return batch.contiguous(memory_format=torch.channels_last)
        return batch

    def augmented(self, x: Tensor) -> Tensor:
        """What the critic sees of `x`: x itself, or x through DiffAugment (train.augment)."""
        return x if self.augment is None else self.augment(x)

    def augmented_critic(self, x: Tensor) -> Tensor:
        """The critic behind the augmentation (DDP-wrapped where it is), for the gradient penalty."""
        return self.critic.wrapped(self.augmented(x))

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.config.train.precision)

    @property
    def lr_decay_steps(self) -> int:
        """The generator steps a linear learning-rate decay spans."""
        return self.config.optim.lr_decay_steps or self.config.train.steps

    def schedule_learning_rates(self) -> None:
        """optim.lr_decay='linear': both learning rates times max(0, 1 - step / lr_decay_steps) for this step's
        critic and generator updates, as gan_cifar_resnet.py's LR * max(0, 1 - iteration / ITERS). Python
        numbers only, so no device sync; the rate is a function of `step`, so a resume continues it exactly."""
        if self.config.optim.lr_decay == "none":
            return
        factor = max(0.0, 1.0 - self.step / self.lr_decay_steps)
        optim = self.config.optim
        for player, base in ((self.generator, optim.generator_lr), (self.critic, optim.critic_lr)):
            for group in player.optimizer.param_groups:
                group["lr"] = base * factor

    def _check_lr_schedule(self, stored: dict[str, Any] | None) -> None:
        """A resumed linear decay must keep its span: a longer train.steps would raise the rate mid-run."""
        if stored is None or stored["decay"] != "linear" or self.config.optim.lr_decay != "linear":
            return
        if stored["steps"] != self.lr_decay_steps:
            raise ConfigError(
                f"--resume: optim.lr_decay='linear' decays the learning rates over {stored['steps']} generator steps "
                f"in this run's checkpoint but over {self.lr_decay_steps} in the config (train.steps changed?); "
                f"resume with train.steps={stored['steps']}, or start a new run"
            )

    def state_dict(self) -> dict[str, Any]:
        """Both players, every RNG state, the data position and the counters (not the config: the
        checkpoint writer adds what it needs to check a resume)."""
        state = {
            "lr_schedule": {"decay": self.config.optim.lr_decay, "steps": self.lr_decay_steps},
            "step": self.step,
            "images_seen": self.images_seen,
            "best_metric": self.best_metric if math.isfinite(self.best_metric) else None,  # None: no evaluation yet
            "seconds": self.seconds,
            "overhead_seconds": self.overhead_seconds,
            "generator": self.generator.network.state_dict(),
            "critic": self.critic.network.state_dict(),
            "generator_opt": self.generator.optimizer.state_dict(),
            "critic_opt": self.critic.optimizer.state_dict(),
            "generator_scaler": self.generator.scaler.state_dict(),
            "critic_scaler": self.critic.scaler.state_dict(),
            "rng": {"data": self.data_rng.get_state(), "noise": self.noise_rng.get_state(), **_global_rng_states()},
            "data": self.data.state_dict(),
            "stats": self.stats.state_dict(),
        }
        # Only when on, so that a run without them writes the checkpoints it wrote before they existed.
        if self.ema is not None:
            state["generator_ema"] = self.ema.network.state_dict()
        if self.augment is not None:
            state["rng"]["augment"] = self.augment.rng.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.network.load_state_dict(state["generator"])
        self.critic.network.load_state_dict(state["critic"])
        self.generator.optimizer.load_state_dict(state["generator_opt"])
        self.critic.optimizer.load_state_dict(state["critic_opt"])
        self.generator.scaler.load_state_dict(state["generator_scaler"])
        self.critic.scaler.load_state_dict(state["critic_scaler"])
        self.data_rng.set_state(state["rng"]["data"])
        self.noise_rng.set_state(state["rng"]["noise"])
        if self.ema is not None:
            self.ema.network.load_state_dict(state["generator_ema"])
        if self.augment is not None:
            self.augment.rng.set_state(state["rng"]["augment"])
        _restore_global_rng_states(state["rng"])
        self.data.load_state_dict(state["data"])
        self._check_lr_schedule(state.get("lr_schedule"))
        self.step = state["step"]
        self.images_seen = state["images_seen"]
        self.best_metric = float("inf") if state["best_metric"] is None else state["best_metric"]
        self.seconds = state.get("seconds", 0.0)
        self.overhead_seconds = state.get("overhead_seconds", 0.0)
        if "stats" in state:  # checkpoints from before the stats were saved resume with empty sums
            self.stats.load_state_dict(state["stats"], self.device)

    def non_finite(self) -> str | None:
        """What in the state a checkpoint would hold is non-finite (parameters, buffers, optimiser and scaler
        state, the sums of the losses since the last record), or None when all of it is finite. One host sync."""
        parts = {
            "generator": self.generator.network.state_dict(),
            "critic": self.critic.network.state_dict(),
            "generator optimiser state": self.generator.optimizer.state_dict()["state"],
            "critic optimiser state": self.critic.optimizer.state_dict()["state"],
            "generator loss scaler": self.generator.scaler.state_dict(),
            "critic loss scaler": self.critic.scaler.state_dict(),
            "losses since the last record": self.stats.sums,
        }
        if self.ema is not None:
            parts["generator EMA"] = self.ema.network.state_dict()
        found = [(f"{part} {name}", value) for part, tree in parts.items() for name, value in _leaves(tree)]
        flags = [torch.isfinite(value).all() for _, value in found if value.is_floating_point()]
        if not flags or bool(torch.stack([flag.to(self.device) for flag in flags]).all()):
            return None
        return next(name for name, value in found if value.is_floating_point() and not torch.isfinite(value).all())


def _leaves(tree: Any, prefix: str = "") -> list[tuple[str, Tensor]]:
    """(dotted name, tensor) of every tensor or float in nested dicts and lists (floats become tensors)."""
    if isinstance(tree, dict):
        return [
            leaf for key, value in tree.items() for leaf in _leaves(value, f"{prefix}.{key}" if prefix else str(key))
        ]
    if isinstance(tree, list | tuple):
        return [leaf for index, value in enumerate(tree) for leaf in _leaves(value, f"{prefix}.{index}")]
    if isinstance(tree, Tensor):
        return [(prefix, tree.detach())]
    if isinstance(tree, float):
        return [(prefix, torch.tensor(tree))]
    return []


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
    if precision == "bf16" and device.type == "cpu" and not native_bf16(device):
        warnings.warn(
            f"train.precision='bf16' on a CPU without bf16 instructions (no AVX512-BF16 or AMX; ATen uses "
            f"{torch.backends.cpu.get_cpu_capability()}): bf16 is emulated here, measured 16x slower than fp32 on the "
            "default image cell; train.precision=fp32 trains faster on this machine",
            stacklevel=2,
        )


def _player(config: RunConfig, dist: DistContext, network: nn.Module, lr: float, scaler) -> Player:
    wrapped = network
    if dist.is_distributed:
        # Wrapped separately: each phase all-reduces only the gradients of the network it trains.
        wrapped = DistributedDataParallel(
            network, device_ids=[dist.device.index] if dist.device.type == "cuda" else None
        )
    return Player(network, wrapped, _optimizer(config, network.parameters(), lr), scaler)


def activation_bytes_per_sample(generator: nn.Module, critic: nn.Module, z_dim: int, sample_shape) -> int:
    """Bytes autograd keeps per sample for one generator pass and two critic passes (real, fake): the saved
    tensors at a batch of 2 minus those at a batch of 1, so weights cancel out. In eval mode and on throwaway
    inputs, so neither batch-norm statistics nor spectral-norm vectors move."""

    def saved_bytes(batch: int) -> int:
        storages: dict[int, Any] = {}

        def pack(tensor: Tensor) -> Tensor:
            # Keyed on the storage object (one per storage, kept alive here): meta tensors all have address 0.
            storage = tensor.untyped_storage()
            storages[id(storage)] = storage
            return tensor

        device = next(generator.parameters()).device
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor), torch.enable_grad():
            with evaluating(generator), evaluating(critic):
                fake = generator(torch.zeros(batch, z_dim, device=device))
                # Both outputs stay alive (with their graphs), so no saved tensor is freed and its address reused.
                outputs = [critic(fake), critic(torch.zeros(batch, *sample_shape, device=device))]
        del outputs
        return sum(storage.nbytes() for storage in storages.values())

    return max(saved_bytes(2) - saved_bytes(1), 0)


def free_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    from wganlab.data.images import available_memory_bytes

    return available_memory_bytes()


def size_options(config: RunConfig, network: str) -> list[str]:
    """The options that set the size of `network` ("generator" or "critic"), as one would type them."""
    model = config.model
    if model.architecture == "mlp":
        names = ["z_dim", "generator_widths"] if network == "generator" else ["critic_widths"]
    else:
        names = ["z_dim"] if network == "generator" else []
        names += [f"{network}_channels" if getattr(model, f"{network}_channels") else "channels"]
        names += [f"{network}_depth"] if model.architecture == "dcgan" else []
    typed = [f"model.{name}={_typed(getattr(model, name))}" for name in names]
    if config.data.image_size:
        typed.append(f"data.image_size={config.data.image_size}")
    return typed


def _typed(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _changed(config: RunConfig, options: list[str]) -> list[str]:
    """Those of `options` that differ from the architecture's defaults (all of them when none does)."""
    plain = RunConfig(model=ModelConfig(architecture=config.model.architecture))
    defaults = set(size_options(plain, "generator") + size_options(plain, "critic"))
    return [option for option in options if option not in defaults] or options


def check_memory(config: RunConfig, sample_shape, dist: DistContext) -> None:
    """Refuse networks whose weights, gradients and optimiser state, or a batch whose activations alone, exceed
    the free memory, instead of allocating until the machine runs out. Both are measured on meta-device copies
    of the networks (shapes, no memory); the activations are an estimate from below (the penalty's second
    backward and the optimiser need more)."""
    free = free_memory(dist.device)
    try:
        generator, critic = build_shapes(config.model, sample_shape, is_image=not config.data.is_toy)
    except RuntimeError as err:  # "Storage size calculation overflowed": a layer beyond int64 elements
        options = _changed(config, size_options(config, "generator") + size_options(config, "critic"))
        raise ConfigError(
            f"{', '.join(options)} makes the networks too large to build ({str(err).splitlines()[0]}); lower "
            f"{'it' if len(options) == 1 else 'them'}"
        ) from None
    # Weights, gradients, and the optimiser's state: Adam's two moments, RMSProp's one average.
    copies = 4 if config.optim.optimizer == "adam" else 3
    counts = {
        name: sum(p.numel() for p in net.parameters()) for name, net in (("generator", generator), ("critic", critic))
    }
    needed = copies * 4 * sum(counts.values())
    if needed > free:
        network = max(counts, key=counts.__getitem__)
        options = _changed(config, size_options(config, network))
        raise ConfigError(
            f"{', '.join(options)} gives the {network} {counts[network]:,} parameters: with the other network, "
            f"their gradients and optimiser state that is {_size(needed)}, but {_size(free)} is free on "
            f"{dist.device}; "
            f"lower {' or '.join(option.split('=')[0] for option in options)}"
        )
    batch = config.train.batch_size // dist.world_size
    per_sample = activation_bytes_per_sample(generator, critic, config.model.z_dim, sample_shape)
    needed = batch * per_sample
    if needed > free:
        also = " or data.image_size" if config.data.image_size else ""
        raise ConfigError(
            f"train.batch_size={config.train.batch_size} needs at least {_size(needed)} for one step's "
            f"activations ({per_sample:,} bytes per sample) but {_size(free)} is free on {dist.device}; "
            f"lower train.batch_size{also}"
        )


def _size(count: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count / 1e3:,.1f} kB"


def build_state(config: RunConfig, dist: DistContext, *, progress: bool = True) -> TrainState:
    check_precision(config, dist.device)
    if config.train.batch_size % dist.world_size:
        raise ConfigError(
            f"train.batch_size={config.train.batch_size} must be divisible by the {dist.world_size} processes"
        )
    seed = config.train.seed
    data_rng = make_rng(seed, "data", data_rng_device(config.data, dist.device))
    data = build_data(
        config.data,
        device=dist.device,
        rng=data_rng,
        rank=dist.rank,
        world_size=dist.world_size,
        progress=progress and dist.is_main,
    )
    check_memory(config, tuple(data.sample_shape), dist)
    # Same init on every process (DDP would broadcast rank 0's anyway; this keeps single and multi identical).
    init_rng = make_rng(seed, "init")
    generator, critic = build_networks(
        config.model, tuple(data.sample_shape), init_rng, is_image=not config.data.is_toy
    )
    critic_scaler = make_scaler(dist.device, config.train.precision)
    context = BuildContext(
        rank=dist.rank, world_size=dist.world_size, loss_scale=lambda: loss_scale(critic_scaler, dist.device)
    )
    loss, constraint = build_objective(config.objective, context)
    constraint.attach(critic, init_rng)  # before the optimiser: spectral norm reparametrises the weights
    generator, critic = generator.to(dist.device), critic.to(dist.device)
    if config.train.channels_last:  # only 4-D weights change layout: MLPs and toy data are unaffected
        generator, critic = (n.to(memory_format=torch.channels_last) for n in (generator, critic))
    return TrainState(
        config=config,
        dist=dist,
        generator=_player(
            config, dist, generator, config.optim.generator_lr, make_scaler(dist.device, config.train.precision)
        ),
        critic=_player(config, dist, critic, config.optim.critic_lr, critic_scaler),
        loss=loss,
        constraint=constraint,
        data=data,
        data_rng=data_rng,
        noise_rng=make_rng(seed, "noise", dist.device),
        stats=RunningStats(skip_non_finite=config.train.precision == "fp16"),
        ema=GeneratorEMA(generator, config.train.ema_decay) if config.train.ema_decay else None,
        augment=DiffAugment(
            config.train.augment,
            make_rng(seed, "augment", dist.device),
            rank=dist.rank,
            world_size=dist.world_size,
        )
        if config.train.augment
        else None,
    )
