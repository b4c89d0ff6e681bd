"""Run configuration: frozen dataclasses, one per concern, read from TOML plus `section.key=value` overrides.

Precedence: dataclass defaults < the chosen objective's published defaults < the TOML file < overrides.
The recipe layer is what makes `objective.name = "wgan"` alone give Algorithm 1 of the WGAN paper
(RMSProp, lr 5e-5, c 0.01, n_critic 5) rather than some other objective's optimiser. Recipes, losses and
constraints are plug-ins of `wganlab.objectives` (one module each); this module reads their names from there when
it validates, so it stays importable without torch (the CLI's --help needs only the fields below).
"""

import ast
import dataclasses
import difflib
import functools
import math
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wganlab.errors import ConfigError
from wganlab.files import CACHE_PREFIX

DEFAULT_RECIPE = "wgan-gp"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Shown when a tuple-typed option is malformed, where the default would make a poor example.
EXAMPLES = {
    "optim.betas": (0.5, 0.999),
    "log.eval_metrics": ("fid", "kid"),
    "log.final_metrics": ("fid", "kid"),
    "train.augment": ("color", "translation", "cutout"),
}
# The WGAN-GP paper's random-architecture nonlinearities (sec. 5.1); softplus is its softplus(2x+2)/2 - 1.
ACTIVATIONS = ("relu", "leaky_relu", "softplus", "tanh")
# DiffAugment's policies (training/augment.py applies them).
AUGMENTATIONS = ("color", "translation", "cutout")


def _objective_tables() -> tuple[Mapping, Mapping, Mapping]:
    """(recipes, losses, constraints) from the objectives registry, imported on first use. Their names come from
    the plug-ins' file names and a recipe's settings from its module, none of which loads torch."""
    from wganlab.objectives import CONSTRAINTS, LOSSES, RECIPES

    return RECIPES, LOSSES, CONSTRAINTS


def choices_help() -> dict[str, str]:
    """The choices of the options whose values are plug-ins, read from their registries (file names, no torch
    imported), for the CLI's help after each of these options' docstrings."""
    from wganlab.data.sources import TOYS, image_source_names
    from wganlab.metrics import metric_names

    recipes, losses, constraints = _objective_tables()
    metrics = f"toys {', '.join(metric_names('toy'))}; images {', '.join(metric_names('image'))}"
    return {
        "objective.name": ", ".join(recipes),
        "objective.loss": ", ".join(losses),
        "objective.constraint": ", ".join(constraints),
        "data.source": f"toys {', '.join(TOYS)}; images {', '.join(image_source_names())}",
        "log.eval_metrics": metrics,
        "log.final_metrics": metrics,
    }


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        close = difflib.get_close_matches(str(value), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(allowed)}{hint}")


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{name}={value!r} must be a finite number > 0")


def _finite_at_least_zero(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ConfigError(f"{name}={value!r} must be a finite number >= 0")


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"{name}={value!r} must be an integer >= {low}")


@dataclass(frozen=True, kw_only=True, slots=True)
class DataConfig:
    source: str = "eight_gaussians"
    """A toy (the table in wganlab/data/sources/__init__.py) or an image source (one module each in
    wganlab/data/sources/: idx for MNIST-style files, zip for a .zip of images as stylegan2-ada's, array for a .npy
    or .npz of uint8 images, ...)."""
    path: str = ""
    """Where the image data lives (a folder or file); empty means the source's default location. A path written
    cache:REST is REST inside wganlab's user cache ($WGANLAB_CACHE, default ~/.cache/wganlab) of the machine that
    reads it, so a config naming a dataset built there travels (the studies write their Twemoji and stacked sets
    so)."""
    split: str = "train"
    """Which split of a dataset that has them (idx, cifar10, a .npz with x_train/x_test): train or test."""
    image_size: int = 0
    """Side of the square images the networks see; 0 keeps the source's native size."""
    channels: int = 0
    """1 (grayscale) or 3 (RGB); 0 keeps the source's native channel count."""
    fit: str = "crop"
    """How image folders become square: crop (short side to image_size, centre crop) or pad (long side, padded)."""
    flip: bool = False
    """Randomly mirror images left-right when drawing a batch."""
    strict: bool = False
    """Treat an unreadable image as an error instead of skipping it with a warning."""
    cache_dir: str = ""
    """Where decoded image folders and zips are cached as uint8 arrays; empty means the user cache
    ($WGANLAB_CACHE/images, default ~/.cache/wganlab/images). Never inside the dataset."""
    noise_std: float = 0.0
    """Toy noise standard deviation; 0 keeps each toy's published default."""
    pad: int = 0
    """Black pixels added on each side of array images (idx, cifar10) before any resize: Fashion-MNIST's 28 px
    plus 2 on each side is 32 px with every pixel kept as it is (no resampling)."""
    max_images: int = 0
    """Train on at most this many images (a small-data setting, e.g. 4000 for DiffAugment): the same random subset
    for every run and seed (drawn with a fixed seed, 0, kept in dataset order); 0 uses them all. Evaluations
    still compare with the whole test split (or, where there is none, with every image)."""

    def __post_init__(self) -> None:
        from wganlab.data.sources import source_names

        _choice("data.source", self.source, source_names())
        _choice("data.split", self.split, ("train", "test"))
        _choice("data.fit", self.fit, ("crop", "pad"))
        if self.image_size and (self.image_size < 8):
            raise ConfigError(f"data.image_size={self.image_size} must be 0 (native) or >= 8")
        _choice("data.channels", str(self.channels), ("0", "1", "3"))
        inside = Path(self.path.removeprefix(CACHE_PREFIX)) if self.path.startswith(CACHE_PREFIX) else None
        if inside is not None and (not inside.parts or inside.is_absolute() or ".." in inside.parts):
            raise ConfigError(f"data.path={self.path!r}: after 'cache:' give a relative path inside the user cache, "
                              "e.g. cache:datasets/twemoji/images")  # fmt: skip
        _finite_at_least_zero("data.noise_std", self.noise_std)
        _at_least("data.pad", self.pad, 0)
        _at_least("data.max_images", self.max_images, 0)

    @property
    def is_toy(self) -> bool:
        from wganlab.data.sources import TOYS

        return self.source in TOYS


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelConfig:
    architecture: str = "mlp"
    """Network family for both players: mlp, dcgan, resnet, or wgan_gp_mnist (the WGAN-GP paper's MNIST nets)."""
    z_dim: int = 2
    """Size of the generator's input noise z ~ N(0, I)."""
    generator_widths: tuple[int, ...] = (512, 512, 512)
    """MLP generator hidden layer widths (seed 002's image MLP: 512,512,1024,2048)."""
    critic_widths: tuple[int, ...] = (512, 512, 512)
    """MLP critic hidden layer widths (seed 002's image MLP: 4096,2048,1024,512)."""
    critic_activation: str = "relu"
    """MLP critic nonlinearity: relu, leaky_relu (slope 0.2), softplus (softplus(2x+2)/2 - 1) or tanh."""
    generator_activation: str = "relu"
    """MLP and DCGAN generator nonlinearity: relu, leaky_relu (slope 0.2), softplus (softplus(2x+2)/2 - 1) or tanh."""
    dcgan_critic_activation: str = "leaky_relu"
    """DCGAN critic nonlinearity: leaky_relu (slope 0.2, DCGAN's), relu, softplus (softplus(2x+2)/2 - 1) or tanh."""
    channels: int = 64
    """Base channel count of the conv networks (DCGAN's ngf/ndf, the ResNet's DIM)."""
    generator_channels: int = 0
    """Base channel count of the conv generator alone (the ResNet's DIM_G); 0 uses model.channels."""
    critic_channels: int = 0
    """Base channel count of the conv critic alone (the ResNet's DIM_D); 0 uses model.channels."""
    generator_depth: int = 0
    """DCGAN generator layers with weights, projection and output included; 0 keeps DCGAN's (4 at 32 px, 5 at
    64 px); more adds 3x3 stride-1 conv layers spread over the resolutions, narrowest first."""
    critic_depth: int = 0
    """DCGAN critic layers with weights, first and last included; 0 keeps DCGAN's (4 at 32 px, 5 at 64 px); more
    adds 3x3 stride-1 conv layers spread over the resolutions, narrowest first."""
    generator_norm: str = "batch"
    """Normalisation in conv generators: batch or none (the seeds' 'without batch norm' runs)."""
    critic_norm: str = "none"
    """Normalisation in conv critics: none, batch, layer or instance (WGAN-GP uses layer)."""
    init_std: float = 0.02
    """Weights of conv and linear layers start from N(0, init_std) (DCGAN); 0 keeps PyTorch's default init."""

    def __post_init__(self) -> None:
        _choice("model.architecture", self.architecture, ("mlp", "dcgan", "resnet", "wgan_gp_mnist"))
        _at_least("model.z_dim", self.z_dim, 1)
        _at_least("model.channels", self.channels, 1)
        for name in ("generator_widths", "critic_widths"):
            widths = getattr(self, name)
            if not widths or any(w < 1 for w in widths):
                raise ConfigError(f"model.{name}={widths!r} must be a non-empty list of positive widths")
        for name in ("critic_activation", "generator_activation", "dcgan_critic_activation"):
            _choice(f"model.{name}", getattr(self, name), ACTIVATIONS)
        for name in ("generator_channels", "critic_channels", "generator_depth", "critic_depth"):
            _at_least(f"model.{name}", getattr(self, name), 0)
        _choice("model.generator_norm", self.generator_norm, ("batch", "none"))
        _choice("model.critic_norm", self.critic_norm, ("none", "batch", "layer", "instance"))
        _finite_at_least_zero("model.init_std", self.init_std)

    @property
    def generator_base(self) -> int:
        return self.generator_channels or self.channels

    @property
    def critic_base(self) -> int:
        return self.critic_channels or self.channels

    def unused_settings(self) -> list[str]:
        """Settings changed from their defaults that this architecture does not read (for `RunConfig.validate`)."""
        reads = {
            "critic_activation": ("mlp",),
            "generator_activation": ("mlp", "dcgan"),
            "dcgan_critic_activation": ("dcgan",),
            "generator_depth": ("dcgan",),
            "critic_depth": ("dcgan",),
            "generator_channels": ("dcgan", "resnet", "wgan_gp_mnist"),
            "critic_channels": ("dcgan", "resnet", "wgan_gp_mnist"),
        }
        defaults = ModelConfig()
        return [
            f"model.{name}={getattr(self, name)!r} has no effect with model.architecture={self.architecture!r} "
            f"(only {', '.join(families)})"
            for name, families in reads.items()
            if self.architecture not in families and getattr(self, name) != getattr(defaults, name)
        ]


@dataclass(frozen=True, kw_only=True, slots=True)
class ObjectiveConfig:
    name: str = DEFAULT_RECIPE
    """The recipe, a published training setup (one module each in wganlab/objectives/recipes/): it sets the loss,
    the constraint and its paper's settings (optimiser, learning rates, n_critic, ...)."""
    loss: str = "wasserstein"
    """What the critic and generator optimise (set by the recipe; one module each in wganlab/objectives/losses/)."""
    constraint: str = "penalty"
    """How the critic is kept Lipschitz (set by the recipe; one module each in wganlab/objectives/constraints/)."""
    generator_loss: str = "non_saturating"
    """Standard loss only: non_saturating (-log D(G(z))) or minimax (log(1 - D(G(z))))."""
    n_critic: int = 5
    """Critic updates per generator update."""
    critic_schedule: str = "constant"
    """constant, or reference: the WGAN code's 100 critic updates for the first 25 and every 500th generator step."""
    clip_value: float = 0.01
    """c: every critic parameter is clamped to [-c, c] after every critic update (clip constraint)."""
    penalty_weight: float = 10.0
    """lambda: weight of the gradient penalty (penalty constraint)."""
    penalty_kind: str = "two_sided"
    """two_sided (||grad|| - t)^2, the paper's default, or one_sided max(0, ||grad|| - t)^2."""
    target_norm: float = 1.0
    """t: the gradient norm the penalty pulls towards."""
    power_iterations: int = 1
    """Spectral constraint: power-iteration steps per critic forward that track each layer's largest singular
    value (the paper uses 1; small critics whose top singular values nearly coincide need more)."""

    def __post_init__(self) -> None:
        recipes, losses, constraints = _objective_tables()
        _choice("objective.name", self.name, tuple(recipes))
        _choice("objective.loss", self.loss, tuple(losses))
        _choice("objective.constraint", self.constraint, tuple(constraints))
        _choice("objective.generator_loss", self.generator_loss, ("non_saturating", "minimax"))
        _at_least("objective.n_critic", self.n_critic, 1)
        _choice("objective.critic_schedule", self.critic_schedule, ("constant", "reference"))
        _positive("objective.clip_value", self.clip_value)
        if not (math.isfinite(self.penalty_weight) and self.penalty_weight >= 0):
            raise ConfigError(f"objective.penalty_weight={self.penalty_weight} must be a finite number >= 0")
        _choice("objective.penalty_kind", self.penalty_kind, ("two_sided", "one_sided"))
        _positive("objective.target_norm", self.target_norm)
        _at_least("objective.power_iterations", self.power_iterations, 1)


@dataclass(frozen=True, kw_only=True, slots=True)
class OptimConfig:
    optimizer: str = "adam"
    """adam or rmsprop (WGAN's Algorithm 1 uses RMSProp: momentum-based optimisers made its critic unstable)."""
    generator_lr: float = 1e-4
    """Generator learning rate (alpha)."""
    critic_lr: float = 1e-4
    """Critic learning rate (alpha)."""
    betas: tuple[float, float] = (0.0, 0.9)
    """Adam's (beta1, beta2)."""
    lr_decay: str = "none"
    """none, or linear: at generator step t both learning rates are multiplied by max(0, 1 - t / lr_decay_steps), for
    that step's critic updates too (the WGAN-GP paper's CIFAR-10 ResNet: to 0 over 100k generator steps)."""
    lr_decay_steps: int = 0
    """Generator steps the linear decay spans; 0 means train.steps."""

    def __post_init__(self) -> None:
        _choice("optim.optimizer", self.optimizer, ("adam", "rmsprop"))
        _positive("optim.generator_lr", self.generator_lr)
        _positive("optim.critic_lr", self.critic_lr)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"optim.betas={self.betas!r} must be two numbers in [0, 1)")
        _choice("optim.lr_decay", self.lr_decay, ("none", "linear"))
        _at_least("optim.lr_decay_steps", self.lr_decay_steps, 0)
        if self.lr_decay_steps and self.lr_decay == "none":
            raise ConfigError(f"optim.lr_decay_steps={self.lr_decay_steps} needs optim.lr_decay='linear'")


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainConfig:
    steps: int = 2000
    """Generator updates to train for (each with its n_critic critic updates)."""
    batch_size: int = 64
    """m: samples per batch, for real and fake alike (summed over all processes under torchrun)."""
    seed: int = 0
    """Seeds every random stream: init, data order, noise, sample grids."""
    device: str = "auto"
    """auto (cuda when available), cpu, or cuda / cuda:N."""
    precision: str = "fp32"
    """fp32, bf16 or fp16 (autocast; the penalty's norm stays in fp32)."""
    channels_last: bool = False
    """Keep image batches and the networks' convolution weights in channels-last (NHWC) memory layout, which
    oneDNN's CPU convolutions prefer (benchmarks/results/speed.md); the same computation, with another
    summation order. Nothing changes for MLPs and toy data."""
    epochs: float = 0.0
    """Passes of the critic over the training data; > 0 sets train.steps to ceil(epochs * N / (batch_size *
    n_critic)) once the data is loaded (seed 002's "1000 epochs"); 0 uses train.steps."""
    ema_decay: float = 0.0
    """beta of an exponential moving average of the generator's weights, updated after every generator step t
    (0, 1, ...) with decay min(beta, (1 + t) / (10 + t)); kept beside the raw weights, picked by --ema; 0: off."""
    augment: tuple[str, ...] = ()
    """DiffAugment (Zhao et al. 2020) of every critic input, real and fake, in both updates: any of color,
    translation, cutout (the paper's policy: all three, in that order); empty: off."""
    stop_rule: str = "none"
    """none: train train.steps; plateau: stop at the first evaluation (from the stop_min_evaluations-th on) whose
    last quarter of evaluations improved the headline quality by stop_tolerance or less on the best before it
    (training/stopping.py); train.steps is then the cap."""
    stop_min_evaluations: int = 8
    """train.stop_rule=plateau: evaluations before the rule is first checked."""
    stop_tolerance: float = 0.03
    """train.stop_rule=plateau: the relative improvement below which the quality counts as flat (0.03: 3 %)."""

    def __post_init__(self) -> None:
        _at_least("train.steps", self.steps, 1)
        _choice("train.stop_rule", self.stop_rule, ("none", "plateau"))
        _at_least("train.stop_min_evaluations", self.stop_min_evaluations, 2)
        if not (math.isfinite(self.stop_tolerance) and 0 <= self.stop_tolerance < 1):
            raise ConfigError(f"train.stop_tolerance={self.stop_tolerance} must be in [0, 1) (0.03: 3 %)")
        if not (math.isfinite(self.epochs) and self.epochs >= 0):
            raise ConfigError(f"train.epochs={self.epochs} must be a finite number >= 0 (0: use train.steps)")
        _at_least("train.batch_size", self.batch_size, 2)
        _at_least("train.seed", self.seed, 0)
        _choice("train.precision", self.precision, ("fp32", "bf16", "fp16"))
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"train.device={self.device!r} must be auto, cpu, cuda or cuda:N")
        if not (math.isfinite(self.ema_decay) and 0 <= self.ema_decay < 1):
            raise ConfigError(f"train.ema_decay={self.ema_decay} must be in [0, 1), e.g. 0.999 (0: no EMA)")
        for name in self.augment:
            _choice("train.augment", name, AUGMENTATIONS)
        if len(set(self.augment)) != len(self.augment):
            raise ConfigError(f"train.augment={','.join(self.augment)} names an augmentation twice")


@dataclass(frozen=True, kw_only=True, slots=True)
class LogConfig:
    log_every: int = 50
    """Steps between metric records (the only place device values are read back to the host)."""
    sample_every: int = 500
    """Steps between sample grids of the same fixed z."""
    checkpoint_every: int = 500
    """Steps between checkpoints."""
    keep_checkpoints: int = 3
    """How many step checkpoints to keep besides latest.pt and best.pt."""
    eval_every: int = 0
    """Steps between quality evaluations (toys: exact W1; images: FID); 0 turns them off."""
    evaluations: int = 0
    """> 0: about this many evenly spaced evaluations, log.eval_every = max(1, train.steps // evaluations) once
    train.steps is known (after train.epochs has counted the data); 0 uses log.eval_every."""
    eval_samples: int = 2000
    """Samples drawn for each in-training evaluation."""
    eval_same_draws: bool = False
    """true: every in-training evaluation draws the same z, real and held-out samples (those of step 0's stream), so
    a change between two evaluations is the networks', not the draw's (one draw of 2,000 moves FD by ~4 units:
    benchmarks/results/eval_noise.md); false: a new draw at each evaluation, as every committed study ran."""
    eval_metrics: tuple[str, ...] = ()
    """Metrics of each in-training evaluation (one module each in wganlab/metrics/toy/ and image/); empty: every toy
    metric, images fid. The first one is the headline best.pt follows. fd_fmnist is the fast
    Fashion-MNIST-classifier distance (not an FID)."""
    final_metrics: tuple[str, ...] = ()
    """Metrics measured once after the last step (kind "final" in metrics.jsonl), e.g. fid,kid,pr."""
    final_samples: int = 10_000
    """Samples for the final metrics."""
    grid_size: int = 64
    """Samples in each image grid (or points in each toy scatter: grid_size * 16)."""
    progress: bool = True
    """Show a progress bar."""
    tensorboard: bool = True
    """Write TensorBoard event files next to metrics.jsonl."""

    def __post_init__(self) -> None:
        for name in ("log_every", "sample_every", "checkpoint_every", "grid_size"):
            _at_least(f"log.{name}", getattr(self, name), 1)
        _at_least("log.keep_checkpoints", self.keep_checkpoints, 1)
        _at_least("log.eval_every", self.eval_every, 0)
        _at_least("log.evaluations", self.evaluations, 0)
        if self.evaluations and self.eval_every:
            raise ConfigError(
                f"log.evaluations={self.evaluations} and log.eval_every={self.eval_every} both set when to evaluate; "
                "give one of them (the other 0)"
            )
        _at_least("log.eval_samples", self.eval_samples, 2)
        _at_least("log.final_samples", self.final_samples, 2)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunConfig:
    name: str = ""
    """Short label for the run folder; empty derives it from objective, data and model."""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def validate(self) -> None:
        """Cross-field checks, all gathered into one error."""
        problems = []
        if self.data.is_toy and self.model.architecture != "mlp":
            problems.append(f"model.architecture={self.model.architecture!r} needs image data; toys use 'mlp'")
        problems += self.model.unused_settings()
        from wganlab.metrics import metric_names

        kind = "toy" if self.data.is_toy else "image"
        metrics = metric_names(kind)
        for key in ("eval_metrics", "final_metrics"):
            unknown = [m for m in getattr(self.log, key) if m not in metrics]
            if unknown:
                a_kind = "an image" if kind == "image" else "a toy"
                problems.append(f"log.{key}: {', '.join(unknown)} is not {a_kind} metric ({', '.join(metrics)})")
        if "fd_fmnist" in (*self.log.eval_metrics, *self.log.final_metrics) and self.data.channels == 3:
            problems.append("fd_fmnist scores 1-channel (Fashion-MNIST) images; set data.channels=1")
        if self.train.epochs and self.data.is_toy:
            problems.append("train.epochs counts passes over a dataset; toys are sampled afresh, so use train.steps")
        if self.objective.constraint == "spectral" and self.model.critic_norm == "batch":
            problems.append(
                "objective.constraint='spectral' with model.critic_norm='batch': batch norm rescales what spectral "
                "normalisation bounds; use model.critic_norm='none'"
            )
        if self.train.augment and self.data.is_toy:
            problems.append("train.augment transforms images; toys have none (use image data or train.augment=)")
        if self.train.stop_rule != "none" and not (self.log.eval_every or self.log.evaluations):
            problems.append(
                f"train.stop_rule={self.train.stop_rule!r} is checked at evaluations; set log.eval_every (or "
                "log.evaluations)"
            )
        if self.train.precision == "fp16" and self.train.device == "cpu":
            problems.append("train.precision='fp16' is not supported on CPU; use 'bf16' (or 'fp32')")
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def run_label(self) -> str:
        if self.name:
            return self.name
        return f"{self.objective.name}-{self.data.source}-{self.model.architecture}"


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "objective": ObjectiveConfig,
    "optim": OptimConfig,
    "train": TrainConfig,
    "log": LogConfig,
}


@functools.cache
def _own_classes() -> dict[str, ast.ClassDef]:
    """This module's class definitions, parsed once (inspect.getsource would parse the file once per class)."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each dataclass field (used as CLI help)."""
    if cls.__module__ == __name__ and cls.__name__ in _own_classes():
        body = _own_classes()[cls.__name__].body
    else:
        import inspect

        body = ast.parse(inspect.getsource(cls)).body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, following in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


class _OutOfRange(ConfigError):
    """An integer beyond int64: said as it is, even inside a tuple."""


def _convert(where: str, raw: Any, annotation: Any, example: Any = None) -> Any:
    """Turn a TOML value or an override string into the field's type, or say why not (`example`: a valid
    value, shown when a tuple is malformed)."""
    origin = typing.get_origin(annotation)
    try:
        if annotation is bool:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0", "yes", "no"):
                return raw.lower() in ("true", "1", "yes")
            raise ValueError
        if annotation is int:
            if isinstance(raw, bool):
                raise ValueError
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            value = int(raw)
            if not INT64_MIN <= value <= INT64_MAX:
                raise _OutOfRange(f"{where}={raw!r} is out of range: integers must lie within +-2**63 (int64)")
            return value
        if annotation is float:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if annotation is str:
            if not isinstance(raw, str | int | float) or isinstance(raw, bool):
                raise ValueError
            return str(raw)
        if origin is tuple:
            args = typing.get_args(annotation)
            items = raw
            if isinstance(raw, str):
                items = [part for part in raw.strip("()[] ").split(",") if part.strip()]
            if not isinstance(items, list | tuple):
                raise ValueError
            item_type = args[0]
            try:
                values = tuple(_convert(where, item, item_type) for item in items)
            except _OutOfRange:
                raise
            except ConfigError:
                raise ValueError from None  # one bad item: say what the whole option takes
            if args[-1] is not Ellipsis and len(values) != len(args):
                raise ValueError
            return values
    except (TypeError, ValueError, OverflowError):
        pass
    else:
        raise ConfigError(f"{where}: unsupported field type {annotation!r}")
    if origin is tuple:
        raise ConfigError(f"{where}={raw!r} {_tuple_needs(where, annotation, example)}")
    kind = getattr(annotation, "__name__", str(annotation))
    raise ConfigError(f"{where}={raw!r} is not a valid {kind}")


def _tuple_needs(where: str, annotation: Any, example: tuple | None) -> str:
    """What a tuple-typed option takes, with an example in the syntax of where it was written:
    "needs 2 floats separated by a comma, e.g. optim.betas=0.5,0.999"."""
    args = typing.get_args(annotation)
    item = getattr(args[0], "__name__", str(args[0]))
    count = "one or more" if args[-1] is Ellipsis else str(len(args))
    text = f"needs {count} {item}s separated by commas"
    if example:
        key = where.rpartition(" ")[2]
        if where.startswith("override"):
            text += f", e.g. {key}={','.join(map(str, example))}"
        else:
            text += f", e.g. {key.rpartition('.')[2]} = [{', '.join(_toml_value(value) for value in example)}]"
    return text


def _unknown(what: str, origin: str, key: str, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key.rpartition(".")[2], valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(sorted(valid))}"
    return ConfigError(f"unknown {what} in {origin}{hint}")


def _merge(layers: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Merge nested {section: {key: value}} layers in order, checking every key against the dataclasses."""
    merged: dict[str, dict[str, Any]] = {"name": {}}
    for origin, layer in layers:
        for section, values in layer.items():
            if section == "name":
                merged["name"]["name"] = _convert(f"{origin}: name", values, str)
                continue
            if section not in SECTIONS:
                raise _unknown(f"section {section!r}", origin, section, [*SECTIONS, "name"])
            if not isinstance(values, dict):
                raise ConfigError(f"{origin}: [{section}] must be a table of key = value lines")
            hints = typing.get_type_hints(SECTIONS[section])
            examples = {f.name: f.default for f in dataclasses.fields(SECTIONS[section])}
            for key, raw in values.items():
                if key not in hints:
                    raise _unknown(f"key {section}.{key}", origin, key, list(hints))
                example = EXAMPLES.get(f"{section}.{key}", examples[key])
                value = _convert(f"{origin}: {section}.{key}", raw, hints[key], example)
                merged.setdefault(section, {})[key] = value
    return merged


def parse_overrides(overrides: list[str]) -> dict[str, dict[str, Any]]:
    """`section.key=value` strings -> nested dict of raw strings (typed later against the fields)."""
    nested: dict[str, Any] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip().removeprefix("--")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value, e.g. train.steps=200")
        if key == "name":
            nested["name"] = value
            continue
        section, dot, name = key.partition(".")
        if not dot:
            raise ConfigError(f"override {item!r} must name a section, e.g. train.{key}={value}")
        nested.setdefault(section, {})[name] = value
    return nested


def presets() -> dict[str, Path]:
    """Shipped presets by name ("eight_gaussians/wgan-gp") -> file, from the installed package."""
    root = Path(__file__).parent / "configs"
    return {path.relative_to(root).with_suffix("").as_posix(): path for path in sorted(root.glob("*/*.toml"))}


def resolve_config(name_or_path: str | Path) -> Path:
    """A config file: an existing path, or a preset's name ("eight_gaussians/wgan-gp", with or without a
    leading "configs/" and a trailing ".toml", so the repository's paths work from any directory)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    if path.exists():
        raise ConfigError(f"config {str(path)!r} is a directory, not a TOML file; give a file or a preset name")
    name = path.as_posix().removeprefix("configs/").removesuffix(".toml")
    found = presets().get(name)
    if found is not None:
        return found
    close = difflib.get_close_matches(name, list(presets()), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(
        f"config file {name_or_path} does not exist and is not a preset name{hint} (`wganlab presets` lists them)"
    )


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist (`wganlab presets` lists the shipped ones)") from None
    except IsADirectoryError:
        raise ConfigError(f"config {path} is a directory, not a TOML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text; is it a TOML file?") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None


def load_config(path: Path | str | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Build a RunConfig from defaults, the recipe's published settings, a TOML file (a path or a preset
    name) and overrides."""
    path = resolve_config(path) if path is not None else None
    file_layer = read_toml(path) if path is not None else {}
    return config_from_toml(file_layer, str(path) if path is not None else "defaults", overrides)


def with_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    """`config` with `section.key=value` overrides applied, typed and checked as `load_config` does them."""
    return config_from_toml(tomllib.loads(to_toml(config)), "config", overrides)


def config_from_toml(file_layer: dict[str, Any], origin: str, overrides: list[str] | None = None) -> RunConfig:
    """A RunConfig from parsed TOML (`origin` names where it came from in errors) and overrides."""
    override_layer = parse_overrides(overrides or [])
    # The objective decides which published defaults sit under the file; read it first.
    probe = _merge([(origin, file_layer), ("override", override_layer)])
    recipes, _, _ = _objective_tables()
    name = probe.get("objective", {}).get("name", DEFAULT_RECIPE)
    from_override = "name" in override_layer.get("objective", {})
    _choice(f"{'override' if from_override else origin}: objective.name", name, tuple(recipes))
    merged = _merge(
        [
            (f"recipe {name!r}", recipes[name].defaults()),
            (origin, file_layer),
            ("override", override_layer),
        ]
    )
    sections = {name: cls(**merged.get(name, {})) for name, cls in SECTIONS.items()}
    config = RunConfig(name=merged["name"].get("name", ""), **sections)
    config.validate()
    return config


def to_dict(config: RunConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(config: RunConfig) -> str:
    """The resolved config as TOML that `load_config` reads back to an equal RunConfig."""
    lines = [f"name = {_toml_value(config.name)}", ""]
    for section in SECTIONS:
        lines.append(f"[{section}]")
        for key, value in dataclasses.asdict(getattr(config, section)).items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def differences(stored: RunConfig, current: RunConfig, ignore: tuple[str, ...] = ()) -> list[str]:
    """Dotted keys whose values differ between two configs (for the resume guard)."""
    changed = []
    old, new = to_dict(stored), to_dict(current)
    for section in ("name", *SECTIONS):
        if section == "name":
            if old["name"] != new["name"] and "name" not in ignore:
                changed.append(f"name: {old['name']!r} -> {new['name']!r}")
            continue
        for key in old[section]:
            dotted = f"{section}.{key}"
            if dotted in ignore or section in ignore:
                continue
            if old[section][key] != new[section][key]:
                changed.append(f"{dotted}: {old[section][key]!r} -> {new[section][key]!r}")
    return changed
