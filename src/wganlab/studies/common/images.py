"""What the image studies share: one grid of training cells (generator architecture x critic normalisation x
objective), their sizes, the data (Fashion-MNIST unless the user names a seed preset), and one pool of run
folders. A cell that two studies need is trained once: the studies name it identically and the runner refuses
a folder whose settings differ, so the pool can never mix configurations.

Cells: generator "dcgan-bn" (DCGAN with batch norm), "dcgan" (without) or "mlp"; critic normalisation "none",
"batch" or "layer" (the MLP critic has none); objective "gan", "wgan" or "wgan-gp" with its published recipe
(the `fashion_mnist/<objective>` presets). With `--data PRESET`, the data section comes from that preset.
"""

import contextvars
import dataclasses
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wganlab.config import SECTIONS, load_config
from wganlab.errors import ConfigError
from wganlab.studies.common import style
from wganlab.studies.common.recipes import SEED_RECIPES
from wganlab.studies.common.report import Table, fmt, mean_std, write_csv
from wganlab.studies.common.runner import Plan, Run, StudyError, folder_name
from wganlab.training.run_folder import RunFolder
from wganlab.training.samples import read_image_grid

OBJECTIVES = ("gan", "wgan", "wgan-gp")
GENERATORS = {"dcgan-bn": "DCGAN + BN", "dcgan": "DCGAN", "mlp": "MLP"}
CRITICS = {"none": "no norm", "batch": "batch norm", "layer": "layer norm"}
FASHION_MNIST = (
    "data.source=idx",
    "data.path=",
    "data.split=train",
    "data.pad=2",
    "data.image_size=0",
    "data.channels=1",
)
# Seconds per generator step on one idle CPU thread at the default size (32 px, 32 channels, batch 64), from
# timing train_step under load and scaling by a toy step timed in the same minute; only the runner's ordering
# uses them.
SECONDS_PER_STEP = {"gan": 0.055, "wgan": 0.16, "wgan-gp": 0.29}
MLP_SPEEDUP = 2.2
# The fast path: bf16 autocast with channels-last layout. The precision study (docs/studies/precision) found it at
# quality parity with fp32 on the default cell for the GAN and WGAN-GP (final FD and FID of the fast runs' mean
# within the fp32 seeds' range), not for WGAN (its mean FID fell below that range) and did not test SNGAN. The pools
# that a size marks "fast" (and every seed-recipe pool) train those two objectives on it; the default and quick
# pools stay fp32, the setting their committed records were trained in.
FAST_PATH = ("train.precision=bf16", "train.channels_last=true")
PARITY_OBJECTIVES = ("gan", "wgan-gp")


# `wganlab study ... --fp32` plans with the fast path off (for a machine without bf16 instructions, where it is the
# slow path); set only inside study.make_plan, which gives such a plan its own pool.
FP32_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("fp32_only", default=False)


def fast_path(objective: str) -> tuple[str, ...]:
    """The fast path's overrides for `objective` where the precision study found parity, else none (fp32); none
    at all while a `--fp32` plan is made."""
    return FAST_PATH if objective in PARITY_OBJECTIVES and not FP32_ONLY.get() else ()


SIZES = {
    # default: sized for 2 CPU cores (see each study's setup text); paper: seed 002's own setting (64 px, 64
    # channels, batch 256, lr 2e-4, n_critic 1 / 4 / 4, 1000 epochs), for a GPU.
    "quick": {"seeds": 1, "steps": 20, "eval_every": 10, "eval_samples": 256, "final_samples": 64, "channels": 8,
              "image_size": 0, "batch": 32, "mlp": ((32, 32, 64, 128), (256, 128, 64, 32)), "paper": False},
    "default": {"seeds": 3, "steps": 3000, "eval_every": 150, "eval_samples": 2000, "final_samples": 1000,
                "channels": 32, "image_size": 0, "batch": 64, "mlp": ((128, 128, 256, 512), (1024, 512, 256, 128)),
                "paper": False},
    "paper": {"seeds": 3, "steps": 0, "eval_every": 0, "eval_samples": 10_000, "final_samples": 10_000,
              "channels": 64, "image_size": 64, "batch": 256, "mlp": ((512, 512, 1024, 2048), (4096, 2048, 1024, 512)),
              "paper": True, "fast": True},
    # long: the default networks until the run's quality has flattened (train.stop_rule=plateau, checked at every
    # evaluation: see training/stopping.py), at the latest after `steps` (the published recipes) or the seed
    # recipe's own length; an evaluation every 500 steps, so the rule needs at least 8 x 500 = 4,000 steps.
    "long": {"seeds": 3, "steps": 50_000, "eval_every": 500, "eval_samples": 2000, "final_samples": 1000,
             "channels": 32, "image_size": 0, "batch": 64, "mlp": ((128, 128, 256, 512), (1024, 512, 256, 128)),
             "paper": False, "stop_rule": "plateau", "stop_min_evaluations": 8, "stop_tolerance": 0.03,
             "fast": True},
}  # fmt: skip
PAPER_EPOCHS = 1000  # seed 002, Table 1
FASHION_MNIST_TRAIN = 60_000  # images in Fashion-MNIST's training split
PAPER_EVALUATIONS = 25


@dataclass(frozen=True)
class Cell:
    generator: str
    critic: str
    objective: str
    variant: str = ""
    """A departure from the objective's recipe, e.g. "ncritic-1" or "clip-0.05" (empty: the recipe as published)."""
    overrides: tuple[str, ...] = ()
    """The settings the variant changes."""

    @property
    def key(self) -> str:
        return f"{self.generator}-{self.critic}/{self.objective}" + (f"-{self.variant}" if self.variant else "")

    @property
    def title(self) -> str:
        variant = f" ({self.variant})" if self.variant else ""
        return f"{GENERATORS[self.generator]} / {CRITICS[self.critic]}: {style.title(self.objective)}{variant}"


def size_settings(size: str, seeds: int | None, data: str | None, recipe: str | None = None) -> dict:
    """The size's settings; `recipe`: a seed recipe's key (SEED_RECIPES), whose batch size replaces the size's
    (None: the published recipes)."""
    settings = dict(SIZES[size])
    settings["seeds"] = seeds or settings["seeds"]
    settings["data"] = data or ""
    settings["fashion_mnist"] = data is None
    settings["recipe"] = recipe or "published"
    settings["fast"] = bool(settings.get("fast")) or recipe is not None  # a seed recipe's pool is new: fast path
    if recipe is not None:
        settings["batch"] = SEED_RECIPES[recipe].batch
    return settings


def recipe_of(settings: dict):
    """The plan's seed recipe (a `SeedRecipe`), or None for the published recipes."""
    return SEED_RECIPES.get(settings.get("recipe", "published"))


def stop_overrides(settings: dict) -> tuple[str, ...]:
    """The stopping rule of the `long` size as overrides (nothing for the other sizes)."""
    if not settings.get("stop_rule"):
        return ()
    return (
        f"train.stop_rule={settings['stop_rule']}",
        f"train.stop_min_evaluations={settings['stop_min_evaluations']}",
        f"train.stop_tolerance={settings['stop_tolerance']}",
    )


def data_overrides(data: str) -> tuple[str, ...]:
    """The [data] section of a preset or config file as overrides (what `--data PRESET` swaps in)."""
    config = load_config(data)
    return tuple(f"data.{field.name}={format_value(getattr(config.data, field.name))}"
                 for field in dataclasses.fields(SECTIONS["data"]))  # fmt: skip


def format_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


def cell_run(cell: Cell, seed: int, settings: dict) -> Run:
    """The training run of one cell and seed at one size."""
    s = settings
    paper = s["paper"]
    data = data_overrides(s["data"]) if s["data"] else FASHION_MNIST
    model = [f"model.z_dim={128}", f"model.channels={s['channels']}"]
    if cell.generator == "mlp":
        generator_widths, critic_widths = s["mlp"]
        model += [
            "model.architecture=mlp",
            f"model.generator_widths={','.join(map(str, generator_widths))}",
            f"model.critic_widths={','.join(map(str, critic_widths))}",
            "model.critic_activation=leaky_relu",  # seed 002's MLP critic
        ]
    else:
        model += [
            "model.architecture=dcgan",
            f"model.generator_norm={'batch' if cell.generator == 'dcgan-bn' else 'none'}",
        ]
    model.append(f"model.critic_norm={cell.critic}")
    if s["fashion_mnist"] and s["image_size"]:
        data = (*data, f"data.image_size={s['image_size']}")
    metric = "fd_fmnist" if s["fashion_mnist"] else "fid"
    train = [f"train.seed={seed}", f"train.batch_size={s['batch']}"]
    recipe = recipe_of(s)
    if paper:
        # Seed 002, Table 1: batch 256, lr 2e-4 for all three, 1 / 4 / 4 critic updates per generator update.
        optim = [
            "optim.generator_lr=2e-4",
            "optim.critic_lr=2e-4",
            f"objective.n_critic={1 if cell.objective == 'gan' else 4}",
        ]
        train += list(recipe.length_overrides) if recipe else [f"train.epochs={PAPER_EPOCHS}"]
        # The steps that 1000 epochs make are known once the data is: the run spreads its evaluations over them.
        schedule = ["log.eval_every=0", f"log.evaluations={PAPER_EVALUATIONS}", "log.checkpoint_every=5000",
                    "log.sample_every=5000"]  # fmt: skip
    elif s.get("stop_rule"):
        optim = []
        every = s["eval_every"]
        # The cap: the seed's own length under a seed recipe, the size's steps under the published ones.
        train += [*(recipe.length_overrides if recipe else [f"train.steps={s['steps']}"]), *stop_overrides(s)]
        # A checkpoint at every evaluation: a study stopped mid-run (a session's end) loses at most one interval.
        schedule = [f"log.eval_every={every}", f"log.log_every={every}", f"log.checkpoint_every={every}",
                    f"log.sample_every={5 * every}"]  # fmt: skip
    else:
        optim = []
        steps, every = s["steps"], s["eval_every"]
        train += [f"train.steps={steps}"]
        schedule = [f"log.eval_every={every}", f"log.log_every={every}", f"log.checkpoint_every={max(1, steps // 4)}",
                    f"log.sample_every={max(1, steps // 4)}"]  # fmt: skip
    if recipe:
        optim += list(recipe.objective_overrides(cell.objective))
    overrides = (
        *data, *model, *optim, *cell.overrides, *(fast_path(cell.objective) if s.get("fast") else ()),
        *train, *schedule,
        "log.keep_checkpoints=5",
        f"log.eval_metrics={metric}",
        f"log.eval_samples={s['eval_samples']}",
        "log.final_metrics=fid,kid,pr",
        f"log.final_samples={s['final_samples']}",
        "log.tensorboard=false",
    )  # fmt: skip
    cost = SECONDS_PER_STEP[cell.objective] * (s["steps"] or 50_000) / (MLP_SPEEDUP if cell.generator == "mlp" else 1)
    labels = (("generator", cell.generator), ("critic", cell.critic), ("objective", cell.objective),
              ("variant", cell.variant), ("seed", seed))  # fmt: skip
    return Run(key=f"{cell.key}/seed-{seed}", preset=f"fashion_mnist/{cell.objective}", overrides=overrides,
               cost=cost, labels=labels)  # fmt: skip


def runs_dir(size: str, settings: dict) -> str:
    """The shared pool, relative to a study folder: ../image-runs[-quick|-paper|-long][-<seed recipe>][-<data>]:
    the studies that test one seed's claims under its recipe share runs, and no recipe shares with another."""
    suffix = "" if settings["fashion_mnist"] else "-" + Path(settings["data"]).stem.replace("/", "-")
    recipe = settings.get("recipe", "published")
    return f"../{folder_name('image-runs', size)}{'' if recipe == 'published' else '-' + recipe}{suffix}"


def cell_runs(cells: list[Cell], settings: dict) -> list[Run]:
    return [cell_run(cell, seed, settings) for cell in cells for seed in range(settings["seeds"])]


def cell_plan(
    name: str, cells: list[Cell], size: str, seeds: int | None, data: str | None, recipe: str | None = None
) -> Plan:
    """The plan of an image study that trains every cell at every seed, in the shared pool of run folders
    (`recipe`: a seed recipe's key, None for the published recipes)."""
    check_data(data)
    settings = size_settings(size, seeds, data, recipe)
    return Plan(name, size, settings["seeds"], cell_runs(cells, settings), settings, runs_dir=runs_dir(size, settings))


def check_data(data: str | None) -> None:
    if data is not None:
        config = load_config(data)
        if config.data.is_toy:
            raise ConfigError(f"--data {data} is a toy; the image studies need image data")


def headline(settings: dict) -> str:
    return "fd_fmnist" if settings["fashion_mnist"] else "fid"


def headline_title(settings: dict) -> str:
    return "FD (F-MNIST classifier)" if settings["fashion_mnist"] else "FID (TF-Inception)"


def length_text(config) -> str:
    """How long the planned runs train, as they are sized: in epochs (the paper sizes) or in generator steps, and
    under a stopping rule, that this is the most."""
    if config.train.epochs:
        text = f"{config.train.epochs:g} epochs (passes of the critic over the training images)"
    else:
        text = f"{config.train.steps:,} generator steps"
    if config.train.stop_rule != "none":
        text = (f"at most {text}, fewer where the {config.train.stop_rule} rule stopped a run (the best quality "
                f"of its last quarter of evaluations no more than {config.train.stop_tolerance:.0%} better than its "
                f"best before them, checked from evaluation {config.train.stop_min_evaluations} on)")  # fmt: skip
    return text


def recipe_text(plan, published: str) -> str:
    """The setup sentence on the recipes: `published` for the published ones, else the seed recipe's sources."""
    recipe = recipe_of(plan.settings)
    return published if recipe is None else f"Recipes: {recipe.source}."


def evaluation_text(config) -> str:
    """When the planned runs evaluate: a fixed interval, or a count spread over the steps the data gives."""
    if config.log.evaluations:
        return f"at {config.log.evaluations} evenly spaced steps"
    return f"every {config.log.eval_every:,} steps"


def final_record(folder: Path) -> dict:
    finals = RunFolder(folder).records("final")
    return finals[-1] if finals else {}


def run_summary(run, folder: Path) -> str:
    """The line printed as an image run finishes: its last evaluation and, when measured, its final FID."""
    evals, final = RunFolder(folder).records("eval"), final_record(folder)
    if not evals:
        return ""
    key = "fd_fmnist" if "fd_fmnist" in evals[-1] else "fid"
    text = f"step {evals[-1]['step']}: {key} {evals[-1][key]:.3g}"
    return text + (f", FID {final['fid']:.1f} ({final['samples']} samples)" if "fid" in final else "")


def curves(plan, study_dir: Path, quality: str) -> list[dict]:
    """One row per evaluation of every run: its quality, and the wall-clock seconds of training (evaluations
    excluded) by then from timing.jsonl, with the load average the machine had."""
    rows = []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        timing = {r["step"]: r for r in folder.timing()}
        for r in folder.records("eval"):
            clock = timing.get(r["step"], {})
            rows.append({**dict(run.labels), "step": r["step"], quality: r[quality],
                         "train_seconds": clock.get("train_seconds", float("nan")),
                         "load_1min": clock.get("load_1min", float("nan")),
                         **{k: r[k] for k in ("clip_share", "critic_grad_norm") if k in r}})  # fmt: skip
    return rows


def of_cell(rows: list[dict], cell: Cell) -> list[dict]:
    """The rows (of runs, or of their evaluations) that belong to `cell`."""
    key = (cell.generator, cell.critic, cell.objective, cell.variant)
    return [r for r in rows if (r["generator"], r["critic"], r["objective"], r["variant"]) == key]


def seed_curves(curves: list[dict], cell: Cell) -> list[list[dict]]:
    """The cell's evaluation rows from `curves`, one list per seed (ordered by seed), each ordered by step."""
    rows = of_cell(curves, cell)
    return [sorted((r for r in rows if r["seed"] == seed), key=lambda r: r["step"])
            for seed in sorted({r["seed"] for r in rows})]  # fmt: skip


def quality_at_seconds(runs: list[list[dict]], quality: str, seconds: float, x: str = "train_seconds") -> list[float]:
    """Per run, the quality of its last evaluation within `seconds` of training (NaN if it had none by then): what
    a user who stopped the run at that wall-clock would have had. `x`: the column that measures the budget (e.g.
    "tflop", training compute, where the runs' wall-clocks come from different machines)."""
    return [next((r[quality] for r in reversed(rows) if r[x] <= seconds), float("nan")) for rows in runs]


def equal_time_rows(curves: list[dict], cells, quality: str, name, x: str = "train_seconds") -> list[list[str]]:
    """A table at equal training wall-clock (or at equal `x`, e.g. "tflop"): one row per cell's end (its shortest
    run's training seconds), the cells whose every run trained that long at their last evaluation by then
    (mean ± std), "ended" for the others, and the lowest mean among them (`name(cell)`), marked when its lead over
    the next is within one standard deviation over seeds; no lowest where one cell is left."""
    runs = {c: seed_curves(curves, c) for c in cells}
    ends = {c: min(rows[-1][x] for rows in runs[c]) for c in cells}
    table = []
    for budget in sorted(set(ends.values())):
        running = [c for c in cells if ends[c] >= budget]
        values = {c: quality_at_seconds(runs[c], quality, budget, x) for c in running}
        lowest = ""
        if len(running) > 1:
            best, second = sorted(running, key=lambda c: np.mean(values[c]))[:2]
            gap = np.mean(values[second]) - np.mean(values[best])
            spread = max(np.std(values[best], ddof=1), np.std(values[second], ddof=1))
            lowest = name(best) + (" (within 1 std of the next)" if gap <= spread else "")
        table.append([f"{budget:,.0f}", *(mean_std(values[c]) if c in values else "ended" for c in cells), lowest])
    return table


def equal_time_text(
    tables: dict[str, list[list[str]]],
    headline: str,
    where: str,
    budget: str = "training wall-clock (evaluations excluded)",
    unit: str = "s",
) -> str:
    """The finding over `equal_time_rows` tables ({title: rows}; a title prefixes its part): which cell was lowest
    at each time (each `budget`, in `unit`) where more than one was still training."""
    parts = [
        (f"{title} " if title else "") + ", ".join(f"{row[-1]} at {row[0]} {unit}" for row in rows if row[-1])
        for title, rows in tables.items()
    ]
    return (
        f"At equal {budget}, the lowest mean {headline} among the settings still "
        f"training, at the {'time' if unit == 's' else 'point'} each setting's runs ended ({where}): "
        + "; ".join(parts)
        + "."
    )


def step_flops(run: Run) -> tuple[int, int]:
    """(critic update, generator update): the floating-point operations of matrix products and convolutions
    (torch's FlopCounterMode, backward and the penalty's double backward included) of one update of each of the
    run's networks, at its batch size, in fp32 on the CPU. Counted from the shapes, so the same on every machine:
    the measure of training compute where runs trained on different hosts make their wall-clocks incomparable."""
    from wganlab.config import load_config
    from wganlab.training.distributed import DistContext
    from wganlab.training.flops import flop_counter
    from wganlab.training.loop import critic_step, generator_step
    from wganlab.training.state import build_state

    fixed = ["train.device=cpu", "train.precision=fp32", "train.channels_last=false", "log.progress=false"]
    state = build_state(load_config(run.preset, [*run.overrides, *fixed]), DistContext.local(), progress=False)
    counts = []
    for update in (lambda: critic_step(state, state.real_batch()), lambda: generator_step(state)):
        with flop_counter() as counter:
            update()
        counts.append(int(counter.get_total_flops()))
    return counts[0], counts[1]


def critic_updates_through(objective, steps: int) -> list[int]:
    """For each generator step 0..`steps`, the critic updates made before it (the objective's schedule: n_critic,
    or the WGAN reference code's 100 early and every 500th step)."""
    from wganlab.objectives.schedule import critic_updates

    return [0, *itertools.accumulate(critic_updates(objective, step) for step in range(steps))]


def seconds_to_reach(runs: list[list[dict]], quality: str, level: float) -> list[float]:
    """Per run, the training seconds at its first evaluation with quality <= `level` (inf if it never got there)."""
    return [next((r["train_seconds"] for r in rows if r[quality] <= level), float("inf")) for rows in runs]


def late_spread(runs: list[list[dict]], quality: str, last: int = 5) -> list[float]:
    """Per run, the standard deviation of its last `last` evaluations over their mean: how much the quality still
    moves at the end (the WGAN-GP paper's "more stable at convergence")."""
    values = [np.array([r[quality] for r in rows[-last:]], dtype=float) for rows in runs]
    return [float(v.std(ddof=1) / v.mean()) if len(v) > 1 else float("nan") for v in values]


def late_trend(runs: list[list[dict]], quality: str, last: int = 5) -> tuple[list[float], list[float]]:
    """Per run, a least-squares line through its last `last` evaluations (against the evaluation index): its slope
    per evaluation over their mean (how fast the quality still moves: negative while it improves) and the standard
    deviation of the residuals about the line (ddof 2) over their mean (how much it jumps around that trend). A run
    still improving steadily has a large slope and a small scatter; `late_spread` mixes the two."""
    slopes, scatters = [], []
    for rows in runs:
        v = np.array([r[quality] for r in rows[-last:]], dtype=float)
        if len(v) < 3:
            slopes.append(float("nan"))
            scatters.append(float("nan"))
            continue
        x = np.arange(len(v), dtype=float)
        slope, intercept = np.polyfit(x, v, 1)
        residuals = v - (slope * x + intercept)
        slopes.append(float(slope / v.mean()))
        scatters.append(float(np.sqrt((residuals**2).sum() / (len(v) - 2)) / v.mean()))
    return slopes, scatters


def load_text(curves: list[dict]) -> str:
    """A sentence on the machine's load while the runs trained (empty when no run recorded it)."""
    loads = [r["load_1min"] for r in curves if not math.isnan(r["load_1min"])]
    if not loads:
        return ""
    return (
        f"The machine's 1-minute load average at the evaluations was {fmt(min(loads))} to {fmt(max(loads))} (the "
        "study's runs alone make it about the number of runs at once); wall-clock comparisons are only as clean as "
        "that."
    )


def ranking_text(groups: dict[str, list[float]]) -> str:
    """The lowest-mean group and the next, and whether the gap between them exceeds the spread over seeds."""
    (best, first), (second, other) = sorted(groups.items(), key=lambda item: np.mean(item[1]))[:2]
    text = f"{best} ({fmt(np.mean(first))}), then {second} ({fmt(np.mean(other))})"
    if min(len(first), len(other)) < 2:
        return text
    gap, spread = np.mean(other) - np.mean(first), max(np.std(first, ddof=1), np.std(other, ddof=1))
    size = "less" if gap < spread else "more"
    return f"{text}: a gap of {fmt(gap)}, {size} than one standard deviation over seeds ({fmt(spread)})"


def sample_steps(folder: Path) -> list[int]:
    """The steps at which a run drew its sample picture (`samples/step-XXXXXXXX.png`), ascending."""
    return sorted(int(path.stem.removeprefix("step-")) for path in RunFolder(folder).samples.glob("step-*.png"))


def sample_grid(folder: Path, n: int = 36, step: int | None = None) -> tuple[int, torch.Tensor]:
    """(step, the first n samples in [-1, 1]) of a run's fixed grid z at `step` (default: its last picture).

    Read from the run's own sample picture (`samples/step-XXXXXXXX.png`, lossless, the generator in eval mode on
    the "grid" z), so a run kept without its checkpoints, as the committed records are, still gives its samples;
    the pixels are exactly those the generator's output quantises to.
    """
    run = RunFolder(folder)
    steps = sample_steps(folder)
    if not steps:
        raise StudyError(f"{run.samples} holds no sample picture (step-XXXXXXXX.png); the run drew none yet")
    step = steps[-1] if step is None else step
    shape = tuple(run.read_facts()["sample_shape"])
    pixels = read_image_grid(run.samples / f"step-{step:08d}.png", shape, run.read_config().log.grid_size, n)
    return step, torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def fd_references(settings: dict) -> dict[str, float]:
    """Reference values of FD (F-MNIST classifier), from real data only, fixed before any run is seen:

    real_vs_real: the test images against 10,000 training images (the floor a perfect generator would meet);
    one_class: the median over the ten classes of one class's test images against all of them (a generator
    that draws perfect images of a single class: total mode collapse, perfect quality); class_means: the ten
    class-mean images, each repeated (ten blurry modes); noise: uniform noise images. Measured: floor 0.587,
    class means 541, noise 1,126, one class 1,224.

    threshold: the least bad of the three known-bad generators (the class means): a run fails when its samples are
    no closer to the data than ten blurry class averages. levels: that threshold, its half and its quarter, at
    which the random-architecture study counts successes (as the WGAN-GP paper counts them at several Inception
    Score thresholds). A first choice, the geometric mean of the floor and the class means (17.8), was dropped
    before any study ran: working 32-channel generators measured 161 (GAN, 3,000 steps) and 175 (WGAN-GP, 2,400
    steps) in the metric's validation runs, so every CPU-sized run would have failed it.
    """
    from wganlab.config import DataConfig
    from wganlab.data.images import load_image_array
    from wganlab.metrics.classifier import (
        FashionClassifierFeatures,
        classifier_features,
        fd_fmnist,
        load_fashion_labels,
    )

    data = DataConfig(source="idx", pad=2, channels=1, split="test")
    test = load_image_array(data, progress=False)
    train = load_image_array(dataclasses.replace(data, split="train"), progress=False)[:10_000]
    labels = load_fashion_labels("", "test")
    extractor = FashionClassifierFeatures()
    real = classifier_features(test, extractor)
    one_class = [fd_fmnist(real[labels == c], real) for c in range(10)]
    means = np.stack([test[labels == c].astype(np.float64).mean(axis=0) for c in range(10)]).round().astype(np.uint8)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, test[:2000].shape, dtype=np.uint8)
    values = {
        "real_vs_real": fd_fmnist(classifier_features(train, extractor), real),
        "one_class": float(np.median(one_class)),
        "class_means": fd_fmnist(classifier_features(np.repeat(means, 100, axis=0), extractor), real),
        "noise": fd_fmnist(classifier_features(noise, extractor), real),
    }
    values["threshold"] = min(values["one_class"], values["class_means"], values["noise"])
    values["levels"] = [values["threshold"] / 2**k for k in range(3)]
    return values


def plot_lines(axis, rows: list[dict], x: str, y: str, colour: str, label: str, line: str = "-") -> None:
    """Mean over seeds of `y` against `x` (steps, or the seeds' mean seconds at each step), min-max band."""
    steps = sorted({r["step"] for r in rows})
    ys = style.by_step(rows, y, steps)
    xs = steps if x == "step" else np.nanmean(style.by_step(rows, x, steps), axis=1)
    axis.plot(xs, np.nanmean(ys, axis=1), line, color=colour, label=label)
    axis.fill_between(xs, np.nanmin(ys, axis=1), np.nanmax(ys, axis=1), color=colour, alpha=0.15, lw=0)


def final_values(plan, first: str, rows: list[list[str]], extra: tuple[str, ...] = ()):
    """The report table of `final_table`'s rows: `first` names the cells; `extra` columns (inserted into the rows
    by the study) come after recall."""
    columns = [first, headline_title(plan.settings), "FID", "recall", *extra, "s / generator step", "diverged"]
    return Table(f"At the end (mean ± std over {plan.seeds} seeds)", columns, rows, "runs.csv")


def collect_cells(plan, study_dir: Path, cells: list, label) -> tuple[str, list[dict], list[dict], list[list[str]]]:
    """The opening of an image study's collect: its headline quality, every evaluation (written to curves.csv) and
    the runs' final values (written to runs.csv) with one table row per cell (see `final_table`)."""
    quality = headline(plan.settings)
    evaluations = curves(plan, study_dir, quality)
    write_csv(study_dir / "curves.csv", evaluations)
    rows, table = final_table(plan, study_dir, cells, quality, label)
    write_csv(study_dir / "runs.csv", rows)
    return quality, evaluations, rows, table


def final_table(plan, study_dir: Path, cells: list, quality: str, label) -> tuple[list[dict], list[list[str]]]:
    """Per run: status, last quality, final FID/recall and times; per cell: a table row (mean ± std)."""
    rows = []
    for run in plan.runs:
        folder = RunFolder(plan.folder(study_dir, run))
        outcome, evals = folder.outcome() or {}, folder.records("eval")
        final = final_record(folder.path)
        rows.append({**dict(run.labels), "status": outcome.get("status", "unknown"),
                     quality: evals[-1][quality] if evals else math.nan,
                     **{k: final.get(k, math.nan) for k in ("fid", "precision", "recall")},
                     "train_seconds": outcome.get("train_seconds", math.nan),
                     "sec_per_step": outcome.get("sec_per_step", math.nan)})  # fmt: skip
    table = []
    for cell in cells:
        group = of_cell(rows, cell)
        table.append([label(cell), mean_std([r[quality] for r in group]), mean_std([r["fid"] for r in group]),
                      mean_std([r["recall"] for r in group]), mean_std([r["sec_per_step"] for r in group]),
                      str(sum(r["status"] == "diverged" for r in group))])  # fmt: skip
    return rows, table
